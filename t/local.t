#!/usr/bin/perl
# Local hits are nginx's static handler, untouched: same status, headers
# and bytes as a stock location on the same root, for GET, HEAD, ranges
# and conditional requests; Redis is never asked.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs($redis, 'init');

my $root = tmp() . '/node-a/data';
my $n = start_node(name => 'a', redis => $redis,
                   server => "location /stock/ { alias $root/m/; }");
my $body = join '', map { chr($_ % 251) } 1 .. 50000;
write_file("$n->{root}/m/x.mp3", $body);

for my $case (
    [ 'GET', {}, 200 ],
    [ 'HEAD', {}, 200 ],
    [ 'GET', { Range => 'bytes=100-199' }, 206 ],
    [ 'GET', { Range => 'bytes=-10' }, 206 ],
    [ 'GET', { Range => 'bytes=60000-' }, 416 ],
) {
    my ($m, $h, $want) = @$case;
    my $f = http($n->{port}, $m, '/m/x.mp3', %$h);
    my $s = http($n->{port}, $m, '/stock/x.mp3', %$h);
    my $what = "$m " . join(' ', %$h);
    is($f->{status}, $want, "$what: $want");
    is($f->{status}, $s->{status}, "$what: same status as stock");
    is($f->{body}, $s->{body}, "$what: same bytes as stock");
    for my $hdr (qw(content-length content-range etag last-modified accept-ranges)) {
        is($f->{headers}{$hdr}, $s->{headers}{$hdr}, "$what: same $hdr");
    }
}

my $r = http($n->{port}, 'GET', '/m/x.mp3');
is($r->{body}, $body, 'whole file');
my $etag = $r->{headers}{etag};
ok($etag, 'has an ETag');
is(http($n->{port}, 'GET', '/m/x.mp3', 'If-None-Match' => $etag)->{status}, 304,
   'If-None-Match: 304');
is(http($n->{port}, 'GET', '/m/x.mp3',
        'If-Modified-Since' => $r->{headers}{'last-modified'})->{status}, 304,
   'If-Modified-Since: 304');

# local hits never look anything up
my $st = http($n->{port}, 'GET', '/_fsdfs/status');
like($st->{body}, qr/"local":[1-9]\d*,/, 'local hits counted');
like($st->{body}, qr/"cache_misses":0,/, 'and no lookup was made');

# directories stay nginx's business
is(http($n->{port}, 'GET', '/m')->{status}, 301, 'directory without slash: 301');

finish();
