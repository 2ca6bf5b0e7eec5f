#!/usr/bin/perl
# Delete while a node is down. Three nodes, N=2, roomy quotas: six files
# end up on all three. Node c is stopped; `fsdfs rm` deletes two files.
# Their records go, tombstones stay; the live copies are dropped from a
# and b within a few seconds, and from then on the deleted paths answer
# 404 through every live node. c comes back with its stale copies: the
# master drops them from its disk within a few seconds, and the deleted
# paths never come back. The four other files answer 200 everywhere.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time sleep);

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1, quota => '10m') } qw(a b c);
my ($na, $nb, $nc) = @n;
ok(nodes_up(10, @n), 'a, b and c up');
my $m = start_fsdfsd();

my %files;
for my $i (1 .. 6) {
    my $path = "/music/rm/$i.mp3";
    $files{$path} = blob($i, 5000 + 1000 * $i);
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 3]{name});
    is($? >> 8, 0, "put $path") or diag($out);
}
ok(wait_kn(sub { ($_[0]{files} // 0) == 6 && ($_[0]{min_kn} // -1) >= 1 }, 30, sort keys %files),
   'six files on all three nodes');
my @gone = ('/music/rm/2.mp3', '/music/rm/5.mp3');
for my $p (@gone) {
    ok(-f $_->{root} . $p, "$p is on $_->{name}'s disk") for @n;
}

stop_node($nc);
my $t0 = time;
for my $p (@gone) {
    my $out = fsdfs('rm', $p);
    is($? >> 8, 0, "c down: fsdfs rm $p") or diag($out);
    is(record_of($p), undef, "$p: its record is gone");
    ok(defined rcmd('ZSCORE', 'fsdfs:tomb', $p), "$p: a tombstone stays");
}
my $deleted = delete @files{@gone};

ok(wait_for(sub { !grep { my $p = $_; grep { -e $_->{root} . $p } $na, $nb } @gone }, 10),
   'the live copies are dropped from a and b')
    or diag(cluster_diag(@gone));
diag(sprintf 'rm: copies dropped from the live nodes %.1fs after rm', time - $t0);

# never served again through a live node: sampled until c returns
my %status;
sub check_gone {
    my (@via) = @_;
    for my $node (@via) {
        for my $p (@gone) {
            my $r = follow($node->{port}, $p, 2);
            $status{"$p via $node->{name}: $r->{status}"}++;
        }
    }
}
check_gone($na, $nb);
sleep 1.1;              # every lookup cache has expired
check_gone($na, $nb);
ok(wait_for(sub { !rcmd('EXISTS', 'fsdfs:alive:' . node_id('c')) }, 5),
   'c is not alive');
sleep 3.5;              # c dead (dead_after 3s) meanwhile
check_gone($na, $nb);
is_deeply([grep { !/: 404$/ } sort keys %status], [],
          'while c is down, the deleted paths answer 404 through a and b');

$t0 = time;
restart_node($nc);
ok(wait_for(sub { check_gone($na, $nb); !grep { -e $nc->{root} . $_ } @gone }, 15),
   'c is back: its copies of the deleted files are dropped from its disk')
    or diag(cluster_diag(@gone));
diag(sprintf 'rm: stale copies dropped from the returning node %.1fs after its restart', time - $t0);
ok(nodes_up(10, @n), 'c up');
check_gone($na, $nb, $nc);
is_deeply([grep { !/: 404$/ } sort keys %status], [],
          'the deleted paths answered 404 through every live node, c once its copies were dropped');
is(record_of($_), undef, "$_ did not come back into the index") for @gone;

files_answer('after rm', \%files, @n);

finish();
