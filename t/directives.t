#!/usr/bin/perl
# Every directive at `nginx -t`: good forms pass; bad values, wrong contexts
# and missing companions fail with exit code 1 and a message that names the
# directive and quotes the value.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $mod = build_dir() . '/ngx_http_fsdfs_module.so';
BAIL_OUT("module not built: $mod (run make)") unless -f $mod;

# $http: http-level lines; $loc: body of `location /`; $srv: server lines
sub conf {
    my ($http, $loc, $srv) = @_;
    $loc //= 'fsdfs on;';
    $srv //= '';
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
        $srv
        location / { $loc }
        location = /s { fsdfs_status; }
        location \@fsdfs_proxy { internal; proxy_pass \$fsdfs_holder; }
        location \@other { internal; proxy_pass \$fsdfs_holder; }
    }
}
CONF
}

my $node = 'fsdfs_node a http://127.0.0.1:8080;';
my $redis = 'fsdfs_redis 127.0.0.1:6379;';
my $base = "$node $redis";

# [http, location, server, what]
my @good = (
    [ $base, undef, undef, 'minimal node' ],
    [ "$base fsdfs on;", '', undef, 'fsdfs on at http level' ],
    [ $base, '', 'fsdfs on;', 'fsdfs on at server level' ],
    [ $base, 'fsdfs off;', undef, 'fsdfs off' ],
    [ '', 'fsdfs off;', undef, 'fsdfs off needs no node or redis' ],
    [ '', 'root /tmp;', undef, 'module loaded, nothing configured' ],
    [ 'fsdfs_node a-1.b_2 http://node.example:80; ' . $redis, undef, undef, 'name with - . _, hostname url' ],
    [ 'fsdfs_node ' . ('n' x 32) . " https://127.0.0.1; $redis", undef, undef, '32-char name, https url without port' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 password=s3cret db=2 timeout=250ms prefix=x:;", undef, undef, 'all fsdfs_redis parameters' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 timeout=2s db=0;", undef, undef, 'timeout in seconds, db=0' ],
    [ "$node fsdfs_redis unix:/run/redis/redis.sock;", undef, undef, 'unix socket' ],
    [ "$node fsdfs_redis localhost:6379;", undef, undef, 'hostname resolved at config time' ],
    [ "$base fsdfs_cache zone=c:1m;", undef, undef, 'fsdfs_cache zone only' ],
    [ "$base fsdfs_cache zone=c:1m ttl=5s neg_ttl=0 stale=1h;", undef, undef, 'fsdfs_cache all parameters' ],
    [ "$base fsdfs_cache zone=c:1m ttl=0;", undef, undef, 'fsdfs_cache ttl=0' ],
    [ "$base fsdfs_quota 10g;", undef, undef, 'fsdfs_quota 10g' ],
    [ "$base fsdfs_quota 1048576;", undef, undef, 'fsdfs_quota in bytes' ],
    [ $base, 'fsdfs on; fsdfs_miss redirect;', undef, 'fsdfs_miss redirect' ],
    [ $base, 'fsdfs on; fsdfs_miss proxy;', undef, 'fsdfs_miss proxy' ],
    [ $base, 'fsdfs on; fsdfs_miss proxy @other;', undef, 'fsdfs_miss proxy @name' ],
    [ "$base fsdfs_miss proxy;", undef, undef, 'fsdfs_miss at http level' ],
    [ $base, undef, 'fsdfs_miss proxy;', 'fsdfs_miss at server level' ],
    [ $base, 'fsdfs on; fsdfs_match "\.(mp3|ogg)$";', undef, 'fsdfs_match' ],
    [ $base, 'fsdfs on; fsdfs_match "^/[a-z]+/(?i)x\d{2}\.MP3$";', undef, 'fsdfs_match with PCRE syntax' ],
);

for my $g (@good) {
    my ($rc, $out) = nginx_t(conf(@$g[0 .. 2]));
    is($rc, 0, "ok: $g->[3]") or diag($out);
    unlike($out, qr/\[(emerg|alert)\]/, "  no emerg/alert: $g->[3]");
}

# [http, location, server, directive, value]: the message names both
my @bad = (
    # companions
    [ $node, undef, undef, 'fsdfs_redis', 'fsdfs_redis' ],
    [ $redis, undef, undef, 'fsdfs_node', 'fsdfs_node' ],
    [ $redis, '', 'fsdfs on;', 'fsdfs_node', 'fsdfs_node' ],
    # fsdfs
    [ $base, 'fsdfs maybe;', undef, 'fsdfs', 'maybe' ],
    [ $base, 'fsdfs on off;', undef, 'fsdfs', 'fsdfs' ],
    # fsdfs_node
    [ "fsdfs_node \"a b\" http://127.0.0.1; $redis", undef, undef, 'fsdfs_node', 'a b' ],
    [ "fsdfs_node a/b http://127.0.0.1; $redis", undef, undef, 'fsdfs_node', 'a/b' ],
    [ 'fsdfs_node ' . ('n' x 33) . " http://127.0.0.1; $redis", undef, undef, 'fsdfs_node', 'n' x 33 ],
    [ "fsdfs_node \"\" http://127.0.0.1; $redis", undef, undef, 'fsdfs_node', 'fsdfs_node' ],
    [ "fsdfs_node a ftp://127.0.0.1; $redis", undef, undef, 'fsdfs_node', 'ftp://127.0.0.1' ],
    [ "fsdfs_node a 127.0.0.1:8080; $redis", undef, undef, 'fsdfs_node', '127.0.0.1:8080' ],
    [ "fsdfs_node a http://; $redis", undef, undef, 'fsdfs_node', 'http://' ],
    [ "fsdfs_node a http://127.0.0.1:port; $redis", undef, undef, 'fsdfs_node', 'http://127.0.0.1:port' ],
    [ "fsdfs_node a http://127.0.0.1/sub; $redis", undef, undef, 'fsdfs_node', 'http://127.0.0.1/sub' ],
    [ "fsdfs_node a http://127.0.0.1:8080/x/y; $redis", undef, undef, 'fsdfs_node', 'http://127.0.0.1:8080/x/y' ],
    [ "fsdfs_node a; $redis", undef, undef, 'fsdfs_node', 'fsdfs_node' ],
    [ "$node fsdfs_node b http://127.0.0.1; $redis", undef, undef, 'fsdfs_node', 'fsdfs_node' ],
    [ $redis, "fsdfs on; $node", undef, 'fsdfs_node', 'fsdfs_node' ],
    # fsdfs_redis
    [ "$node fsdfs_redis nope;", undef, undef, 'fsdfs_redis', 'nope' ],
    [ "$node fsdfs_redis 127.0.0.1;", undef, undef, 'fsdfs_redis', '127.0.0.1' ],
    [ "$node fsdfs_redis 127.0.0.1:99999;", undef, undef, 'fsdfs_redis', '127.0.0.1:99999' ],
    [ "$node fsdfs_redis 127.0.0.1:0;", undef, undef, 'fsdfs_redis', '127.0.0.1:0' ],
    [ "$node fsdfs_redis unix:;", undef, undef, 'fsdfs_redis', 'unix:' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 db=x;", undef, undef, 'fsdfs_redis', 'db=x' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 db=-1;", undef, undef, 'fsdfs_redis', 'db=-1' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 timeout=0;", undef, undef, 'fsdfs_redis', 'timeout=0' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 timeout=soon;", undef, undef, 'fsdfs_redis', 'timeout=soon' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 password=;", undef, undef, 'fsdfs_redis', 'password=' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 prefix=;", undef, undef, 'fsdfs_redis', 'prefix=' ],
    [ "$node fsdfs_redis 127.0.0.1:6379 colour=blue;", undef, undef, 'fsdfs_redis', 'colour=blue' ],
    [ "$node $redis $redis", undef, undef, 'fsdfs_redis', 'fsdfs_redis' ],
    [ $node, "fsdfs on; $redis", undef, 'fsdfs_redis', 'fsdfs_redis' ],
    # fsdfs_cache
    [ "$base fsdfs_cache ttl=5s;", undef, undef, 'fsdfs_cache', 'zone=' ],
    [ "$base fsdfs_cache zone=c;", undef, undef, 'fsdfs_cache', 'zone=c' ],
    [ "$base fsdfs_cache zone=:1m;", undef, undef, 'fsdfs_cache', 'zone=:1m' ],
    [ "$base fsdfs_cache zone=c:lots;", undef, undef, 'fsdfs_cache', 'zone=c:lots' ],
    [ "$base fsdfs_cache zone=c:1k;", undef, undef, 'fsdfs_cache', 'zone=c:1k' ],
    [ "$base fsdfs_cache zone=c:1m ttl=forever;", undef, undef, 'fsdfs_cache', 'ttl=forever' ],
    [ "$base fsdfs_cache zone=c:1m neg_ttl=-1;", undef, undef, 'fsdfs_cache', 'neg_ttl=-1' ],
    [ "$base fsdfs_cache zone=c:1m stale=never;", undef, undef, 'fsdfs_cache', 'stale=never' ],
    [ "$base fsdfs_cache zone=c:1m size=3;", undef, undef, 'fsdfs_cache', 'size=3' ],
    [ "$base fsdfs_cache zone=c:1m; fsdfs_cache zone=d:1m;", undef, undef, 'fsdfs_cache', 'fsdfs_cache' ],
    # fsdfs_quota
    [ "$base fsdfs_quota lots;", undef, undef, 'fsdfs_quota', 'lots' ],
    [ "$base fsdfs_quota -5;", undef, undef, 'fsdfs_quota', '-5' ],
    [ "$base fsdfs_quota 1g 2g;", undef, undef, 'fsdfs_quota', 'fsdfs_quota' ],
    # fsdfs_miss
    [ $base, 'fsdfs on; fsdfs_miss teleport;', undef, 'fsdfs_miss', 'teleport' ],
    [ $base, 'fsdfs on; fsdfs_miss proxy other;', undef, 'fsdfs_miss', 'other' ],
    [ $base, 'fsdfs on; fsdfs_miss proxy @;', undef, 'fsdfs_miss', '@' ],
    [ $base, 'fsdfs on; fsdfs_miss redirect @other;', undef, 'fsdfs_miss', 'redirect' ],
    # fsdfs_match
    [ $base, 'fsdfs on; fsdfs_match "(unclosed";', undef, 'fsdfs_match', '(unclosed' ],
    [ $base, 'fsdfs on; fsdfs_match "[z-a]";', undef, 'fsdfs_match', '[z-a]' ],
    [ $base, 'fsdfs on; fsdfs_match "a"; fsdfs_match "b";', undef, 'fsdfs_match', 'fsdfs_match' ],
    # fsdfs_status
    [ $base, 'fsdfs_status extra;', undef, 'fsdfs_status', 'fsdfs_status' ],
    [ "$base fsdfs_status;", undef, undef, 'fsdfs_status', 'fsdfs_status' ],
    [ $base, undef, 'fsdfs_status;', 'fsdfs_status', 'fsdfs_status' ],
);

for my $b (@bad) {
    my ($http, $loc, $srv, $directive, $value) = @$b;
    my ($rc, $out) = nginx_t(conf($http, $loc, $srv));
    my $what = "$directive $value";
    is($rc, 1, "rejected: $what") or diag($out);
    like($out, qr/\[emerg\]/, "  [emerg]: $what");
    like($out, qr/\Q$directive\E/, "  names $directive") or diag($out);
    like($out, qr/\Q$value\E/, "  quotes \"$value\"") or diag($out);
    unlike($out, qr/syntax is ok/, "  not ok: $what");
}

finish();
