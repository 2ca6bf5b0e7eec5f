#!/usr/bin/perl
# fsdfs_status: JSON that parses with JSON::PP and counts requests by
# outcome (deltas checked exactly); ?format=prometheus gives well-formed
# Prometheus text with fsdfs_ metrics agreeing with the JSON.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;

my $redis = start_redis();
my $n = start_node(name => 'alpha', http => 'fsdfs_quota 10m;');
my $m = start_node(name => 'beta');
write_file("$n->{root}/m/x.mp3", 'x' x 1000);
write_file("$m->{root}/m/r.mp3", 'remote');
ok(wait_for(sub { node_id('alpha') && node_id('beta') }, 5), 'registered');
fsdfs('init');
fsdfs('scan', 'beta', $m->{root});
my $id = node_id('alpha');
ok(wait_for(sub { http($n->{port}, 'GET', '/m/r.mp3')->{status} == 302 }, 5), 'redirects work');

my $r = http($n->{port}, 'GET', '/_fsdfs/status');
is($r->{status}, 200, 'status: 200');
like($r->{headers}{'content-type'} // '', qr{^application/json}, 'status: JSON content type');
my $j0 = eval { decode_json($r->{body}) };
ok($j0, 'status parses as JSON') or diag($@, $r->{body});
is(ref $j0->{counters}, 'HASH', 'json: has counters');
is($j0->{node}{name}, 'alpha', 'json: node name');
is($j0->{node}{id}, $id, 'json: node id');
is($j0->{node}{url}, $n->{url}, 'json: node url');
ok($j0->{redis}{up}, 'json: redis up');
is($j0->{disk}{quota}, 10485760, 'json: quota');
is(scalar @{$j0->{nodes} // []}, 2, 'json: node table has both nodes');
is(http($n->{port}, 'HEAD', '/_fsdfs/status')->{body}, '', 'HEAD status: no body');

http($n->{port}, 'GET', '/m/x.mp3') for 1 .. 3;
http($n->{port}, 'HEAD', '/m/x.mp3');
http($n->{port}, 'GET', '/m/r.mp3') for 1 .. 2;
http($n->{port}, 'GET', "/m/unknown$_.mp3") for 1 .. 2;
http($n->{port}, 'POST', '/m/x.mp3');
http($n->{port}, 'GET', '/m/a%20b.mp3');
http($n->{port}, 'GET', '/m/r.mp3?fsdfs_hop=2');

my $j = status_json($n);
ok($j, 'status parses again');
my %d = map { $_ => ($j->{counters}{$_} // 0) - ($j0->{counters}{$_} // 0) } keys %{$j->{counters}};
is($d{local}, 4, 'local hits: +4 (3 GET, 1 HEAD)');
is($d{redirects}, 2, 'redirects: +2');
is($d{not_found}, 2, 'not found: +2');
is($d{rejected}, 2, 'rejected: +2 (bad method, bad path)');
is($d{unavailable}, 1, 'unavailable: +1 (hop limit)');
is($d{proxied}, 0, 'proxied: +0');
is($d{cache_hits} + $d{cache_misses}, 5, 'lookups: 5 (2 redirects, 2 unknown, 1 hop limit)')
    or diag(explain \%d);

$r = http($n->{port}, 'GET', '/_fsdfs/status?format=prometheus');
is($r->{status}, 200, 'prometheus: 200');
like($r->{headers}{'content-type'} // '', qr{^text/plain}, 'prometheus: text/plain');
my @lines = split /\n/, $r->{body};
my @metrics = grep { /^fsdfs_/ } @lines;
cmp_ok(scalar @metrics, '>=', 5, scalar(@metrics) . ' fsdfs_ metric lines');
my @bad = grep { !/^(# (HELP|TYPE) fsdfs_\w+ .*|fsdfs_\w+(\{[^}]*\})? -?\d+(\.\d+)?(e[+-]?\d+)?)$/ } @lines;
is(scalar @bad, 0, 'every line is a comment or a sample') or diag(join "\n", @bad);
like($r->{body}, qr/^# TYPE fsdfs_\w+ (counter|gauge)$/m, 'TYPE lines');
my ($local) = $r->{body} =~ /^fsdfs_local\w*(?:\{[^}]*\})? (\d+)$/m;
cmp_ok($local // 0, '>=', $j->{counters}{local}, 'prometheus local hits agree with JSON');
like($r->{body}, qr/^fsdfs_redis_up(\{[^}]*\})? 1$/m, 'redis up gauge');

# redis down shows in the status
stop_redis();
ok(wait_for(sub { my $x = status_json($n); $x && !$x->{redis}{up} }, 4),
   'json: redis down reported')
    or diag(http($n->{port}, 'GET', '/_fsdfs/status')->{body});
like(http($n->{port}, 'GET', '/_fsdfs/status?format=prometheus')->{body},
     qr/^fsdfs_redis_up(\{[^}]*\})? 0$/m, 'prometheus: redis down');

finish();
