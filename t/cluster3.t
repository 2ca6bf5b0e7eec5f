#!/usr/bin/perl
# Three nodes, files spread two copies each: every file answers 200 through
# every node within two redirects; a node dies and its files still answer
# through the survivors.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs($redis, 'init', '--buckets', '256');

my @n = map { start_node(name => $_, redis => $redis) } qw(a b c);
my %files;
for my $i (1 .. 30) {
    my $path = sprintf '/music/%02d/track%d.%s', $i % 7, $i, $i % 2 ? 'mp3' : 'ogg';
    my $data = "track $i " x (50 + $i);
    $files{$path} = $data;
    write_file($n[$i % 3]{root} . $path, $data);
    write_file($n[($i + 1) % 3]{root} . $path, $data);
}

ok(wait_for(sub { redis_cli($redis, 'HLEN', 'fsdfs:nodes') == 3 }, 5), '3 nodes registered');
for my $node (@n) {
    my $out = fsdfs($redis, 'scan', $node->{name}, $node->{root});
    is($? >> 8, 0, "scan $node->{name}") or diag($out);
}
sleep 1.2;

sub fetch {
    my ($port, $path) = @_;
    for my $hop (0 .. 2) {
        my $r = http($port, 'GET', $path);
        return $r if $r->{status} != 302;
        my ($p, $rest) = $r->{headers}{location} =~ m{^http://127\.0\.0\.1:(\d+)(/.*)$} or return $r;
        ($port, $path) = ($p, $rest);
    }
    return { status => 'loop' };
}

sub all_answer {
    my ($label, @nodes) = @_;
    my $bad = 0;
    for my $node (@nodes) {
        for my $path (sort keys %files) {
            my $r = fetch($node->{port}, $path);
            next if $r->{status} eq '200' && $r->{body} eq $files{$path};
            $bad++;
            diag("$label: $path via $node->{name}: $r->{status}");
        }
    }
    is($bad, 0, "$label: every file answers 200 with its bytes through every node");
}

all_answer('3 nodes', @n);

# spread: each node serves some redirects, not one node all of them
my %target;
for my $path (sort keys %files) {
    my $r = http($n[0]{port}, 'GET', $path);
    $target{$1}++ if $r->{status} == 302 && $r->{headers}{location} =~ m{:(\d+)/};
}
cmp_ok(scalar(keys %target), '>=', 2, 'misses spread over several holders');

kill_node($n[2]);
my $cid = redis_cli($redis, 'HGET', 'fsdfs:nodes', 'c');
ok(wait_for(sub { !redis_cli($redis, 'EXISTS', "fsdfs:alive:$cid") }, 5),
   'c is no longer alive after its alive key expires');
sleep 1.2;
all_answer('c dead', @n[0, 1]);

finish();
