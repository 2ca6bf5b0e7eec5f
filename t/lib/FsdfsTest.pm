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

# A port the kernel just gave us on 127.0.0.1 (bind 0, read it back).
sub free_port {
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
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
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
sub run_nginx {
    my ($prefix, @args) = @_;
    my %env = asan_env($prefix);
    local @ENV{keys %env} = values %env;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec 'nginx', '-p', $prefix, '-c', "$prefix/nginx.conf",
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
# workers, fsdfs => 0 (no fsdfs_node/fsdfs_redis).
sub node_conf {
    my (%o) = @_;
    my $p = $o{prefix};
    my $user = $> == 0 ? 'user root;' : '';
    my $workers = $o{workers} // 2;
    my $level = $ENV{FSDFS_DEBUG} ? 'debug' : 'info';
    my $redis = $o{redis} // $current_redis;
    my $fsdfs = ($o{fsdfs} // 1)
        ? "fsdfs_node $o{name} http://127.0.0.1:$o{port};\n"
          . "    fsdfs_redis 127.0.0.1:$redis" . ($o{redis_opts} // '') . ";"
        : '';
    my $loc = $o{location} // 'fsdfs on;';
    my $http = $o{http} // '';
    my $server = $o{server} // '';
    return <<"CONF";
load_module $build/ngx_http_fsdfs_module.so;
$user
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
        listen 127.0.0.1:$o{port};
        root $p/data;
        location / { $loc }
        location = /_fsdfs/status { fsdfs_status; }
        $server
    }
}
CONF
}

# start_node(name => ..., redis => PORT, conf_extra/http => ...,
# location => ..., server => ..., port => ..., conf => whole text).
sub start_node {
    my (%o) = @_;
    $o{port} ||= free_port();
    $o{name} ||= "n$o{port}";
    $o{http} //= $o{conf_extra};
    $o{redis} //= $current_redis;
    my $p = $o{prefix} = "$tmp/node-$o{name}";
    make_path("$p/data", "$p/tmp");
    write_file("$p/nginx.conf", $o{conf} // node_conf(%o));
    my ($rc, $out) = run_nginx($p);
    die "nginx $o{name} failed to start: $out" if $rc;
    my $node = { %o, url => "http://127.0.0.1:$o{port}", root => "$p/data",
                 up => 1 };
    push @nodes, $node;
    wait_for(sub { port_open($o{port}) }, 5) or die "nginx $o{name} not listening";
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
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
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
# a loopback node. Returns the last response plus hops => [ports...].
sub follow {
    my ($port, $uri, $max) = @_;
    $max //= 2;
    my @hops = ($port);
    for my $i (0 .. $max) {
        my $r = http($port, 'GET', $uri);
        $r->{hops} = [@hops];
        return $r if $r->{status} != 302 || $i == $max;
        ($port, $uri) = ($r->{headers}{location} // '') =~ m{^http://127\.0\.0\.1:(\d+)(/.*)$}
            or return $r;
        push @hops, $port;
    }
}

# The status endpoint of a node, decoded (undef if it does not parse).
sub status_json {
    my ($node) = @_;
    require JSON::PP;
    my $r = http($node->{port}, 'GET', '/_fsdfs/status');
    return eval { JSON::PP::decode_json($r->{body}) };
}

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
    my @asan = grep { -s } glob("$tmp/*/asan* $tmp/*/ubsan*");
    ok(!@asan, 'no sanitizer reports') or diag("$asan[0]:\n" . `head -40 $asan[0]`);
}

sub shutdown_all {
    thaw_redis($_->{port}) for grep { $_->{pid} } @redis;
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

1;
