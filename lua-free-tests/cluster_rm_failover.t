#!/usr/bin/perl
# Delete while the master is dying. Two nodes, N=2, two fsdfsd: m1 leads,
# m2 waits. Four files reach both nodes. m1 is frozen (SIGSTOP: it holds
# the lease but reads no event), `fsdfs rm` deletes two files (record
# gone, tombstone and `type rm` event written), and m1 is killed without
# ever seeing the event. m2 takes the lease after that event was written:
# it reads the events of the last minutes again at takeover, so it drops
# the deleted copies from both nodes, which would otherwise stay on their
# disks and answer 200 as local hits for good. The two other files answer
# 200 through both nodes.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1, quota => '10m') } qw(a b);
ok(nodes_up(10, @n), 'a and b up');

my $m1 = start_fsdfsd(name => 'm1', lease => '3s');
ok(wait_for(sub { fsdfsd_log($m1) =~ /leading/ }, 10), 'm1 leads') or diag(fsdfsd_tail($m1));
my $m2 = start_fsdfsd(name => 'm2', lease => '3s');
ok(wait_for(sub { fsdfsd_log($m2) =~ /standby/ }, 10), 'm2 waits') or diag(fsdfsd_tail($m2));

my %files;
for my $i (1 .. 4) {
    my $path = "/music/rmf/$i.mp3";
    $files{$path} = blob($i, 3000 + 700 * $i);
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 2]{name});
    is($? >> 8, 0, "put $path") or diag($out);
}
ok(wait_for(sub { !grep { holders($_) != 2 } keys %files }, 30), 'every file on both nodes')
    or diag(cluster_diag(sort keys %files));

kill 'STOP', $m1->{pid};
my @gone = ('/music/rmf/1.mp3', '/music/rmf/2.mp3');
for my $p (@gone) {
    my $out = fsdfs('rm', $p);
    is($? >> 8, 0, "rm $p while m1 is frozen") or diag($out);
    is(record_of($p), undef, "$p: record gone");
}
sleep 1;
for my $p (@gone) {
    ok(-e "$_->{root}$p", "$p still on $_->{name}: m1 sent no drop") for @n;
}
kill_fsdfsd($m1);

ok(wait_for(sub { fsdfsd_log($m2) =~ /leading/ }, 15), 'm2 takes over') or diag(fsdfsd_tail($m2));
ok(wait_for(sub { !grep { my $p = $_; grep { -e "$_->{root}$p" } @n } @gone }, 15),
   'm2 drops the deleted copies from both nodes')
    or diag(join ' ', map { my $p = $_; map { "$_->{name}:$p" } grep { -e "$_->{root}$p" } @n } @gone);
like(fsdfsd_log($m2), qr/drop \Q$gone[0]\E on \d+ \(deleted\)/, "m2's log: the drop of a deleted path");

# open_file_cache (valid 1s in the harness config) may hold a dropped
# file's entry for a moment
for my $node (@n) {
    for my $p (@gone) {
        ok(wait_for(sub { http($node->{port}, 'GET', $p, 'X-Fsdfs-Local' => 1)->{status} == 404 }, 5),
           "$p: 404 from $node->{name}'s own disk");
    }
}
delete @files{@gone};
files_answer('the end', \%files, @n);

finish();
