#!/usr/bin/perl
# Redis goes away for 8 s, longer than dead_after (6 s) and than the
# nodes' alive keys live: a Redis outage is not node death. Two nodes,
# N=2, eight files; Redis is stopped (its data saved) and started again.
# While Redis is down fsdfsd can read nothing, so no node changes
# liveness; once it is back, the nodes heartbeat again within dead_after
# and neither is declared dead, no tombstone drop goes out (nothing was
# deleted), both nodes are live in fsdfsd's view, and a file put after
# the outage is replicated to both.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time sleep);

need_cluster();
start_redis();
fsdfs('init', '--buckets', '64', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1) } qw(a b);
ok(nodes_up(15, @n), 'two nodes up');
my %id = map { $_->{name} => node_id($_->{name}) } @n;

my @paths = map { sprintf '/o/%02d.bin', $_ } 1 .. 8;
for my $i (0 .. $#paths) {
    my $out = put_file($paths[$i], blob($i + 1, 4096), '--node', $n[$i % 2]{name});
    is($? >> 8, 0, "put $paths[$i]") or diag($out);
}
# dead_after runs from the end of the outage: the nodes' reconnect backoff
# (up to 2 s) and heartbeat tick (1 s) come out of it, twice over
my $m = start_fsdfsd(dead_after => '6s');
ok(wait_kn(sub { ($_[0]{files} // 0) == 8 && ($_[0]{min_kn} // -1) >= 0 }, 40, @paths),
   'eight files at N=2');
ok(wait_for(sub { (stats()->{nodes_live} // 0) == 2 }, 20), 'fsdfsd sees two live nodes');

# the log from here on is the outage's
my $mark = length fsdfsd_log($m);
stop_redis(undef, save => 1);
sleep 8;
restart_redis();

ok(nodes_up(30, @n), 'both nodes heartbeat again');
ok(wait_for(sub { fsdfsd_log($m) =~ /redis "[^"]*" is back/ }, 20), 'fsdfsd reconnected');
ok(wait_for(sub { (stats()->{nodes_live} // 0) == 2 }, 30),
   'fsdfsd sees both nodes live again')
    or diag(explain(stats()), fsdfsd_tail($m, 40));

my $put = '/o/after.bin';
my $out = put_file($put, blob(99, 4096), '--node', 'a');
is($? >> 8, 0, "put $put after the outage") or diag($out);
ok(wait_for(sub { my @h = holders($put); @h == 2 }, 40),
   "$put is replicated to both nodes")
    or diag(cluster_diag($put), fsdfsd_tail($m, 40));

my $after = substr(fsdfsd_log($m), $mark);
my @dead = grep { /node \d+ \(\w+\) dead/ } split /^/, $after;
is(scalar(@dead), 0, 'no node declared dead over a Redis outage')
    or diag(join '', @dead);
my @drops = grep { /is back: dropping/ } split /^/, $after;
is(scalar(@drops), 0, 'no tombstone drops: nothing was deleted')
    or diag(join '', @drops);

finish();
