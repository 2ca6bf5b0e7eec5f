#!/usr/bin/perl
# Misses: 302 to a live holder (args kept, hop marker appended), 404 for
# unknown paths and corrupt records, 503 with Retry-After when no holder is
# alive or the hop limit is reached, never a redirect to self.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(sleep);

my $redis = start_redis();

# nodes first, then init and scan, as an operator would
my $a = start_node(name => 'a');
my $b = start_node(name => 'b');
ok(wait_for(sub { node_id('a') && node_id('b') }, 5), 'nodes registered themselves');
my ($aid, $bid) = (node_id('a'), node_id('b'));
isnt($aid, $bid, "distinct ids ($aid, $bid)");

like(fsdfs('init', '--buckets', '64'), qr/buckets=64/, 'init');

my $b1 = 'b1' x 1000;
write_file("$b->{root}/m/b1.mp3", $b1);
write_file("$b->{root}/m/caf\xc3\xa9(live)+1,x=y\@z!~.mp3", 'special');
write_file("$b->{root}/m/both.mp3", 'both');
write_file("$a->{root}/m/both.mp3", 'both');
fsdfs('scan', 'b', $b->{root});
is($? >> 8, 0, 'scan b');
fsdfs('scan', 'a', $a->{root});
is($? >> 8, 0, 'scan a');

ok(wait_for(sub { http($a->{port}, 'GET', '/m/b1.mp3')->{status} == 302 }, 5),
   'miss on a becomes a redirect once b is alive in the node table');

my $r = http($a->{port}, 'GET', '/m/b1.mp3?x=1&y=2');
is($r->{status}, 302, 'miss: 302');
is($r->{headers}{location}, "$b->{url}/m/b1.mp3?x=1&y=2&fsdfs_hop=1",
   'Location: holder url + uri + args + fsdfs_hop=1');
$r = http($a->{port}, 'GET', '/m/b1.mp3');
is($r->{headers}{location}, "$b->{url}/m/b1.mp3?fsdfs_hop=1", 'no args: ?fsdfs_hop=1');

$r = http($a->{port}, 'HEAD', '/m/b1.mp3');
is($r->{status}, 302, 'HEAD miss: 302');
is($r->{body}, '', 'HEAD: no body');

my $loc = http($a->{port}, 'GET', '/m/caf%C3%A9(live)+1,x=y@z!~.mp3')->{headers}{location} // '';
unlike($loc, qr/[^\x21-\x7e]/, 'Location with UTF-8: only printable ASCII')
    or diag($loc);
like($loc, qr{^\Q$b->{url}\E/m/caf}, 'UTF-8 path: redirected to b');
my ($lp, $luri) = $loc =~ m{^http://127\.0\.0\.1:(\d+)(/.*)$};
SKIP: {
    skip 'no Location', 2 unless $lp;
    $r = http($lp, 'GET', $luri);
    is($r->{status}, 200, 'the escaped Location is served by the holder');
    is($r->{body}, 'special', 'with the file');
}

$r = http($b->{port}, 'GET', '/m/b1.mp3?fsdfs_hop=1');
is($r->{status}, 200, 'the holder serves the redirected request');
ok($r->{body} eq $b1, 'with the file');

$r = http($a->{port}, 'GET', '/m/b1.mp3?fsdfs_hop=1&z=3');
is($r->{status}, 302, 'one hop: may redirect once more');
is($r->{headers}{location}, "$b->{url}/m/b1.mp3?z=3&fsdfs_hop=2",
   'hop counted up, old marker replaced, other args kept');

for my $q ('fsdfs_hop=2', 'fsdfs_hop=7', 'a=1&fsdfs_hop=2') {
    $r = http($a->{port}, 'GET', "/m/b1.mp3?$q");
    is($r->{status}, 503, "?$q: 503, no further redirect");
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, "?$q: Retry-After");
    ok(!$r->{headers}{location}, "?$q: no Location");
}
$r = http($a->{port}, 'GET', '/m/b1.mp3', 'X-Fsdfs-Hop' => 1);
is($r->{status}, 503, 'X-Fsdfs-Hop: never redirected again');
ok(!$r->{headers}{location}, 'X-Fsdfs-Hop: no Location');

$r = http($a->{port}, 'GET', '/m/nothing.mp3');
is($r->{status}, 404, 'unknown path: 404');
is(http($a->{port}, 'HEAD', '/m/nothing.mp3')->{status}, 404, 'unknown path, HEAD: 404');
is(http($a->{port}, 'GET', '/m/nothing.mp3?fsdfs_hop=2')->{status}, 404,
   'unknown path with hop marker: still 404');

# a record written by hand in the documented format, with extra fields
my $key = bucket_key('/m/hand.mp3');
like($key, qr/^fsdfs:loc:\d+$/, "bucket key from `fsdfs where`: $key");
redis_cli('HSET', $key, '/m/hand.mp3', "1 4 0123456789abcdef 1700000000 $bid n=3 genre=jazz");
$r = http($a->{port}, 'GET', '/m/hand.mp3');
is($r->{status}, 302, 'hand-written record: 302');
is($r->{headers}{location}, "$b->{url}/m/hand.mp3?fsdfs_hop=1", 'hand-written record: to b');

# a record with no holder left (`-`): known but nowhere, 503 not 404
$key = bucket_key('/m/lost.mp3');
redis_cli('HSET', $key, '/m/lost.mp3', '1 4 0123456789abcdef 1700000000 -');
$r = http($a->{port}, 'GET', '/m/lost.mp3');
is($r->{status}, 503, 'record without holders: 503');
like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, '  with Retry-After');

# never a redirect to self
$r = http($a->{port}, 'GET', '/m/both.mp3');
is($r->{status}, 200, 'held locally: served from disk');
is($r->{body}, 'both', 'with the local bytes');
unlink "$a->{root}/m/both.mp3";
my %loc;
$loc{http($a->{port}, 'GET', '/m/both.mp3')->{headers}{location} // 'none'}++ for 1 .. 10;
is_deeply([keys %loc], ["$b->{url}/m/both.mp3?fsdfs_hop=1"],
          'held by self and b, missing here: always b, never self');

$key = bucket_key('/m/selfonly.mp3');
redis_cli('HSET', $key, '/m/selfonly.mp3', "1 4 0123456789abcdef 1700000000 $aid");
$r = http($a->{port}, 'GET', '/m/selfonly.mp3');
isnt($r->{status}, 302, 'indexed only on self and missing: no redirect')
    or diag($r->{headers}{location});
is($r->{status}, 503, 'indexed only on self and missing: 503');
like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, '  with Retry-After');

# both nodes listed, neither has it: the bouncing stops within 2 hops
$key = bucket_key('/m/nowhere.mp3');
redis_cli('HSET', $key, '/m/nowhere.mp3', "1 4 0123456789abcdef 1700000000 $aid,$bid");
$r = follow($a->{port}, '/m/nowhere.mp3', 5);
is($r->{status}, 503, 'listed on a and b, on neither disk: ends in 503');
cmp_ok(scalar @{$r->{hops}}, '<=', 3, 'after at most 2 redirects')
    or diag("hops: @{$r->{hops}}");

# corrupt records: unknown (404), logged, and nothing else breaks
my @corrupt = ('garbage 1 2', '1 abc 0123456789abcdef 1700000000 1',
               '9 4 0123456789abcdef 1700000000 1', '1 4', '');
for my $i (0 .. $#corrupt) {
    my $p = "/m/bad$i.mp3";
    redis_cli('HSET', bucket_key($p), $p, $corrupt[$i]);
    $r = http($a->{port}, 'GET', $p);
    is($r->{status}, 404, "corrupt record \"$corrupt[$i]\": 404");
}
ok(wait_for(sub { log_of($a) =~ /corrupt.*\/m\/bad0\.mp3/ }, 5),
   'corrupt record logged with its path');
is(http($a->{port}, 'GET', '/m/b1.mp3')->{status}, 302, 'lookups still work after corrupt records');

# rendezvous: with two live holders, the same path always goes to the same one
my $c = start_node(name => 'c');
ok(wait_for(sub { node_id('c') }, 5), 'c registered');
my $cid = node_id('c');
my @two = map { "/m/two$_.mp3" } 1 .. 8;
for my $p (@two) {
    write_file("$b->{root}$p", "two $p");
    write_file("$c->{root}$p", "two $p");
}
fsdfs('scan', 'b', $b->{root});
fsdfs('scan', 'c', $c->{root});
ok(wait_for(sub {
    my $j = status_json($a) or return 0;
    grep { $_->{id} == $cid && $_->{alive} } @{$j->{nodes} // []}
}, 5), 'a sees c alive');
sleep 1.1;   # every worker's copy of the node table is refreshed each second
my (%seen, %holder);
for my $p (@two) {
    my %l;
    $l{http($a->{port}, 'GET', $p)->{headers}{location} // 'none'}++ for 1 .. 10;
    $seen{$p} = [keys %l];
    for (keys %l) { $holder{m{^http://127\.0\.0\.1:(\d+)/} ? $1 : "none"}++ }
}
is(scalar(grep { @{$seen{$_}} != 1 } @two), 0,
   'each path always redirects to the same holder (10 requests each)')
    or diag(explain \%seen);
is(scalar(grep { !/^\Q$b->{port}\E$|^\Q$c->{port}\E$/ } keys %holder), 0,
   'always b or c');
cmp_ok(scalar(keys %holder), '==', 2, '8 paths: both holders chosen for some')
    or diag("b=$b->{port} c=$c->{port} ", explain(\%holder), fsdfs('where', $two[0]),
            http($a->{port}, 'GET', '/_fsdfs/status')->{body});

# the chosen holder stops: the other one takes over; then none is left
my $p2 = $two[0];
my ($first) = @{$seen{$p2}};
my ($gone, $left) = $first =~ /:\Q$b->{port}\E\// ? ($b, $c) : ($c, $b);
stop_node($gone);
ok(wait_for(sub {
    (http($a->{port}, 'GET', $p2)->{headers}{location} // '') =~ /^\Q$left->{url}\E\//
}, 12), "$gone->{name} stopped: redirected to $left->{name} instead")
    or diag(explain(http($a->{port}, 'GET', $p2)->{headers}),
            http($a->{port}, 'GET', '/_fsdfs/status')->{body});
ok(wait_for(sub { !redis_cli('EXISTS', "fsdfs:alive:" . node_id($gone->{name})) }, 10),
   "$gone->{name}'s alive key is gone");

kill_node($left);
ok(wait_for(sub { http($a->{port}, 'GET', $p2)->{status} == 503 }, 14),
   "$left->{name} killed: no live holder, 503");
$r = http($a->{port}, 'GET', $p2);
is($r->{status}, 503, 'still 503');
like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'Retry-After is a positive number of seconds');
ok(!$r->{headers}{location}, 'no Location');
is(http($a->{port}, 'GET', '/m/nothing.mp3')->{status}, 404, 'unknown still 404');

finish();
