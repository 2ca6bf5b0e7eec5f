#!/usr/bin/perl
# The dashboard (conf.d/dashboard/), rendered by headless Chromium: Redis
# and two nodes serving the page from the project's files, cluster figures
# set by hand as fsdfsd would publish them, and a third node registered but
# dead (no alive key). The rendered DOM must have a row per node with the
# dead one marked (class "dead"), fill bars, the K-N histogram as bars and
# the cluster's figures; a screenshot is kept as a test artifact
# ($FSDFS_BUILD/artifacts/dashboard.png, path printed).
#
# Needs the `chromium` Debian package (in the Makefile's DEB_PKGS, so
# `make deps` and CI install it); without it the test skips, saying so.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use File::Path qw(make_path);
use Time::HiRes qw(time);

my ($chromium) = grep { -x } map { ("$_/chromium", "$_/chromium-browser") }
                 split /:/, $ENV{PATH};
plan skip_all => 'no chromium binary: the dashboard is rendered in headless '
               . 'Chromium (Debian package chromium; make deps installs it)'
    unless $chromium;

my $top = "$FindBin::Bin/..";
# as in conf.d/fsdfs-node.conf: the types matter, Chromium ignores a
# stylesheet served as text/plain
my $dash = "location /_fsdfs/dashboard/ { alias $top/conf.d/dashboard/; "
         . "types { text/html html; text/css css; application/javascript js; } }";
my $redis = start_redis();
# alpha's files before it starts: its first disk walk counts them
write_file(tmp() . "/node-alpha/data/m/$_.mp3", 'x' x 300_000) for 1 .. 8;
my $a = start_node(name => 'alpha', http => 'fsdfs_quota 10m;', server => $dash);
my $b = start_node(name => 'beta', http => 'fsdfs_quota 4m;', server => $dash);
ok(wait_for(sub { node_id('alpha') && node_id('beta') }, 5), 'alpha and beta registered');

# gamma: registered, heartbeat figures, no alive key: dead
redis_cli('HSET', 'fsdfs:nodes', 'gamma', 90);
redis_cli('HSET', 'fsdfs:node:90', url => 'http://127.0.0.1:1', name => 'gamma',
          state => 'active', quota => 8 * 1024 * 1024, used => 7 * 1024 * 1024,
          files => 21, load => 0, pulls => 0);
redis_cli('HSET', 'fsdfs:stats', files => 40, bytes => 12_000_000, min_kn => -1,
          under => 4, lost => 0, pulls_inflight => 2, pulls_done => 17, pulls_failed => 1,
          drops_done => 3, drops_failed => 0, master => 'm1', epoch => 5,
          updated => int(time * 1000), nodes_live => 2);
redis_cli('HSET', 'fsdfs:kn', -1 => 4, 0 => 30, 1 => 6);

ok(wait_for(sub {
    my $j = status_json($a) or return 0;
    my ($g) = grep { ($_->{name} // '') eq 'gamma' } @{$j->{nodes}};
    $j->{cluster}{stats} && $g && !$g->{alive} && scalar @{$j->{nodes}} == 3;
}, 6), 'alpha sees three nodes, gamma dead, and the cluster figures');
ok(wait_for(sub {
    my ($n) = grep { $_->{id} == node_id('alpha') } @{(status_json($a) // {})->{nodes} // []};
    $n && $n->{used} > 0;
}, 5), "alpha's fill is in its heartbeat");
redis_cli('HSET', 'fsdfs:stats', updated => int(time * 1000));   # fresh figures

my $url = "$a->{url}/_fsdfs/dashboard/";
my $page = http($a->{port}, 'GET', '/_fsdfs/dashboard/');
is($page->{status}, 200, 'the page is served by nginx');
like($page->{body}, qr/dashboard\.js/, 'index.html loads dashboard.js');
unlike($page->{body} . slurp("$top/conf.d/dashboard/dashboard.js"), qr{(?:src|href)="https?://|url\(https?:},
       'no external assets');
like(http($a->{port}, 'GET', "/_fsdfs/dashboard/$_->[0]")->{headers}{'content-type'} // '',
     qr/^\Q$_->[1]\E/, "$_->[0] served as $_->[1]")
    for ['dashboard.js', 'application/javascript'], ['dashboard.css', 'text/css'];

my $profile = tmp() . '/chromium-profile';
make_path($profile);
my @chrome = ($chromium, '--headless', '--no-sandbox', '--disable-gpu',
              '--no-first-run', "--user-data-dir=$profile",
              '--window-size=1280,900', '--virtual-time-budget=5000');

sub chrome {
    my (@args) = @_;
    my $log = tmp() . '/chromium.log';
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>>', $log;
        exec @chrome, @args or exit 127;
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return ($? >> 8, $out);
}

my ($rc, $dom) = chrome('--dump-dom', $url);
is($rc, 0, 'chromium --dump-dom ran') or diag(slurp(tmp() . '/chromium.log'));
$dom //= '';
my @rows = $dom =~ /<tr class="(node[^"]*)"/g;
is(scalar @rows, 3, 'three node rows') or diag($dom);
is(scalar(grep { /\bdead\b/ } @rows), 1, 'one row marked dead');
like($dom, qr/<tr class="node dead"[^>]*>(?:(?!<\/tr>).)*gamma/s, 'the dead row is gamma');
like($dom, qr/<tr class="node alive self"[^>]*>(?:(?!<\/tr>).)*alpha/s, 'alpha alive, this node');
my @fills = $dom =~ /class="fill[^"]*" style="width:([\d.]+)%"/g;
is(scalar @fills, 3, 'a fill bar per node');
ok((grep { $_ == 87.5 } @fills), "gamma's bar at 87.5% (7M of 8M)") or diag("@fills");
my ($now) = $dom =~ /(<svg id="kn-now".*?<\/svg>)/s;
my @bars = ($now // '') =~ /<rect class="bar" data-kn="(-?\d+)" data-files="(\d+)"/g;
is_deeply(\@bars, [-1, 4, 0, 30, 1, 6], 'K-N histogram: a bar per bucket, in order')
    or diag($now // $dom);
my ($hist) = $dom =~ /(<svg id="kn-history".*?<\/svg>)/s;
my $hbars = () = ($hist // '') =~ /<rect class="bar"/g;
cmp_ok($hbars, '>=', 3, "K-N over time: $hbars bars (samples x buckets)");
like($dom, qr/id="c-min_kn">-1</, 'min(K-N) shown');
like($dom, qr/id="c-pulls_inflight">2</, 'pulls in flight shown');
like($dom, qr/id="c-master">m1</, 'master shown');
like($dom, qr/2 pulls in flight, 17 done/, 'transfers shown');
unlike($dom, qr/<span id="error" class="error">/, 'no fetch error shown');

my $art = build_dir() . '/artifacts';
make_path($art);
my $png = "$art/dashboard.png";
unlink $png;
($rc) = chrome("--screenshot=$png", $url);
ok($rc == 0 && -s $png, 'screenshot taken') or diag(slurp(tmp() . '/chromium.log'));
open(my $fh, '<', $png);
binmode $fh;
read($fh, my $sig, 8) if $fh;
is($sig // '', "\x89PNG\r\n\x1a\n", 'screenshot is a PNG');
diag("dashboard screenshot: $png");

finish();
