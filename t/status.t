#!/usr/bin/perl
# Heartbeat and status: the node registers a stable id, writes its status
# hash and alive key every second, and fsdfs_status serves JSON and
# Prometheus text with counters that move.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep);

my $redis = start_redis();
fsdfs($redis, 'init');
my $n = start_node(name => 'alpha', redis => $redis, http => 'fsdfs_quota 10m;');
write_file("$n->{root}/m/x.mp3", 'x' x 1000);

ok(wait_for(sub { redis_cli($redis, 'HGET', 'fsdfs:nodes', 'alpha') }, 5), 'registered');
my $id = redis_cli($redis, 'HGET', 'fsdfs:nodes', 'alpha');
like($id, qr/^\d+$/, "got id $id");
ok(wait_for(sub { redis_cli($redis, 'HGET', "fsdfs:node:$id", 'name') }, 5),
   'first heartbeat written');

my %h = split /\n/, redis_cli($redis, 'HGETALL', "fsdfs:node:$id");
is($h{name}, 'alpha', 'status hash: name');
is($h{url}, $n->{url}, 'status hash: url');
is($h{state}, 'active', 'status hash: state');
is($h{quota}, 10 * 1024 * 1024, 'status hash: quota');
like($h{$_}, qr/^\d+$/, "status hash: $_ numeric") for qw(used free files load conns ts);
ok(wait_for(sub {
    my %x = split /\n/, redis_cli($redis, 'HGETALL', "fsdfs:node:$id");
    $x{files} == 1 && $x{used} == 1000
}, 5), 'disk figures from the data root (1 file, 1000 bytes)');
my $pttl = redis_cli($redis, 'PTTL', "fsdfs:alive:$id");
ok($pttl > 0 && $pttl <= 3000, "alive key has a TTL ($pttl ms)");
my $ts = $h{ts};
ok(wait_for(sub { (split /\n/, redis_cli($redis, 'HGET', "fsdfs:node:$id", 'ts'))[0] > $ts }, 3),
   'heartbeat refreshes ts');

# id is stable across a restart
stop_node($n);
$n = start_node(name => 'alpha', redis => $redis, port => $n->{port},
                http => 'fsdfs_quota 10m;');
sleep 1.5;
is(redis_cli($redis, 'HGET', 'fsdfs:nodes', 'alpha'), $id, 'same id after restart');
is(redis_cli($redis, 'HLEN', 'fsdfs:nodes'), 1, 'no duplicate registration');

http($n->{port}, 'GET', '/m/x.mp3') for 1 .. 3;
http($n->{port}, 'GET', '/m/unknown.mp3');
http($n->{port}, 'POST', '/m/x.mp3');

my $r = http($n->{port}, 'GET', '/_fsdfs/status');
is($r->{status}, 200, 'status: 200');
like($r->{headers}{'content-type'}, qr/application\/json/, 'status: JSON');
my $j = eval { decode_json($r->{body}) };
ok($j, 'status parses as JSON') or diag($@, $r->{body});
is($j->{node}{name}, 'alpha', 'json: node name');
is($j->{node}{id}, $id, 'json: node id');
ok($j->{redis}{up}, 'json: redis up');
is($j->{counters}{local}, 3, 'json: 3 local hits');
is($j->{counters}{not_found}, 1, 'json: 1 not found');
is($j->{counters}{rejected}, 1, 'json: 1 rejected');
is($j->{disk}{quota}, 10485760, 'json: quota');
is(scalar @{$j->{nodes}}, 1, 'json: node table has this node');
ok($j->{nodes}[0]{alive}, 'json: and it is alive');

$r = http($n->{port}, 'GET', '/_fsdfs/status?format=prometheus');
like($r->{headers}{'content-type'}, qr/text\/plain; version=0\.0\.4/, 'prometheus content type');
like($r->{body}, qr/^fsdfs_local_total\{node="alpha"\} 3$/m, 'prometheus: local hits');
like($r->{body}, qr/^# TYPE fsdfs_redirects_total counter$/m, 'prometheus: TYPE lines');
like($r->{body}, qr/^fsdfs_redis_up\{node="alpha"\} 1$/m, 'prometheus: redis up');
my @bad = grep { !/^(#.*|fsdfs_[a-z_]+\{[^}]*\} \d+)$/ } split /\n/, $r->{body};
is(scalar @bad, 0, 'every prometheus line is well formed') or diag(join "\n", @bad);

finish();
