#!/usr/bin/perl
# Local hits are nginx's static handler, untouched: same status, headers
# and bytes as a stock location on the same files, for GET, HEAD, ranges
# and conditional requests; no lookup is made. A `fsdfs off` location is
# plain nginx.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs('init');

my $root = tmp() . '/node-a/data';
my $n = start_node(name => 'a',
                   server => "location /stock/ { alias $root/m/; }\n"
                           . "        location /plain/ { fsdfs off; }");
my $body = join '', map { chr($_ % 251) } 1 .. 50000;
write_file("$n->{root}/m/x.mp3", $body);
write_file("$n->{root}/plain/a b.mp3", 'plain');
write_file("$n->{root}/plain/y.mp3", 'plain y');

my $r0 = http($n->{port}, 'GET', '/m/x.mp3');
my $lm = $r0->{headers}{'last-modified'};
my $etag = $r0->{headers}{etag};

for my $case (
    [ 'GET', {}, 200 ],
    [ 'HEAD', {}, 200 ],
    [ 'GET', { Range => 'bytes=100-199' }, 206 ],
    [ 'GET', { Range => 'bytes=-10' }, 206 ],
    [ 'GET', { Range => 'bytes=0-0,10-20' }, 206 ],
    [ 'GET', { Range => 'bytes=60000-' }, 416 ],
    [ 'HEAD', { Range => 'bytes=0-9' }, 206 ],
    [ 'GET', { 'If-None-Match' => $etag // '"x"' }, 304 ],
    [ 'GET', { 'If-None-Match' => '"other"' }, 200 ],
    [ 'GET', { 'If-Modified-Since' => $lm // 'x' }, 304 ],
    [ 'GET', { 'If-Modified-Since' => 'Thu, 01 Jan 1970 00:00:01 GMT' }, 200 ],
    [ 'GET', { 'If-Range' => $etag // '"x"', Range => 'bytes=0-4' }, 206 ],
    [ 'GET', { 'If-Range' => '"stale"', Range => 'bytes=0-4' }, 200 ],
) {
    my ($m, $h, $want) = @$case;
    my $f = http($n->{port}, $m, '/m/x.mp3', %$h);
    my $s = http($n->{port}, $m, '/stock/x.mp3', %$h);
    my $what = "$m " . join(' ', %$h);
    # multipart boundaries are a per-process counter: compare without them
    for my $x ($f, $s) {
        $x->{body} =~ s/\d{20}/BOUNDARY/g;
        $x->{headers}{'content-type'} =~ s/\d{20}/BOUNDARY/g
            if defined $x->{headers}{'content-type'};
    }
    is($f->{status}, $want, "$what: $want");
    is($f->{status}, $s->{status}, "$what: same status as stock");
    ok($f->{body} eq $s->{body}, "$what: same bytes as stock");
    for my $hdr (qw(content-length content-range content-type etag
                    last-modified accept-ranges location)) {
        is($f->{headers}{$hdr}, $s->{headers}{$hdr}, "$what: same $hdr");
    }
    is($f->{body}, '', "$what: no body") if $m eq 'HEAD' || $want == 304;
}

ok($r0->{body} eq $body, 'GET: whole file, same bytes');
ok($etag, 'has an ETag');
is(http($n->{port}, 'HEAD', '/m/x.mp3')->{headers}{'content-length'}, 50000,
   'HEAD: Content-Length of the file');
is(http($n->{port}, 'GET', '/m/x.mp3', Range => 'bytes=100-199')->{body},
   substr($body, 100, 100), 'Range: the right bytes');
is(http($n->{port}, 'GET', '/m/x.mp3?fsdfs_hop=2')->{status}, 200,
   'hop marker does not matter for a local file');
is(http($n->{port}, 'GET', '/m/x.mp3', 'X-Fsdfs-Hop' => 1)->{status}, 200,
   'nor does X-Fsdfs-Hop');

ok(wait_for(sub { node_id('a') && redis_cli('EXISTS', 'fsdfs:alive:' . node_id('a')) }, 5),
   'node registered and alive');
# a file that appears after start is served at once (no cache of absence)
is(http($n->{port}, 'GET', '/m/new.mp3')->{status}, 404, 'absent and unindexed: 404');
write_file("$n->{root}/m/new.mp3", 'new');
my $r = http($n->{port}, 'GET', '/m/new.mp3');
is($r->{status}, 200, 'new local file: 200 right away');
is($r->{body}, 'new', 'new local file: its bytes');

# local hits never look anything up
my $j = status_json($n);
ok($j, 'status parses');
cmp_ok($j->{counters}{local} // 0, '>=', 10, 'local hits counted');
is($j->{counters}{redirects} // 0, 0, 'no redirects');
is($j->{counters}{cache_misses} + 0, 1, 'one lookup only: the unindexed path')
    or diag(explain $j->{counters});

# fsdfs off: plain nginx, even for names fsdfs would refuse
$r = http($n->{port}, 'GET', '/plain/a%20b.mp3');
is($r->{status}, 200, 'fsdfs off: a name with a space is served');
is($r->{body}, 'plain', 'fsdfs off: its bytes');
is(http($n->{port}, 'GET', '/plain/none.mp3')->{status}, 404, 'fsdfs off: missing is 404');
$r = http($n->{port}, 'DELETE', '/plain/y.mp3');
is($r->{status}, 405, 'fsdfs off: DELETE is nginx 405');
ok(!defined $r->{headers}{allow}, 'fsdfs off: no fsdfs Allow header');
ok(-f "$n->{root}/plain/y.mp3", 'fsdfs off: file still there');
my $j2 = status_json($n);
is($j2->{counters}{local}, $j->{counters}{local} + 0, 'fsdfs off: not counted as fsdfs hits');
is($j2->{counters}{cache_misses}, $j->{counters}{cache_misses},
   'fsdfs off: no lookups');

# directories stay nginx's business
is(http($n->{port}, 'GET', '/m')->{status}, 301, 'directory without slash: 301 like stock');

finish();
