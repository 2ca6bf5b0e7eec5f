#!/usr/bin/perl
# The fsdfs CLI against a real Redis: init, scan (twice, two nodes, then a
# changed file), where (text and JSON), nodes, exit codes, bad input that
# changes nothing.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;
use File::Path qw(make_path);
use Time::HiRes qw(time);

my $redis = start_redis();
my $root = tmp() . '/root';
for my $i (1 .. 50) {
    write_file(sprintf('%s/music/%02d/t%d.mp3', $root, $i % 9, $i), "track $i\n" x $i);
}
write_file("$root/music/live(1).mp3", 'a shell-special name');
write_file("$root/music/a b.mp3", 'bad name');
write_file("$root/music/.fsdfs-tmp-x", 'temp file');
my ($root2, $root3, $root4) = map { tmp() . "/root$_" } 2 .. 4;
system('cp', '-a', $root, $_) for $root2, $root3, $root4;

my $out = fsdfs($redis, 'scan', 'a', $root);
is($? >> 8, 4, 'scan before init: exit 4') and like($out, qr/fsdfs init/, 'says to run init');

$out = fsdfs($redis, 'init', '--buckets', '128');
is($? >> 8, 0, 'init: exit 0');
like($out, qr/buckets=128 replicas=3/, 'init prints the config');
fsdfs($redis, 'init', '--buckets', '128');
is($? >> 8, 0, 'init again with the same buckets: fine');
$out = fsdfs($redis, 'init', '--buckets', '256');
is($? >> 8, 4, 'init with other buckets: exit 4');
like($out, qr/refusing/, 'and says why');
is(redis_cli($redis, 'HGET', 'fsdfs:config', 'buckets'), 128, 'buckets unchanged');

$out = fsdfs($redis, 'scan', 'a', $root);
is($? >> 8, 0, 'scan a: exit 0') or diag($out);
like($out, qr/51 new, 0 added as holder, 0 already held, 0 conflicts, 0 corrupt, 1 skipped/,
     'scan a: 51 new, the badly named file skipped, the temp file ignored');
like($out, qr/skipping .*a b\.mp3/, 'the skipped file is named');

$out = fsdfs($redis, 'scan', 'b', $root2);
like($out, qr/0 new, 51 added as holder/, 'scan b over a copy: 51 added as holder');
$out = fsdfs($redis, 'scan', 'b', $root2);
like($out, qr/0 new, 0 added as holder, 51 already held/, 'scan b again: idempotent');
is(redis_cli($redis, 'XLEN', 'fsdfs:events'), 102, 'one have event per change');

my %ids = split /\n/, redis_cli($redis, 'HGETALL', 'fsdfs:nodes');
is_deeply([sort values %ids], [1, 2], 'scan registered nodes a and b');

$out = fsdfs($redis, 'where', '/music/05/t5.mp3');
is($? >> 8, 0, 'where: exit 0');
like($out, qr/^size\s+40$/m, 'where: size');
like($out, qr/^holders\s+2$/m, 'where: two holders');
my ($cmd) = $out =~ /^raw\s+(redis-cli .*)$/m;
ok($cmd, 'where prints the redis-cli command');
my $raw = `$cmd`;
chomp $raw;
like($raw, qr/^1 40 [0-9a-f]{16} \d+ 1,2$/, "that command shows the raw record: $raw");

$out = fsdfs($redis, 'where', '/music/05/t5.mp3', '--json');
my $j = eval { decode_json($out) };
ok($j, 'where --json parses') or diag($out);
is($j->{size}, 40, 'json size');
is(scalar @{$j->{holders}}, 2, 'json holders');
is($j->{holders}[0]{name}, 'a', 'json holder name');
ok(!$j->{holders}[0]{alive}, 'json: no heartbeat, not alive');
is($j->{raw}, $cmd, 'json carries the same redis-cli command');
like($j->{created}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'json: created in ISO-8601 UTC');

# a name the shell would trip on: the printed command quotes it
$out = fsdfs($redis, 'where', '/music/live(1).mp3');
($cmd) = $out =~ /^raw\s+(redis-cli .*)$/m;
like($cmd, qr{ '/music/live\(1\)\.mp3'$}, 'the path is shell-quoted');
$raw = `$cmd`;
like($raw, qr/^1 20 [0-9a-f]{16} \d+ 1,2$/, 'and the quoted command works');

# heartbeat fields as a node writes them
my $ms = int(time * 1000);
redis_cli($redis, 'HSET', 'fsdfs:node:1', name => 'a', url => 'http://127.0.0.1:1', state => 'active',
          quota => 1000, used => 10, free => 990, files => 51, load => 3, conns => 2,
          version => '0.1', ts => $ms);
redis_cli($redis, 'SET', 'fsdfs:alive:1', 1, 'PX', 60000);
$j = decode_json(fsdfs($redis, 'where', '/music/05/t5.mp3', '--json'));
ok($j->{holders}[0]{alive} && !$j->{holders}[1]{alive}, 'json: node a alive, b not');
is($j->{holders}[0]{url}, 'http://127.0.0.1:1', 'json: holder url');

fsdfs($redis, 'where', '/music/none.mp3');
is($? >> 8, 1, 'where unknown: exit 1');

# a changed file conflicts with the index and is not registered
write_file("$root2/music/05/t5.mp3", "changed\n");
$out = fsdfs($redis, 'scan', 'b', $root2);
is($? >> 8, 4, 'scan with a changed file: exit 4');
like($out, qr/1 conflicts/, 'reports the conflict');
like(redis_cli($redis, 'HGET', $j->{key}, '/music/05/t5.mp3'), qr/^1 40 /,
     'the record keeps the indexed size');

# corrupt record
redis_cli($redis, 'HSET', $j->{key}, '/music/05/t5.mp3', 'junk');
$out = fsdfs($redis, 'where', '/music/05/t5.mp3');
is($? >> 8, 4, 'where on a corrupt record: exit 4');
like($out, qr/corrupt record/, 'says corrupt');

$out = fsdfs($redis, 'nodes', '--json');
my $nodes = eval { decode_json($out) };
is(ref $nodes, 'ARRAY', 'nodes --json parses') or diag($out);
is(scalar @$nodes, 2, 'two nodes');
is($nodes->[0]{name}, 'a', 'sorted by id');
is_deeply([ @{$nodes->[0]}{qw(alive url state quota used free files load conns)} ],
          [ JSON::PP::true, 'http://127.0.0.1:1', 'active', 1000, 10, 990, 51, 3, 2 ],
          'nodes --json: the heartbeat fields');
ok($nodes->[0]{age} >= 0 && $nodes->[0]{age} < 5, 'nodes --json: age of the heartbeat');
ok(!$nodes->[1]{alive}, 'node b not alive');
like(fsdfs($redis, 'nodes'),
     qr/^1\s+a\s+http:\S+\s+active\s+yes\s+1000\s+10\s+990\s+51\s+3\s+2\s+\d+s$/m, 'nodes text');

# two scans at once over copies: both end up holders of every file
my @pids = map {
    my ($name, $dir) = @$_;
    my $pid = fork() // die "fork: $!";
    if (!$pid) { open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null';
                 exec "@{[build_dir()]}/fsdfs", '-r', "127.0.0.1:$redis", 'scan', $name, $dir; exit 127 }
    $pid;
} [ 'c', $root3 ], [ 'd', $root4 ];
waitpid($_, 0) for @pids;
my %holders;
for my $key (split /\n/, redis_cli($redis, 'KEYS', 'fsdfs:loc:*')) {
    my %h = split /\n/, redis_cli($redis, 'HGETALL', $key);
    $holders{$_} = (split / /, $h{$_})[4] // 'corrupt' for keys %h;
}
delete $holders{'/music/05/t5.mp3'};
is(scalar(keys %holders), 50, 'the other 50 records');
is_deeply([ grep { $holders{$_} ne '1,2,3,4' } sort keys %holders ], [],
          'concurrent scans: no lost holder');

# bad input changes nothing
my $snapshot = sub {
    join '|', redis_cli($redis, 'DBSIZE'), redis_cli($redis, 'XLEN', 'fsdfs:events'),
        map { unpack 'H*', redis_cli($redis, 'DUMP', $_) // '' }
            'fsdfs:config', 'fsdfs:nodes', 'fsdfs:node_seq', $j->{key};
};
my $dump = $snapshot->();
for my $bad ([ 'where', 'no-slash' ], [ 'where', '/a/../b' ], [ 'scan', 'bad name', $root ],
             [ 'scan', 'c', '/nonexistent' ], [ 'scan', 'c' ], [ 'init', '--buckets', '0' ],
             [ 'init', '--buckets', 'x' ], [ 'init', '--replicas', '0' ], [ 'frobnicate' ],
             [ '-x', 'nodes' ], [ 'where' ], [ 'where', '/a', '/b' ], [ 'nodes', 'extra' ],
             [ 'scan', 'x' x 33, $root ], [ 'scan', 'c', "$root/music/01/t1.mp3" ]) {
    fsdfs($redis, @$bad);
    is($? >> 8, 2, "usage error: @$bad -> exit 2");
}
is($snapshot->(), $dump, 'bad input changed nothing (DBSIZE, XLEN, DUMPs)');
my $o = `@{[build_dir()]}/fsdfs -r 127.0.0.1:12x nodes 2>&1`;
is($? >> 8, 2, 'bad redis address: exit 2');
like($o, qr/invalid redis address/, 'and says so');

my $free = free_port();
$o = `@{[build_dir()]}/fsdfs -r 127.0.0.1:$free nodes 2>&1`;
is($? >> 8, 3, 'redis unreachable: exit 3');
like($o, qr/unreachable/, 'and says so');

like(`@{[build_dir()]}/fsdfs scan --help`, qr/usage: fsdfs scan NODE ROOT/, 'per-command --help');

finish();
