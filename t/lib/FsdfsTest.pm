package FsdfsTest;

# The test harness, in the shape of nginx-tests: real Redis and real nginx
# with the fsdfs module, on free loopback ports, in one temp dir per test
# file. Everything started is stopped at the end; every error.log is checked
# for alerts, crashes and sanitizer reports (as tests, by finish()); the
# temp dir is removed when the test passed and kept, and named, when it
# failed. Core Perl only.
#
# Redis and fsdfs helpers take the Redis port as an optional first argument;
# without it they use the Redis started last.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT = qw(build_dir tmp free_port need_root wait_for write_file slurp
                 start_redis stop_redis kill_redis restart_redis redis_cli
                 fsdfs bucket_key node_id
                 start_node stop_node kill_node reload node_conf nginx_t
                 log_of log_count http http_raw follow status_json finish);

my $top = dirname(dirname(dirname(__FILE__)));
my $build = $ENV{FSDFS_BUILD} || "$top/build";
$build = "$top/$build" unless $build =~ m{^/};
my $tmp = tempdir('fsdfs-t-XXXXXX', TMPDIR => 1);
chmod 0755, $tmp;
my (@nodes, @redis, @tdirs, $finished, $current_redis);
my (@fsdfsds, $secret_path);

sub build_dir { $build }
sub tmp { $tmp }

# Skip the whole file unless root, saying why.
sub need_root {
    my ($why) = @_;
    plan skip_all => "needs root: $why" if $> != 0;
}

sub write_file {
    my ($path, $data) = @_;
    make_path(dirname($path));
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $data;
    close $fh;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    binmode $fh;
    local $/;
    my $s = <$fh>;
    return $s // '';
}

# A free port on 127.0.0.1 for a server to bind later (checked by binding
# it here). Outside the kernel's ephemeral range (ip_local_port_range),
# from 20000 up: until the server binds, the source port of any outgoing
# connection, this test's or another's, could take a port from inside it.
# At random, never twice in this process; the kernel's pick (bind 0) when
# the range leaves too little room.
my %ports_given;
sub free_port {
    my ($lo, $hi) = split ' ', slurp('/proc/sys/net/ipv4/ip_local_port_range');
    my @pool = grep { $_->[1] - $_->[0] >= 1000 }
               [20000, ($lo // 32768) - 1], [($hi // 60999) + 1, 65535];
    my $room = 0;
    $room += $_->[1] - $_->[0] + 1 for @pool;
    for (1 .. ($room ? 1000 : 0)) {
        my ($n, $port) = (int rand $room);
        for (@pool) {
            my $size = $_->[1] - $_->[0] + 1;
            if ($n < $size) { $port = $_->[0] + $n; last }
            $n -= $size;
        }
        next if $ports_given{$port};
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                      Proto => 'tcp', Listen => 1) or next;
        close $s;
        $ports_given{$port} = 1;
        return $port;
    }
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# Poll $cond every 50 ms until it is true or $timeout seconds passed.
sub wait_for {
    my ($cond, $timeout) = @_;
    my $end = time + ($timeout // 5);
    while (time < $end) {
        return 1 if $cond->();
        sleep 0.05;
    }
    return $cond->() ? 1 : 0;
}

sub port_open {
    my ($port, $host) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => ($host // '127.0.0.1') . ":$port",
                                  Timeout => 1);
    return $s ? 1 : 0;
}

# Redis ---------------------------------------------------------------------

# Data lives in $tmp/redis-PORT: a restart on the same port (restart_redis)
# loads the dump written by stop_redis(save => 1).
sub start_redis {
    my (%o) = @_;
    my $port = $o{port} || free_port();
    my $dir = "$tmp/redis-$port";
    make_path($dir);
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-server', '--port', $port, '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--dir', $dir,
             '--daemonize', 'no', '--hash-max-listpack-entries', '512',
             '--hash-max-listpack-value', '128';
        exit 127;
    }
    push @redis, { port => $port, pid => $pid };
    $current_redis = $port;
    wait_for(sub { (redis_cli($port, 'PING') // '') eq 'PONG' }, 5)
        or die "redis-server on $port did not start: " . slurp("$dir/redis.log");
    return $port;
}

sub redis_pids {
    my ($port) = @_;
    return grep { $_->{port} == $port && $_->{pid} } @redis;
}

sub reap_redis {
    my ($port, $sig) = @_;
    for my $r (redis_pids($port)) {
        kill $sig, $r->{pid};
        waitpid($r->{pid}, 0);
        $r->{pid} = 0;
    }
    wait_for(sub { !port_open($port) }, 5);
}

# Graceful stop (SIGTERM); save => 1 writes a dump first so that
# restart_redis comes back with the same data.
sub stop_redis {
    my ($port, %o) = @_;
    $port //= $current_redis;
    redis_cli($port, 'SAVE') if $o{save};
    reap_redis($port, 'TERM');
}

sub kill_redis {
    my ($port) = @_;
    reap_redis($port // $current_redis, 'KILL');
}

sub restart_redis {
    my ($port, %o) = @_;
    $port //= $current_redis;
    reap_redis($port, 'TERM') if redis_pids($port);
    return start_redis(port => $port);
}

# SIGSTOP / SIGCONT: Redis keeps its port open but answers nothing.
sub freeze_redis { kill 'STOP', $_->{pid} for redis_pids($_[0] // $current_redis) }
sub thaw_redis { kill 'CONT', $_->{pid} for redis_pids($_[0] // $current_redis) }
push @EXPORT, qw(freeze_redis thaw_redis);

sub port_arg {
    my ($args) = @_;
    return shift @$args if @$args && defined $args->[0] && $args->[0] =~ /^\d+$/;
    return $current_redis;
}

# redis_cli([PORT,] ARGS...): raw output without the final newline.
sub redis_cli {
    my @args = @_;
    my $port = port_arg(\@args);
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec 'redis-cli', '-p', $port, '--raw', @args;
        exit 127;
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return undef unless defined $out;
    $out =~ s/\n\z//;
    return $out;
}

# The CLI, fsdfs([PORT,] ARGS...): stdout and stderr; $? holds the status.
sub fsdfs {
    my @args = @_;
    my $port = port_arg(\@args);
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec "$build/fsdfs", '-r', "127.0.0.1:$port", @args;
        exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

# The index hash holding a path, taken from the command `fsdfs where` prints.
sub bucket_key {
    my @args = @_;
    my $port = port_arg(\@args);
    my ($path) = @args;
    my $out = fsdfs($port, 'where', $path);
    return $1 if $out =~ /HGET\s+(\S*loc:\d+)\s/;
    return $1 if $out =~ /bucket is (\S*loc:\d+)/;
    die "no bucket for $path in `fsdfs where`: $out";
}

# A node's id from <prefix>nodes, or undef.
sub node_id {
    my @args = @_;
    my $port = port_arg(\@args);
    my $id = redis_cli($port, 'HGET', 'fsdfs:nodes', $args[0]);
    return defined $id && $id =~ /^\d+$/ ? $id : undef;
}

# nginx ---------------------------------------------------------------------

sub asan_env {
    my ($prefix) = @_;
    return () unless $ENV{FSDFS_ASAN};
    chomp(my $lib = `gcc -print-file-name=libasan.so`);
    return (LD_PRELOAD => $lib,
            ASAN_OPTIONS => "detect_leaks=0:abort_on_error=0:log_path=$prefix/asan",
            UBSAN_OPTIONS => "print_stacktrace=1:log_path=$prefix/ubsan");
}

# Run nginx with the given args (and the ASan environment); (status, output).
# An array ref first among the args is a command prefix (e.g. `ip netns
# exec NS`) that nginx runs under.
sub run_nginx {
    my ($prefix, @args) = @_;
    my @wrap = ref $args[0] ? @{shift @args} : ();
    my %env = asan_env($prefix);
    local @ENV{keys %env} = values %env;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec @wrap, 'nginx', '-p', $prefix, '-c', "$prefix/nginx.conf",
             '-e', "$prefix/error.log", @args;
        exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# A whole nginx.conf for one node. Options: name, port, redis (port),
# redis_opts (appended to fsdfs_redis), http (extra http-level lines),
# location (body of `location /`), server (extra server-level lines),
# workers, fsdfs => 0 (no fsdfs_node/fsdfs_redis); for cluster nodes
# (see cluster_conf): commands, quota, cache_ttl, pulls, threads; host
# (address listened on and advertised) and redis_host, both 127.0.0.1
# unless given (a node in a network namespace has its own loopback).
sub node_conf {
    my (%o) = @_;
    my $host = $o{host} // '127.0.0.1';
    my $rhost = $o{redis_host} // '127.0.0.1';
    my $p = $o{prefix};
    my $user = $> == 0 ? 'user root;' : '';
    my $workers = $o{workers} // 2;
    my $level = $ENV{FSDFS_DEBUG} ? 'debug' : 'info';
    my $redis = $o{redis} // $current_redis;
    my $fsdfs = ($o{fsdfs} // 1)
        ? "fsdfs_node $o{name} http://$host:$o{port};\n"
          . "    fsdfs_redis $rhost:$redis" . ($o{redis_opts} // '') . ";"
        : '';
    my $loc = $o{location} // 'fsdfs on;';
    my ($cmain, $chttp, $cserver) = cluster_conf(%o);
    my $http = $chttp . ($o{http} // '');
    my $server = $cserver . ($o{server} // '');
    return <<"CONF";
load_module $build/ngx_http_fsdfs_module.so;
$user
$cmain
daemon on;
master_process on;
worker_processes $workers;
error_log $p/error.log $level;
pid $p/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    $fsdfs
    $http
    server {
        listen $host:$o{port};
        root $p/data;
        location / { $loc }
        location = /_fsdfs/status { fsdfs_status; }
        $server
    }
}
CONF
}

# start_node(name => ..., redis => PORT, conf_extra/http => ...,
# location => ..., server => ..., port => ..., conf => whole text,
# host => ADDR, redis_host => ADDR, wrap => [command prefix for nginx]).
sub start_node {
    my (%o) = @_;
    $o{port} ||= free_port();
    $o{name} ||= "n$o{port}";
    $o{http} //= $o{conf_extra};
    $o{redis} //= $current_redis;
    my $p = $o{prefix} = "$tmp/node-$o{name}";
    make_path("$p/data", "$p/tmp");
    write_file("$p/nginx.conf", $o{conf} // node_conf(%o));
    my ($rc, $out) = run_nginx($p, $o{wrap} // []);
    die "nginx $o{name} failed to start: $out" if $rc;
    my $node = { %o, url => 'http://' . ($o{host} // '127.0.0.1') . ":$o{port}",
                 root => "$p/data", up => 1 };
    push @nodes, $node;
    wait_for(sub { port_open($o{port}, $o{host}) }, 5) or die "nginx $o{name} not listening";
    return $node;
}

sub nginx_pids {
    my ($node) = @_;
    my $master = slurp("$node->{prefix}/nginx.pid");
    chomp $master;
    return () unless $master =~ /^\d+$/;
    my @kids = split ' ', `pgrep -P $master 2>/dev/null`;
    return ($master, @kids);
}

# A process that exists and is not a zombie (killed workers may wait for
# a reaper that never comes).
sub running {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    my $stat = slurp("/proc/$pid/stat");
    return $stat =~ /^\d+ \(.*\) ([A-Za-z])/ && $1 ne 'Z' && $1 ne 'X' ? 1 : 0;
}

# Graceful stop by signal (`nginx -s quit` would load the module again).
sub stop_node {
    my ($node) = @_;
    return unless $node->{up};
    my @pids = nginx_pids($node);
    kill 'QUIT', $pids[0] if @pids;
    wait_for(sub { !grep { running($_) } @pids }, 10)
        or kill 'KILL', @pids;
    $node->{up} = 0;
}

# SIGKILL the master and every worker: no goodbye to Redis.
sub kill_node {
    my ($node) = @_;
    my @pids = nginx_pids($node);
    kill 'KILL', @pids if @pids;
    wait_for(sub { !grep { running($_) } @pids }, 5);
    $node->{up} = 0;
}

# SIGHUP, optionally with a new config (same options as start_node); waits
# until the old workers are gone.
sub reload {
    my ($node, %o) = @_;
    if (%o) {
        my %n = (%$node, %o);
        write_file("$node->{prefix}/nginx.conf", $o{conf} // node_conf(%n));
        %$node = (%$node, %o);
    }
    my ($master, @old) = nginx_pids($node);
    kill 'HUP', $master;
    return wait_for(sub {
        my (undef, @now) = nginx_pids($node);
        my %o = map { $_ => 1 } @old;
        @now && !grep { $o{$_} } @now;
    }, 10);
}

# Run `nginx -t` on a config text (@PREFIX@ replaced by a fresh dir);
# returns (exit code, output).
sub nginx_t {
    my ($conf) = @_;
    my $p = "$tmp/t-" . (scalar(@tdirs) + 1);
    push @tdirs, $p;
    make_path("$p/tmp", "$p/data");
    $conf =~ s/\@PREFIX\@/$p/g;
    write_file("$p/nginx.conf", $conf);
    return run_nginx($p, '-t');
}

sub log_of { slurp("$_[0]{prefix}/error.log") }

# Number of lines of a node's error.log matching $re.
sub log_count {
    my ($node, $re) = @_;
    return scalar grep { /$re/ } split /\n/, log_of($node);
}

# HTTP ----------------------------------------------------------------------

sub parse_response {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status_line, @lines) = split /\r\n/, $head // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/1\.\d (\d{3})};
    my %hdr;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $k = lc $k;
        $hdr{$k} = exists $hdr{$k} ? "$hdr{$k}, $v" : $v;
    }
    $body //= '';
    if (($hdr{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }
    return { status => $status // 0, headers => \%hdr, body => $body,
             raw => $raw };
}

# Send raw bytes on a fresh connection, read until close.
sub http_raw {
    my ($port, $req, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $port =~ /:/ ? $port : "127.0.0.1:$port",
                                  Timeout => $o{timeout} // 10)
        or return { status => 0, headers => {}, body => '', raw => '' };
    binmode $s;
    print $s $req;
    my $raw = '';
    my $end = time + ($o{timeout} // 10);
    my $sel = IO::Select->new($s);
    while ((my $left = $end - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    return parse_response($raw);
}

# One HTTP/1.1 request with Connection: close; never follows redirects.
# Returns { status, headers (lowercase keys), body (de-chunked), raw, time }.
sub http {
    my ($port, $method, $uri, %h) = @_;
    my $req = "$method $uri HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    my $t0 = time;
    my $r = http_raw($port, "$req\r\n");
    $r->{time} = time - $t0;
    return $r;
}

# GET through at most $max redirects (default 2), each followed by hand to
# a node on an IPv4 literal. Returns the last response plus hops =>
# [ports...] (ADDR:PORT for a node off 127.0.0.1).
sub follow {
    my ($port, $uri, $max) = @_;
    $max //= 2;
    my @hops = ($port);
    for my $i (0 .. $max) {
        my $r = http($port, 'GET', $uri);
        $r->{hops} = [@hops];
        return $r if $r->{status} != 302 || $i == $max;
        my ($host, $p, $u) = ($r->{headers}{location} // '') =~ m{^http://([\d.]+):(\d+)(/.*)$}
            or return $r;
        ($port, $uri) = ($host eq '127.0.0.1' ? $p : "$host:$p", $u);
        push @hops, $port;
    }
}

# What http() and follow() take to reach a node: its port, or ADDR:PORT
# for a node listening off 127.0.0.1 (option host).
sub node_addr {
    my ($node) = @_;
    return $node->{host} ? "$node->{host}:$node->{port}" : $node->{port};
}
push @EXPORT, 'node_addr';

# The status endpoint of a node, decoded (undef if it does not parse).
sub status_json {
    my ($node) = @_;
    require JSON::PP;
    my $r = http(node_addr($node), 'GET', '/_fsdfs/status');
    return eval { JSON::PP::decode_json($r->{body}) };
}

# Cluster: signed commands, fsdfsd, the index as the master sees it --------

push @EXPORT, qw(secret_file cluster_conf start_fsdfsd stop_fsdfsd kill_fsdfsd
                 fsdfsd_log fsdfsd_tail rcmd stats kn_min kn_hist bucket_of
                 record_of holders all_records node_ids wait_kn cluster_diag
                 files_answer);

# Skip a cluster scenario, saying why, until fsdfsd is built.
sub need_cluster {
    plan skip_all => "no $build/fsdfsd (make daemon)" unless -x "$build/fsdfsd";
}
push @EXPORT, 'need_cluster';

# The shared command secret: written once per test dir (48 bytes, 0600);
# the CLI finds it in $FSDFS_SECRET.
sub secret_file {
    return $secret_path if $secret_path;
    $secret_path = "$tmp/secret";
    my $key = join '', map { sprintf '%02x', int rand 256 } 1 .. 24;
    write_file($secret_path, "$key\n");
    chmod 0600, $secret_path;
    $ENV{FSDFS_SECRET} = $secret_path;
    return $secret_path;
}

# The lines node_conf adds for a cluster node (option commands => 1):
# main level (a thread pool), http level (secret, quota, short lookup
# cache, pull concurrency) and server level (the command location).
# Options: commands, quota (e.g. '64k'), cache_ttl ('1s'), pulls (4),
# threads (4). Returns three strings, empty without `commands`.
sub cluster_conf {
    my (%o) = @_;
    my $http = '';
    $http .= "fsdfs_quota $o{quota};\n    " if defined $o{quota};
    return ('', $http, '') unless $o{commands};
    my $secret = secret_file();
    my $ttl = $o{cache_ttl} // '1s';
    my $main = 'thread_pool fsdfs threads=' . ($o{threads} // 4) . ';';
    $http .= "fsdfs_secret $secret;\n"
           . "    fsdfs_thread_pool fsdfs;\n"
           . "    fsdfs_pull_concurrency " . ($o{pulls} // 4) . ";\n"
           . "    fsdfs_cache zone=fsdfs_$o{port}:1m ttl=$ttl neg_ttl=$ttl;\n"
           . "    open_file_cache max=1000 inactive=10s;\n"
           . "    open_file_cache_valid 1s;\n"
           . "    open_file_cache_errors on;\n    ";
    my $server = "location /_fsdfs/ { fsdfs_commands; }\n        ";
    return ($main, $http, $server);
}

# start_fsdfsd(name => 'm1', redis => PORT, lease => '3s', dead_after => '3s',
# forget_after, cache_ttl, retry_after, pull_timeout, log_level, extra =>
# {key => value}): writes $tmp/fsdfsd-NAME/fsdfsd.conf and runs
# $build/fsdfsd -c on it in the background, stderr into fsdfsd.log there.
sub start_fsdfsd {
    my (%o) = @_;
    my $name = $o{name} // 'm' . (@fsdfsds + 1);
    my $dir = "$tmp/fsdfsd-$name";
    make_path($dir);
    my %c = (
        redis        => '127.0.0.1:' . ($o{redis} // $current_redis),
        prefix       => 'fsdfs:',
        secret       => secret_file(),
        name         => $name,
        lease        => $o{lease} // '3s',
        dead_after   => $o{dead_after} // '3s',
        forget_after => $o{forget_after} // '1h',
        cache_ttl    => $o{cache_ttl} // '1s',
        retry_after  => $o{retry_after} // '1s',
        pull_timeout => $o{pull_timeout} // '10s',
        log_level    => $o{log_level} // ($ENV{FSDFS_DEBUG} ? 'debug' : 'info'),
        %{$o{extra} // {}},
    );
    write_file("$dir/fsdfsd.conf",
               join '', map { "$_ $c{$_}\n" } grep { defined $c{$_} } sort keys %c);
    my $d = { name => $name, dir => $dir, log => "$dir/fsdfsd.log",
              conf => "$dir/fsdfsd.conf" };
    my %env = asan_env($dir);
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        @ENV{keys %env} = values %env;
        open STDOUT, '>>', $d->{log};
        open STDERR, '>&', \*STDOUT;
        exec "$build/fsdfsd", '-c', $d->{conf};
        exit 127;
    }
    $d->{pid} = $pid;
    push @fsdfsds, $d;
    return $d;
}

sub reap_fsdfsd {
    my ($d, $sig, $grace) = @_;
    return unless $d->{pid};
    kill $sig, $d->{pid};
    my $end = time + $grace;
    while (time < $end) {
        last if waitpid($d->{pid}, WNOHANG) == $d->{pid};
        sleep 0.05;
    }
    if (kill 0, $d->{pid}) {
        kill 'KILL', $d->{pid};
        waitpid($d->{pid}, 0);
        $d->{status} = "did not stop on SIG$sig";
    }
    $d->{pid} = 0;
}

# SIGTERM, up to 10 s to leave; SIGKILL.
sub stop_fsdfsd { reap_fsdfsd($_[0], 'TERM', 10) }
sub kill_fsdfsd { reap_fsdfsd($_[0], 'KILL', 5) }

sub fsdfsd_log { slurp($_[0]{log}) }

# The last $n lines of an fsdfsd's log, for diagnostics.
sub fsdfsd_tail {
    my ($d, $n) = @_;
    my @l = split /^/, fsdfsd_log($d);
    $n //= 20;
    return "--- $d->{name}'s log, last lines:\n"
         . join('', @l > $n ? @l[-$n .. -1] : @l);
}

sub check_fsdfsd_logs {
    for my $d (@fsdfsds) {
        my @bad = grep { /AddressSanitizer|runtime error:|LeakSanitizer|Segmentation|Assertion|double free/ }
                  split /^/, fsdfsd_log($d);
        ok(!@bad, "no crash or sanitizer report in fsdfsd $d->{name}'s log")
            or diag(join '', @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
        ok(!$d->{status}, "fsdfsd $d->{name} stopped on SIGTERM")
            or diag($d->{status});
    }
}

# A minimal RESP client on one kept connection per Redis port, so tests
# can sample the index many times a second: rcmd([PORT,] ARGS...) returns
# a scalar, an array ref, or undef (nil, error, or Redis down).
my %rconn;

sub resp_read {
    my ($s) = @_;
    my $line = <$s>;
    return undef unless defined $line;
    $line =~ s/\r\n\z//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    return undef if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length $buf < $v + 2) {
            my $n = read($s, $buf, $v + 2 - length $buf, length $buf);
            return undef unless $n;
        }
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [map { resp_read($s) } 1 .. $v];
    }
    return undef;
}

sub rcmd {
    my @args = @_;
    my $port = port_arg(\@args);
    for my $try (1, 2) {
        my $s = $rconn{$port} ||= IO::Socket::INET->new(
            PeerAddr => "127.0.0.1:$port", Timeout => 2) or return undef;
        binmode $s;
        my $req = '*' . @args . "\r\n"
                . join '', map { '$' . length($_) . "\r\n$_\r\n" } @args;
        if (print $s $req) {
            my $r = eval {
                local $SIG{ALRM} = sub { die "timeout\n" };
                alarm 5;
                my $v = resp_read($s);
                alarm 0;
                $v;
            };
            alarm 0;
            return $r if defined $r || $s->connected;
        }
        delete $rconn{$port};
    }
    return undef;
}

# fsdfs:stats as a hash ({} if absent).
sub stats {
    my @args = @_;
    my $port = port_arg(\@args);
    my $r = rcmd($port, 'HGETALL', 'fsdfs:stats');
    return ref $r ? {@$r} : {};
}

# min(K-N) as the master published it, or undef before it did.
sub kn_min {
    my $m = stats(@_)->{min_kn};
    return defined $m && $m =~ /^-?\d+$/ ? $m : undef;
}

# fsdfs:kn: K-N => files.
sub kn_hist {
    my @args = @_;
    my $port = port_arg(\@args);
    my $r = rcmd($port, 'HGETALL', 'fsdfs:kn');
    return ref $r ? {@$r} : {};
}

# The index bucket key of a path, computed here: FNV-1a 64 of the path
# modulo fsdfs:config buckets (done in 32-bit halves, Perl has no u64 *).
my %buckets;

sub bucket_of {
    my @args = @_;
    my $port = port_arg(\@args);
    my ($path) = @args;
    my $b = $buckets{$port} ||= rcmd($port, 'HGET', 'fsdfs:config', 'buckets')
        or die 'no fsdfs:config buckets: run fsdfs init first';
    my ($hi, $lo) = (0xcbf29ce4, 0x84222325);
    for my $c (unpack 'C*', $path) {
        $lo ^= $c;
        my $l = $lo * 0x1b3;
        $hi = ($hi * 0x1b3 + ($l >> 32) + (($lo << 8) & 0xffffffff)) & 0xffffffff;
        $lo = $l & 0xffffffff;
    }
    my $m = (($hi % $b) * (4294967296 % $b) + $lo % $b) % $b;
    return "fsdfs:loc:$m";
}

# The raw index record of a path (undef if none).
sub record_of {
    my @args = @_;
    my $port = port_arg(\@args);
    return rcmd($port, 'HGET', bucket_of($port, $args[0]), $args[0]);
}

sub record_holders {
    my ($rec) = @_;
    return () unless defined $rec;
    my @f = split ' ', $rec;
    return () if @f < 5 || $f[4] eq '-';
    my @h = sort { $a <=> $b } split /,/, $f[4];
    return @h;          # a count in scalar context
}

# holders([PORT,] PATH): the node ids the index lists for PATH (all of
# them, dead nodes included: K in the index).
sub holders {
    my @args = @_;
    my $port = port_arg(\@args);
    my @h = record_holders(record_of($port, $args[0]));
    return @h;
}

# Every record: { path => [holder ids] }, read bucket by bucket.
sub all_records {
    my @args = @_;
    my $port = port_arg(\@args);
    my $keys = rcmd($port, 'KEYS', 'fsdfs:loc:*') || [];
    my %all;
    for my $k (@$keys) {
        my $h = rcmd($port, 'HGETALL', $k) || [];
        for (my $i = 0; $i < @$h; $i += 2) {
            $all{$h->[$i]} = [record_holders($h->[$i + 1])];
        }
    }
    return \%all;
}

# { name => id } from fsdfs:nodes.
sub node_ids {
    my @args = @_;
    my $port = port_arg(\@args);
    my $r = rcmd($port, 'HGETALL', 'fsdfs:nodes');
    return ref $r ? {@$r} : {};
}

# What to print when a wait runs out: the master's stats and K-N
# histogram, the tail of every fsdfsd log, and the holders of the given
# paths (at most 10).
sub cluster_diag {
    my (@paths) = @_;
    my $out = 'fsdfs:stats ' . join(' ', map { "$_=" . stats()->{$_} } sort keys %{stats()}) . "\n";
    my $kn = kn_hist();
    $out .= 'fsdfs:kn ' . join(' ', map { "$_:$kn->{$_}" } sort { $a <=> $b } keys %$kn) . "\n";
    my $ids = node_ids();
    $out .= 'nodes ' . join(' ', map { "$_=$ids->{$_}" . (rcmd('EXISTS', "fsdfs:alive:$ids->{$_}") ? '' : '(not alive)') } sort keys %$ids) . "\n";
    for my $p (@paths[0 .. ($#paths < 9 ? $#paths : 9)]) {
        $out .= "$p: " . (record_of($p) // 'no record') . "\n";
    }
    $out .= fsdfsd_tail($_, 15) for @fsdfsds;
    return $out;
}

# wait_kn(COND, TIMEOUT, PATHS...): polls fsdfs:stats every 200 ms until
# COND holds: a number means min_kn >= that number, a code ref gets the
# stats hash. On timeout, diag()s cluster_diag(PATHS) and returns 0;
# else returns the seconds it took.
sub wait_kn {
    my ($cond, $timeout, @paths) = @_;
    my $test = ref $cond ? $cond : do {
        my $min = $cond;
        sub { defined $_[0]{min_kn} && $_[0]{min_kn} =~ /^-?\d+$/ && $_[0]{min_kn} >= $min };
    };
    my $t0 = time;
    my $end = $t0 + ($timeout // 20);
    while (time < $end) {
        return (time - $t0) || 0.001 if $test->(stats());
        sleep 0.2;
    }
    return (time - $t0) || 0.001 if $test->(stats());
    diag("waited ${timeout}s in vain:\n" . cluster_diag(@paths));
    return 0;
}

# spot_check({path => bytes}, NODES...): one GET of every file (redirects
# followed) through the nodes in turn, a different one at each call;
# returns a line for each answer that is not 200 with the right bytes.
my $spot_turn = 0;

sub spot_check {
    my ($files, @nodes) = @_;
    my @bad;
    my $i = $spot_turn++;
    for my $path (sort keys %$files) {
        my $node = $nodes[$i++ % @nodes];
        my $r = follow(node_addr($node), $path, 2);
        next if $r->{status} == 200 && $r->{body} eq $files->{$path};
        push @bad, sprintf '%.2f %s via %s: %s%s', time, $path, $node->{name}, $r->{status},
                           $r->{status} == 200 ? ' wrong bytes' : '';
    }
    return @bad;
}
push @EXPORT, 'spot_check';

# files_answer(LABEL, {path => bytes}, NODES...): every file answers 200
# with its bytes through every node, redirects followed by hand (at most
# two). One test; returns the largest number of redirects seen.
sub files_answer {
    my ($label, $files, @nodes) = @_;
    my ($bad, $hops) = (0, 0);
    for my $node (@nodes) {
        for my $path (sort keys %$files) {
            my $r = follow(node_addr($node), $path, 2);
            my $h = @{$r->{hops}} - 1;
            $hops = $h if $h > $hops;
            next if $r->{status} == 200 && $r->{body} eq $files->{$path};
            diag("$label: $path via $node->{name}: $r->{status} (ports @{$r->{hops}})"
                 . ($r->{status} == 200 ? ', wrong bytes' : '')) if $bad++ < 10;
        }
    }
    is($bad, 0, "$label: every file answers 200 with its bytes through "
       . join(', ', map { $_->{name} } @nodes))
        or diag(cluster_diag(sort keys %$files));
    return $hops;
}

push @EXPORT, qw(restart_node nodes_up put_file disk_files blob);

# LEN bytes that depend on SEED only (a stand-in for an audio file).
sub blob {
    my ($seed, $len) = @_;
    my $x = $seed * 2654435761 % 4294967296 || 1;
    my $out = '';
    while (length $out < $len) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        $out .= pack 'N', $x ^ ($x >> 11);
    }
    return substr($out, 0, $len);
}

# Start a stopped node again on its prefix, port and config.
sub restart_node {
    my ($node) = @_;
    my ($rc, $out) = run_nginx($node->{prefix}, $node->{wrap} // []);
    die "nginx $node->{name} failed to restart: $out" if $rc;
    $node->{up} = 1;
    wait_for(sub { port_open($node->{port}, $node->{host}) }, 5)
        or die "nginx $node->{name} not listening";
    return $node;
}

# nodes_up(TIMEOUT, NODES...): every node has an id and an alive key, and
# every node's own table shows all of them alive (then one more second,
# so every worker's copy is fresh). 1 or 0 (with a diag).
sub nodes_up {
    my ($timeout, @nodes) = @_;
    my %want = map { $_->{url} => 1 } @nodes;
    my $ok = wait_for(sub {
        for my $n (@nodes) {
            my $id = node_id($n->{name}) // return 0;
            rcmd('EXISTS', "fsdfs:alive:$id") or return 0;
        }
        for my $n (@nodes) {
            my $j = status_json($n) or return 0;
            my %alive = map { ($_->{url} // '') => 1 }
                        grep { $_->{alive} } @{$j->{nodes} // []};
            return 0 if grep { !$alive{$_} } keys %want;
        }
        1;
    }, $timeout);
    diag('nodes not all up: ' . cluster_diag()) unless $ok;
    sleep 1.1 if $ok;
    return $ok;
}

# put_file(PATH, BYTES, CLI ARGS...): `fsdfs put` of BYTES (through a
# temp file) as PATH; returns the CLI's output, $? holds its status.
my $put_seq = 0;

sub put_file {
    my ($path, $data, @args) = @_;
    my $f = "$tmp/put-" . $$ . '-' . $put_seq++;
    write_file($f, $data);
    my $out = fsdfs('put', $f, $path, @args);
    my $rc = $?;
    unlink $f;
    $? = $rc;
    return $out;
}

# { path => size } of the regular files under a node's root (temp files
# listed too, under their own names).
sub disk_files {
    my ($node) = @_;
    my %f;
    my @dirs = ($node->{root});
    while (my $d = shift @dirs) {
        opendir my $dh, $d or next;
        for my $e (readdir $dh) {
            next if $e eq '.' || $e eq '..';
            my $p = "$d/$e";
            if (-l $p) { next }
            elsif (-d _) { push @dirs, $p }
            elsif (-f _) { $f{substr($p, length $node->{root})} = -s _ }
        }
        closedir $dh;
    }
    return \%f;
}

# "node:path" of every copy on these nodes' disks that the index does not
# give them (temp files of pulls cut short included): what a master that
# died or lost its lease mid-move would leave behind.
sub unindexed {
    my (@nodes) = @_;
    my $all = all_records();
    my @out;
    for my $node (@nodes) {
        my $id = node_id($node->{name});
        my %mine = map { $_ => 1 } grep { grep { $_ == $id } @{$all->{$_}} } keys %$all;
        push @out, map { "$node->{name}:$_" } grep { !$mine{$_} } sort keys %{disk_files($node)};
    }
    return @out;
}
push @EXPORT, qw(unindexed);

# Teardown ------------------------------------------------------------------

my $bad_re = qr/\[alert\]|\[emerg\]|exited on signal|AddressSanitizer|runtime error:|LeakSanitizer/;
my $bad_t_re = qr/\[alert\]|exited on signal|AddressSanitizer|runtime error:|LeakSanitizer/;

sub check_logs {
    for my $n (@nodes) {
        my @bad = grep { /$bad_re/ } split /^/, slurp("$n->{prefix}/error.log");
        ok(!@bad, "no alerts or crashes in $n->{name}'s error.log")
            or diag(join '', @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
    }
    my @tbad;
    for my $p (@tdirs) {
        push @tbad, map { "$p: $_" } grep { /$bad_t_re/ } split /^/, slurp("$p/error.log");
    }
    if (@tdirs) {
        ok(!@tbad, 'no alerts or crashes in nginx -t runs')
            or diag(join '', @tbad[0 .. ($#tbad < 4 ? $#tbad : 4)]);
    }
    check_fsdfsd_logs();
    my @asan = grep { -s } glob("$tmp/*/asan* $tmp/*/ubsan*");
    ok(!@asan, 'no sanitizer reports') or diag("$asan[0]:\n" . `head -40 $asan[0]`);
}

sub shutdown_all {
    thaw_redis($_->{port}) for grep { $_->{pid} } @redis;
    stop_fsdfsd($_) for grep { $_->{pid} } @fsdfsds;
    stop_node($_) for grep { $_->{up} } @nodes;
    for my $r (grep { $_->{pid} } @redis) {
        kill 'KILL', $r->{pid};
        waitpid($r->{pid}, 0);
        $r->{pid} = 0;
    }
}

# Stop everything, check the logs as tests, end the plan.
sub finish {
    shutdown_all();
    check_logs();
    $finished = 1;
    done_testing();
}

END {
    my $rc = $?;
    shutdown_all();
    if (Test::More->builder->is_passing && ($finished || !@nodes)) {
        remove_tree($tmp);
    } else {
        diag("logs kept in $tmp");
    }
    $? = $rc;
}

# Signed commands -----------------------------------------------------------

# A command secret file (mode 0600, 48 bytes) under the temp dir; returns
# (path, secret).
sub write_secret {
    my ($name) = @_;
    my $path = "$tmp/" . ($name // 'secret');
    my $secret = join '', map { ('a' .. 'z', 0 .. 9)[int rand 36] } 1 .. 48;
    write_file($path, "$secret\n");
    chmod 0600, $path;
    return ($path, $secret);
}

# Percent-encoding as the senders do it: every byte outside A-Za-z0-9-_.~/.
sub url_encode {
    my ($s) = @_;
    $s =~ s{([^A-Za-z0-9\-_.~/])}{sprintf '%%%02X', ord $1}ge;
    return $s;
}

# sign_cmd(SECRET, METHOD, URI_PATH, [name => value, ...], ts => T,
# epoch => E): the signed query string (params in order, then ts, epoch,
# sig), signed over the canonical string of common/fsdfs_sign.h.
sub sign_cmd {
    require Digest::SHA;
    my ($secret, $method, $uri, $params, %o) = @_;
    my @p = @{$params // []};
    my $ts = $o{ts} // int(time);
    my $epoch = $o{epoch} // 0;
    my @pairs;
    push @pairs, [splice @p, 0, 2] while @p;
    my @all = sort { $a->[0] cmp $b->[0] } @pairs, ['ts', $ts], ['epoch', $epoch];
    my $canon = "$method\n$uri\n" . join '', map { "$_->[0]=$_->[1]\n" } @all;
    my $sig = Digest::SHA::hmac_sha256_hex($canon, $secret);
    return join '&', (map { "$_->[0]=" . url_encode($_->[1]) } @pairs),
                     "ts=$ts", "epoch=$epoch", "sig=$sig";
}

# The checksum of the index record (XXH3-64, hex), from the C helper
# tests/sum64 kept running beside this process: one per process, so a
# forked child starts its own rather than share the parent's pipes.
my ($sum_pid, $sum_owner, $sum_in, $sum_out);
sub sum64 {
    my ($data) = @_;
    if (!$sum_pid || $sum_owner != $$) {
        require IPC::Open2;
        $sum_pid = IPC::Open2::open2($sum_out, $sum_in, "$build/tests/sum64");
        $sum_owner = $$;
        binmode $_ for $sum_in, $sum_out;
    }
    utf8::encode($data) if utf8::is_utf8($data);
    print {$sum_in} length($data), "\n", $data;
    $sum_in->flush;
    my $sum = readline $sum_out;
    die "sum64: no answer from $build/tests/sum64\n" unless defined $sum;
    chomp $sum;
    return $sum;
}

# One request with a body (Content-Length), Connection: close.
sub http_body {
    my ($port, $method, $uri, $body, %h) = @_;
    $body //= '';
    my $req = "$method $uri HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            . "Content-Length: " . length($body) . "\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    my $t0 = time;
    my $r = http_raw($port, "$req\r\n$body", timeout => $h{timeout} // 20);
    $r->{time} = time - $t0;
    $r->{json} = eval { require JSON::PP; JSON::PP::decode_json($r->{body}) };
    return $r;
}

# A signed command to a node: cmd(NODE, SECRET, OP, [params], body => ...,
# method => ..., ts => ..., epoch => ...); the response with json decoded.
sub cmd {
    my ($node, $secret, $op, $params, %o) = @_;
    my $method = $o{method} // ($op eq 'put' ? 'PUT' : 'POST');
    my $q = sign_cmd($secret, $method, "/_fsdfs/$op", $params, %o);
    return http_body(node_addr($node), $method, "/_fsdfs/$op?$q", $o{body} // '');
}

# Files under a directory whose name starts with .fsdfs-tmp-.
sub temp_files {
    my ($dir) = @_;
    my @out;
    my @todo = ($dir);
    while (my $d = shift @todo) {
        opendir(my $dh, $d) or next;
        for my $e (readdir $dh) {
            next if $e eq '.' || $e eq '..';
            my $p = "$d/$e";
            if (-d $p && !-l $p) { push @todo, $p; next }
            push @out, $p if $e =~ /^\.fsdfs-tmp-/;
        }
        closedir $dh;
    }
    return @out;
}

push @EXPORT, qw(write_secret url_encode sign_cmd sum64 http_body cmd temp_files);

# Hostile-input corpus (t/hostile/*.txt) ------------------------------------

# hostile_unescape(TEXT): \r \n \t \0 \\ \xHH, and {S*N} for S repeated N
# times (S: one or more characters other than * { }).
sub hostile_unescape {
    my ($s) = @_;
    $s =~ s/\{([^*{}]+)\*(\d+)\}/$1 x $2/ge;
    $s =~ s/\\(x([0-9a-fA-F]{2})|[rnt0\\])/
        defined $2 ? chr hex $2
        : { r => "\r", n => "\n", t => "\t", 0 => "\0", '\\' => '\\' }->{$1}/ge;
    return $s;
}

# hostile_cases(FAMILY): the cases of t/hostile/FAMILY.txt, in order, each
# { name, line, KEY => raw value ... }. A case starts with `=== name`, then
# `key: value` lines; `#` lines and blank lines are ignored. Every case
# must have a `note` (what must not change).
sub hostile_cases {
    my ($family) = @_;
    my $file = "$top/t/hostile/$family.txt";
    open my $fh, '<', $file or die "$file: $!";
    my (@cases, $c);
    while (my $line = <$fh>) {
        chomp $line;
        next if $line =~ /^\s*(#|$)/;
        if ($line =~ /^===\s+(.+?)\s*$/) {
            push @cases, $c = { name => $1, line => $. };
        } elsif ($line =~ /^([a-z_]+):\s?(.*)$/ && $c) {
            die "$file:$.: duplicate key $1" if exists $c->{$1};
            $c->{$1} = $2;
        } else {
            die "$file:$.: not a case line: $line";
        }
    }
    for (@cases) {
        die "$file:$_->{line}: case \"$_->{name}\" has no note" unless defined $_->{note};
    }
    return @cases;
}

# hostile_status_ok(GOT, WANT): WANT is a list like "400|414", "4xx" or "0"
# (connection closed with no answer).
sub hostile_status_ok {
    my ($got, $want) = @_;
    for my $w (split /\|/, $want) {
        return 1 if $w =~ /^(\d)xx$/ && int($got / 100) == $1;
        return 1 if $w =~ /^\d+$/ && $got == $w;
    }
    return 0;
}

push @EXPORT, qw(hostile_unescape hostile_cases hostile_status_ok);

1;
