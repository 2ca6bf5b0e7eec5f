#!/usr/bin/perl
# A network partition across real (virtual) hosts. Four nodes a-d, each
# nginx in its own network namespace with its own address on a bridge
# (lua-free-tests/lib/Netns.pm), all on port 8080: redirects, pulls and
# commands cross the bridge. Redis, fsdfsd and the test's client sit in
# the root namespace, on the bridge's address (a namespace's 127.0.0.1 is
# its own loopback, so the nodes reach Redis at the bridge address, Redis
# listening there too). N=2, each node with room for 8 files of 8 kB:
# twelve files fill the 32 slots, surplus +8.
#
# The node holding the most files at K=N is cut off the network (its
# switch port goes down; its nginx keeps running and still serves its own
# copies to a client on its side of the cut). Proves:
# - it is declared dead: its alive key expires, the master logs it dead,
#   `fsdfs status` shows it not alive and the master counts 3 live nodes;
#   once the reachable nodes' tables say so, every file answers 200
#   through them (before that a redirect to the cut node times out: that
#   is the detection delay);
# - its files are re-replicated on the three others (K >= N counting the
#   reachable holders only, the files it held at K=N included), every file
#   answering 200 through the reachable nodes all along; its copies stay
#   in the index;
# - `fsdfs rm` of a file it holds, while it is cut: record gone, tombstone
#   kept, the reachable copies dropped, 404 through the reachable nodes;
# - healed: it is live again; the deleted file goes from its disk and is
#   never answered 200 by the nodes that dropped it, nor by it once its
#   copy is gone (plus open_file_cache_valid); the window between the heal
#   and the drop, when its own disk still serves it, is measured and
#   printed; the deleted path never returns to the index; the returning
#   copies count again (surplus = capacity - sum of N, every file at N);
# - quotas then force the surplus down: two files raised to N=4 need
#   copies on full nodes, surplus copies are evicted for them;
# - every node's disk matches the index and stays within quota, every live
#   file answers 200 through every node, no node log has a crash, and the
#   test network is gone at the end.
#
# Needs root and iproute2 (skipped with that reason otherwise).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use FsdfsTest;
use Netns;
use Test::More;
use List::Util qw(sum0);
use Time::HiRes qw(time sleep);

if (my $why = Netns::unavailable()) {
    plan skip_all => $why;
}
need_cluster();

my $size = 8192;
my $quota = 67000;      # 8 files, the master's 1% reserve kept free
my $port = 8080;        # the same on every host: they are separate hosts
my @names = qw(a b c d);

my $net = Netns->new(scalar @names);
diag('test network ' . $net->gw . '/24 on bridge ' . $net->{bridge});

my $redis = start_redis();
is(redis_cli('CONFIG', 'SET', 'bind', '127.0.0.1 ' . $net->gw), 'OK',
   'Redis listens on the bridge address too');
# no password here, and the nodes are not on loopback
redis_cli('CONFIG', 'SET', 'protected-mode', 'no');
fsdfs('init', '--buckets', '256', '--replicas', '2');

my @n;
for my $i (1 .. @names) {
    push @n, start_node(name => $names[$i - 1], commands => 1, quota => $quota,
                        port => $port, host => $net->addr($i),
                        redis_host => $net->gw, wrap => $net->wrap($i));
    $n[-1]{host_no} = $i;
}
ok(nodes_up(20, @n), 'four nodes up, each sees the others alive across the bridge');
my %id = map { $_->{name} => node_id($_->{name}) } @n;
for my $node (@n) {
    my ($master) = FsdfsTest::nginx_pids($node);
    my (undef, $in) = Netns::ip('netns', 'identify', $master // 0);
    $in =~ s/\s+\z//;
    is($in, $net->ns($node->{host_no}), "$node->{name}'s nginx runs in its own namespace");
    is(rcmd('HGET', "fsdfs:node:$id{$node->{name}}", 'url'), "http://$node->{host}:$port",
       "$node->{name} advertises its namespace address");
}

my %files;
for my $i (1 .. 12) {
    my $path = sprintf '/music/ns/%02d.ogg', $i;
    $files{$path} = blob($i, $size);
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 4]{name});
    is($? >> 8, 0, "put $path") or diag($out);
}
sub surplus { my $h = kn_hist(); sum0(map { $_ * $h->{$_} } keys %$h) }
my $m = start_fsdfsd(dead_after => '3s');

ok(wait_kn(sub { ($_[0]{files} // 0) == 12 && ($_[0]{min_kn} // -1) >= 0 }, 40, sort keys %files),
   'twelve files at N=2 (pulls across the bridge)');
ok(wait_kn(sub { surplus() == 8 }, 30), 'the quotas fill: 32 copies, surplus +8')
    or diag(explain kn_hist());
files_answer('before the cut', \%files, @n);

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
my $vname = $victim->{name};
diag("cutting $vname off: holds " . scalar(keys %victim_had) . ' files, '
     . scalar(@hit) . " of them at K=N: @hit");

# the cut ---------------------------------------------------------------

my $t0 = time;
$net->cut($victim->{host_no});
ok(!Netns::tcp_ok($victim->{host}, $port, 1), "$vname is cut: a connect to it times out");
my @vpids = FsdfsTest::nginx_pids($victim);
ok(@vpids && !grep({ !kill 0, $_ } @vpids), "${vname}'s nginx keeps running");
{
    my ($p) = sort keys %victim_had;
    # a client inside its namespace: the status line of one HTTP/1.0 GET
    my ($rc, $code) = $net->run($victim->{host_no}, $^X, '-MIO::Socket::INET', '-e',
        'my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], Timeout => 5) or exit 1;'
        . ' print $s "GET $ARGV[1] HTTP/1.0\r\n\r\n"; my $l = <$s> // "";'
        . ' print $l =~ m{^HTTP/\S+ (\d+)} ? $1 : 0',
        "$victim->{host}:$port", $p);
    is($code, '200', "on its side of the cut, $vname still serves its own copy of $p");
}
ok(wait_for(sub { !rcmd('EXISTS', "fsdfs:alive:$vid") }, 8),
   "${vname}'s alive key expires: stale");
ok(wait_for(sub { fsdfsd_log($m) =~ /node $vid \(\Q$vname\E\) dead.*its copies stop counting/ }, 15),
   "the master declares $vname dead")
    or diag(fsdfsd_tail($m, 20));
diag(sprintf 'cut: declared dead %.1fs after the cut (dead_after 3s, counted from its last heartbeat)', time - $t0);
# Until a node's table says so, it may still redirect to the cut node, and
# a client's connect there times out: that is how long detection takes.
ok(wait_for(sub {
    !grep {
        my $j = status_json($_);
        !$j || grep { ($_->{url} // '') eq $victim->{url} && $_->{alive} } @{$j->{nodes} // []};
    } @live;
}, 10), "every reachable node's table shows $vname not alive");
sleep 1.1;          # every worker's copy of the table is fresh
files_answer('stale node', \%files, @live);
{
    my $st = fsdfs('status', '--json');
    my $j = eval { require JSON::PP; JSON::PP::decode_json($st) } // {};
    my ($vn) = grep { ($_->{name} // '') eq $vname } @{$j->{nodes} // []};
    ok($vn && !$vn->{alive}, "fsdfs status shows $vname not alive") or diag($st);
}
ok(wait_kn(sub { ($_[0]{nodes_live} // 0) == 3 }, 10), 'the master counts 3 live nodes');

# Dead and stale come almost together here (dead_after counts from the
# last heartbeat), so the dip to min(K-N) -1 may be over before it can be
# sampled: the proof that its copies stopped counting is that the files it
# held at K=N get a copy more on the others.
my ($rounds, $lowest, @unread) = (0, 0);
sub short_live {
    my $all = all_records();
    return grep { my $p = $_; (grep { $_ != $vid } @{$all->{$p} // []}) < 2 } sort keys %files;
}
my $healed = wait_kn(sub {
    push @unread, spot_check(\%files, @live);
    $rounds++;
    $lowest = $_[0]{min_kn} if ($_[0]{min_kn} // 0) < $lowest;
    ($_[0]{files} // 0) == 12 && ($_[0]{min_kn} // -1) >= 0 && !short_live();
}, 60, @hit);
ok($healed, "re-replicated: every file has N=2 copies on the three reachable nodes, the "
   . scalar(@hit) . " ${vname} held at K=N included");
diag(sprintf 'cut: re-replicated %.1fs after the cut (lowest min(K-N) sampled: %d)', time - $t0, $lowest);
is(scalar(@unread), 0, "while it was cut, every file answered 200 through the others in $rounds rounds")
    or diag(join "\n", @unread[0 .. ($#unread < 9 ? $#unread : 9)]);
$all = all_records();
my @kept = grep { my $p = $_; !grep { $_ == $vid } @{$all->{$p}} } sort keys %victim_had;
is("@kept", '', "the cut node's copies stay in the index");
files_answer('cut', \%files, @live);

# rm while cut ----------------------------------------------------------

my $gone = $hit[0];
my $out = fsdfs('rm', $gone);
is($? >> 8, 0, "$vname cut: fsdfs rm $gone") or diag($out);
is(record_of($gone), undef, "$gone: its record is gone");
ok(defined rcmd('ZSCORE', 'fsdfs:tomb', $gone), "$gone: a tombstone stays");
delete $files{$gone};
ok(wait_for(sub { !grep { -e $_->{root} . $gone } @live }, 15),
   'the reachable copies are dropped')
    or diag(cluster_diag($gone));
ok(-f $victim->{root} . $gone, "the cut $vname still has its copy");

my (%seen, %bad);
sub check_gone {
    my ($node) = @_;
    my $r = follow(node_addr($node), $gone, 2);
    $seen{"$node->{name}: $r->{status}"}++;
    return $r->{status};
}
sleep 1.1;          # every lookup cache has expired
ok(wait_for(sub {
    my $all404 = 1;
    for my $node (@live) {
        my $s = check_gone($node);
        $bad{"$node->{name} while cut: $s"}++ if $s == 200;
        $all404 = 0 if $s != 404;
    }
    $all404;
}, 5), "while $vname is cut, $gone answers 404 through the reachable nodes")
    or diag(explain \%seen);

# heal --------------------------------------------------------------------

$t0 = time;
$net->heal($victim->{host_no});
# A GET the healed node answers from its own disk before the master's drop
# reaches it is the partition's price (local hits never ask Redis); once
# the copy is gone, open_file_cache_valid (1 s) bounds how long a cached
# descriptor may still serve it.
my ($served, $late, $gone_at) = (0, 0);
ok(wait_for(sub {
    for my $node (@live) {
        my $s = check_gone($node);
        $bad{"$node->{name} after the heal: $s"}++ if $s == 200;
    }
    $gone_at //= time unless -e $victim->{root} . $gone;
    my $sent = time;
    my $s = check_gone($victim);
    if ($s == 200) {
        if (defined $gone_at && $sent > $gone_at + 1.5) {
            $bad{"$vname, more than 1.5 s after its copy was dropped: 200"}++;
        } else {
            $served++;
            $late++ if defined $gone_at;
        }
    }
    defined $gone_at && time > $gone_at + 2 && $s == 404;
}, 30), "healed: $vname drops $gone from its disk, then answers 404 for it")
    or diag(cluster_diag($gone));
diag(sprintf "heal: %s's copy of the deleted file dropped %.1fs after the heal; "
     . "%d GET(s) of it through %s answered 200 (%d of them in the open_file_cache second after the drop)",
     $vname, defined $gone_at ? $gone_at - $t0 : -1, $served, $vname, $late);
is_deeply([sort keys %bad], [],
          "$gone never answered 200 through the nodes that dropped it, nor through $vname once its copy was gone")
    or diag(explain \%seen);

ok(nodes_up(20, @n), "$vname is back: every node sees every node alive");
ok(wait_for(sub { fsdfsd_log($m) =~ /node $vid \(\Q$vname\E\) live, was (dead|stale)/ }, 10),
   "the master sees $vname live again");
ok(wait_kn(sub { ($_[0]{nodes_live} // 0) == 4 }, 10), 'the master counts 4 live nodes');
my $want = 4 * 8 - 2 * keys %files;
ok(wait_kn(sub { surplus() == $want && ($_[0]{min_kn} // -1) >= 0 && ($_[0]{files} // 0) == 11 }, 30),
   "its copies count again: 32 copies of 11 files, surplus +$want")
    or diag(explain kn_hist());
diag(sprintf 'heal: counted again %.1fs after the heal', time - $t0);

# quotas force the surplus down ------------------------------------------

# Two of the least copied files now want a copy on every node: the nodes
# are full, so surplus copies of other files are evicted for them.
$all = all_records();
my @up = (sort { @{$all->{$a}} <=> @{$all->{$b}} || $a cmp $b } sort keys %files)[0, 1];
my $evicted0 = () = fsdfsd_log($m) =~ /evicting/g;
for my $p (@up) {
    my $out = fsdfs('set', $p, 'replicas=4');
    is($? >> 8, 0, "fsdfs set $p replicas=4 (has " . @{$all->{$p}} . ')') or diag($out);
}
$want = 4 * 8 - 2 * (keys(%files) - 2) - 4 * 2;
ok(wait_kn(sub { ($_[0]{min_kn} // -1) >= 0 && surplus() == $want }, 40, @up),
   "full quotas: surplus trimmed to +$want, every file at its N")
    or diag(explain kn_hist());
$all = all_records();
is(scalar(@{$all->{$_}}), 4, "$_ is on all four nodes") for @up;
my $evicted = (() = fsdfsd_log($m) =~ /evicting/g) - $evicted0;
ok($evicted >= 1, "surplus copies were evicted to make room ($evicted)");

my %disk_ok;
ok(wait_for(sub {
    my $all = all_records();
    for my $node (@n) {
        my $want = join ' ', sort grep { my $p = $_; grep { $_ == $id{$node->{name}} } @{$all->{$p}} } keys %$all;
        my $have = join ' ', sort keys %{disk_files($node)};
        $disk_ok{$node->{name}} = $want eq $have ? 1 : "index: $want\ndisk: $have";
    }
    !grep { $_ ne 1 } values %disk_ok;
}, 15), 'every node holds on disk exactly what the index says')
    or diag(explain \%disk_ok);
for my $node (@n) {
    my $used = sum0(values %{disk_files($node)});
    ok($used <= $quota, "$node->{name} within its quota ($used bytes)");
}

is(record_of($gone), undef, "$gone did not come back into the index");
ok(!grep({ -e $_->{root} . $gone } @n), "$gone is on no node's disk");
my @back;
ok(wait_for(sub { !(@back = grep { $_ != 404 } map { follow(node_addr($_), $gone, 2)->{status} } @n) }, 5),
   "$gone answers 404 through every node") or diag("@back");
files_answer('after the heal', \%files, @n);

$net->teardown;
is_deeply([$net->leftovers], [], 'the test network is gone: no namespace, veth or bridge left');
finish();
