#!/usr/bin/perl
# Bad input: odd methods, escaping paths, encoded NUL, overlong URIs,
# forbidden characters and paths outside fsdfs_match get a 4xx and
# change nothing.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use IO::Socket::INET;

my $redis = start_redis();
fsdfs($redis, 'init');
my $n = start_node(name => 'a', redis => $redis,
                   location => 'fsdfs on; fsdfs_match "^/m/.*\.(mp3|ogg)$";');
write_file("$n->{root}/m/x.mp3", 'x');
write_file("$n->{root}/secret.txt", 'secret');
write_file("$n->{prefix}/outside.mp3", 'outside');

ok(wait_for(sub { redis_cli($redis, 'EXISTS', 'fsdfs:alive:1') }, 5),
   'node registered');
my $before = redis_cli($redis, 'DBSIZE');

for my $m (qw(POST PUT DELETE OPTIONS PATCH PROPFIND FOO)) {
    my $r = http($n->{port}, $m, '/m/x.mp3', 'Content-Length' => 0);
    is($r->{status}, 405, "$m: 405");
    is($r->{headers}{allow}, 'GET, HEAD', "$m: Allow: GET, HEAD");
}

my @paths = (
    [ '/../outside.mp3', 'dot-dot escaping the root' ],
    [ '/m/../../outside.mp3', 'dot-dot twice' ],
    [ '/%2e%2e/outside.mp3', 'encoded dot-dot' ],
    [ '/m/%2E%2E/%2e%2e/outside.mp3', 'encoded dot-dot, mixed case' ],
    [ '/m/x%00.mp3', 'encoded NUL' ],
    [ '/m/a%20b.mp3', 'space' ],
    [ '/m/a%25b.mp3', 'percent sign' ],
    [ '/m/a%0ab.mp3', 'newline' ],
    [ '/m/a"b.mp3', 'quote' ],
    [ '/m/a\\b.mp3', 'backslash' ],
    [ '/m/' . ('a' x 1100) . '.mp3', 'overlong' ],
    [ '/secret.txt', 'outside fsdfs_match, present on disk' ],
    [ '/m/x.wav', 'outside fsdfs_match, absent' ],
);

for my $p (@paths) {
    my $r = http($n->{port}, 'GET', $p->[0]);
    ok($r->{status} >= 400 && $r->{status} < 500, "$p->[1]: 4xx")
        or diag("got $r->{status} for $p->[0]");
    unlike($r->{body}, qr/outside|secret/, "$p->[1]: nothing leaked");
}

is(http($n->{port}, 'GET', '/m/' . ('a' x 1100) . '.mp3')->{status}, 414,
   'overlong path: 414');
is(http($n->{port}, 'GET', '/m/a%20b.mp3')->{status}, 400, 'space: 400');
is(http($n->{port}, 'GET', '/secret.txt')->{status}, 404,
   'outside fsdfs_match: 404 even if on disk');

# raw garbage on the socket
for my $raw ("GET\r\n\r\n", "GET /m/x.mp3 HTTP/9.9\r\n\r\n", "\x00\x01\x02\r\n\r\n") {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$n->{port}", Timeout => 3);
    print $s $raw;
    local $/;
    my $out = <$s> // '';
    like($out, qr/^(HTTP\/1\.\d 4\d\d|)/, 'garbage request: 4xx or closed');
}

is(http($n->{port}, 'GET', '/m/x.mp3')->{status}, 200, 'node still serves');
is(redis_cli($redis, 'DBSIZE'), $before, 'bad input changed nothing in Redis')
    or diag(redis_cli($redis, 'KEYS', '*'));

finish();
