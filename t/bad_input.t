#!/usr/bin/perl
# Bad input: other methods get 405 with Allow; paths escaping the root,
# encoded NUL, forbidden characters and empty segments get 400 (from nginx
# or the module: any 4xx, never 200/302/5xx); over 1024 bytes 414; paths
# outside fsdfs_match 404. Nothing leaks, nothing changes in Redis.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs('init');
my $n = start_node(name => 'a',
                   location => 'fsdfs on; fsdfs_match "^/m/.*\.(mp3|ogg)$";',
                   server => "location /raw/ { fsdfs on; }\n"
                           . "        merge_slashes off;");
write_file("$n->{root}/m/x.mp3", 'x');
write_file("$n->{root}/secret.txt", 'secret');
write_file("$n->{prefix}/outside.mp3", 'outside');
write_file("$n->{root}/m/a b.mp3", 'spacey');
write_file("$n->{root}/m/a%b.mp3", 'percent');

ok(wait_for(sub { node_id('a') && redis_cli('EXISTS', 'fsdfs:alive:' . node_id('a')) }, 5),
   'node registered');
# the index holds x.mp3 as held by a (so a miss elsewhere would redirect)
fsdfs('scan', 'a', $n->{root});
my $before = redis_cli('DBSIZE');
my $index = join "\n", map { redis_cli('HGETALL', $_) } sort split /\n/, redis_cli('KEYS', 'fsdfs:loc:*');

for my $m (qw(POST PUT DELETE OPTIONS PATCH PROPFIND MKCOL TRACE FOO)) {
    my $r = http($n->{port}, $m, '/m/x.mp3', 'Content-Length' => 0);
    # nginx itself answers TRACE with 405 before any module
    is($r->{status}, 405, "$m: 405");
    is($r->{headers}{allow}, 'GET, HEAD', "$m: Allow: GET, HEAD") unless $m eq 'TRACE';
}
my $r = http($n->{port}, 'PUT', '/m/new.mp3', 'Content-Length' => 5);
is($r->{status}, 405, 'PUT of a new path: 405');
ok(!-e "$n->{root}/m/new.mp3", 'PUT created nothing');
$r = http($n->{port}, 'DELETE', '/m/x.mp3');
ok(-e "$n->{root}/m/x.mp3", 'DELETE removed nothing');
$r = http_raw($n->{port}, "POST /m/x.mp3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        . "Content-Length: 5\r\n\r\nhello");
is($r->{status}, 405, 'POST with a body: 405');

# [uri, what, exact status or undef (any 4xx)]
my @paths = (
    [ '/../outside.mp3', 'dot-dot escaping the root' ],
    [ '/m/../../outside.mp3', 'dot-dot twice' ],
    [ '/%2e%2e/outside.mp3', 'encoded dot-dot' ],
    [ '/m/%2E%2E/%2e%2e/outside.mp3', 'encoded dot-dot, mixed case' ],
    [ '/m/..%2f..%2foutside.mp3', 'encoded slash dot-dot' ],
    [ '/m/x%00.mp3', 'encoded NUL' ],
    [ '/m/x.mp3%00.txt', 'encoded NUL before a suffix' ],
    [ '/m/a%20b.mp3', 'space (file exists)', 400 ],
    [ '/m/a%25b.mp3', 'percent sign (file exists)', 400 ],
    [ '/m/a%0ab.mp3', 'newline', 400 ],
    [ '/m/a%01b.mp3', 'control char', 400 ],
    [ '/m/a%7fb.mp3', 'DEL', 400 ],
    [ '/m/a"b.mp3', 'quote', 400 ],
    [ '/m/a%5cb.mp3', 'backslash', 400 ],
    [ '/m/a<b>.mp3', 'angle brackets', 400 ],
    [ '/m/a%ffb.mp3', 'invalid UTF-8', 400 ],
    [ '/m/a%c3b.mp3', 'truncated UTF-8', 400 ],
    [ '/raw//x.mp3', 'empty segment (merge_slashes off)', 400 ],
    [ '/raw/m/./x.mp3', 'dot segment' ],
    [ '/m/' . ('a' x 1100) . '.mp3', 'overlong', 414 ],
    [ '/secret.txt', 'outside fsdfs_match, present on disk', 404 ],
    [ '/m/x.wav', 'outside fsdfs_match, absent', 404 ],
    [ '/m/x.MP3', 'outside fsdfs_match (case)', 404 ],
);

for my $p (@paths) {
    my ($uri, $what, $want) = @$p;
    for my $m ('GET', 'HEAD') {
        my $r = http($n->{port}, $m, $uri);
        if ($want) {
            is($r->{status}, $want, "$m $what: $want");
        } else {
            ok($r->{status} >= 400 && $r->{status} < 500, "$m $what: 4xx")
                or diag("got $r->{status} for $uri");
        }
        ok(!$r->{headers}{location}, "$m $what: no redirect");
        unlike($r->{body}, qr/outside|secret|spacey|percent/, "$m $what: nothing leaked");
    }
}

# the 1024-byte limit, exactly
my $at = '/m/' . ('b' x (1024 - 7)) . '.mp3';
is(length $at, 1024, 'a 1024-byte path');
is(http($n->{port}, 'GET', $at)->{status}, 404, '1024 bytes: allowed (unknown: 404)');
is(http($n->{port}, 'GET', '/m/b' . substr($at, 3))->{status}, 414, '1025 bytes: 414');

# allowed characters and UTF-8 pass the rules (unknown: 404, not 400)
for my $uri ('/m/A-Z_a.z~0+9,=@(x)!.mp3', '/m/caf%C3%A9.mp3', '/m/%E6%97%A5%E6%9C%AC.ogg') {
    is(http($n->{port}, 'GET', $uri)->{status}, 404, "allowed characters: $uri is 404, not 400");
}

# raw garbage on the socket: 4xx or a closed connection, never a crash
for my $raw ("GET\r\n\r\n", "GET /m/x.mp3 HTTP/9.9\r\n\r\n", "\x00\x01\x02\r\n\r\n",
             "GET /m/x.mp3 HTTP/1.1\r\nHost: a\r\nX-Fsdfs-Hop: \x01\r\n\r\n",
             "GET /m/x.mp3?fsdfs_hop=" . ('9' x 40) . " HTTP/1.0\r\n\r\n",
             "GET /m/" . ('c' x 9000) . ".mp3 HTTP/1.0\r\n\r\n") {
    my $r = http_raw($n->{port}, $raw, timeout => 2);
    ok($r->{status} == 0 || $r->{status} == 505 || ($r->{status} >= 200 && $r->{status} < 500),
       'garbage request: answered sanely or closed') or diag("got $r->{status}");
    isnt($r->{status}, 302, 'garbage request: no redirect');
}

is(http($n->{port}, 'GET', '/m/x.mp3')->{status}, 200, 'node still serves');
is(http($n->{port}, 'GET', '/m/x.mp3?fsdfs_hop=abc')->{status}, 200, 'bad hop marker on a local file: 200');
is(redis_cli('DBSIZE'), $before, 'no key created in Redis')
    or diag(redis_cli('KEYS', '*'));
is(join("\n", map { redis_cli('HGETALL', $_) } sort split /\n/, redis_cli('KEYS', 'fsdfs:loc:*')),
   $index, 'index unchanged');
my $j = status_json($n);
cmp_ok($j->{counters}{rejected} // 0, '>=', 9, 'rejections counted');

finish();
