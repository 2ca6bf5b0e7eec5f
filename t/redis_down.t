#!/usr/bin/perl
# Redis down: local hits still 200, cached misses still redirect (even past
# their ttl, within stale=), uncached misses 503 with Retry-After, one log
# line per outage per worker; Redis back on the same port: lookups work
# again without a reload.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(sleep time);

my $redis = start_redis();
fsdfs($redis, 'init', '--buckets', '16');

my $a = start_node(name => 'a', redis => $redis,
                   redis_opts => ' timeout=300ms',
                   http => 'fsdfs_cache zone=c:1m ttl=1s neg_ttl=1s stale=1h;');
my $b = start_node(name => 'b', redis => $redis);
write_file("$a->{root}/m/local.mp3", 'local');
write_file("$b->{root}/m/remote.mp3", 'remote');
write_file("$b->{root}/m/uncached.mp3", 'uncached');

ok(wait_for(sub { redis_cli($redis, 'HGET', 'fsdfs:nodes', 'b') }, 5), 'b registered');
fsdfs($redis, 'scan', 'b', $b->{root});
ok(wait_for(sub { http($a->{port}, 'GET', '/m/remote.mp3')->{status} == 302 }, 5),
   'remote file redirects (and is now cached)');

stop_redis($redis);
sleep 1.5;   # past the cache ttl: the entry is stale now

my $t0 = time;
for (1 .. 25) {
    is(http($a->{port}, 'GET', '/m/local.mp3')->{status}, 200, 'redis down: local hit 200')
        if $_ <= 3;
    my $r = http($a->{port}, 'GET', '/m/remote.mp3');
    is($r->{status}, 302, 'redis down: stale cached miss still redirects') if $_ <= 3;
    $r = http($a->{port}, 'GET', '/m/uncached.mp3');
    if ($_ <= 3) {
        is($r->{status}, 503, 'redis down: uncached miss 503');
        ok($r->{headers}{'retry-after'}, 'with Retry-After');
    }
}
cmp_ok(time - $t0, '<', 10, 'failing lookups are bounded by the timeout, not hung');

my $log = do { local (@ARGV, $/) = "$a->{prefix}/error.log"; <> };
my $lines = () = $log =~ /unreachable/g;
cmp_ok($lines, '>=', 1, 'the outage is logged');
cmp_ok($lines, '<=', 2, "once per worker, not per request ($lines lines for 50 failed lookups)");

start_redis(port => $redis);
# a fresh Redis: the index is gone, so re-create it; nodes re-register
fsdfs($redis, 'init', '--buckets', '16');
ok(wait_for(sub { redis_cli($redis, 'HGET', 'fsdfs:nodes', 'b') }, 6),
   'nodes register again by themselves');
fsdfs($redis, 'scan', 'b', $b->{root});
ok(wait_for(sub { http($a->{port}, 'GET', '/m/uncached.mp3')->{status} == 302 }, 6),
   'redis back: lookups work again without reload');
$log = do { local (@ARGV, $/) = "$a->{prefix}/error.log"; <> };
like($log, qr/redis "127\.0\.0\.1:\d+" is back/, 'the recovery is logged');

finish();
