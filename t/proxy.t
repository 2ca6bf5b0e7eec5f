#!/usr/bin/perl
# fsdfs_miss proxy: a miss is an internal redirect to a named location with
# $fsdfs_holder set to the holder's base URL; the client gets the holder's
# bytes with 200 (206 for ranges), never a redirect; the proxied request
# carries X-Fsdfs-Hop, so a holder that lacks the file answers 503 instead
# of bouncing it: no loops.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(sleep);

my $redis = start_redis();

my $proxy = 'location @fsdfs_proxy { internal; proxy_pass $fsdfs_holder;'
          . ' proxy_set_header X-Fsdfs-Hop 1; }'
          . "\n        location /alt/ { fsdfs on; fsdfs_miss proxy \@alt; }"
          . "\n        location \@alt { internal; proxy_pass \$fsdfs_holder;"
          . ' proxy_set_header X-Fsdfs-Hop 1; add_header X-Holder $fsdfs_holder; }';
my $a = start_node(name => 'a', location => 'fsdfs on; fsdfs_miss proxy;', server => $proxy);
my $b = start_node(name => 'b', location => 'fsdfs on; fsdfs_miss proxy;', server => $proxy);

my $body = join '', map { chr(($_ * 7) % 256) } 1 .. 100000;
write_file("$b->{root}/m/p.mp3", $body);
write_file("$b->{root}/alt/q.mp3", 'alt bytes');
write_file("$b->{root}/m/gone.mp3", 'gone');
ok(wait_for(sub { node_id('a') && node_id('b') }, 5), 'registered');
fsdfs('init');
fsdfs('scan', 'b', $b->{root});
is($? >> 8, 0, 'scan b');

ok(wait_for(sub { http($a->{port}, 'GET', '/m/p.mp3')->{status} == 200 }, 5),
   'proxied miss: 200');
my $r = http($a->{port}, 'GET', '/m/p.mp3?x=1');
is($r->{status}, 200, 'proxied: 200');
is(length $r->{body}, length $body, 'proxied: full length');
ok($r->{body} eq $body, 'proxied: same bytes');
ok(!exists $r->{headers}{location}, 'proxied: no Location');

$r = http($a->{port}, 'HEAD', '/m/p.mp3');
is($r->{status}, 200, 'proxied HEAD: 200');
is($r->{body}, '', 'proxied HEAD: no body');
is($r->{headers}{'content-length'}, length $body, 'proxied HEAD: Content-Length');

$r = http($a->{port}, 'GET', '/m/p.mp3', Range => 'bytes=10-19');
is($r->{status}, 206, 'proxied range: 206 from the holder');
is($r->{body}, substr($body, 10, 10), 'proxied range: right bytes');

$r = http($a->{port}, 'GET', '/alt/q.mp3');
is($r->{status}, 200, 'fsdfs_miss proxy @alt: 200');
is($r->{body}, 'alt bytes', '@alt: bytes');
is($r->{headers}{'x-holder'}, $b->{url}, '$fsdfs_holder is the holder base URL');

is(http($a->{port}, 'GET', '/m/unknown.mp3')->{status}, 404, 'unknown in proxy mode: 404');

# the holder lost the file: the proxied request must not bounce back
unlink "$b->{root}/m/gone.mp3";
$r = http($a->{port}, 'GET', '/m/gone.mp3');
cmp_ok($r->{time}, '<', 3, 'holder lacks it: answered quickly');
ok($r->{status} == 503 || $r->{status} == 502, "holder lacks it: 5xx through the proxy ($r->{status}), no loop");
isnt($r->{status}, 200, 'holder lacks it: not 200');
$r = http($b->{port}, 'GET', '/m/gone.mp3', 'X-Fsdfs-Hop' => 1);
is($r->{status}, 503, 'a request from a proxying peer is never sent on');

# both listed, neither has it: a -> b (hop) -> stop
my $key = bucket_key('/m/nowhere.mp3');
redis_cli('HSET', $key, '/m/nowhere.mp3',
          '1 4 0123456789abcdef 1700000000 ' . join(',', node_id('a'), node_id('b')));
for my $node ($a, $b) {
    $r = http($node->{port}, 'GET', '/m/nowhere.mp3');
    cmp_ok($r->{time}, '<', 3, "nowhere via $node->{name}: answered quickly");
    ok($r->{status} >= 500 && $r->{status} != 508, "nowhere via $node->{name}: 5xx ($r->{status})");
}

my $st = status_json($a);
cmp_ok($st->{counters}{proxied} // 0, '>=', 4, 'proxied requests counted');
is($st->{counters}{redirects} // 0, 0, 'no redirects in proxy mode');

# holder dead: 503 (nothing to proxy to)
stop_node($b);
ok(wait_for(sub { http($a->{port}, 'GET', '/m/p.mp3')->{status} == 503 }, 12),
   'holder stopped: 503');
like(http($a->{port}, 'GET', '/m/p.mp3')->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/,
     '  with Retry-After');

finish();
