#!/usr/bin/perl
# fsdfs watch and the read commands' machine side, against a real Redis
# whose figures are set by hand as fsdfsd would publish them (no fsdfsd):
# watch's JSON frames, the missing-copies figure falling while the test
# repairs the histogram under it, an ETA from that rate; status --json;
# every read command's --json parses; every command's --help; Redis lost
# mid-watch, Ctrl-C, Redis never there (exit 3) and bad arguments (exit 2).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $redis = start_redis();
my $bin = build_dir() . '/fsdfs';

# what fsdfsd and two nodes would have published
my $now = int(time() * 1000);
redis_cli('HSET', 'fsdfs:stats', files => 100, bytes => 4096, copy_bytes => 9000,
          min_kn => -2, under => 5, lost => 1, pulls_inflight => 2,
          pulls_done => 10, pulls_failed => 1, drops_done => 3, drops_failed => 0,
          plan_usec => 800, master => 'm1', epoch => 7, nodes_live => 2,
          updated => $now);
# missing copies: 3 files x 2 + 2 files x 1 = 8
redis_cli('HSET', 'fsdfs:kn', -2 => 3, -1 => 2, 0 => 90, 1 => 5);
redis_cli('SET', 'fsdfs:master', 'm1:7', 'PX', 60000);
redis_cli('SET', 'fsdfs:epoch', 7);
redis_cli('HSET', 'fsdfs:nodes', a => 1, b => 2);
redis_cli('HSET', 'fsdfs:node:1', url => 'http://127.0.0.1:1', state => 'active',
          quota => 1000, used => 250, free => 750, files => 60, load => 3,
          conns => 1, version => 1, ts => $now);
redis_cli('HSET', 'fsdfs:node:2', url => 'http://127.0.0.1:2', state => 'active',
          quota => 1000, used => 900, free => 100, files => 40, load => 0,
          conns => 0, version => 1, ts => $now - 60000);
redis_cli('SET', 'fsdfs:alive:1', 1, 'EX', 60);
redis_cli('HSET', 'fsdfs:config', buckets => 16, replicas => 3);

# Starts the CLI with its stdout on a pipe; (pid, handle).
sub spawn {
    my @args = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', tmp() . '/watch.err';
        exec $bin, '-r', "127.0.0.1:$redis", @args;
        exit 127;
    }
    return ($pid, $fh);
}

sub frame {
    my ($line, $what) = @_;
    my $j = defined $line ? eval { decode_json($line) } : undef;
    ok($j, "$what parses as JSON") or diag($line // 'no line');
    return $j || {};
}

# watch --json: three frames, the histogram repaired between the first two
# half a second between frames: the repair lands before the third even on
# a busy machine
my ($pid, $fh) = spawn('watch', '--count', 3, '--interval', 0.5, '--json');
my @f = (frame(scalar <$fh>, 'frame 1'));
redis_cli('HSET', 'fsdfs:kn', -2 => 1, -1 => 3, 0 => 91);    # missing 5
push @f, frame(scalar <$fh>, 'frame 2'), frame(scalar <$fh>, 'frame 3');
ok(!defined <$fh>, 'three frames, then the end');
close $fh;
is($? >> 8, 0, 'watch --count 3: exit 0');

is_deeply([ map { $_->{frame} } @f ], [1, 2, 3], 'frames numbered');
ok($f[2]{time} - $f[0]{time} > 0.8 && $f[2]{time} - $f[0]{time} < 3,
   'about 0.5 s apart');
is_deeply([ @{$f[0]}{qw(redis master epoch min_kn under lost files
                         pulls_inflight pulls_done pulls_failed)} ],
          [ JSON::PP::true, 'm1', 7, -2, 5, 1, 100, 2, 10, 1 ],
          'frame: the figures of fsdfs:stats and the lease');
is_deeply($f[0]{kn}, { -2 => 3, -1 => 2, 0 => 90, 1 => 5 }, 'frame: the histogram');
is($f[0]{missing}, 8, 'missing copies: 3 x 2 + 2 x 1');
is($f[0]{state}, 'measuring', 'one frame: no rate yet');
ok(!defined $f[0]{eta_s}, 'and no ETA');
is($f[2]{missing}, 5, 'after the repair: 5 missing');
is($f[2]{worst}, 8, 'worst seen: 8');
ok(abs($f[2]{progress} - 3 / 8) < 0.001, 'progress 3 of 8 repaired');
is($f[2]{state}, 'eta', 'copies repaired: an ETA');
ok($f[2]{rate} > 0, "rate $f[2]{rate} copies/s");
ok($f[2]{eta_s} > 0 && abs($f[2]{eta_s} - 5 / $f[2]{rate}) < 0.1,
   "ETA $f[2]{eta_s} s = missing / rate");

# no change over the frames: no progress, and no ETA
($pid, $fh) = spawn('watch', '--count', 2, '--interval', 0.1, '--json');
@f = map { frame(scalar <$fh>, "still frame $_") } 1, 2;
close $fh;
is($f[1]{state}, 'no progress', 'nothing repaired: "no progress"');
ok(!defined $f[1]{eta_s}, 'and no ETA');

# the text view: the same figures, "ETA N s" once copies get repaired
# a second between frames: the repair below lands before the second one
($pid, $fh) = spawn('watch', '--count', 2, '--interval', 1);
my $first = '';
while (my $l = <$fh>) {
    $first .= $l;
    last if $l =~ /^missing/;
}
redis_cli('HSET', 'fsdfs:kn', -2 => 0, -1 => 3);             # missing 3
my $text = $first . do { local $/; <$fh> };
close $fh;
is($? >> 8, 0, 'watch text: exit 0');
unlike($text, qr/\e\[/, 'not a tty: no escape codes, frames appended');
is(() = $text =~ /^fsdfs watch /mg, 2, 'two frames');
like($text, qr/^min\(K-N\) -2, under N 5, lost 1, files 100$/m, 'text: figures');
like($text, qr/^pulls\s+2 in flight, 10 done, 1 failed$/m, 'text: pulls');
like($text, qr/^missing\s+5 copies .* measuring$/m, 'text: first frame measuring');
like($text, qr/^missing\s+3 copies .* 2 of 5 repaired, .*ETA \d+ s$/m, 'text: ETA');

# converged: nothing missing
redis_cli('HDEL', 'fsdfs:kn', -2, -1);
my $out = `$bin -r 127.0.0.1:$redis watch --count 1 --json`;
is(frame($out, 'converged frame')->{state}, 'converged', 'min(K-N) >= 0: converged');

# Ctrl-C ends a watch without --count cleanly
($pid, $fh) = spawn('watch', '--interval', 0.2, '--json');
frame(scalar <$fh>, 'endless watch frame');
kill 'INT', $pid;
my @rest = <$fh>;
close $fh;
is($? >> 8, 0, 'Ctrl-C: exit 0');
ok(($? & 127) == 0, 'not killed by the signal');

# status --json
redis_cli('HSET', 'fsdfs:kn', -2 => 3, -1 => 2);
$out = `$bin -r 127.0.0.1:$redis status --json`;
is(frame($out, 'status --json, no nodekn')->{nodes}[0]{max_kn}, undef,
   'status: no fsdfs:nodekn yet: max_kn null');
# per-node max(K-N) as fsdfsd publishes it every 5 s; node 9 is not in
# fsdfs:nodes and a junk field is ignored
redis_cli('HSET', 'fsdfs:nodekn', 1 => 2, 9 => 5, x => 'y');
$out = `$bin -r 127.0.0.1:$redis status --json`;
is($? >> 8, 0, 'status --json: exit 0');
my $st = frame($out, 'status --json');
is_deeply([ map { $_->{name} } @{$st->{nodes}} ], ['a', 'b'], 'status: nodes by id');
is_deeply([ @{$st->{nodes}[0]}{qw(state quota used files load)} ],
          [ 'active', 1000, 250, 60, 3 ], 'status: node fields');
ok($st->{nodes}[0]{alive} && !$st->{nodes}[1]{alive}, 'status: a alive, b not');
ok(abs($st->{nodes}[1]{fill} - 0.9) < 0.001, 'status: fill of b 0.9');
ok($st->{nodes}[1]{age} >= 60, 'status: b heartbeat a minute old');
is($st->{stats}{min_kn}, -2, 'status: stats min_kn');
is($st->{stats}{pulls_inflight}, 2, 'status: stats pulls_inflight');
is($st->{missing}, 8, 'status: missing copies');
is($st->{kn}{-2}, 3, 'status: histogram');
is($st->{master}{holder}, 'm1', 'status: master holder');
is($st->{master}{epoch}, 7, 'status: lease epoch');
ok($st->{master}{ttl_ms} > 0, 'status: lease time left');
is($st->{epoch}, 7, 'status: epoch');
ok($st->{stats_age} >= 0, 'status: stats age');
is($st->{nodes}[0]{max_kn}, 2, 'status: max_kn of a from fsdfs:nodekn');
ok(exists $st->{nodes}[1]{max_kn} && !defined $st->{nodes}[1]{max_kn},
   'status: b not in fsdfs:nodekn: max_kn null');
is(scalar @{$st->{nodes}}, 2, 'status: a node only in fsdfs:nodekn is not listed');
$out = `$bin -r 127.0.0.1:$redis status`;
like($out, qr/\bmax K-N$/m, 'status text: a max K-N column');
like($out, qr/^\s+1\s+a\s.*\s\+2$/m, 'status text: a carries +2');
like($out, qr/^\s+2\s+b\s.*\s-$/m, 'status text: b unknown: -');
like($out, qr/8 copies missing/, 'status text: missing copies');
like($out, qr/^pulls\s+2 in flight, 10 done, 1 failed/m, 'status text: transfers');

# every read command's --json
my $nodes = frame(scalar `$bin -r 127.0.0.1:$redis nodes --json`, 'nodes --json');
is(ref $nodes, 'ARRAY', 'nodes --json: an array');
my $key = bucket_key('/x.mp3');
redis_cli('HSET', $key, '/x.mp3', '1 5 0123456789abcdef 1700000000 1');
my $w = frame(scalar `$bin -r 127.0.0.1:$redis where /x.mp3 --json`, 'where --json');
is($w->{size}, 5, 'where --json: size');
$w = frame(scalar `$bin -r 127.0.0.1:$redis where --json /x.mp3`, 'where --json PATH');
is($w->{path}, '/x.mp3', 'where: --json before the path too');
`$bin -r 127.0.0.1:$redis where /nope.mp3 --json 2>/dev/null`;
is($? >> 8, 1, 'where of an unindexed path: exit 1');

# every command's --help: exit 0, its usage on stdout
for my $c (qw(init scan where nodes status watch put rm set)) {
    my $h = `$bin $c --help 2>/dev/null`;
    is($? >> 8, 0, "$c --help: exit 0");
    like($h, qr/^usage: fsdfs \Q$c\E\b/, "$c --help: its usage");
}
like(`$bin --help`, qr/watch \[--interval S\].*exit codes: 0 ok/s, 'fsdfs --help: all commands, exit codes');

# bad arguments: exit 2 with the usage
for my $a ([ 'watch', '--interval', 0 ], [ 'watch', '--interval', 'x' ],
           [ 'watch', '--count', 0 ], [ 'watch', '--count', '-1' ],
           [ 'watch', '--interval' ], [ 'watch', 'extra' ],
           [ 'status', 'extra' ], [ 'status', '--json', 'x' ],
           [ 'nodes', '--jsn' ], [ 'where' ], [ 'bogus' ]) {
    my $o = `$bin -r 127.0.0.1:$redis @$a 2>&1`;
    is($? >> 8, 2, "@$a: exit 2");
    like($o, qr/usage: fsdfs/, "@$a: prints the usage");
}

# Redis lost mid-watch: frames say so, watch goes on and reconnects; 4 s
# of frames leave a slow machine seconds to start Redis again
my $r2 = start_redis();
redis_cli($r2, 'HSET', 'fsdfs:kn', -1 => 4);
$pid = open($fh, '-|') // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', '/dev/null';
    exec $bin, '-r', "127.0.0.1:$r2", 'watch', '--count', 20, '--interval', 0.2, '--json';
    exit 127;
}
my $f1 = frame(scalar <$fh>, 'before the loss');
kill_redis($r2);
my @after;
while (my $l = <$fh>) {
    push @after, frame($l, 'frame after the loss');
    if (@after == 2) {
        start_redis(port => $r2);
    }
}
close $fh;
is($? >> 8, 0, 'Redis lost mid-watch: still exit 0');
is($f1->{missing}, 4, 'first frame read');
ok((grep { !$_->{redis} && $_->{error} eq 'redis unreachable' } @after),
   'a frame says "redis unreachable"');
ok($after[-1]{redis}, 'the last frame: Redis back, reconnected');
is(scalar @after, 19, 'all frames shown');

# Redis never there: exit 3 and a message, for every read command
my $dead = free_port();
for my $a ([ 'watch', '--count', 2 ], [ 'status' ], [ 'status', '--json' ],
           [ 'nodes', '--json' ], [ 'where', '/x.mp3', '--json' ]) {
    my $o = `$bin -r 127.0.0.1:$dead @$a 2>&1`;
    is($? >> 8, 3, "@$a without Redis: exit 3");
    like($o, qr/unreachable/, "@$a without Redis: says so");
}

finish();
