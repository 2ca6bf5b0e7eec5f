#!/usr/bin/perl
# The master's in-flight journal (fsdfs:inflight) when the master dies
# mid-move. Three nodes, N=2, m1 leads and m2 waits; pulls of /slow/ paths
# are paced (limit_rate on requests carrying X-Fsdfs-Local) so that one
# takes seconds, and cache_ttl is 3 s, so an eviction waits 3 s between
# taking the copy out of the index and dropping it.
#
# Three /fast/ files are put on c and copied on until a and b are full
# (a holds 3 files, b 4). Then /slow/4 is put on c: its pull to b (the
# only room left) runs for seconds; then /slow/5: with a and b full, the
# master evicts a surplus /fast/ copy to make room for it. While that
# pull is in flight and that eviction waits for its drop, m1 is SIGKILLed,
# and four bad entries are written into the journal by hand (garbage,
# one naming a node that does not exist, a bad path, one too long).
#
# Proves: the journal named the pull and the eviction's drop while they
# were in flight; m2 takes over, logs each entry it settles, removes the
# bad ones with a log line and keeps running; in the end the journal is
# empty, no disk holds a copy (or temp file) that the index does not
# give its node, every holder the index names has the bytes, min(K-N) >=
# 0, and every file answers 200 through every node. Without the journal
# the evicted copy whose drop never went out, and the pulled copy whose
# holder entry was never written, stayed on their disks unindexed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time sleep);

need_cluster();

my $size = 40000;
# a: 3 files, b: 4 (the master keeps 1% free), c: all of them
my %quota = (a => 3 * $size + 20000, b => 4 * $size + 20000, c => '2m');

my $redis = start_redis();
fsdfs('init', '--buckets', '64', '--replicas', '2');
my $http = 'map "$http_x_fsdfs_local:$uri" $jr_pull_rate { "~^1:/slow/" 8k; default 0; }';
my @n = map {
    start_node(name => $_, commands => 1, quota => $quota{$_}, cache_ttl => '3s',
               http => $http, location => 'fsdfs on; limit_rate $jr_pull_rate;')
} qw(a b c);
my ($na, $nb, $nc) = @n;
ok(nodes_up(15, @n), 'a, b and c up');
my %by_id = map { node_id($_->{name}) => $_ } @n;

my %fsd = (lease => '3s', dead_after => '10s', cache_ttl => '3s', pull_timeout => '60s');
my $m1 = start_fsdfsd(name => 'm1', %fsd);
ok(wait_for(sub { fsdfsd_log($m1) =~ /leading, epoch \d+/ }, 15), 'm1 leads')
    or diag(fsdfsd_tail($m1));
my $m2 = start_fsdfsd(name => 'm2', %fsd);
ok(wait_for(sub { fsdfsd_log($m2) =~ /standby/ }, 15), 'm2 waits as a standby')
    or diag(fsdfsd_tail($m2));

my %files;
sub put {
    my ($path, $seed) = @_;
    $files{$path} = blob($seed, $size);
    my $out = put_file($path, $files{$path}, '--node', 'c');
    is($? >> 8, 0, "put $path on c") or diag($out);
}

put("/fast/$_.mp3", $_) for 1 .. 3;
ok(wait_kn(sub { ($_[0]{files} // 0) == 3 && ($_[0]{min_kn} // -1) >= 1 }, 30, sort keys %files),
   'the three /fast/ files on a, b and c');

sub journal {
    my $h = rcmd('HGETALL', 'fsdfs:inflight') // [];
    return { @$h };
}


put('/slow/4.mp3', 4);
my $j;
ok(wait_for(sub { $j = journal(); grep { m{^pull \d+ /slow/4\.mp3$} } keys %$j }, 15),
   'the pull of /slow/4.mp3 is in the journal while it runs')
    or diag(explain($j), fsdfsd_tail($m1));

put('/slow/5.mp3', 5);
ok(wait_for(sub { $j = journal(); grep { m{^drop \d+ /fast/\d\.mp3$} } keys %$j }, 15),
   'an eviction waiting for its drop is in the journal')
    or diag(explain($j), fsdfsd_tail($m1));
my @before = sort keys %$j;
ok((grep { m{^pull \d+ /slow/4\.mp3$} } @before), 'the pull of /slow/4.mp3 is still in flight then')
    or diag(explain($j));
ok((grep { m{^pull \d+ /slow/5\.mp3$} } @before), 'and so is the pull the eviction makes room for')
    or diag(explain($j));
like(join("\n", map { "$_ => $j->{$_}" } @before), qr/epoch=\d+ ts=\d+/, 'entries carry epoch and time');
unlike(fsdfsd_log($m1), qr/\(evicted\)$/m, 'm1 has dropped no evicted copy yet');

kill_fsdfsd($m1);
note("journal when m1 was killed:\n" . join "\n", map { "  $_ => $j->{$_}" } @before);
# bad entries: m2 must log and remove them, and keep running
rcmd('HSET', 'fsdfs:inflight', 'garbage here', 'x');
rcmd('HSET', 'fsdfs:inflight', 'pull 999 /fast/1.mp3', 'x');
rcmd('HSET', 'fsdfs:inflight', 'drop 1 ../etc/passwd', 'x');
# longer than any entry: logged by its start, the whole field removed
rcmd('HSET', 'fsdfs:inflight', 'drop 1 /' . ('l' x 1100), 'x');

ok(wait_for(sub { fsdfsd_log($m2) =~ /leading, epoch \d+/ }, 15), 'm1 killed: m2 leads')
    or diag(fsdfsd_tail($m2));
ok(wait_for(sub { fsdfsd_log($m2) =~ /journal: \d+ entr(y|ies) left by the last master/ }, 10),
   'm2 reads the journal at takeover') or diag(fsdfsd_tail($m2));
my $log = fsdfsd_log($m2);
for my $e (@before) {
    ok($log =~ /journal: "\Q$e\E": /, "m2 settles \"$e\"") or diag(fsdfsd_tail($m2));
}
like($log, qr/journal: corrupt entry "garbage here" \(.*\): removed/, 'garbage: logged and removed');
like($log, qr/journal: "pull 999 \/fast\/1\.mp3": node 999 is unknown: removed/,
     'an entry naming an unknown node: logged and removed');
like($log, qr/journal: corrupt entry "drop 1 \.\.\/etc\/passwd" \(.*\): removed/,
     'an entry with a bad path: logged and removed');
like($log, qr/journal: corrupt entry "drop 1 \/l{56}" \(too long or binary\): removed/,
     'an entry too long: logged by its start');

my @extra;
ok(wait_for(sub {
    my $s = stats();
    @extra = unindexed(@n);
    ($s->{files} // 0) == 5 && ($s->{min_kn} // -1) >= 0 && ($s->{epoch} // 0) > 0
        && ($s->{master} // '') =~ /^m2:/ && !%{journal()} && !@extra;
}, 60), 'settled: the journal is empty, min(K-N) >= 0, no copy on a disk that the index does not name')
    or diag("journal: " . explain(journal()) . "unindexed: @extra\n" . cluster_diag(sort keys %files)
            . fsdfsd_tail($m2, 40));

my $all = all_records();
my @phantom;
for my $p (sort keys %files) {
    for my $id (@{$all->{$p} // []}) {
        my $f = $by_id{$id} ? "$by_id{$id}{root}$p" : '';
        push @phantom, "$p on $id" unless $f && -f $f && slurp($f) eq $files{$p};
    }
}
is(scalar(@phantom), 0, 'every holder the index names has the bytes') or diag("@phantom");
cmp_ok(kn_min(), '>=', 0, 'min(K-N) >= 0');
ok($m2->{pid} && kill(0, $m2->{pid}), 'm2 still running');
like(rcmd('GET', 'fsdfs:master') // '', qr/^m2:/, 'and still leading');
files_answer('after the settling', \%files, @n);

finish();
