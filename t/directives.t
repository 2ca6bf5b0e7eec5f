#!/usr/bin/perl
# Every directive: good forms pass `nginx -t`, bad values fail it with a
# message naming the directive and the value.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $mod = build_dir() . '/ngx_http_fsdfs_module.so';

sub conf {
    my ($http, $loc) = @_;
    $loc //= 'fsdfs on;';
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
    $http
    server {
        listen 127.0.0.1:1;
        root \@PREFIX\@/data;
        location / { $loc }
        location = /s { fsdfs_status; }
        location \@fsdfs_proxy { proxy_pass \$fsdfs_holder; }
    }
}
CONF
}

my $base = 'fsdfs_node a http://127.0.0.1:8080; fsdfs_redis 127.0.0.1:6379;';

my @good = (
    [ $base, undef, 'minimal node' ],
    [ 'fsdfs_node a-1.b_2 http://node.example:80/; fsdfs_redis 127.0.0.1:6379 password=s3cret db=2 timeout=250ms prefix=x:;', undef, 'all fsdfs_redis parameters, url with trailing slash' ],
    [ 'fsdfs_node a https://127.0.0.1; fsdfs_redis unix:/run/redis.sock;', undef, 'https url, unix socket' ],
    [ 'fsdfs_node a http://127.0.0.1:8080; fsdfs_redis localhost:6379;', undef, 'hostname resolved at start' ],
    [ "$base fsdfs_cache zone=c:1m ttl=5s neg_ttl=0 stale=1h;", undef, 'fsdfs_cache' ],
    [ "$base fsdfs_cache zone=c:1m ttl=0;", undef, 'fsdfs_cache ttl=0 (no caching)' ],
    [ "$base fsdfs_quota 10g;", undef, 'fsdfs_quota' ],
    [ $base, 'fsdfs on; fsdfs_miss proxy;', 'fsdfs_miss proxy' ],
    [ $base, 'fsdfs on; fsdfs_miss proxy @other;', 'fsdfs_miss proxy @name' ],
    [ $base, 'fsdfs on; fsdfs_miss redirect;', 'fsdfs_miss redirect' ],
    [ $base, 'fsdfs on; fsdfs_match "\.(mp3|ogg)$";', 'fsdfs_match' ],
    [ $base, 'fsdfs off;', 'fsdfs off' ],
    [ '', 'fsdfs off;', 'no fsdfs at all' ],
);

for my $g (@good) {
    my ($rc, $out) = nginx_t(conf($g->[0], $g->[1]));
    is($rc, 0, "ok: $g->[2]") or diag($out);
}

# [http, location, directive, value] -- the message must name both
my @bad = (
    [ 'fsdfs_node a http://127.0.0.1:8080;', undef, 'fsdfs', 'fsdfs_redis' ],
    [ 'fsdfs_redis 127.0.0.1:6379;', undef, 'fsdfs', 'fsdfs_node' ],
    [ $base, 'fsdfs maybe;', 'fsdfs', 'maybe' ],
    [ 'fsdfs_node "a b" http://127.0.0.1; fsdfs_redis 127.0.0.1:6379;', undef, 'fsdfs_node', 'a b' ],
    [ 'fsdfs_node aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa http://127.0.0.1; fsdfs_redis 127.0.0.1:6379;', undef, 'fsdfs_node', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' ],
    [ 'fsdfs_node a ftp://127.0.0.1; fsdfs_redis 127.0.0.1:6379;', undef, 'fsdfs_node', 'ftp://127.0.0.1' ],
    [ 'fsdfs_node a http://127.0.0.1/sub; fsdfs_redis 127.0.0.1:6379;', undef, 'fsdfs_node', 'http://127.0.0.1/sub' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_node b http://127.0.0.1; fsdfs_redis 127.0.0.1:6379;', undef, 'fsdfs_node', 'duplicate' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_redis nope;', undef, 'fsdfs_redis', 'nope' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_redis 127.0.0.1:99999;', undef, 'fsdfs_redis', '127.0.0.1:99999' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_redis 127.0.0.1:6379 db=x;', undef, 'fsdfs_redis', 'db=x' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_redis 127.0.0.1:6379 timeout=0;', undef, 'fsdfs_redis', 'timeout=0' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_redis 127.0.0.1:6379 timeout=soon;', undef, 'fsdfs_redis', 'timeout=soon' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_redis 127.0.0.1:6379 password=;', undef, 'fsdfs_redis', 'password=' ],
    [ 'fsdfs_node a http://127.0.0.1; fsdfs_redis 127.0.0.1:6379 colour=blue;', undef, 'fsdfs_redis', 'colour=blue' ],
    [ "$base fsdfs_cache ttl=5s;", undef, 'fsdfs_cache', 'zone=NAME:SIZE' ],
    [ "$base fsdfs_cache zone=c;", undef, 'fsdfs_cache', 'zone=c' ],
    [ "$base fsdfs_cache zone=c:1k;", undef, 'fsdfs_cache', 'zone=c:1k' ],
    [ "$base fsdfs_cache zone=c:1m ttl=forever;", undef, 'fsdfs_cache', 'ttl=forever' ],
    [ "$base fsdfs_cache zone=c:1m neg_ttl=-1;", undef, 'fsdfs_cache', 'neg_ttl=-1' ],
    [ "$base fsdfs_cache zone=c:1m size=3;", undef, 'fsdfs_cache', 'size=3' ],
    [ "$base fsdfs_quota lots;", undef, 'fsdfs_quota', 'lots' ],
    [ $base, 'fsdfs on; fsdfs_miss teleport;', 'fsdfs_miss', 'teleport' ],
    [ $base, 'fsdfs on; fsdfs_miss proxy other;', 'fsdfs_miss', 'other' ],
    [ $base, 'fsdfs on; fsdfs_miss redirect @x;', 'fsdfs_miss', 'redirect' ],
    [ $base, 'fsdfs on; fsdfs_match "(unclosed";', 'fsdfs_match', '(unclosed' ],
    [ $base, 'fsdfs on; fsdfs_match "a"; fsdfs_match "b";', 'fsdfs_match', 'duplicate' ],
    [ $base, 'fsdfs_status extra;', 'fsdfs_status', 'fsdfs_status' ],
);

for my $b (@bad) {
    my ($http, $loc, $directive, $value) = @$b;
    my ($rc, $out) = nginx_t(conf($http, $loc));
    isnt($rc, 0, "rejected: $directive $value");
    like($out, qr/\Q$directive\E/, "  message names $directive") or diag($out);
    like($out, qr/\Q$value\E/, "  message quotes \"$value\"") or diag($out);
}

done_testing();
