#!/usr/bin/perl
# A node leaves by `fsdfs drain`. Four nodes, N=2, room for 12 files of
# 8 kB each: eight files spread over the nodes, the master brings them to
# N and fills the quotas (every node holds all eight). The master stops;
# three more files are put on c alone, and c is asked to drain; a new
# master takes over.
#
# c's copies stop counting, so the files only c holds are copied off it
# first (c stays a source), the others keep their N on a, b and d; each
# of c's copies goes once its file has N elsewhere. `fsdfs drain c
# --wait` ends (exit 0) when c holds nothing; every file answers 200 through every
# node all along. Afterwards no record names c, c's disk holds none of
# the files, every file has two copies on the others, the master said
# "drained: empty", status and nodes show c as draining. --cancel takes
# the request back; an unknown node is exit 1.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

my $size = 8192;
my $quota = 100000;     # 12 files, the master's 1% reserve kept free

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1, quota => $quota) } qw(a b c d);
ok(nodes_up(10, @n), 'four nodes up');
my %id = map { $_->{name} => node_id($_->{name}) } @n;
my ($c) = grep { $_->{name} eq 'c' } @n;
my $cid = $id{c};

my %files;
for my $i (1 .. 8) {
    my $path = sprintf '/music/%02d.ogg', $i;
    $files{$path} = blob($i, $size);
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 4]{name});
    is($? >> 8, 0, "put $path") or diag($out);
}
my $m1 = start_fsdfsd(name => 'm1');
ok(wait_kn(sub { ($_[0]{files} // 0) == 8 && ($_[0]{min_kn} // -1) >= 0 }, 30, sort keys %files),
   'eight files at N=2');
sleep 2;
stop_fsdfsd($m1);

# three files only c holds, then the drain request, then a master
my @only_c;
for my $i (9 .. 11) {
    my $path = sprintf '/music/%02d.ogg', $i;
    $files{$path} = blob($i, $size);
    my $out = put_file($path, $files{$path}, '--node', 'c');
    is($? >> 8, 0, "put $path on c alone") or diag($out);
    push @only_c, $path;
}
my $all = all_records();
is(join(',', map { join ' ', @{$all->{$_}} } @only_c), join(',', ($cid) x 3),
   'three files only c holds');
my $had = grep { grep { $_ == $cid } @{$all->{$_}} } keys %$all;
diag("c holds $had of " . scalar(keys %files) . ' files before the drain');

my $out = fsdfs('drain', 'c');
is($? >> 8, 0, 'fsdfs drain c: asked') or diag($out);
like($out, qr/draining|still on it/, 'it says so');
ok(rcmd('HEXISTS', 'fsdfs:drain', $cid), "fsdfs:drain lists c's id");

like(fsdfs('nodes'), qr/^\s*$cid\s+c\s+\S+\s+draining\b/m, 'fsdfs nodes: c draining');
like(fsdfs('status'), qr/^\s*$cid\s+c\s+draining\b/m, 'fsdfs status: c draining');
like(fsdfs('nodes', '--json'), qr/"name":"c","alive":true,"draining":true/,
     'fsdfs nodes --json: draining true');

my $m2 = start_fsdfsd(name => 'm2');

# --wait in the background; reads of every file through every node meanwhile
my $log = tmp() . '/drain-wait.out';
my $t0 = time;
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    open STDOUT, '>', $log;
    open STDERR, '>&', \*STDOUT;
    exec build_dir() . '/fsdfs', '-r', "127.0.0.1:$redis", 'drain', 'c', '--wait';
    exit 127;
}
my (@unread, $rounds, $status);
my $end = time + 90;
while (time < $end) {
    if (waitpid($pid, WNOHANG) == $pid) { $status = $? >> 8; last }
    push @unread, spot_check(\%files, @n);
    $rounds++;
    sleep 0.2;
}
unless (defined $status) { kill 'TERM', $pid; waitpid($pid, 0); $status = 'timeout' }
my $wait_out = slurp($log);
is($status, 0, 'fsdfs drain c --wait: exit 0 once c is empty')
    or diag($wait_out . cluster_diag(sort keys %files));
like($wait_out, qr/0 file\(s\), 0 B still on it.*empty/, 'its last line: empty');
like($wait_out, qr/\[[#.]+\]/, 'with a bar');
diag(sprintf 'drain: c empty %.1fs after the request reached the master', time - $t0);
is(scalar(@unread), 0, "during the drain every file answered 200 in $rounds rounds of reads")
    or diag(join "\n", @unread[0 .. ($#unread < 9 ? $#unread : 9)]);

$all = all_records();
my @names_c = grep { grep { $_ == $cid } @{$all->{$_}} } sort keys %$all;
is("@names_c", '', 'no record names c');
my @short = grep { @{$all->{$_}} < 2 } sort keys %$all;
is("@short", '', 'every file has K >= 2 on the others');
is(scalar(keys %$all), scalar(keys %files), 'every file still indexed');
ok(wait_for(sub { !grep { $files{$_} } keys %{disk_files($c)} }, 10),
   "c's disk holds none of the files")
    or diag(explain disk_files($c));
# the master logs it after the HSET that `drain --wait` ended on
ok(wait_for(sub { fsdfsd_log($m2) =~ /node $cid \(c\) drained: empty/ }, 5), 'the master said so')
    or diag(fsdfsd_tail($m2));
for my $path (@only_c) {
    like(fsdfsd_log($m2), qr/pull \Q$path\E to \d+ from $cid\b/,
         "$path, only on c, was copied from c");
}
my $p = rcmd('HGETALL', "fsdfs:drain:$cid");
my %prog = ref $p ? @$p : ();
is($prog{files}, 0, "fsdfs:drain:$cid: files 0");
ok(($prog{copies} // 0) >= 3, "copies made: $prog{copies}");

files_answer('after the drain', \%files, @n);

$out = fsdfs('drain', 'c', '--json');
like($out, qr/"draining":true.*"files":0.*"empty":true/, 'drain c --json: empty');

# unknown node: exit 1, nothing written
$out = fsdfs('drain', 'zz');
is($? >> 8, 1, 'drain of an unknown node: exit 1') or diag($out);
ok(!rcmd('HEXISTS', 'fsdfs:drain', 'zz'), 'nothing written for it');
fsdfs('drain');
is($? >> 8, 2, 'no node: usage, exit 2');

# cancel: c counts again and takes copies again
$out = fsdfs('drain', 'c', '--cancel');
is($? >> 8, 0, 'drain c --cancel: exit 0') or diag($out);
like($out, qr/cancelled/, 'it says so');
ok(!rcmd('HEXISTS', 'fsdfs:drain', $cid), 'fsdfs:drain no longer lists c');
unlike(fsdfs('nodes'), qr/^\s*$cid\s+c\s+\S+\s+draining\b/m, 'fsdfs nodes: c not draining');
ok(wait_for(sub { like_log($m2, qr/node $cid \(c\) no longer drains/) }, 10),
   'the master took it back');
ok(wait_for(sub { grep { grep { $_ == $cid } @{$_} } values %{all_records()} }, 20),
   'c takes copies again (the quotas fill)');
$out = fsdfs('drain', 'c', '--cancel');
like($out, qr/was not draining/, 'a second cancel: nothing to do');

files_answer('after the cancel', \%files, @n);

sub like_log { my ($d, $re) = @_; fsdfsd_log($d) =~ $re }

finish();
