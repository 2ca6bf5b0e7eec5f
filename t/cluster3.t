#!/usr/bin/perl
# Three nodes, files spread one or two copies each: every file answers 200
# with its bytes through every node within two redirects followed by hand;
# the same path always goes to the same holder, from any node; misses spread
# over holders; a node dies and the files it shared still answer through
# the survivors.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(sleep);

my $redis = start_redis();
# one at a time: ids follow registration, and the rendezvous checks below
# see the same ids (a 1, b 2, c 3) on every run
my @n;
for my $name (qw(a b c)) {
    push @n, start_node(name => $name);
    wait_for(sub { node_id($name) }, 10);
}
ok(wait_for(sub { redis_cli('HLEN', 'fsdfs:nodes') == 3 }, 5), '3 nodes registered');
fsdfs('init', '--buckets', '256');

my (%files, %copies);
for my $i (1 .. 30) {
    my $path = sprintf '/music/%02d/track%d.%s', $i % 7, $i, $i % 2 ? 'mp3' : 'ogg';
    my $data = "track $i " x (50 + $i);
    $files{$path} = $data;
    my @on = $i % 5 == 0 ? ($n[$i % 3]) : ($n[$i % 3], $n[($i + 1) % 3]);
    write_file($_->{root} . $path, $data) for @on;
    $copies{$path} = [map { $_->{name} } @on];
}
for my $node (@n) {
    my $out = fsdfs('scan', $node->{name}, $node->{root});
    is($? >> 8, 0, "scan $node->{name}") or diag($out);
}
ok(wait_for(sub {
    my $ok = 1;
    for my $node (@n) {
        my $j = status_json($node) or return 0;
        $ok &&= 3 == grep { $_->{alive} && $_->{url} } @{$j->{nodes} // []};
    }
    $ok;
}, 10), 'every node sees 3 live nodes');
sleep 1.1;   # and every worker's copy of the table is fresh

sub all_answer {
    my ($label, @nodes) = @_;
    my ($bad, $hops) = (0, 0);
    for my $node (@nodes) {
        for my $path (sort keys %files) {
            my $r = follow($node->{port}, $path, 2);
            $hops = @{$r->{hops}} - 1 if @{$r->{hops}} - 1 > $hops;
            next if $r->{status} == 200 && $r->{body} eq $files{$path};
            $bad++;
            diag("$label: $path via $node->{name}: $r->{status} (hops @{$r->{hops}})");
        }
    }
    is($bad, 0, "$label: every file answers 200 with its bytes through every node");
    cmp_ok($hops, '<=', 1, "$label: one redirect at most when a live holder is known");
}

all_answer('3 nodes', @n);

# rendezvous: the same path goes to the same holder, from any non-holder
my ($stable, %target) = (1);
for my $path (grep { @{$copies{$_}} == 2 } sort keys %files) {
    my %h = map { $_ => 1 } @{$copies{$path}};
    my ($other) = grep { !$h{$_->{name}} } @n;
    my %l;
    $l{http($other->{port}, 'GET', $path)->{headers}{location} // 'none'}++ for 1 .. 5;
    $stable = 0, diag("$path: " . join ' ', keys %l) if keys %l != 1;
    my ($loc) = keys %l;
    $target{"$other->{name}:$1"}++ if $loc =~ m{:(\d+)/};
    my ($port) = $loc =~ m{:(\d+)/};
    my ($to) = grep { $_->{port} == ($port // 0) } @n;
    ok($to && $h{$to->{name}}, "$path: redirected to a holder") or diag($loc);
}
ok($stable, 'the same path always redirects to the same holder');
my %per_from;
$per_from{(split /:/)[0]}{(split /:/)[1]}++ for keys %target;
ok(!grep({ keys %{$per_from{$_}} < 2 } keys %per_from),
   'from each node, misses spread over both other holders')
    or diag(explain \%target);

# a node dies: what it shared answers through the survivors; what only it had is 503
kill_node($n[2]);
my $cid = node_id('c');
ok(wait_for(sub { !redis_cli('EXISTS', "fsdfs:alive:$cid") }, 10),
   'c is no longer alive once its alive key expires');
ok(wait_for(sub {
    my $j = status_json($n[0]) or return 0;
    !grep { $_->{id} == $cid && $_->{alive} } @{$j->{nodes} // []}
}, 6), 'a sees c dead');
sleep 1.1;
delete $files{$_} for grep { "@{$copies{$_}}" eq 'c' } keys %copies;
all_answer('c dead', @n[0, 1]);
for my $path (grep { "@{$copies{$_}}" eq 'c' } sort keys %copies) {
    my $r = http($n[0]{port}, 'GET', $path);
    is($r->{status}, 503, "$path was only on c: 503");
}

finish();
