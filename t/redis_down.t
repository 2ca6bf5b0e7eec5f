#!/usr/bin/perl
# Redis down: local hits still 200; cached misses still redirect (even past
# their ttl, within stale=); uncached misses 503 with Retry-After, answered
# within the timeout; one log line per outage, not per request. Redis back
# on the same port: misses work again within 8 s (the reconnect backoff
# reaches 2 s during an outage), without a reload. A Redis that hangs
# (SIGSTOP) is bounded by timeout= the same way.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(sleep time);

my $redis = start_redis();

my $a = start_node(name => 'a', redis_opts => ' timeout=300ms',
                   http => 'fsdfs_cache zone=c:1m ttl=1s neg_ttl=1s stale=1h;');
my $b = start_node(name => 'b');
write_file("$a->{root}/m/local.mp3", 'local');
write_file("$b->{root}/m/$_.mp3", $_) for qw(remote uncached later frozen);

ok(wait_for(sub { node_id('a') && node_id('b') }, 5), 'nodes registered');
fsdfs('init', '--buckets', '16');
fsdfs('scan', 'b', $b->{root});
is($? >> 8, 0, 'scan b');
ok(wait_for(sub { http($a->{port}, 'GET', '/m/remote.mp3')->{status} == 302 }, 5),
   'remote file redirects (and is now cached)');
my $remote_loc = http($a->{port}, 'GET', '/m/remote.mp3')->{headers}{location};
my $unreach = qr/redis.*(unreachable|down|lost|refused|timed out)/i;
is(log_count($a, $unreach), 0, 'no outage logged yet');

# -- outage 1: Redis stopped (its data saved, as a persistent Redis would)
stop_redis($redis, save => 1);
sleep 1.2;   # past the cache ttl: the entry is stale now

my ($bad, $slow) = (0, 0);
for my $i (1 .. 50) {
    my $r = http($a->{port}, 'GET', '/m/uncached.mp3');
    $bad++ unless $r->{status} == 503 && ($r->{headers}{'retry-after'} // '') =~ /^[1-9]\d*$/;
    $slow++ if $r->{time} > 1.5;
    next if $i > 3;
    is($r->{status}, 503, "redis down: uncached miss 503 ($i)");
    like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, "  with Retry-After ($i)");
    ok(!$r->{headers}{location}, "  no Location ($i)");
    is(http($a->{port}, 'GET', '/m/local.mp3')->{status}, 200, "redis down: local hit 200 ($i)");
    is(http($a->{port}, 'HEAD', '/m/local.mp3')->{status}, 200, "redis down: local HEAD 200 ($i)");
    $r = http($a->{port}, 'GET', '/m/remote.mp3');
    is($r->{status}, 302, "redis down: stale cached miss still redirects ($i)");
    is($r->{headers}{location}, $remote_loc, '  to the same holder');
}
is($bad, 0, 'all 50 uncached misses: 503 with Retry-After');
is($slow, 0, 'none took more than 1.5 s (timeout=300ms)');

my $lines = log_count($a, $unreach);
cmp_ok($lines, '>=', 1, 'the outage is logged');
cmp_ok($lines, '<=', 3, "one line per outage, not per request ($lines lines after 50 failed misses)")
    or diag(join "\n", grep { /$unreach/ } split /\n/, log_of($a));

# -- Redis back on the same port, same data: no reload needed
my $t0 = time;
restart_redis($redis);
ok(wait_for(sub { http($a->{port}, 'GET', '/m/uncached.mp3')->{status} == 302 }, 8),
   'redis back: misses redirect again within 8 s, without reload')
    or diag(http($a->{port}, 'GET', '/m/uncached.mp3')->{raw});
note(sprintf 'recovered after %.2f s', time - $t0);
my $r = http($a->{port}, 'GET', '/m/later.mp3');
is($r->{status}, 302, 'a path never looked up before: 302');
is($r->{headers}{location}, "$b->{url}/m/later.mp3?fsdfs_hop=1", '  to b');
is(http($a->{port}, 'GET', '/m/unknown.mp3')->{status}, 404, 'unknown: 404 again');
ok(wait_for(sub { redis_cli('EXISTS', 'fsdfs:alive:' . node_id('a')) }, 6),
   'heartbeats resumed');
my $after = log_count($a, $unreach);

# -- outage 2: Redis hangs (SIGSTOP): the port accepts, nothing answers
freeze_redis($redis);
sleep 0.5;
my $slow2 = 0;
for my $i (1 .. 10) {
    my $r = http($a->{port}, 'GET', '/m/frozen.mp3');
    is($r->{status}, 503, "redis hung: uncached miss 503 ($i)") if $i <= 3;
    $slow2++ if $r->{time} > 1.5;
    is(http($a->{port}, 'GET', '/m/local.mp3')->{status}, 200, "redis hung: local hit 200 ($i)")
        if $i <= 3;
}
is($slow2, 0, 'redis hung: every miss answered within 1.5 s (timeout=300ms)');
my $l2 = log_count($a, $unreach) - $after;
cmp_ok($l2, '<=', 3, "redis hung: at most a few lines ($l2) for 10 misses");
thaw_redis($redis);
ok(wait_for(sub { http($a->{port}, 'GET', '/m/frozen.mp3')->{status} == 302 }, 8),
   'redis answering again: misses redirect within 8 s');

finish();
