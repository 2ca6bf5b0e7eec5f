#!/usr/bin/perl
# A node dies and comes back. Four nodes, N=2, each with room for 8 files
# of 8 kB: twelve files fill the 32 slots, 8 files at K-N = +1 and 4 at 0.
#
# The node holding the most files at K-N = 0 is stopped. Its alive key
# expires: it is stale, reads avoid it and every file still answers
# through the others. After dead_after (3 s here) it is dead: its copies
# stop counting, the files it held at N fall to K-N = -1, and the master
# re-replicates them on the three others, whose quotas are full, by
# evicting surplus copies; every file answers 200 all along (one GET each
# every 200 ms). The dead node's copies stay in the index.
# It comes back: its copies count again (K-N sum back to +8), nothing is
# trimmed since no file needs the room, and every node's disk matches
# the index.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use List::Util qw(sum0);
use Time::HiRes qw(time sleep);

my $size = 8192;
my $quota = 67000;      # 8 files, the master's 1% reserve kept free

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1, quota => $quota) } qw(a b c d);
ok(nodes_up(10, @n), 'four nodes up');
my %id = map { $_->{name} => node_id($_->{name}) } @n;

# the files first, then the master: puts must not meet quotas already full
my %files;
for my $i (1 .. 12) {
    my $path = sprintf '/music/%02d.ogg', $i;
    $files{$path} = blob($i, $size);
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 4]{name});
    is($? >> 8, 0, "put $path") or diag($out);
}
sub surplus { my $h = kn_hist(); sum0(map { $_ * $h->{$_} } keys %$h) }
my $m = start_fsdfsd(dead_after => '3s');

ok(wait_kn(sub { ($_[0]{files} // 0) == 12 && ($_[0]{min_kn} // -1) >= 0 }, 30, sort keys %files),
   'twelve files at N=2');
ok(wait_kn(sub { surplus() == 8 }, 20), 'the quotas fill: 32 copies, surplus +8')
    or diag(explain kn_hist());

# the victim: the node holding the most files at exactly N
my $all = all_records();
my %at_n;
for my $p (grep { @{$all->{$_}} == 2 } keys %$all) {
    push @{$at_n{$_}}, $p for @{$all->{$p}};
}
my ($vid) = sort { @{$at_n{$b}} <=> @{$at_n{$a}} || $a <=> $b } keys %at_n;
defined $vid or BAIL_OUT('no file at K=N after the fill: ' . explain(kn_hist()));
my ($victim) = grep { $id{$_->{name}} == $vid } @n;
my @live = grep { $_ != $victim } @n;
my @hit = sort @{$at_n{$vid}};
my %victim_had = map { $_ => 1 } grep { grep { $_ == $vid } @{$all->{$_}} } keys %$all;
diag("stopping $victim->{name}: holds " . scalar(keys %victim_had) . ' files, '
     . scalar(@hit) . ' of them at K=N: ' . "@hit");

my $t0 = time;
stop_node($victim);
ok(wait_for(sub { !rcmd('EXISTS', "fsdfs:alive:$vid") }, 6),
   "$victim->{name}'s alive key expires: stale");
sleep 1.1;
files_answer('stale node', \%files, @live);

my ($lowest, @unread, $rounds) = (0);
my $healed = wait_kn(sub {
    push @unread, spot_check(\%files, @live);
    $rounds++;
    my $k = $_[0]{min_kn} // 0;
    $lowest = $k if $k < $lowest;
    $lowest < 0 && $k >= 0 && ($_[0]{files} // 0) == 12;
}, 40, @hit);
is($lowest, -1, "once dead, $victim->{name}'s copies stop counting: min(K-N) -1");
ok($healed, 're-replicated: min(K-N) >= 0 again on the three live nodes');
diag(sprintf 'dead node: healed %.1fs after the stop (dead_after 3s, then evictions and pulls)', time - $t0);
is(scalar(@unread), 0, "while it was dead and healed, every file answered 200 in $rounds rounds of reads")
    or diag(join "\n", @unread[0 .. ($#unread < 9 ? $#unread : 9)]);

$all = all_records();
for my $p (@hit) {
    my @l = grep { $_ != $vid } @{$all->{$p}};
    is(scalar(@l), 2, "$p: two live holders again");
}
my @forgot = grep { !grep { $_ == $vid } @{$all->{$_} // []} } sort keys %victim_had;
is("@forgot", '', "the dead node's copies stay in the index");

$t0 = time;
restart_node($victim);
ok(nodes_up(10, @n), "$victim->{name} is back");
ok(wait_kn(sub { surplus() == 8 && ($_[0]{min_kn} // -1) >= 0 }, 20),
   "its copies count again: surplus back to +8")
    or diag(explain kn_hist());
diag(sprintf 'dead node: counted again %.1fs after its restart', time - $t0);
is(scalar(keys %{disk_files($victim)}), scalar(keys %victim_had),
   'nothing needed the room: its copies are all still on its disk');

my %disk_ok;
ok(wait_for(sub {
    my $all = all_records();
    for my $node (@n) {
        my $want = join ' ', sort grep { my $p = $_; grep { $_ == $id{$node->{name}} } @{$all->{$p}} } keys %$all;
        my $have = join ' ', sort keys %{disk_files($node)};
        $disk_ok{$node->{name}} = $want eq $have ? 1 : "index: $want\ndisk: $have";
    }
    !grep { $_ ne 1 } values %disk_ok;
}, 10), 'every node holds on disk exactly what the index says')
    or diag(explain \%disk_ok);

files_answer('after the return', \%files, @n);

finish();
