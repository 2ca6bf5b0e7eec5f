#!/usr/bin/perl
# fsdfs_popularity: GETs served from the local disk are counted in shared
# memory and flushed to fsdfs:pop as ZINCRBY of hits * 2^((now - T0) / H),
# with T0/H from fsdfs:config (set with HSETNX when absent, re-read when
# the master changes them); HEAD, misses and peer pulls are not counted; no
# Redis call per request; a full zone evicts its coldest entries; hits
# counted while Redis is down land once it is back; bad values fail
# `nginx -t` naming the value.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $mod = build_dir() . '/ngx_http_fsdfs_module.so';
BAIL_OUT("module not built: $mod (run make)") unless -f $mod;

# --- nginx -t ----------------------------------------------------------------

sub conf {
    my ($pop) = @_;
    return <<"CONF";
load_module $mod;
error_log \@PREFIX\@/error.log;
pid \@PREFIX\@/nginx.pid;
events { }
http {
    client_body_temp_path \@PREFIX\@/tmp;
    proxy_temp_path \@PREFIX\@/tmp;
    fastcgi_temp_path \@PREFIX\@/tmp;
    uwsgi_temp_path \@PREFIX\@/tmp;
    scgi_temp_path \@PREFIX\@/tmp;
    fsdfs_node a http://127.0.0.1:8080;
    fsdfs_redis 127.0.0.1:6379;
    $pop
    server {
        listen 127.0.0.1:1;
        root \@PREFIX\@/data;
        location / { fsdfs on; }
    }
}
CONF
}

for my $good ('fsdfs_popularity zone=p:1m;',
              'fsdfs_popularity zone=p:64k flush=200ms min_hits=3;',
              'fsdfs_popularity flush=1h zone=p:1m min_hits=1;') {
    my ($rc, $out) = nginx_t(conf($good));
    is($rc, 0, "nginx -t passes: $good") or diag($out);
}

for my $bad (['fsdfs_popularity zone=p:1k;', 'zone=p:1k'],
             ['fsdfs_popularity zone=p;', 'zone=p'],
             ['fsdfs_popularity zone=:1m;', 'zone=:1m'],
             ['fsdfs_popularity zone=p:1m flush=0;', 'flush=0'],
             ['fsdfs_popularity zone=p:1m flush=soon;', 'flush=soon'],
             ['fsdfs_popularity zone=p:1m flush=2h;', 'flush=2h'],
             ['fsdfs_popularity zone=p:1m min_hits=0;', 'min_hits=0'],
             ['fsdfs_popularity zone=p:1m min_hits=x;', 'min_hits=x'],
             ['fsdfs_popularity zone=p:1m hot=1;', 'hot=1'],
             ['fsdfs_popularity flush=5s;', 'zone=NAME:SIZE'],
             ['fsdfs_popularity zone=p:1m; fsdfs_popularity zone=q:1m;',
              'is duplicate']) {
    my ($line, $named) = @$bad;
    my ($rc, $out) = nginx_t(conf($line));
    isnt($rc, 0, "nginx -t fails: $line");
    like($out, qr/\Q$named\E/, "... naming \"$named\"") or diag($out);
    like($out, qr/fsdfs_popularity/, '... and the directive') or diag($out);
}

# --- a node counting ------------------------------------------------------------

my $redis = start_redis();
my $h = 3600;
my $t0 = int(time) - 2 * $h;            # factor 4 now, easy to check
redis_cli('HSET', 'fsdfs:config', 'pop_t0', $t0, 'pop_half_life', $h);

my $n = start_node(name => 'alpha',
                   http => 'fsdfs_popularity zone=pop:1m flush=500ms;');
write_file("$n->{root}/m/$_.mp3", "data $_") for qw(a b c d h);
ok(wait_for(sub { node_id('alpha') }, 5), 'registered');
fsdfs('init');
sleep 1.2;                              # worker 0 reads T0 and H

sub counters { my $j = status_json($_[0] // $n); return $j ? $j->{counters} : {} }
sub score { redis_cli('ZSCORE', 'fsdfs:pop', $_[0]) }
sub near {
    my ($got, $want, $what) = @_;
    ok(defined $got && $got ne '' && abs($got - $want) <= 0.01 * $want,
       "$what: score $want (got " . ($got // 'none') . ')');
}
# A flush can land partway through a burst of GETs: wait until the score
# holds all $hits, not just the first batch.
sub score_is {
    my ($path, $hits, $timeout) = @_;
    return wait_for(sub {
        my $got = score($path);
        my $want = $hits * 2 ** ((time - $t0) / $h);
        defined $got && $got ne '' && abs($got - $want) <= 0.01 * $want;
    }, $timeout);
}

my $c0 = counters();
for my $k (qw(pop_hits pop_flushed pop_evicted pop_entries)) {
    ok(exists $c0->{$k}, "status JSON has $k");
}

is(scalar(grep { http($n->{port}, 'GET', '/m/a.mp3')->{status} == 200 } 1 .. 20),
   20, '20 local GETs: 200');
http($n->{port}, 'HEAD', '/m/a.mp3') for 1 .. 5;
http($n->{port}, 'HEAD', '/m/h.mp3') for 1 .. 3;
http($n->{port}, 'GET', '/m/h.mp3', 'X-Fsdfs-Local' => 1) for 1 .. 2;
is(http($n->{port}, 'GET', '/m/none.mp3')->{status}, 404, 'unknown: 404');
http($n->{port}, 'GET', '/m/none.mp3') for 1 .. 2;

ok(score_is('/m/a.mp3', 20, 10), 'flushed to fsdfs:pop');
near(score('/m/a.mp3'), 20 * 2 ** ((time - $t0) / $h),
     '20 GETs at T0 two half-lives ago');
is(score('/m/h.mp3'), '', 'HEAD and peer pulls not counted');
is(score('/m/none.mp3'), '', 'misses not counted');

# pop_flushed grows in the reply callback, after Redis has the score
ok(wait_for(sub {
    my $c = counters();
    $c->{pop_entries} == 0 && $c->{pop_flushed} - $c0->{pop_flushed} >= 20;
}, 10), 'zone empty after flush');
my $c1 = counters();
is($c1->{pop_hits} - $c0->{pop_hits}, 20, 'pop_hits +20');
is($c1->{pop_flushed} - $c0->{pop_flushed}, 20, 'pop_flushed +20');
is($c1->{pop_evicted}, 0, 'nothing evicted');

my $prom = http($n->{port}, 'GET', '/_fsdfs/status?format=prometheus')->{body};
like($prom, qr/^fsdfs_pop_hits_total\{node="alpha"\} $c1->{pop_hits}$/m,
     'prometheus: pop_hits');
like($prom, qr/^# TYPE fsdfs_pop_entries gauge$/m, 'prometheus: pop_entries gauge');

# no Redis call per request: 200 GETs cost what the same time idle costs
sub redis_requests_over {
    my ($secs, $work) = @_;
    my $a = counters()->{redis_requests};
    my $start = time;
    $work->() if $work;
    my $left = $start + $secs - time;
    sleep $left if $left > 0;
    return (counters()->{redis_requests} - $a, time - $start);
}
my ($idle, $idle_t) = redis_requests_over(3);
my ($busy, $busy_t) = redis_requests_over(3, sub { http($n->{port}, 'GET', '/m/d.mp3') for 1 .. 200 });
# one call per GET would add 200; on a slow machine the GETs outlast the
# window, so the idle figure is scaled to the busy window's length
my $base = $idle * $busy_t / $idle_t;
cmp_ok($busy, '<', $base + 100,
       sprintf('redis requests: %d with 200 GETs in %.1fs, %d idle in %.1fs',
               $busy, $busy_t, $idle, $idle_t));
ok(score_is('/m/d.mp3', 200, 10), '200 GETs flushed');
near(score('/m/d.mp3'), 200 * 2 ** ((time - $t0) / $h), '200 GETs');

# the master rebases T0: a batch computed with the old one is refused,
# T0 read again, the hits sent with the new one
$t0 = int(time) - $h;
redis_cli('HSET', 'fsdfs:config', 'pop_t0', $t0);
http($n->{port}, 'GET', '/m/c.mp3') for 1 .. 10;
ok(score_is('/m/c.mp3', 10, 10), 'flushed after rebase');
near(score('/m/c.mp3'), 10 * 2 ** ((time - $t0) / $h), '10 GETs, new T0');

# absent T0/H: the node sets them (HSETNX), then uses them
redis_cli('HDEL', 'fsdfs:config', 'pop_t0', 'pop_half_life');
ok(wait_for(sub { (redis_cli('HGET', 'fsdfs:config', 'pop_half_life') // '') eq '3600' }, 8),
   'pop_half_life set to 3600 when absent');
my $set = redis_cli('HGET', 'fsdfs:config', 'pop_t0') // 0;
ok(abs($set - time) < 5, "pop_t0 set to now when absent ($set)");

# Redis down: hits kept in the zone, flushed once it is back
redis_cli('HSET', 'fsdfs:config', 'pop_t0', $t0, 'pop_half_life', $h);
sleep 1.2;
stop_redis($redis, save => 1);
ok(wait_for(sub { my $j = status_json($n); $j && !$j->{redis}{up} }, 8), 'redis down');
is(scalar(grep { http($n->{port}, 'GET', '/m/b.mp3')->{status} == 200 } 1 .. 30),
   30, '30 local GETs with redis down: 200');
my $c2 = counters();
cmp_ok($c2->{pop_entries}, '>=', 1, 'hits wait in the zone');
sleep 1;
restart_redis($redis);
ok(score_is('/m/b.mp3', 30, 15), 'flushed after redis is back');
near(score('/m/b.mp3'), 30 * 2 ** ((time - $t0) / $h), '30 GETs while down');

# --- min_hits: paths under it in an interval are dropped at the flush ------

my $g = start_node(name => 'gamma',
                   http => 'fsdfs_popularity zone=g:1m flush=2s min_hits=3;');
write_file("$g->{root}/g/$_.mp3", $_) for qw(few many tick);
sleep 1.2;                              # T0 and H read
# min_hits holds per interval: a flush between the GETs below would split
# them, so they start right after one, the 2 s to the next ahead of them
http($g->{port}, 'GET', '/g/tick.mp3') for 1 .. 3;
ok(wait_for(sub { (counters($g)->{pop_flushed} // 0) >= 3 }, 10),
   'min_hits=3: a first flush');
http($g->{port}, 'GET', '/g/few.mp3') for 1 .. 2;
http($g->{port}, 'GET', '/g/many.mp3') for 1 .. 5;
ok(score_is('/g/many.mp3', 5, 10), 'min_hits=3: 5 hits flushed');
near(score('/g/many.mp3'), 5 * 2 ** ((time - $t0) / $h), 'min_hits=3: 5 GETs');
is(score('/g/few.mp3'), '', 'min_hits=3: 2 hits dropped');
ok(wait_for(sub { status_json($g)->{counters}{pop_entries} == 0 }, 6),
   'min_hits=3: zone empty after the flush');

# --- a tiny zone evicts --------------------------------------------------------

my $tiny = start_node(name => 'tiny',
                      http => 'fsdfs_popularity zone=tiny:32k flush=1h;');
my $files = 600;
write_file("$tiny->{root}/t/file-$_.mp3", 'x') for 1 .. $files;
my $t0c = status_json($tiny)->{counters};
for my $i (1 .. $files) {
    http($tiny->{port}, 'GET', "/t/file-$i.mp3");
}
my $tc = status_json($tiny)->{counters};
is($tc->{pop_hits} - $t0c->{pop_hits}, $files, "tiny zone: $files hits counted");
cmp_ok($tc->{pop_evicted}, '>', 0, "tiny zone: $tc->{pop_evicted} evicted");
cmp_ok($tc->{pop_entries}, '<', $files / 2, "tiny zone: $tc->{pop_entries} entries kept");
is($tc->{pop_entries} + $tc->{pop_evicted}, $files, 'entries + evicted = paths');
is(http($tiny->{port}, 'GET', '/t/file-1.mp3')->{status}, 200, 'tiny zone node still serves');

# reload, same zone: the counts waiting in it survive and are flushed by
# the new worker 0
ok(reload($tiny, http => 'fsdfs_popularity zone=tiny:32k flush=300ms;'), 'reloaded');
my $kept = $tc->{pop_entries};
# pop_flushed grows in the reply callback, after the zone is empty
ok(wait_for(sub {
    my $c = counters($tiny);
    $c->{pop_entries} == 0 && $c->{pop_flushed} >= $kept;
}, 10), 'after reload: zone flushed');
cmp_ok(status_json($tiny)->{counters}{pop_flushed}, '>=', $kept,
       "after reload: the $kept waiting entries flushed");
near(score("/t/file-$files.mp3"), 2 ** ((time - $t0) / $h), 'after reload: last path');

finish();
