#!/usr/bin/perl
# Pull: a node fetches a copy from a peer named by node id, into a temp
# file checked for size and sum before it is renamed into place. Every
# outcome has its status: 200 (also when the copy was already there), 404
# (the source lacks it), 409 (size or sum), 502 (source down), 504
# (source stalled), 507 (quota), 429 (too many at once). No failure leaves
# a temp file; stale ones are swept at start. The source is asked with
# X-Fsdfs-Local and never redirects.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $redis = start_redis();
fsdfs('init', '--buckets', '256');
my ($secret_file, $secret) = write_secret();
my $cmds = "location /_fsdfs/ { fsdfs_commands; client_max_body_size 0; }";
my $http = "fsdfs_secret $secret_file; fsdfs_pull_timeout 2s;";

# stale temp files under a's root before it starts
my $aroot = tmp() . '/node-a/data';
write_file("$aroot/m/.fsdfs-tmp-junk", 'junk');
write_file("$aroot/.fsdfs-tmp-1-0123456789abcdef", 'old');
write_file("$aroot/m/.fsdfs-tmpx", 'not a temp file');
write_file("$aroot/m/keep.mp3", 'keep');

my $a = start_node(name => 'a', http => "$http fsdfs_pull_concurrency 1;",
                   server => $cmds);
my $b = start_node(name => 'b', http => $http, server => $cmds);

# a node that accepts connections and never answers, one whose port is closed
my $stall = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 16, Proto => 'tcp') or die $!;
my $stall_port = $stall->sockport;
my $dead_port = free_port();
redis_cli('HSET', 'fsdfs:nodes', 'stall', 50);
redis_cli('HSET', 'fsdfs:node:50', 'url', "http://127.0.0.1:$stall_port", 'state', 'active');
redis_cli('SET', 'fsdfs:alive:50', 1);
redis_cli('HSET', 'fsdfs:nodes', 'dead', 51);
redis_cli('HSET', 'fsdfs:node:51', 'url', "http://127.0.0.1:$dead_port", 'state', 'active');
redis_cli('SET', 'fsdfs:alive:51', 1);
redis_cli('HSET', 'fsdfs:nodes', 'gone', 52);
redis_cli('HSET', 'fsdfs:node:52', 'url', "http://127.0.0.1:$dead_port", 'state', 'active');

ok(wait_for(sub {
    my $j = status_json($a) or return 0;
    5 == grep { $_->{url} } @{$j->{nodes} // []};
}, 5), 'a sees every node');
sleep 1.1;
my $bid = node_id('b');

ok(wait_for(sub { !-e "$aroot/m/.fsdfs-tmp-junk" && !-e "$aroot/.fsdfs-tmp-1-0123456789abcdef" }, 5),
   'stale temp files removed at start');
ok(-f "$aroot/m/.fsdfs-tmpx" && -f "$aroot/m/keep.mp3", 'other files kept');
like(log_of($a), qr/removed 2 stale temp files/, 'sweep logged');

my $data = join '', map { chr(($_ * 7) % 256) } 1 .. 300_000;
write_file("$b->{root}/music/x.mp3", $data);
my @x = (path => '/music/x.mp3', from => $bid, size => length $data, sum => sum64($data));

sub no_temp {
    my ($what) = @_;
    my @t = temp_files($a->{root});
    ok(!@t, "$what: no temp file left") or diag("@t");
}

# the good pull, then again
my $r = cmd($a, $secret, 'pull', \@x);
is($r->{status}, 200, 'pull: 200') or diag($r->{body});
is_deeply([@{$r->{json} // {}}{qw(op path size)}], ['pull', '/music/x.mp3', length $data],
          'pull: JSON op, path, size');
like($r->{body}, qr/^\{"ok":true,.*"ms":\d+\}$/, 'pull: ok and ms');
ok(slurp("$a->{root}/music/x.mp3") eq $data, 'pull: the bytes are equal');
is((stat "$a->{root}/music/x.mp3")[2] & 0777, 0644, 'pull: mode 0644');
no_temp('pull');
$r = cmd($a, $secret, 'pull', \@x);
is($r->{status}, 200, 'pull again: 200 (idempotent)');
ok(slurp("$a->{root}/music/x.mp3") eq $data, 'pull again: same bytes');
my $j = status_json($a);
cmp_ok($j->{counters}{pulls_done}, '>=', 2, 'pulls counted');
cmp_ok($j->{disk}{used}, '>=', length $data, 'disk used counts the new copy');

# names that need encoding
my $odd = "/music/a+b,=@(1)~/\xc3\xa9t\xc3\xa9!.mp3";
write_file("$b->{root}$odd", 'odd bytes');
$r = cmd($a, $secret, 'pull', [path => $odd, from => $bid, size => 9, sum => sum64('odd bytes')]);
is($r->{status}, 200, "pull of a name with + ( ) ! and UTF-8: 200") or diag($r->{body});
is(slurp("$a->{root}$odd"), 'odd bytes', 'its bytes');

# failures, each with its status and no debris
write_file("$b->{root}/music/y.mp3", 'y' x 1000);
my @y = (path => '/music/y.mp3', from => $bid);
$r = cmd($a, $secret, 'pull', [path => '/music/none.mp3', from => $bid, size => 1, sum => '0' x 16]);
is($r->{status}, 404, 'source lacks it: 404');
like($r->{json}{error} // '', qr/source does not have it/, '404: error says so');
ok(!-e "$a->{root}/music/none.mp3", '404: no file');
$r = cmd($a, $secret, 'pull', [@y, size => 1000, sum => sum64('z' x 1000)]);
is($r->{status}, 409, 'wrong sum: 409');
like($r->{json}{error} // '', qr/checksum mismatch/, '409: checksum mismatch');
$r = cmd($a, $secret, 'pull', [@y, size => 999, sum => sum64('y' x 999)]);
is($r->{status}, 409, 'size too small: 409');
like($r->{json}{error} // '', qr/size mismatch/, '409: size mismatch');
$r = cmd($a, $secret, 'pull', [@y, size => 1001, sum => sum64('y' x 1001)]);
is($r->{status}, 409, 'size too large: 409');
ok(!-e "$a->{root}/music/y.mp3", '409: no file');
no_temp('404 and 409');
$r = cmd($a, $secret, 'pull', [path => '/music/y.mp3', from => 51, size => 1000, sum => sum64('y' x 1000)]);
is($r->{status}, 502, 'source down: 502');
like($r->{json}{error} // '', qr/source failed/, '502: source failed');
$r = cmd($a, $secret, 'pull', [path => '/music/y.mp3', from => 52, size => 1000, sum => sum64('y' x 1000)]);
is($r->{status}, 502, 'source not alive: 502');
like($r->{json}{error} // '', qr/source not alive/, '502: source not alive');
# a copy already here is done whatever the source's state: a new master
# settling a pull its predecessor sent must hear so
write_file("$a->{root}/music/here.mp3", 'h' x 500);
$r = cmd($a, $secret, 'pull', [path => '/music/here.mp3', from => 52, size => 500, sum => sum64('h' x 500)]);
is($r->{status}, 200, 'a copy already here, source not alive: 200') or diag($r->{body});
unlink "$a->{root}/music/here.mp3";
my $t0 = time;
$r = cmd($a, $secret, 'pull', [path => '/music/y.mp3', from => 50, size => 1000, sum => sum64('y' x 1000)]);
my $took = time - $t0;
is($r->{status}, 504, 'source stalled: 504');
ok($took >= 1.5 && $took < 10, sprintf('504 after the 2 s pull timeout (%.1f s)', $took));
no_temp('502 and 504');

# a different file in the way
write_file("$a->{root}/music/y.mp3", 'other');
$r = cmd($a, $secret, 'pull', [@y, size => 1000, sum => sum64('y' x 1000)]);
is($r->{status}, 409, 'a different file in the way: 409');
is(slurp("$a->{root}/music/y.mp3"), 'other', 'it is left alone');
unlink "$a->{root}/music/y.mp3";

# concurrency 1 on a: a second pull while one stalls is 429
my $bg = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$a->{port}") or die $!;
my $q = sign_cmd($secret, 'POST', '/_fsdfs/pull',
                 [path => '/music/z.mp3', from => 50, size => 1, sum => '0' x 16]);
print $bg "POST /_fsdfs/pull?$q HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
ok(wait_for(sub { (status_json($a)->{node}{pulls} // 0) == 1 }, 2), 'one pull running');
$r = cmd($a, $secret, 'pull', [@y, size => 1000, sum => sum64('y' x 1000)]);
is($r->{status}, 429, 'over fsdfs_pull_concurrency: 429');
is($r->{headers}{'retry-after'}, 1, '429: Retry-After');
my $first = do { local $/; <$bg> } // '';
like($first, qr{^HTTP/1.1 504}, 'the running one ends in 504');
ok(wait_for(sub { (status_json($a)->{node}{pulls} // 1) == 0 }, 5), 'no pull running');
$r = cmd($a, $secret, 'pull', [@y, size => 1000, sum => sum64('y' x 1000)]);
is($r->{status}, 200, 'then a pull runs again: 200');
no_temp('429');

# a reload while a pull runs: the old worker finishes it, the slot comes back
$bg = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$a->{port}") or die $!;
print $bg "POST /_fsdfs/pull?$q HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
ok(wait_for(sub { (status_json($a)->{node}{pulls} // 0) == 1 }, 2), 'a pull running before the reload');
ok(reload($a), 'reload while it runs');
$first = do { local $/; <$bg> } // '';
like($first, qr{^HTTP/1.1 504}, 'the pull still got its answer (504)');
# as above, the slot may come back a moment after the answer
ok(wait_for(sub { (status_json($a)->{node}{pulls} // 1) == 0 }, 5),
   'no pull slot lost over the reload')
    or diag('pulls: ' . (status_json($a)->{node}{pulls} // 'none'));
unlink "$a->{root}/music/y.mp3";
$r = cmd($a, $secret, 'pull', [@y, size => 1000, sum => sum64('y' x 1000)]);
is($r->{status}, 200, 'after the reload a pull runs: 200');
no_temp('reload');

# quota: a node with a tiny one answers 507
my $c = start_node(name => 'c', http => "$http fsdfs_quota 2k;", server => $cmds);
ok(wait_for(sub {
    my $j = status_json($c) or return 0;
    $j->{node}{id} && 5 <= grep { $_->{url} } @{$j->{nodes} // []};
}, 5), 'c up');
sleep 1.1;
$r = cmd($c, $secret, 'pull', \@x);
is($r->{status}, 507, 'over the quota: 507');
like($r->{json}{error} // '', qr/over quota/, '507: over quota');
ok(!-e "$c->{root}/music/x.mp3", '507: no file');
$r = cmd($c, $secret, 'pull', [@y, size => 1000, sum => sum64('y' x 1000)]);
is($r->{status}, 200, 'under the quota: 200');

# the pull request: X-Fsdfs-Local is served locally or 404, never redirected
write_file("$b->{root}/music/only-b.mp3", 'only on b');
my $out = fsdfs('scan', 'b', $b->{root});
is($? >> 8, 0, 'scan b') or diag($out);
is(http($a->{port}, 'GET', '/music/only-b.mp3')->{status}, 302, 'a redirects a plain GET');
$r = http($a->{port}, 'GET', '/music/only-b.mp3', 'X-Fsdfs-Local' => 1);
is($r->{status}, 404, 'X-Fsdfs-Local: 404, not a redirect');
ok(!$r->{headers}{location}, 'X-Fsdfs-Local: no Location');
is(http($a->{port}, 'GET', '/music/x.mp3', 'X-Fsdfs-Local' => 1)->{status}, 200,
   'X-Fsdfs-Local: a local file is served');
is(http($a->{port}, 'GET', '/music/nothing.mp3', 'X-Fsdfs-Local' => 1)->{status}, 404,
   'X-Fsdfs-Local: unknown is 404');

no_temp('the end');
unlike(log_of($a), qr/\[(alert|crit|emerg)\]/, 'no alert, crit or emerg in a');
like(log_of($a), qr/\[warn\].*fsdfs: pull "\/music\/y.mp3" refused: 504 source timed out/,
     'a failure is one warn line');

finish();
