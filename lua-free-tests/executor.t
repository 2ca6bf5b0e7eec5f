#!/usr/bin/perl
# fsdfsd's executor against real HTTP, no mocks: a plain nginx answers
# every status the command contract has (one location per status, reached
# through a path prefix in the node URL) and logs each request's query,
# which Perl checks for a valid HMAC; a Perl server that answers only
# once 50 requests are open proves they run in parallel; a socket that
# never answers gives timeouts, a closed port gives transport errors.
# The C side is lua-free-tests/drive_executor.c.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);

my $bin = build_dir() . '/tests/drive_executor';
BAIL_OUT("$bin not built (make unit)") unless -x $bin;

my $secret = tmp() . '/ex-secret';
my $key = join '', map { sprintf '%02x', int rand 256 } 1 .. 24;
write_file($secret, "$key\n");
chmod 0600, $secret;

# --- the node: plain nginx, no fsdfs module needed ---------------------------

my $port = free_port();
my $name = 'ex';
my $p = tmp() . "/node-$name";
my $big = 'x' x 5000;
my %answer = (
    ok      => [200, '{"ok":true,"op":"pull"}'],
    fenced  => [403, '{"ok":false,"error":"old epoch"}'],
    badsig  => [403, '{"ok":false,"error":"bad signature"}'],
    lacks   => [404, '{"ok":false,"op":"pull","error":"source lacks it"}'],
    nocmd   => [404, '<html>not found</html>'],
    sum     => [409, '{"ok":false,"error":"checksum mismatch"}'],
    busy    => [429, '{"ok":false,"error":"too many pulls"}'],
    notready => [503, '{"ok":false,"error":"not ready"}'],
    srcfail => [502, '{"ok":false,"error":"source failed"}'],
    srctime => [504, '{"ok":false,"error":"source timed out"}'],
    full    => [507, '{"ok":false,"error":"no space"}'],
    bad     => [400, '{"ok":false,"error":"bad size"}'],
    broken  => [500, '{"ok":false,"error":"internal"}'],
);
my $locs = join "\n", map {
    "        location /$_/_fsdfs/ { return $answer{$_}[0] '$answer{$_}[1]'; }"
} sort keys %answer;

my $conf = <<"CONF";
daemon on;
master_process on;
worker_processes 2;
error_log $p/error.log info;
pid $p/nginx.pid;
events { worker_connections 1024; }
http {
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    log_format cmd '\$connection \$connection_requests \$request';
    server {
        listen 127.0.0.1:$port;
        access_log $p/cmd.log cmd;
        location /_fsdfs/ { return 200 '{"ok":true}'; }
$locs
        location /big/_fsdfs/ {
            root $p/data;
            error_page 404 =200 /big.json;
        }
        location = /big.json { root $p/data; }
    }
}
CONF

# nginx's `return` takes at most 4 KB: a long answer is a static file,
# reached through error_page (nothing is there: 404, turned into a GET of
# the file with status 200).
write_file("$p/data/big.json", $big);
$answer{big} = [200, $big];

my $node = start_node(name => $name, port => $port, conf => $conf);
my $url = $node->{url};

# --- helpers ---------------------------------------------------------------

my $runs = 0;

# Runs the driver on command lines; returns (\%done by id, \@refused ids,
# $end line, $stderr).
sub drive {
    my ($cmds, @opts) = @_;
    $runs++;
    my $dir = tmp() . "/driver";
    mkdir $dir;
    my $in = "$dir/in$runs";
    write_file($in, join '', map { "$_\n" } @$cmds);
    local $ENV{ASAN_OPTIONS} = "log_path=$dir/asan" if $ENV{FSDFS_ASAN};
    local $ENV{UBSAN_OPTIONS} = "print_stacktrace=1:log_path=$dir/ubsan"
        if $ENV{FSDFS_ASAN};
    my $out = `$bin -k $secret @opts < $in 2> $dir/err$runs`;
    my (%done, @refused, $end);
    for (split /\n/, $out) {
        my @f = split /\t/, $_, -1;
        if ($f[0] eq 'done') {
            $done{$f[1]} = { op => $f[2], outcome => $f[3], status => $f[4],
                             curl => $f[5], ms => $f[6], len => $f[7],
                             cut => $f[8], body => $f[9] };
        } elsif ($f[0] eq 'refused') {
            push @refused, $f[1];
        } elsif ($f[0] eq 'wakeup' || $f[0] eq 'extra') {
            $done{$f[0]} = [@f[1 .. $#f]];
        } elsif ($f[0] eq 'end') {
            $end = [@f[1, 2]];
        }
    }
    return (\%done, \@refused, $end, slurp("$dir/err$runs"), $? >> 8);
}

sub pct_decode {
    my ($s) = @_;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# The node's check, redone in Perl from the request line nginx logged (the
# original, as sent, whatever internal redirects followed): canon of the
# decoded parameters (sorted by name, sig left out), HMAC, compare.
sub verify_line {
    my ($line) = @_;
    my (undef, undef, $method, $target) = split / /, $line // '';
    return (0, {}, '') unless defined $target && $target =~ /\?/;
    my ($uri, $args) = split /\?/, $target, 2;
    my (%p, $sig);
    for (split /&/, $args) {
        my ($k, $v) = split /=/, $_, 2;
        if ($k eq 'sig') { $sig = $v; next; }
        $p{$k} = pct_decode($v);
    }
    my $canon = "$method\n$uri\n" . join '', map { "$_=$p{$_}\n" } sort keys %p;
    return (defined $sig && $sig eq hmac_sha256_hex($canon, $key), \%p, $args);
}

sub cmd_log { grep { length } split /\n/, slurp("$p/cmd.log") }

# nginx logs a request just after answering it: wait for $n lines.
sub wait_log {
    my ($n) = @_;
    wait_for(sub { cmd_log() >= $n }, 3);
    return cmd_log();
}

# --- statuses --------------------------------------------------------------

my @names = sort keys %answer;
my @cmds = map { "pull\t$url/$_\t/a.mp3\t2\t100\tabc" } @names;
push @cmds, "drop\t$url/nocmd\t/a.mp3", "drop\t$url/lacks\t/a.mp3",
            "drop\t$url/sum\t/a.mp3", "drop\t$url/srcfail\t/a.mp3",
            "drop\t$url/\t/a.mp3";
my ($done, $refused, $end, $err, $rc) = drive(\@cmds, '-e', 7);
is($rc, 0, 'driver exits 0');
is_deeply($end, [scalar @cmds, scalar @cmds], 'every command completed');
my %want = (
    ok => 'ok', big => 'ok', fenced => 'fenced (old epoch)',
    badsig => 'denied (signature or clock)', lacks => 'source lacks the file',
    nocmd => 'refused', sum => 'checksum mismatch', busy => 'node busy',
    notready => 'node busy', srcfail => 'source failed',
    srctime => 'source failed', full => 'no space', bad => 'refused',
    broken => 'node error',
);
for my $i (0 .. $#names) {
    my $n = $names[$i];
    my $d = $done->{$i} || {};
    is("$d->{status} $d->{outcome}", "$answer{$n}[0] $want{$n}",
       "pull answered $answer{$n}[0] ($n): $want{$n}");
}
my $d = $done->{$#names + 1};
is($d->{outcome}, 'refused', 'drop answered 404 without JSON: refused');
is($done->{$#names + 2}{outcome}, 'refused',
   'drop answered 404 in JSON: refused too (a drop never lacks)');
is($done->{$#names + 3}{outcome}, 'refused', 'drop answered 409: refused');
is($done->{$#names + 4}{outcome}, 'node error',
   'drop answered 502: node error, not a source problem');
is("$done->{$#names + 5}{status} $done->{$#names + 5}{outcome}", '200 ok',
   'a trailing / on the node URL is ignored');
my ($bi) = grep { $names[$_] eq 'big' } 0 .. $#names;
is("$done->{$bi}{len} $done->{$bi}{cut}", '4096 1',
   'a 5000-byte answer is kept to 4096 bytes and marked cut');
my ($oi) = grep { $names[$_] eq 'ok' } 0 .. $#names;
is($done->{$oi}{body}, '{"ok":true,"op":"pull"}', 'the JSON body is reported');
is($done->{$oi}{curl}, 0, 'no transport error on an answer');

# --- what went over the wire: signed, encoded, decodable --------------------

my @lines = wait_log(scalar @cmds);
is(scalar @lines, scalar @cmds, 'nginx saw every command once');
my @bad = grep { !(verify_line($_))[0] } @lines;
ok(!@bad, 'every query carries a valid signature') or diag($bad[0]);
my ($okv, $params) = verify_line((grep { m{ /ok/_fsdfs/pull\?} } @lines)[0]);
is_deeply([@$params{qw(path from size sum epoch)}],
          ['/a.mp3', 2, 100, '0000000000000abc', 7],
          'pull parameters: path, from, size, sum as 16 hex digits, epoch');
ok(abs($params->{ts} - time) <= 5, 'ts is now');
like((grep { m{ /ok/_fsdfs/pull\?} } @lines)[0],
     qr{^\d+ \d+ POST /ok/_fsdfs/pull\?path=/a\.mp3&from=2&size=100&sum=0000000000000abc&ts=\d+&epoch=7&sig=[0-9a-f]{64} HTTP/1\.1$},
     'the exact query: parameters, then ts, epoch, sig; POST; path prefix kept');
my ($dropline) = grep { m{ /nocmd/_fsdfs/drop\?} } @lines;
like($dropline, qr{ POST /nocmd/_fsdfs/drop\?path=/a\.mp3&ts=\d+&epoch=7&sig=[0-9a-f]{64} },
     'a drop carries only path, ts, epoch, sig');

# A path with everything that needs encoding
truncate "$p/cmd.log", 0;
my $odd = "/music/caf\xc3\xa9 & co/a+b=c%20~.mp3";
($done) = drive(["pull\t$url/ok\t$odd\t65535\t18446744073709551615\tffffffffffffffff",
                 "drop\t$url\t$odd"], '-e', '18446744073709551615');
is(join(' ', map { $done->{$_}{outcome} } 0, 1), 'ok ok',
   'a UTF-8 path with space, &, +, =, % and ~ is sent');
@lines = wait_log(2);
# Sent at once, so nginx may log the drop first.
my ($pull) = grep { m{/_fsdfs/pull\?} } @lines;
like($pull, qr{path=/music/caf%C3%A9%20%26%20co/a%2Bb%3Dc%2520~\.mp3&},
     'encoded as %XX uppercase, / and ~ kept');
my ($v0, $p0) = verify_line($pull);
my ($v1, $p1) = verify_line((grep { m{/_fsdfs/drop\?} } @lines)[0]);
ok($v0 && $v1, 'and signed over the decoded value');
is_deeply([@$p0{qw(path from size sum epoch)}],
          [$odd, 65535, '18446744073709551615', 'ffffffffffffffff',
           '18446744073709551615'],
          'decoded values equal what was sent, largest numbers whole');

# Commands the executor will not send: no callback, a refusal at once
truncate "$p/cmd.log", 0;
($done, $refused) = drive(["drop\t\t/a.mp3", "drop\t$url\t", "pull\t$url\t" . ('%' x 4000) . "\t1\t1\t1",
                           "drop\t$url\t/fine.mp3"]);
is("@$refused", '0 1 2', 'empty URL, empty path, a path too long to sign: refused');
is(join(' ', keys %$done), 3, 'only the good one was sent');
is(scalar(wait_log(1)), 1, 'nginx saw only that one');

# --- parallelism and connection reuse --------------------------------------

truncate "$p/cmd.log", 0;
my $t0 = time;
($done, undef, $end) = drive([map { $_ % 2 ? "drop\t$url\t/f$_" : "pull\t$url\t/f$_\t1\t$_\t$_" } 0 .. 99]);
is((grep { $_->{outcome} eq 'ok' } values %$done), 100, '100 commands at once, all ok');
@lines = wait_log(100);
is((grep { (verify_line($_))[0] } @lines), 100, 'all 100 signed right');

# A server that answers nobody until 50 requests are open at once: it only
# ever answers if the executor really runs them in parallel.
my $bport = free_port();
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $bport,
                                   Listen => 128, ReuseAddr => 1, Proto => 'tcp')
    or die "listen: $!";
my $barrier = fork // die "fork: $!";
if ($barrier == 0) {
    alarm 20;
    my @conns;
    while (@conns < 50) {
        my $c = $listen->accept or _exit(1);
        my $req = '';
        while ($req !~ /\r\n\r\n/) {
            my $n = sysread($c, $req, 4096, length $req);
            _exit(1) unless $n;
        }
        push @conns, $c;
    }
    for my $c (@conns) {
        my $b = '{"ok":true,"op":"pull"}';
        syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($b)
                     . "\r\nConnection: close\r\n\r\n$b");
        close $c;
    }
    _exit(0);
}
close $listen;
($done, undef, $end) = drive([map { "pull\thttp://127.0.0.1:$bport\t/p$_\t1\t1\t1" } 1 .. 50],
                             '-t', 6000);
waitpid($barrier, 0);
is($? >> 8, 0, 'the barrier server saw 50 requests open at once');
is((grep { $_->{outcome} eq 'ok' } values %$done), 50, 'and all 50 completed ok');

# Sequential commands ride one kept-alive connection.
truncate "$p/cmd.log", 0;
drive([map { "drop\t$url\t/s$_" } 1 .. 10], '-s');
@lines = wait_log(10);
my %conns = map { (split / /)[0] => 1 } @lines;
is(scalar @lines, 10, 'ten sequential drops');
is(scalar keys %conns, 1, 'all on one connection');
is((split / /, $lines[-1])[1], 10, 'the tenth was its tenth request');

# The other way to drive it: the daemon's own descriptors in the wait.
truncate "$p/cmd.log", 0;
($done, undef, $end) = drive([map { "drop\t$url\t/x$_" } 1 .. 10], '-x');
ok($done->{wakeup}[0] < 2500, "executor_wakeup cuts a 5 s wait short ($done->{wakeup}[0] ms)");
is("@{$done->{extra}}[0, 1]", '1 1', 'a ready extra descriptor: counted, POLLIN in revents');
ok($done->{extra}[2] < 2500, 'and returned at once');
is((grep { ref $_ eq 'HASH' && $_->{outcome} eq 'ok' } values %$done), 10,
   'executor_wait + executor_complete: 10 drops ok');

# --- transport failures ----------------------------------------------------

# Listening, never accepting: the kernel completes the handshake, nobody
# answers. The drop's timeout (2.5 s) sits well apart from the pull's (3 s
# plus the 2 s margin) and from an answer at once, so a slow machine's
# late timers cannot blur which timeout ended what.
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, Proto => 'tcp') or die "$!";
my $sport = $silent->sockport;
my $closed = free_port();
$t0 = time;
($done) = drive(["pull\thttp://127.0.0.1:$sport\t/t.mp3\t1\t1\t1",
                 "drop\thttp://127.0.0.1:$sport\t/t.mp3",
                 "drop\thttp://127.0.0.1:$closed\t/t.mp3",
                 "pull\thttp://127.0.0.1:$closed\t/t.mp3\t1\t1\t1",
                 "drop\t$url\t/meanwhile.mp3"],
                '-t', 3000, '-d', 2500, '-c', 1000);
my $took = time - $t0;
my $slow = $ENV{FSDFS_ASAN} ? 2 : 1;
is("$done->{0}{outcome} $done->{0}{curl} $done->{0}{status}", 'timeout 28 0',
   'a silent node: the pull times out');
ok($done->{0}{ms} >= 4900 && $done->{0}{ms} < 5000 + 4000 * $slow,
   "after the pull timeout plus the margin ($done->{0}{ms} ms)");
is("$done->{1}{outcome} $done->{1}{curl}", 'timeout 28', 'the drop times out too');
ok($done->{1}{ms} >= 2400 && $done->{1}{ms} < 4900,
   "after the drop timeout ($done->{1}{ms} ms)");
is("$done->{2}{outcome} $done->{2}{curl} $done->{2}{status}", 'unreachable 7 0',
   'a closed port: unreachable (connect refused)');
is($done->{3}{outcome}, 'unreachable', 'for a pull too');
ok($done->{4}{outcome} eq 'ok' && $done->{4}{ms} < 2400,
   'a healthy node answers meanwhile, not held up by the silent one');
ok($took < 5 + 6 * $slow, sprintf('all in one run of %.1f s', $took));
close $silent;

finish();
