#!/usr/bin/perl
# The CLI's write commands and status against a real Redis: put (to a
# stand-in node that checks the signed request byte by byte, then to real
# nginx nodes when the module has the PUT command), rm (record, tombstone,
# event), set (record rewritten, event, bad values change nothing,
# concurrent sets lose nothing) and status (text and JSON, with and
# without a master).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use POSIX ();

my $redis = start_redis();
fsdfs('init', '--buckets', '64');
is($? >> 8, 0, 'init');

my $secret = secret_file();
my $key = slurp($secret);
$key =~ s/\n\z//;

# A stand-in node: answers one request with $status and $body and writes
# what it got (request line, headers, body) to $log. (port, pid).
sub fake_node {
    my ($status, $body, $log) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 5, ReuseAddr => 1)
        or die "listen: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        # _exit: the harness's END block belongs to the parent
        local $SIG{ALRM} = sub { POSIX::_exit(1) };
        alarm 20;
        my $c = $l->accept or POSIX::_exit(1);
        binmode $c;
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            sysread($c, my $ch, 1) or last;
            $head .= $ch;
        }
        my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
        print $c "HTTP/1.1 100 Continue\r\n\r\n" if $head =~ /^expect:\s*100/mi;
        my $got = '';
        while (length $got < ($len // 0)) {
            sysread($c, $got, 65536, length $got) or last;
        }
        write_file($log, "$head$got");
        print $c "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
               . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
        close $c;
        POSIX::_exit(0);
    }
    my $port = $l->sockport;
    close $l;
    return ($port, $pid);
}

sub unescape { my $s = shift; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; $s }

# The request a fake node logged: method, uri path, params, body.
sub logged {
    my ($log) = @_;
    my $raw = slurp($log);
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($method, $uri) = $head =~ m{^(\S+) (\S+) HTTP/1\.1};
    my ($path, $q) = split /\?/, $uri // '', 2;
    my @pairs = map { [ split /=/, $_, 2 ] } split /&/, $q // '';
    return { method => $method, path => $path, body => $body,
             order => [ map { $_->[0] } @pairs ],
             p => { map { ($_->[0] => unescape($_->[1])) } @pairs } };
}

# The signature the spec says a node checks (README "Commands").
sub expected_sig {
    my ($req) = @_;
    my %p = %{$req->{p}};
    delete $p{sig};
    my $canon = "$req->{method}\n$req->{path}\n" . join '', map { "$_=$p{$_}\n" } sort keys %p;
    return hmac_sha256_hex($canon, $key);
}

my $ms = int(time * 1000);
sub node_hash {
    my ($id, $name, $url, $state, $free, $alive) = @_;
    redis_cli('HSET', 'fsdfs:nodes', $name, $id);
    redis_cli('HSET', "fsdfs:node:$id", name => $name, url => $url, state => $state,
              quota => 10000, used => 10000 - $free, free => $free, files => 3,
              load => $id, conns => 0, version => '0.1', ts => $ms);
    redis_cli('SET', "fsdfs:alive:$id", 1, 'PX', 600000) if $alive;
}

my $file = tmp() . '/track.mp3';
write_file($file, join '', map { chr(($_ * 7) % 256) } 1 .. 70000);
my $sum = sum64(slurp($file));

# --- put: local checks, before any node is involved --------------------------

my $out = fsdfs('put', $file, 'no-slash.mp3');
is($? >> 8, 2, 'put: bad path, exit 2') and like($out, qr/invalid path/, 'says invalid path');
$out = fsdfs('put', tmp() . '/missing.mp3', '/a.mp3');
is($? >> 8, 2, 'put: missing file, exit 2') and like($out, qr/cannot read/, 'says it');
$out = fsdfs('put', tmp(), '/a.mp3');
is($? >> 8, 2, 'put: a directory, exit 2');
$out = fsdfs('-s', tmp() . '/no-secret', 'put', $file, '/a.mp3');
is($? >> 8, 2, 'put: missing secret, exit 2');
like($out, qr/secret .*no-secret.*cannot open.*No such file/, 'names the secret file and why');
my $open_secret = tmp() . '/open-secret';
write_file($open_secret, $key);
chmod 0644, $open_secret;
$out = fsdfs('-s', $open_secret, 'put', $file, '/a.mp3');
is($? >> 8, 2, 'put: world-readable secret, exit 2') and like($out, qr/chmod 600/, 'says chmod 600');
for my $bad ([ '--replicas', '0' ], [ '--replicas', '256' ], [ '--replicas', 'x' ], [ '--frob' ]) {
    fsdfs('put', $file, '/a.mp3', @$bad);
    is($? >> 8, 2, "put @$bad: exit 2");
}
fsdfs('put', $file);
is($? >> 8, 2, 'put without PATH: exit 2');
like(fsdfs('put', '--help'), qr{usage: fsdfs put FILE PATH \[--node NAME\] \[--replicas N\]}, 'put --help');

$out = fsdfs('put', $file, '/a.mp3');
is($? >> 8, 4, 'put with no node at all: exit 4') and like($out, qr/no live active node/, 'says so');

# --- put: to stand-in nodes -----------------------------------------------------

my $log = tmp() . '/req1';
my ($fport, $fpid) = fake_node(201, qq({"ok":true,"op":"put","path":"/music/new one+(1).mp3","size":70000,"ms":3}), $log);
node_hash(1, 'a', "http://127.0.0.1:$fport", 'active', 3000, 1);
node_hash(2, 'b', 'http://127.0.0.1:1', 'active', 9000, 0);          # most free, but dead
node_hash(3, 'c', 'http://127.0.0.1:1', 'draining', 8000, 1);        # alive, draining
node_hash(4, 'd', 'http://127.0.0.1:1', 'active', 1000, 1);          # alive, less free

my $path = '/music/new one+(1).mp3';
$out = fsdfs('put', $file, '/music/new one+(1).mp3');
like($out, qr/invalid path/, 'a space is refused by the path rules');
$path = '/music/new_one+(1)=é.mp3';
$out = fsdfs('put', $file, $path);
my $rc = $? >> 8;
waitpid($fpid, 0);
is($rc, 0, 'put to the live active node with the most free space: exit 0') or diag($out);
like($out, qr/stored \Q$path\E on node a \(id 1/, 'names the node');
like($out, qr/"ok":true/, 'shows the JSON answer');
my $req = logged($log);
is($req->{method}, 'PUT', 'method PUT');
is($req->{path}, '/_fsdfs/put', 'to /_fsdfs/put');
is($req->{p}{path}, $path, 'path parameter, percent-decoded, intact');
is($req->{p}{size}, 70000, 'size parameter');
is($req->{p}{sum}, $sum, 'sum parameter: XXH3-64 of the file');
is($req->{p}{epoch}, 0, 'epoch 0 before any master');
ok(abs($req->{p}{ts} - time) < 5, 'ts is now');
ok(!exists $req->{p}{n}, 'no n without --replicas');
is($req->{order}[-1], 'sig', 'sig comes last');
is($req->{p}{sig}, expected_sig($req), 'the signature checks with the shared secret');
is($req->{body}, slurp($file), 'the body is the file');
my ($line) = slurp($log) =~ /^([^\r\n]*)/;
my @raw = grep { /[+=\x80-\xff]/ } map { (split /=/, $_, 2)[1] } split /&/, (split /[? ]/, $line)[2];
is_deeply(\@raw, [], 'values on the wire: no raw +, = or UTF-8');

# --node, --replicas, a current epoch; the node refuses
redis_cli('SET', 'fsdfs:epoch', 7);
$log = tmp() . '/req2';
($fport, $fpid) = fake_node(409, qq({"ok":false,"op":"put","path":"/b.mp3","error":"path exists"}), $log);
redis_cli('HSET', 'fsdfs:node:2', 'url', "http://127.0.0.1:$fport");
$out = fsdfs('put', $file, '/b.mp3', '--node', 'b', '--replicas', 2);
$rc = $? >> 8;
waitpid($fpid, 0);
is($rc, 4, 'put refused by the node: exit 4');
like($out, qr/warning: node "b" is not alive/, 'warns that b is not alive, tries anyway');
like($out, qr/refused: node b answered 409: path exists/, 'shows status and error');
$req = logged($log);
is($req->{p}{n}, 2, 'n=2 from --replicas');
is($req->{p}{epoch}, 7, 'the current epoch');
is($req->{p}{sig}, expected_sig($req), 'signed with n and epoch');

fsdfs('put', $file, '/b.mp3', '--node', 'nosuch');
is($? >> 8, 2, 'put --node unknown: exit 2');
redis_cli('HSET', 'fsdfs:node:2', 'url', 'http://127.0.0.1:' . free_port());
$out = fsdfs('put', $file, '/b.mp3', '--node', 'b');
is($? >> 8, 4, 'put to a node that does not answer: exit 4') and like($out, qr/node b/, 'names it');

# the chosen node refuses connections (stopped, its alive key not yet
# expired): the next one is tried, up to three
$log = tmp() . '/req3';
($fport, $fpid) = fake_node(201, qq({"ok":true,"op":"put","path":"/d.mp3","size":70000,"ms":3}), $log);
node_hash(2, 'b', 'http://127.0.0.1:' . free_port(), 'active', 9000, 1);   # most free, closed
node_hash(4, 'd', "http://127.0.0.1:$fport", 'active', 1000, 1);
node_hash(1, 'a', 'http://127.0.0.1:' . free_port(), 'active', 3000, 1);   # next, closed too
$out = fsdfs('put', $file, '/d.mp3');
$rc = $? >> 8;
waitpid($fpid, 0);
is($rc, 0, 'put: b and a refuse connections, d takes it: exit 0') or diag($out);
like($out, qr/node b .*\n.*trying node a instead\n.*node a .*\n.*trying node d instead\n.*stored \/d\.mp3 on node d/s,
     'tries b, then a, then d, and says so') or diag($out);
is(logged($log)->{body}, slurp($file), 'd got the whole file, from its start');
node_hash(1, 'a', 'http://127.0.0.1:' . free_port(), 'active', 3000, 1);
node_hash(4, 'd', 'http://127.0.0.1:' . free_port(), 'active', 1000, 1);
$out = fsdfs('put', $file, '/e.mp3');
is($? >> 8, 4, 'put: every node refuses: exit 4') or diag($out);
is(scalar(() = $out =~ /trying node/g), 2, 'three nodes tried, no more') or diag($out);
redis_cli('DEL', 'fsdfs:alive:2');      # b back to dead, as the listings below expect

# the index already has the path: refused before any node is asked
my $bkey = bucket_key('/music/old.mp3');
redis_cli('HSET', $bkey, '/music/old.mp3', "1 5 $sum 1700000000 1");
$out = fsdfs('put', $file, '/music/old.mp3');
is($? >> 8, 4, 'put of an indexed path: exit 4');
like($out, qr/refused: "\/music\/old\.mp3" already exists/, 'says it exists');

my $free = free_port();
$out = `@{[build_dir()]}/fsdfs -r 127.0.0.1:$free put $file /c.mp3 2>&1`;
is($? >> 8, 3, 'put with Redis down: exit 3');

# --- rm ---------------------------------------------------------------------------

my $p1 = '/music/rm/one.mp3';
my $k1 = bucket_key($p1);
redis_cli('HSET', $k1, $p1, "1 5 $sum 1700000000 1,2,4 n=2");
my $xlen = redis_cli('XLEN', 'fsdfs:events');
$out = fsdfs('rm', $p1);
is($? >> 8, 0, 'rm: exit 0') or diag($out);
like($out, qr/removed \Q$p1\E \(holders: 1,2,4\)/, 'rm names the holders');
is(redis_cli('HEXISTS', $k1, $p1), 0, 'the record is gone');
my $score = redis_cli('ZSCORE', 'fsdfs:tomb', $p1);
ok(defined $score && abs($score - time) < 5, "tombstone with score ~now ($score)");
is(redis_cli('XLEN', 'fsdfs:events'), $xlen + 1, 'one event');
my @ev = split /\n/, redis_cli('XREVRANGE', 'fsdfs:events', '+', '-', 'COUNT', 1);
is_deeply([ @ev[1 .. $#ev] ], [ 'type', 'rm', 'path', $p1, 'holders', '1,2,4' ],
          'event: type rm path P holders 1,2,4');

$out = fsdfs('rm', $p1);
is($? >> 8, 1, 'rm again: exit 1') and like($out, qr/not indexed/, 'says not indexed');
is(redis_cli('XLEN', 'fsdfs:events'), $xlen + 1, 'and no event');
fsdfs('rm', 'bad');
is($? >> 8, 2, 'rm bad path: exit 2');
fsdfs('rm', '/a.mp3', '/b.mp3');
is($? >> 8, 2, 'rm two paths: exit 2');

my $p2 = '/music/rm/corrupt.mp3';
redis_cli('HSET', bucket_key($p2), $p2, 'junk record 1 2 3,4');
$out = fsdfs('rm', $p2);
is($? >> 8, 0, 'rm of a corrupt record: exit 0, removed anyway');
like($out, qr/warning: corrupt record/, 'with a warning');
@ev = split /\n/, redis_cli('XREVRANGE', 'fsdfs:events', '+', '-', 'COUNT', 1);
is($ev[-1], '3,4', 'its holders are still named when they parse');

$out = `@{[build_dir()]}/fsdfs -r 127.0.0.1:$free rm /a.mp3 2>&1`;
is($? >> 8, 3, 'rm with Redis down: exit 3');

# --- set --------------------------------------------------------------------------

my $p3 = '/music/set/x.mp3';
my $k3 = bucket_key($p3);
redis_cli('HSET', $k3, $p3, "1 5 $sum 1700000000 1,2");
$xlen = redis_cli('XLEN', 'fsdfs:events');
$out = fsdfs('set', $p3, 'replicas=5', 'genre=rock', 'year=1999');
is($? >> 8, 0, 'set: exit 0') or diag($out);
is(redis_cli('HGET', $k3, $p3), "1 5 $sum 1700000000 1,2 n=5 genre=rock year=1999",
   'redis-cli HGET shows n= and the variables');
is(redis_cli('XLEN', 'fsdfs:events'), $xlen + 1, 'one event');
@ev = split /\n/, redis_cli('XREVRANGE', 'fsdfs:events', '+', '-', 'COUNT', 1);
is_deeply([ @ev[1 .. $#ev] ], [ 'type', 'set', 'path', $p3 ], 'event: type set path P');

fsdfs('set', $p3, 'genre=', 'year=2001', 'replicas=default');
is(redis_cli('HGET', $k3, $p3), "1 5 $sum 1700000000 1,2 year=2001",
   'VAR= removes, VAR=V replaces, replicas=default drops n=');
like(fsdfs('where', $p3), qr/replicas by policy/, 'where agrees');
$xlen = redis_cli('XLEN', 'fsdfs:events');
$out = fsdfs('set', $p3, 'year=2001');
is($? >> 8, 0, 'set to the same value: exit 0') and like($out, qr/unchanged/, 'says unchanged');
is(redis_cli('XLEN', 'fsdfs:events'), $xlen, 'and writes no event');

my $raw3 = redis_cli('HGET', $k3, $p3);
for my $bad ([ 'replicas=0' ], [ 'replicas=256' ], [ 'replicas=x' ], [ 'replicas=' ],
             [ 'replicas=+3' ], [ 'n=3' ], [ 'Genre=x' ], [ '9x=1' ], [ 'genre' ],
             [ 'genre=a b' ], [ 'genre=a/b' ], [ 'genre=' . ('x' x 33) ],
             [ 'averyveryverylongname=1' ], [ 'genre=ok', 'replicas=1000' ],
             [ map { "v$_=1" } 1 .. 8 ]) {
    $out = fsdfs('set', $p3, @$bad);
    is($? >> 8, 2, "set @$bad[0 .. ($#$bad < 2 ? $#$bad : 2)]: exit 2");
}
like($out, qr/more than 8 variables/, 'too many variables: says so');
is(redis_cli('HGET', $k3, $p3), $raw3, 'bad values changed nothing (raw record)');
is(redis_cli('XLEN', 'fsdfs:events'), $xlen, 'and wrote no event');
fsdfs('set', '/music/set/none.mp3', 'replicas=2');
is($? >> 8, 1, 'set on an unknown path: exit 1');
fsdfs('set', $p3);
is($? >> 8, 2, 'set without assignments: exit 2');
my $kc = bucket_key('/music/set/corrupt.mp3');
redis_cli('HSET', $kc, '/music/set/corrupt.mp3', 'junk');
$out = fsdfs('set', '/music/set/corrupt.mp3', 'replicas=2');
is($? >> 8, 4, 'set on a corrupt record: exit 4') and like($out, qr/corrupt record/, 'says so');
is(redis_cli('HGET', $kc, '/music/set/corrupt.mp3'), 'junk', 'left as it was');

# concurrent sets on one bucket: WATCH retries, nothing lost
my @pids = map {
    my $i = $_;
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec "@{[build_dir()]}/fsdfs", '-r', "127.0.0.1:$redis", 'set', $p3, "c$i=$i";
        exit 127;
    }
    $pid;
} 1 .. 6;
my $fails = 0;
for (@pids) { waitpid($_, 0); $fails++ if $? }
is($fails, 0, 'six concurrent sets: all exit 0');
my ($head3, @vars3) = split / (?=[a-z]\w*=)/, redis_cli('HGET', $k3, $p3);
is($head3, "1 5 $sum 1700000000 1,2", 'six concurrent sets: size, sum, holders kept');
is_deeply([ sort @vars3 ], [ (map { "c$_=$_" } 1 .. 6), 'year=2001' ],
          'six concurrent sets: every variable is there');

# --- status -----------------------------------------------------------------------

$out = fsdfs('status');
is($? >> 8, 0, 'status without fsdfsd: exit 0') or diag($out);
like($out, qr/^master\s+no master/m, 'says no master');
like($out, qr/^epoch\s+7$/m, 'shows the epoch');
like($out, qr/^figures\s+none/m, 'no figures yet');
like($out, qr/^\s+1\s+a\s+active\s+yes\s+\[#{14}\.{6}\]\s+70%\s+6\.8K\/9\.8K\s+3\s+1\s+-$/m,
     'node a: fill bar 70% of the quota, no max K-N published') or diag($out);
like($out, qr/^\s+2\s+b\s+active\s+NO\s/m, 'node b: not alive');
my $j = eval { decode_json(fsdfs('status', '--json')) };
ok($j, 'status --json parses');
is($j->{master}, undef, 'json: master null');
is($j->{stats}, undef, 'json: stats null');
is($j->{epoch}, 7, 'json: epoch');
is(scalar @{$j->{nodes}}, 4, 'json: four nodes');

# the fields fsdfsd publishes (sidecar/stats.c), and one it may add later
redis_cli('HSET', 'fsdfs:stats', files => 1200, bytes => 5 * 1024 * 1024 * 1024, min_kn => -1,
          copy_bytes => 15 * 1024 * 1024 * 1024, under => 3, lost => 1, pulls_inflight => 2,
          pulls_done => 340, pulls_failed => 5, drops_done => 10, drops_failed => 0,
          plan_usec => 1234, nodes_live => 3, master => 'm1', epoch => 8,
          updated => int(time * 1000) - 1500, newfield => 'x');
redis_cli('HSET', 'fsdfs:kn', -1 => 3, 0 => 1000, 2 => 197, -2 => 1);
redis_cli('SET', 'fsdfs:master', 'm1:8', 'PX', 3000);
redis_cli('SET', 'fsdfs:epoch', 8);
$out = fsdfs('status');
is($? >> 8, 0, 'status with a master: exit 0');
like($out, qr/^master\s+m1, lease epoch 8, [0-3]\.\d s left$/m, 'the master, its epoch and lease');
like($out, qr/^epoch\s+8$/m, 'the epoch');
like($out, qr/^files\s+1200 \(5\.0G, all copies 15\.0G\), min\(K-N\) -1, under N 3, lost 1$/m,
     'file figures');
like($out, qr/^pulls\s+2 in flight, 340 done, 5 failed; drops 10 done, 0 failed$/m, 'transfers');
# the age depends on how fast this machine runs the commands: 1.5 s and up
like($out, qr/^figures\s+by m1, epoch 8, 3 live nodes, plan 1\.2 ms, updated [1-9]\.\d s ago$/m,
     'who published, how long ago');
like($out, qr/^other\s+newfield x$/m, 'unknown stats fields are still shown');
like($out, qr/^\s+-2\s+#\s+1\n\s+-1\s+#\s+3\n\s+\+0\s+#{40}\s+1000\n\s+\+2\s+#{7}\s+197$/m,
     'K-N histogram, sorted, as bars') or diag($out);

$j = eval { decode_json(fsdfs('status', '--json')) };
ok($j, 'status --json parses') or diag(fsdfs('status', '--json'));
is_deeply($j->{master}{holder}, 'm1', 'json: master holder');
is($j->{master}{epoch}, 8, 'json: master epoch');
ok($j->{master}{ttl_ms} > 0 && $j->{master}{ttl_ms} <= 3000, 'json: lease ttl');
is($j->{epoch}, 8, 'json: epoch');
is_deeply($j->{kn}, { -2 => 1, -1 => 3, 0 => 1000, 2 => 197 }, 'json: K-N histogram');
is($j->{stats}{files}, 1200, 'json: stats files');
is($j->{stats}{min_kn}, -1, 'json: stats min_kn, a number');
is($j->{stats}{newfield}, 'x', 'json: every stats field');
ok($j->{stats_age} >= 1.4 && $j->{stats_age} < 5, 'json: stats age');
is_deeply([ @{$j->{nodes}[0]}{qw(id name alive state url quota used free files load)} ],
          [ 1, 'a', JSON::PP::true, 'active', $j->{nodes}[0]{url}, 10000, 7000, 3000, 3, 1 ],
          'json: node a');
ok(!$j->{nodes}[1]{alive}, 'json: node b not alive');

redis_cli('SET', 'fsdfs:stats_junk', 1);
redis_cli('SET', 'fsdfs:updated_old', 1);
redis_cli('HSET', 'fsdfs:stats', 'updated', int(time * 1000) - 60000);
like(fsdfs('status'), qr/updated 60\.\d s ago \(STALE/, 'an old publication is flagged');
fsdfs('status', 'extra');
is($? >> 8, 2, 'status extra: exit 2');
$out = `@{[build_dir()]}/fsdfs -r 127.0.0.1:$free status 2>&1`;
is($? >> 8, 3, 'status with Redis down: exit 3');

# --- put through real nodes, when the module has the PUT command ---------------

SKIP: {
    my ($rc0, $t) = nginx_t(node_conf(name => 'probe', port => free_port(), commands => 1,
                                      prefix => '@PREFIX@'));
    skip "the module has no signed commands yet: $t", 1 if $rc0;

    # a Redis of their own: the stand-in nodes above stay out of the choice
    my $r2 = start_redis();
    fsdfs($r2, 'init', '--buckets', '64');
    # nginx refuses bodies over 1 MB by default: a command location for
    # puts needs client_max_body_size (pc keeps the default, to see 413)
    my $big_ok = 'client_max_body_size 0;';
    my $na = start_node(name => 'pa', commands => 1, redis => $r2, server => $big_ok);
    my $nb = start_node(name => 'pb', commands => 1, redis => $r2, quota => '1m',
                        server => $big_ok);
    my $nc = start_node(name => 'pc', commands => 1, redis => $r2);
    ok(wait_for(sub {
        3 == grep { my $id = node_id($r2, $_); $id && redis_cli($r2, 'EXISTS', "fsdfs:alive:$id") == 1 }
            qw(pa pb pc);
    }, 10), 'three nodes registered and alive');
    sleep 1.2;     # one node-table refresh: a node answers 503 until then

    # commands may exist before put does: an unsigned PUT tells
    my $probe = http($na->{port}, 'PUT', '/_fsdfs/put?path=/x', 'Content-Length' => 0);
    skip "the module answers no PUT command yet ($probe->{status})", 1
        unless $probe->{body} =~ /"op":"put"/;

    my $body = join '', map { chr(($_ * 13) % 256) } 1 .. 100000;
    $out = put_file('/music/real/one.mp3', $body, '--node', 'pa');
    is($? >> 8, 0, 'put to a real node: exit 0') or diag($out);
    like($out, qr/"ok":true/, 'its JSON answer is shown');
    is(slurp("$na->{root}/music/real/one.mp3"), $body, 'the file is on pa, byte for byte');
    my $w = eval { decode_json(fsdfs($r2, 'where', '/music/real/one.mp3', '--json')) };
    is($w && $w->{size}, 100000, 'indexed with its size');
    is($w && join(',', map { $_->{name} } @{$w->{holders}}), 'pa', 'held by pa only');
    is($w && $w->{n}, 0, 'replicas by policy');
    my $r = http($na->{port}, 'GET', '/music/real/one.mp3');
    is($r->{status}, 200, 'GET through pa: 200');
    is($r->{body}, $body, 'the same bytes');
    $r = http($nb->{port}, 'GET', '/music/real/one.mp3');
    is($r->{status}, 302, 'GET through pb: 302');
    like($r->{headers}{location} // '', qr{^$na->{url}/music/real/one\.mp3}, 'to pa');

    $out = put_file('/music/real/one.mp3', $body, '--node', 'pb');
    is($? >> 8, 4, 'put of the same path again: exit 4') and like($out, qr/already exists/, 'refused');
    ok(!-e "$nb->{root}/music/real/one.mp3", 'nothing written on pb');

    write_file("$na->{root}/music/real/stray.mp3", 'not indexed');
    $out = put_file('/music/real/stray.mp3', 'other bytes', '--node', 'pa');
    is($? >> 8, 4, 'put over a file on disk the index does not know: exit 4');
    like($out, qr/answered 409: exists on disk/, 'the node says 409, exists on disk');
    is(slurp("$na->{root}/music/real/stray.mp3"), 'not indexed', 'the file on disk is untouched');

    $out = put_file('/music/real/two.mp3', 'two' x 1000, '--replicas', 2);
    is($? >> 8, 0, 'put with no --node: exit 0') or diag($out);
    my ($chosen) = $out =~ /on node (\S+) /;
    my ($node) = grep { $_->{name} eq ($chosen // '') } $na, $nb, $nc;
    $node //= $na;
    is(slurp("$node->{root}/music/real/two.mp3"), 'two' x 1000, "stored on the node it names ($chosen)");
    like(redis_cli($r2, 'HGET', bucket_key($r2, '/music/real/two.mp3'), '/music/real/two.mp3'),
         qr/ n=2$/, '--replicas 2: the record has n=2');

    my $big = join '', map { chr(($_ * 31) % 256) } 1 .. 2_000_000;
    $out = put_file('/music/real/big.mp3', $big, '--node', 'pa');
    is($? >> 8, 0, 'a 2 MB put (Expect: 100-continue): exit 0') or diag($out);
    is(-s "$na->{root}/music/real/big.mp3", 2_000_000, 'all of it on pa');
    $out = put_file('/music/real/toobig.mp3', $big, '--node', 'pb');
    is($? >> 8, 4, 'a put over the quota of pb: exit 4');
    like($out, qr/answered 507/, 'the node says 507');
    ok(!-e "$nb->{root}/music/real/toobig.mp3", 'nothing stored');
    $out = put_file('/music/real/toobig.mp3', $big, '--node', 'pc');
    is($? >> 8, 4, 'a put over client_max_body_size: exit 4');
    like($out, qr/answered 413 .*client_max_body_size/, 'the CLI says which setting refused it');
    is(redis_cli($r2, 'HEXISTS', bucket_key($r2, '/music/real/toobig.mp3'), '/music/real/toobig.mp3'),
       0, 'nothing indexed');

    my $other = tmp() . '/other-secret';
    write_file($other, 'x' x 48);
    chmod 0600, $other;
    my $f = tmp() . '/three.mp3';
    write_file($f, 'three');
    $out = fsdfs($r2, '-s', $other, 'put', $f, '/music/real/three.mp3', '--node', 'pa');
    is($? >> 8, 4, 'put signed with another secret: exit 4');
    like($out, qr/answered 403/, 'the node says 403');
    ok(!-e "$na->{root}/music/real/three.mp3", 'nothing stored');

    $out = fsdfs($r2, 'rm', '/music/real/one.mp3');
    is($? >> 8, 0, 'rm of a real file: exit 0');
    like($out, qr/holders: \d+\)/, 'names its holder');
    ok(defined redis_cli($r2, 'ZSCORE', 'fsdfs:tomb', '/music/real/one.mp3'), 'tombstoned');
    $out = put_file('/music/real/one.mp3', $body, '--node', 'pb');
    is($? >> 8, 0, 'delete then put: the path can be stored again') or diag($out);
    is(slurp("$nb->{root}/music/real/one.mp3"), $body, 'on pb');
}

finish();
