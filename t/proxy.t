#!/usr/bin/perl
# fsdfs_miss proxy: a miss streams the holder's bytes back with 200 through
# a named location; the proxied request carries X-Fsdfs-Hop so a holder that
# lacks the file answers 503 instead of bouncing it again.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs($redis, 'init');

my $proxy = 'location @fsdfs_proxy { internal; proxy_pass $fsdfs_holder;'
          . ' proxy_set_header X-Fsdfs-Hop 1; }';
my $a = start_node(name => 'a', redis => $redis,
                   location => 'fsdfs on; fsdfs_miss proxy;', server => $proxy);
my $b = start_node(name => 'b', redis => $redis,
                   location => 'fsdfs on; fsdfs_miss proxy;', server => $proxy);

my $body = join '', map { chr(($_ * 7) % 256) } 1 .. 100000;
write_file("$b->{root}/m/p.mp3", $body);
write_file("$b->{root}/m/gone.mp3", 'gone');
ok(wait_for(sub { redis_cli($redis, 'HGET', 'fsdfs:nodes', 'b') }, 5), 'b registered');
fsdfs($redis, 'scan', 'b', $b->{root});

ok(wait_for(sub { http($a->{port}, 'GET', '/m/p.mp3')->{status} == 200 }, 5),
   'proxied miss: 200');
my $r = http($a->{port}, 'GET', '/m/p.mp3');
is(length $r->{body}, length $body, 'proxied: full length');
ok($r->{body} eq $body, 'proxied: same bytes');
ok(!exists $r->{headers}{location}, 'proxied: no redirect');

$r = http($a->{port}, 'GET', '/m/p.mp3', Range => 'bytes=10-19');
is($r->{status}, 206, 'proxied range: 206 from the holder');
is($r->{body}, substr($body, 10, 10), 'proxied range: right bytes');

# the holder lost the file: the proxied request must not bounce back
unlink "$b->{root}/m/gone.mp3";
$r = http($a->{port}, 'GET', '/m/gone.mp3');
is($r->{status}, 503, 'holder lacks it: 503 through the proxy, no loop');
$r = http($b->{port}, 'GET', '/m/gone.mp3', 'X-Fsdfs-Hop' => 1);
is($r->{status}, 503, 'a request from a proxying peer is never redirected');

my $st = http($a->{port}, 'GET', '/_fsdfs/status');
like($st->{body}, qr/"proxied":[1-9]/, 'proxied requests counted');

finish();
