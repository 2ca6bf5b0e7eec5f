#!/usr/bin/perl
# What a record says decides the answer: holders -> 302, no record -> 404,
# a record with no holder left (a lost file) -> 503, never cached as unknown.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs($redis, 'init', '--buckets', '8');
my $a = start_node(name => 'a', redis => $redis,
                   http => 'fsdfs_cache zone=c:1m ttl=60s;');
my $b = start_node(name => 'b', redis => $redis);
write_file("$b->{root}/m/x.mp3", 'x');
ok(wait_for(sub { redis_cli($redis, 'HGET', 'fsdfs:nodes', 'b') }, 5), 'b registered');
fsdfs($redis, 'scan', 'b', $b->{root});
my $key = bucket_key($redis, '/m/x.mp3');
my $rec = redis_cli($redis, 'HGET', $key, '/m/x.mp3');
(my $lost = $rec) =~ s/ \d+(,\d+)*$/ -/;

ok(wait_for(sub { http($a->{port}, 'GET', '/m/x.mp3')->{status} == 302 }, 5), 'held: 302');

my $lkey = bucket_key($redis, '/m/lost.mp3');
redis_cli($redis, 'HSET', $lkey, '/m/lost.mp3', $lost);
my $r = http($a->{port}, 'GET', '/m/lost.mp3');
is($r->{status}, 503, "record without holders ($lost): 503");
is($r->{headers}{'retry-after'}, '5', 'with Retry-After');

# a copy appears: seen at once, the lost answer was not cached
my $bid = redis_cli($redis, 'HGET', 'fsdfs:nodes', 'b');
(my $found = $lost) =~ s/ -$/ $bid/;
redis_cli($redis, 'HSET', $lkey, '/m/lost.mp3', $found);
is(http($a->{port}, 'GET', '/m/lost.mp3')->{status}, 302, 'a new copy is used at once');

is(http($a->{port}, 'GET', '/m/never.mp3')->{status}, 404, 'no record: 404');
is(http($a->{port}, 'GET', '/m/never.mp3')->{status}, 404, 'no record, from the negative cache: 404');

# the cached holder dies and the index moves on: no waiting out the ttl
my $c = start_node(name => 'c', redis => $redis);
write_file("$c->{root}/m/x.mp3", 'x');
ok(wait_for(sub { redis_cli($redis, 'HGET', 'fsdfs:nodes', 'c') }, 5), 'c registered');
my $cid = redis_cli($redis, 'HGET', 'fsdfs:nodes', 'c');
like(http($a->{port}, 'GET', '/m/x.mp3')->{headers}{location}, qr/^\Q$b->{url}\E/,
     'cached: x.mp3 on b');
stop_node($b);
redis_cli($redis, 'DEL', "fsdfs:alive:$bid");
(my $moved = $rec) =~ s/ \d+(,\d+)*$/ $cid/;
redis_cli($redis, 'HSET', $key, '/m/x.mp3', $moved);
ok(wait_for(sub {
    (http($a->{port}, 'GET', '/m/x.mp3')->{headers}{location} // '') =~ /^\Q$c->{url}\E/
}, 4), 'cached holder dead: the index is asked again, the new holder used before the ttl');

finish();
