#!/usr/bin/perl
# Misses: 302 to a live holder, 404 for unknown paths, 503 when no holder
# is alive, hop limit, never a redirect to self, corrupt records.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
is(fsdfs($redis, 'init', '--buckets', '64') =~ /buckets=64/ ? 1 : 0, 1, 'init');

my $a = start_node(name => 'a', redis => $redis);
my $b = start_node(name => 'b', redis => $redis);

write_file("$b->{root}/m/b1.mp3", 'b1' x 1000);
write_file("$b->{root}/m/both.mp3", 'both');
write_file("$a->{root}/m/both.mp3", 'both');

ok(wait_for(sub { redis_cli($redis, 'HGET', 'fsdfs:nodes', 'b') }, 5),
   'node b registered itself');
fsdfs($redis, 'scan', 'b', $b->{root});
is($? >> 8, 0, 'scan b');
fsdfs($redis, 'scan', 'a', $a->{root});

my $bid = redis_cli($redis, 'HGET', 'fsdfs:nodes', 'b');
ok(wait_for(sub { http($a->{port}, 'GET', '/m/b1.mp3')->{status} == 302 }, 5),
   'miss on a becomes a redirect once the node table is fresh');

my $r = http($a->{port}, 'GET', '/m/b1.mp3?x=1&y=2');
is($r->{status}, 302, 'miss: 302');
is($r->{headers}{location}, "$b->{url}/m/b1.mp3?x=1&y=2&fsdfs_hop=1",
   'Location is holder url + uri + args + hop marker');

$r = http($a->{port}, 'HEAD', '/m/b1.mp3');
is($r->{status}, 302, 'HEAD miss: 302');
is($r->{body}, '', 'HEAD: no body');

$r = http($b->{port}, 'GET', '/m/b1.mp3?fsdfs_hop=1');
is($r->{status}, 200, 'the holder serves the redirected request');
is($r->{body}, 'b1' x 1000, 'with the file');

$r = http($a->{port}, 'GET', '/m/b1.mp3?fsdfs_hop=1');
is($r->{status}, 302, 'one hop: may redirect once more');
like($r->{headers}{location}, qr/fsdfs_hop=2$/, 'hop count carried, not doubled');
unlike($r->{headers}{location}, qr/fsdfs_hop=1/, 'old hop marker dropped');

$r = http($a->{port}, 'GET', '/m/b1.mp3?fsdfs_hop=2');
is($r->{status}, 503, 'hop limit reached: 503, no further redirect');
ok($r->{headers}{'retry-after'}, 'with Retry-After');

$r = http($a->{port}, 'GET', '/m/nothing.mp3');
is($r->{status}, 404, 'unknown path: 404');

# a holder that lacks the file never redirects to itself
unlink "$b->{root}/m/b1.mp3";
$r = http($b->{port}, 'GET', '/m/b1.mp3');
isnt($r->{status}, 302, 'no redirect to self') or diag($r->{headers}{location});
is($r->{status}, 503, 'indexed only here and missing: 503');

# a record listing both: a is self, b is the only candidate
$r = http($a->{port}, 'GET', '/m/both.mp3');
is($r->{status}, 200, 'held locally: served from disk');

# rendezvous: the same path always goes to the same holder
my $c = start_node(name => 'c', redis => $redis);
write_file("$c->{root}/m/b1.mp3", 'b1' x 1000);
write_file("$b->{root}/m/b1.mp3", 'b1' x 1000);
fsdfs($redis, 'scan', 'c', $c->{root});
fsdfs($redis, 'scan', 'b', $b->{root});
ok(wait_for(sub {
    (redis_cli($redis, 'EXISTS', 'fsdfs:alive:' . redis_cli($redis, 'HGET', 'fsdfs:nodes', 'c')) // 0) == 1
}, 5), 'node c alive');
sleep 1.2;
my %seen;
$seen{http($a->{port}, 'GET', '/m/b1.mp3')->{headers}{location} // 'none'}++ for 1 .. 20;
is(scalar(keys %seen), 1, 'the same path always redirects to the same holder');

# corrupt record: treated as unknown, logged
my $key = bucket_key($redis, '/m/bad.mp3');
redis_cli($redis, 'HSET', $key, '/m/bad.mp3', 'garbage 1 2');
$r = http($a->{port}, 'GET', '/m/bad.mp3');
is($r->{status}, 404, 'corrupt record: 404');
my $log = do { local (@ARGV, $/) = "$a->{prefix}/error.log"; <> };
like($log, qr/corrupt record for "\/m\/bad\.mp3"/, 'corrupt record logged');

# holder dead: alive key gone -> 503 with Retry-After
stop_node($c);
stop_node($b);
redis_cli($redis, 'DEL', "fsdfs:alive:$bid", 'fsdfs:alive:' . redis_cli($redis, 'HGET', 'fsdfs:nodes', 'c'));
ok(wait_for(sub { http($a->{port}, 'GET', '/m/b1.mp3')->{status} == 503 }, 5),
   'no live holder: 503');
$r = http($a->{port}, 'GET', '/m/b1.mp3');
is($r->{headers}{'retry-after'}, '5', 'Retry-After: 5');

finish();
