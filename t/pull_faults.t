#!/usr/bin/perl
# Pull faults against fake sources (small Perl servers registered as nodes
# in Redis) and a full disk: a source that dies mid-body (502), sends the
# right length of wrong bytes (409), a short close-delimited body (409),
# stalls mid-body (504 within fsdfs_pull_timeout), a target whose root is
# a 1 MB tmpfs (root only). Each ends with a clean answer, one log line,
# no final file and no temp file. (The master retrying from another source
# is not tested here: it picks sources by load and does not yet avoid one
# that failed.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my (@kids, $mounted);
END {
    local $?;                           # the reaped children's status is not ours
    kill 'KILL', @kids if @kids;
    waitpid($_, 0) for @kids;
    if ($mounted) {
        system('umount', '-l', $mounted);
    }
}

my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '3');
my ($secret_file, $secret) = write_secret();
my $cmds = "location /_fsdfs/ { fsdfs_commands; client_max_body_size 0; }";
my $http = "fsdfs_secret $secret_file; fsdfs_pull_timeout 2s;";

my $a = start_node(name => 'a', http => $http, server => $cmds);
my $b = start_node(name => 'b', http => $http, server => $cmds);

# fake_node(ID, NAME, HANDLER): a forked server on a free port whose
# HANDLER(socket, request head) answers each connection; registered as
# node ID, kept alive by a forked heartbeat (load from $tmp/load-ID).
sub fake_node {
    my ($id, $name, $handler) = @_;
    my $ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 64, Proto => 'tcp', ReuseAddr => 1) or die $!;
    my $port = $ls->sockport;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        while (my $c = $ls->accept) {
            my $head = '';
            while (defined(my $l = <$c>)) { $head .= $l; last if $l eq "\r\n" }
            $handler->($c, $head);
            close $c;
        }
        POSIX::_exit(0);
    }
    close $ls;
    push @kids, $pid;
    my $url = "http://127.0.0.1:$port";
    redis_cli('HSET', 'fsdfs:nodes', $name, $id);
    my $hb = fork() // die "fork: $!";
    if ($hb == 0) {
        while (1) {
            my $load = -e tmp() . "/load-$id" ? slurp(tmp() . "/load-$id") + 0 : 0;
            redis_cli('HSET', "fsdfs:node:$id", 'name', $name, 'url', $url, 'state', 'active',
                      'quota', 0, 'used', 0, 'free', 1 << 30, 'files', 1, 'load', $load,
                      'conns', $load, 'pulls', 0, 'ts', int(time * 1000));
            redis_cli('SET', "fsdfs:alive:$id", 1, 'PX', 3000);
            sleep 0.5;
        }
    }
    push @kids, $hb;
    return { id => $id, name => $name, port => $port, url => $url };
}

sub head200 {
    my ($c, %h) = @_;
    print $c "HTTP/1.1 200 OK\r\nConnection: close\r\n", (map { "$_: $h{$_}\r\n" } sort keys %h), "\r\n";
}

my $good = blob(7, 100_000);
my $len = length $good;
# 1: Content-Length N, half the body, close
fake_node(60, 'half', sub { my ($c) = @_; head200($c, 'Content-Length' => $len);
                            print $c substr($good, 0, $len / 2) });
# 2: the right length, wrong bytes
fake_node(61, 'wrong', sub { my ($c) = @_; head200($c, 'Content-Length' => $len);
                             print $c blob(8, $len) });
# 3: no Content-Length, a short body, close
fake_node(62, 'short', sub { my ($c) = @_; head200($c); print $c substr($good, 0, $len - 100) });
# 4: stalls mid-body
fake_node(63, 'stall', sub { my ($c) = @_; head200($c, 'Content-Length' => $len);
                             print $c substr($good, 0, 1000); $c->flush; sleep 30 });

ok(wait_for(sub {
    my $j = status_json($a) or return 0;
    6 <= grep { $_->{url} && $_->{alive} } @{$j->{nodes} // []};
}, 10), 'a sees the fake nodes alive');
sleep 1.1;

sub nothing_left {
    my ($what, $node, $path) = @_;
    ok(!-e "$node->{root}$path", "$what: no final file");
    my @t = temp_files($node->{root});
    ok(!@t, "$what: no temp file") or diag("@t");
}

sub one_line {
    my ($what, $node, $path, $re) = @_;
    my @l = grep { /fsdfs: pull "\Q$path\E"/ } split /^/, log_of($node);
    is(scalar @l, 1, "$what: one log line") or diag(@l);
    like($l[0] // '', $re, "$what: the line says why") if $re;
    my @bad = grep { /\[(alert|crit|emerg)\]/ } split /^/, log_of($node);
    ok(!@bad, "$what: no alert") or diag(@bad);
}

my @sum = (size => $len, sum => sum64($good));
my $r = cmd($a, $secret, 'pull', [path => '/f/half.mp3', from => 60, @sum]);
is($r->{status}, 502, 'source dies mid-body: 502') or diag($r->{body});
nothing_left('mid-body death', $a, '/f/half.mp3');
one_line('mid-body death', $a, '/f/half.mp3', qr/\[warn\].*502/);

$r = cmd($a, $secret, 'pull', [path => '/f/wrong.mp3', from => 61, @sum]);
is($r->{status}, 409, 'wrong bytes: 409') or diag($r->{body});
like($r->{json}{error} // '', qr/checksum mismatch/, 'wrong bytes: checksum mismatch');
nothing_left('wrong bytes', $a, '/f/wrong.mp3');
one_line('wrong bytes', $a, '/f/wrong.mp3', qr/\[(?:info|warn)\].*409/);

$r = cmd($a, $secret, 'pull', [path => '/f/short.mp3', from => 62, @sum]);
is($r->{status}, 409, 'short close-delimited body: 409') or diag($r->{body});
like($r->{json}{error} // '', qr/size mismatch/, 'short body: size mismatch');
nothing_left('short body', $a, '/f/short.mp3');
one_line('short body', $a, '/f/short.mp3', qr/\[(?:info|warn)\].*409/);

my $t0 = time;
$r = cmd($a, $secret, 'pull', [path => '/f/stall.mp3', from => 63, @sum]);
my $took = time - $t0;
is($r->{status}, 504, 'stall mid-body: 504') or diag($r->{body});
ok($took >= 1.5 && $took < 16, sprintf('504 after the 2 s pull timeout (%.1f s)', $took));
nothing_left('stall', $a, '/f/stall.mp3');
one_line('stall', $a, '/f/stall.mp3', qr/\[warn\].*504/);
is(status_json($a)->{node}{pulls}, 0, 'no pull slot held after the faults');

# 5: the target's root is a 1 MB tmpfs, the file 2 MB
SKIP: {
    skip 'disk full: needs root to mount a tmpfs', 7 if $> != 0;
    my $croot = tmp() . '/node-c/data';
    system('mkdir', '-p', $croot);
    if (system('mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', $croot) != 0) {
        skip 'disk full: mount -t tmpfs failed', 7;
    }
    $mounted = $croot;
    my $c = start_node(name => 'c', http => $http, server => $cmds);
    ok(wait_for(sub {
        my $j = status_json($c) or return 0;
        $j->{node}{id} && grep { $_->{alive} && $_->{url} eq $b->{url} } @{$j->{nodes} // []};
    }, 10), 'c up on its tmpfs');
    sleep 1.1;
    my $big = blob(9, 2 << 20);
    write_file("$b->{root}/f/big.mp3", $big);
    $r = cmd($c, $secret, 'pull', [path => '/f/big.mp3', from => node_id('b'),
                                   size => length $big, sum => sum64($big)]);
    diag("disk full answered $r->{status}: $r->{body}");
    ok($r->{status} == 507 || ($r->{status} >= 400 && $r->{status} != 500),
       "disk full: a clean error, not 500 ($r->{status})");
    nothing_left('disk full', $c, '/f/big.mp3');
    one_line('disk full', $c, '/f/big.mp3');
    unlink "$b->{root}/f/big.mp3";
    stop_node($c);
    is(system('umount', $croot), 0, 'tmpfs unmounted');
    $mounted = undef;
}

finish();
