package FsdfsTest;

# The test harness: real Redis and real nginx with the fsdfs module on free
# loopback ports in a temp dir. Everything started is stopped at the end;
# error logs are checked for alerts, crashes and sanitizer reports; the temp
# dir is kept (and named) when a test failed. Core Perl only.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT = qw(build_dir tmp free_port start_redis stop_redis redis_cli
                 start_node stop_node kill_node node_conf nginx_t http
                 wait_for fsdfs finish write_file bucket_key);

my $top = dirname(dirname(dirname(__FILE__)));
my $build = $ENV{FSDFS_BUILD} || "$top/build";
my $tmp = tempdir('fsdfs-t-XXXXXX', TMPDIR => 1);
my (@nodes, @redis, $finished);

sub build_dir { $build }
sub tmp { $tmp }

sub write_file {
    my ($path, $data) = @_;
    make_path(dirname($path));
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $data;
    close $fh;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

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
             '--hash-max-listpack-entries', '512',
             '--hash-max-listpack-value', '128';
        exit 127;
    }
    push @redis, { port => $port, pid => $pid };
    wait_for(sub { (redis_cli($port, 'PING') // '') eq 'PONG' }, 5)
        or die "redis-server on $port did not start";
    return $port;
}

sub stop_redis {
    my ($port) = @_;
    for my $r (grep { $_->{port} == $port && $_->{pid} } @redis) {
        kill 'KILL', $r->{pid};
        waitpid($r->{pid}, 0);
        $r->{pid} = 0;
    }
    wait_for(sub { !port_open($port) }, 5);
}

sub redis_cli {
    my ($port, @args) = @_;
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

# The index bucket key of a path, as `fsdfs where` prints it.
sub bucket_key {
    my ($port, $path) = @_;
    my $out = fsdfs($port, 'where', $path);
    return $out =~ /(fsdfs:loc:\d+)/ ? $1 : die "no bucket for $path: $out";
}

# The CLI: returns stdout; $? holds the exit status.
sub fsdfs {
    my ($port, @args) = @_;
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

# nginx ---------------------------------------------------------------------

sub env_prefix {
    return '' unless $ENV{FSDFS_ASAN};
    chomp(my $lib = `gcc -print-file-name=libasan.so`);
    return "LD_PRELOAD=$lib ASAN_OPTIONS=detect_leaks=0:log_path=$tmp/asan ";
}

# A whole nginx.conf for one node. Options: name, port, redis (port),
# http (extra http-level lines), location (body of `location /`), server
# (extra server-level lines), workers, fsdfs (0: no fsdfs_node/redis).
sub node_conf {
    my (%o) = @_;
    my $p = $o{prefix};
    my $user = $> == 0 ? 'user root;' : '';
    my $workers = $o{workers} // 2;
    my $fsdfs = ($o{fsdfs} // 1)
        ? "fsdfs_node $o{name} http://127.0.0.1:$o{port};\n"
          . "    fsdfs_redis 127.0.0.1:$o{redis}" . ($o{redis_opts} // '') . ";"
        : '';
    my $loc = $o{location} // 'fsdfs on;';
    my $http = $o{http} // '';
    my $server = $o{server} // '';
    return <<"CONF";
load_module $build/ngx_http_fsdfs_module.so;
$user
worker_processes $workers;
daemon on;
error_log $p/error.log info;
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

sub start_node {
    my (%o) = @_;
    $o{port} ||= free_port();
    $o{name} ||= "n$o{port}";
    my $p = $o{prefix} = "$tmp/node-$o{name}";
    make_path("$p/data", "$p/tmp");
    write_file("$p/nginx.conf", $o{conf} // node_conf(%o));
    my $env = env_prefix();
    my $out = `${env}nginx -p $p -c $p/nginx.conf -e $p/error.log 2>&1`;
    die "nginx $o{name} failed to start: $out" if $?;
    my $node = { %o, url => "http://127.0.0.1:$o{port}", root => "$p/data",
                 up => 1 };
    push @nodes, $node;
    wait_for(sub { port_open($o{port}) }, 5) or die "nginx $o{name} not listening";
    return $node;
}

sub nginx_pids {
    my ($node) = @_;
    open my $fh, '<', "$node->{prefix}/nginx.pid" or return ();
    my $master = <$fh>;
    close $fh;
    chomp $master;
    my @kids = split ' ', `pgrep -P $master 2>/dev/null`;
    return ($master, @kids);
}

sub stop_node {
    my ($node) = @_;
    return unless $node->{up};
    # a signal, not `nginx -s quit`: that would load the module again
    my @pids = nginx_pids($node);
    kill 'QUIT', $pids[0] if @pids;
    wait_for(sub { !grep { kill(0, $_) } @pids }, 10);
    $node->{up} = 0;
}

sub kill_node {
    my ($node) = @_;
    kill 'KILL', nginx_pids($node);
    wait_for(sub { !port_open($node->{port}) }, 5);
    $node->{up} = 0;
}

# Run `nginx -t` on a config text; returns (exit code, output).
sub nginx_t {
    my ($conf) = @_;
    my $p = "$tmp/t-" . int(rand(1e9));
    make_path("$p/tmp", "$p/data");
    $conf =~ s/\@PREFIX\@/$p/g;
    write_file("$p/nginx.conf", $conf);
    my $env = env_prefix();
    my $out = `${env}nginx -t -p $p -c $p/nginx.conf -e $p/error.log 2>&1`;
    return ($? >> 8, $out);
}

# HTTP ----------------------------------------------------------------------

# One request on a fresh connection; never follows redirects.
# Returns { status, headers (lowercase keys), body }.
sub http {
    my ($port, $method, $uri, %h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or return { status => 0 };
    my $req = "$method $uri HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    print $s "$req\r\n";
    local $/;
    my $raw = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status_line, @lines) = split /\r\n/, $head // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/1\.\d (\d{3})};
    my %hdr;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $hdr{lc $k} = $v;
    }
    return { status => $status // 0, headers => \%hdr, body => $body // '',
             raw => $raw };
}

# Teardown ------------------------------------------------------------------

sub check_logs {
    for my $n (@nodes) {
        my $log = "$n->{prefix}/error.log";
        open my $fh, '<', $log or next;
        my @bad = grep { /\[alert\]|\[emerg\]|exited on signal|AddressSanitizer|runtime error:/ } <$fh>;
        close $fh;
        ok(!@bad, "no alerts or crashes in $n->{name}'s error.log")
            or diag(join '', @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
    }
    my @asan = glob("$tmp/asan*");
    ok(!@asan, 'no sanitizer reports') or diag(`head -30 $asan[0]`);
}

sub shutdown_all {
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
    if (Test::More->builder->is_passing && $finished) {
        remove_tree($tmp);
    } else {
        diag("logs kept in $tmp");
    }
    $? = $rc;
}

1;
