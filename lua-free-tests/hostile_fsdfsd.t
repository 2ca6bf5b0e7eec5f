#!/usr/bin/perl
# The hostile-input corpus seen by fsdfsd: every malformed config of
# t/hostile/fsdfsd_conf.txt makes `fsdfsd -t -c FILE` exit 2 naming
# FILE:LINE, the key and the value; every corrupt record of
# t/hostile/records.txt, loaded next to good ones (and named again by a
# `set` event), is logged and skipped while fsdfsd keeps leading and
# publishes stats counting only the good files. No crash, no sanitizer
# report.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;

need_cluster();
my %count;
my $secret = secret_file();
my $fsdfsd = build_dir() . '/fsdfsd';

# configs -------------------------------------------------------------------

my $conf = tmp() . '/hostile.conf';
for my $c (hostile_cases('fsdfsd_conf')) {
    my $what = "fsdfsd_conf:$c->{line} $c->{name}";
    (my $text = $c->{conf}) =~ s/\@SECRET\@/$secret/g;
    write_file($conf, hostile_unescape($text));
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        # as the harness runs fsdfsd: leaks at a refused config's exit
        # (the compiled rules are not freed) are known, not checked here
        $ENV{ASAN_OPTIONS} = 'detect_leaks=0' if $ENV{FSDFS_ASAN};
        exec $fsdfsd, '-t', '-c', $conf;
        exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $rc = $?;
    local $TODO = $c->{todo};
    is($rc & 127, 0, "$what: no crash") or diag("signal " . ($rc & 127));
    is($rc >> 8, 2, "$what: exit 2") or diag($out);
    like($out, qr/\Qhostile.conf:$c->{at}:\E/, "$what: names hostile.conf:$c->{at}")
        or diag($out) if defined $c->{at};
    for my $want (split / && /, $c->{want}) {
        like($out, qr/\Q$want\E/, "$what: says $want") or diag(substr($out, 0, 300));
    }
    unlike($out, qr/config .* ok/, "$what: not ok");
    $count{fsdfsd_conf}++;
}

# corrupt records -------------------------------------------------------------

my $redis = start_redis();
fsdfs('init', '--buckets', '64', '--replicas', '1');
my @good = map { "/m/good-$_.mp3" } 1 .. 5;
for my $p (@good) {
    rcmd('HSET', bucket_of($p), $p, "1 5 0123456789abcdef 1700000000 -");
}
my @bad;
my $i = 0;
for my $c (hostile_cases('records')) {
    my $path = '/m/rec-' . ++$i . '.mp3';
    (my $rec = $c->{record}) =~ s/\@H/2/g;
    $rec =~ s/\@N/60000/g;
    rcmd('HSET', bucket_of($path), $path, hostile_unescape($rec));
    push @bad, [$path, "records:$c->{line} $c->{name}", $c->{todo}];
}

my $d = start_fsdfsd(name => 'm1');
ok(wait_for(sub { (rcmd('GET', 'fsdfs:master') // '') =~ /^m1:/ }, 15), 'm1 leads');
ok(wait_for(sub { defined stats()->{files} && stats()->{files} == @good }, 15),
   'stats published, counting the good files only')
    or diag(fsdfsd_tail($d, 30));
for my $b (@bad) {
    my ($path, $what, $todo) = @$b;
    local $TODO = $todo;
    like(fsdfsd_log($d), qr/corrupt record of "\Q$path\E" skipped/, "$what: logged and skipped at load");
    $count{records}++;
}

# the same records named by events: logged, skipped, nothing written
my $before = join "\n", map { my $h = rcmd('HGETALL', $_) || []; "$_: @$h" }
                        sort @{rcmd('KEYS', 'fsdfs:loc:*') || []};
for my $b (@bad) {
    rcmd('XADD', 'fsdfs:events', '*', 'type', 'set', 'path', $b->[0]);
    rcmd('XADD', 'fsdfs:events', '*', 'type', 'put', 'node', '1', 'path', $b->[0]);
}
my $updated = stats()->{updated} // 0;
ok(wait_for(sub { (stats()->{updated} // 0) > $updated + 1 }, 10),
   'stats still published after the events');
my $after = join "\n", map { my $h = rcmd('HGETALL', $_) || []; "$_: @$h" }
                       sort @{rcmd('KEYS', 'fsdfs:loc:*') || []};
ok($before eq $after, 'events naming corrupt records changed no record');
ok($d->{pid} && kill(0, $d->{pid}), 'fsdfsd still running');
is((rcmd('GET', 'fsdfs:master') // '') =~ /^m1:/ ? 1 : 0, 1, 'm1 still leads');
is(stats()->{files}, scalar @good, 'still the good files only');

my $total = 0;
$total += $_ for values %count;
diag(join(', ', map { "$_ $count{$_}" } sort keys %count) . ", total $total");
cmp_ok($count{fsdfsd_conf}, '>=', 15, 'at least 15 fsdfsd_conf cases');

finish();
