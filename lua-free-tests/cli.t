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

my $redis = start_redis();
my $root = tmp() . '/root';
for my $i (1 .. 50) {
    write_file(sprintf('%s/music/%02d/t%d.mp3', $root, $i % 9, $i), "track $i\n" x $i);
}
write_file("$root/music/a b.mp3", 'bad name');
write_file("$root/music/.fsdfs-tmp-x", 'temp file');
(my $root2 = $root) =~ s/root$/root2/;
system('cp', '-a', $root, $root2);

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
like($out, qr/50 new, 0 added as holder, 0 already held, 0 conflicts, 0 corrupt, 1 skipped/,
     'scan a: 50 new, the badly named file skipped, the temp file ignored');
like($out, qr/skipping .*a b\.mp3/, 'the skipped file is named');

$out = fsdfs($redis, 'scan', 'b', $root2);
like($out, qr/0 new, 50 added as holder/, 'scan b over a copy: 50 added as holder');
$out = fsdfs($redis, 'scan', 'b', $root2);
like($out, qr/0 new, 0 added as holder, 50 already held/, 'scan b again: idempotent');

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
like(fsdfs($redis, 'nodes'), qr/^1\s+a\s/m, 'nodes text');

# bad input changes nothing
my $dump = redis_cli($redis, 'DBSIZE') . ' ' . redis_cli($redis, 'HLEN', 'fsdfs:nodes');
for my $bad ([ 'where', 'no-slash' ], [ 'where', '/a/../b' ], [ 'scan', 'bad name', $root ],
             [ 'scan', 'c', '/nonexistent' ], [ 'scan', 'c' ], [ 'init', '--buckets', '0' ],
             [ 'init', '--buckets', 'x' ], [ 'frobnicate' ], [ '-x', 'nodes' ]) {
    fsdfs($redis, @$bad);
    is($? >> 8, 2, "usage error: @$bad -> exit 2");
}
is(redis_cli($redis, 'DBSIZE') . ' ' . redis_cli($redis, 'HLEN', 'fsdfs:nodes'), $dump,
   'bad input changed nothing');

my $free = free_port();
my $o = `@{[build_dir()]}/fsdfs -r 127.0.0.1:$free nodes 2>&1`;
is($? >> 8, 3, 'redis unreachable: exit 3');
like($o, qr/unreachable/, 'and says so');

like(`@{[build_dir()]}/fsdfs scan --help`, qr/usage: fsdfs scan NODE ROOT/, 'per-command --help');

finish();
