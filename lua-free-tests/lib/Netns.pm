package Netns;

# Several "hosts" on one machine for multi-host cluster tests: a Linux
# bridge in the root network namespace and N network namespaces, each
# plugged into it by a veth pair, with its own IPv4 address. Core Perl and
# iproute2 (`ip`) only; needs root.
#
#   root namespace:  bridge fsb<pid>, 10.A.B.1/24 (the test, Redis, fsdfsd)
#   host i (1..N):   namespace fsdfs<pid>n<i>, eth0 = 10.A.B.(10+i)/24,
#                    its veth's other end fsv<pid>h<i> on the bridge
#
# The /24 comes from the test's PID (skipping any 10.A.B.0/24 the machine
# already routes), and every name carries the PID, so tests running in
# parallel never share a name or a subnet. Interface names stay within
# IFNAMSIZ (15 characters) for any PID up to 2^22.
#
# cut(i) sets the bridge-side end of host i's veth down: as if its switch
# port died. The host's processes keep running and keep their addresses
# and routes, but every packet to or from it is silently lost (no RST, no
# ICMP), so peers see timeouts, the way a real partition looks, and not
# the "connection refused" a stopped process gives. heal(i) sets it up
# again (STP is off: the port forwards at once).
#
# Everything is removed by teardown(), which runs from an END block and
# from INT/TERM/HUP handlers too, so a test that dies or is interrupted
# leaves no namespace, veth or bridge behind. Processes still inside the
# namespaces at that point (nodes the test started there) are first
# stopped through FsdfsTest's own shutdown, then killed by pid.

use strict;
use warnings;

use POSIX ();
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my @all;                # every live Netns object, for the END block
my $owner = $$;         # forked children (exec failures) must not tear down

sub ip_bin {
    for my $d (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/sbin', '/usr/bin', '/bin') {
        return "$d/ip" if -x "$d/ip";
    }
    return undef;
}

# Run a command; (exit status, stdout and stderr). Never through a shell.
sub sh {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec(@cmd) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub ip {
    my (@args) = @_;
    return sh(ip_bin(), @args);
}

# ip ARGS, dying with the command and its output when it fails.
sub ip_ok {
    my (@args) = @_;
    my ($rc, $out) = ip(@args);
    die "ip @args: exit $rc: $out" if $rc;
    return $out;
}

# Why this machine cannot build namespaces, or undef when it can (root,
# iproute2, and a namespace can really be made: a container may forbid it).
sub unavailable {
    return 'needs root and iproute2 (ip netns) to build network namespaces'
        if $> != 0 || !ip_bin();
    my $probe = "fsdfs${$}probe";
    my ($rc, $out) = ip('netns', 'add', $probe);
    return "needs root and iproute2 (ip netns) to build network namespaces: "
         . "`ip netns add` failed here: $out" if $rc;
    ip('netns', 'del', $probe);
    return undef;
}

sub pid_alive {
    my ($pid) = @_;
    return kill(0, $pid) || $!{EPERM};
}

# Namespaces and bridges left by an earlier run that was SIGKILLed (its
# PID is gone): removed when nothing runs in them any more, so they
# neither pile up nor keep routes of their subnet in the root namespace.
sub reap_stale {
    my (undef, $list) = ip('netns', 'list');
    for my $ns ($list =~ /^(fsdfs\d+n\d+)\b/mg) {
        my ($pid) = $ns =~ /^fsdfs(\d+)n/;
        next if pid_alive($pid);
        my (undef, $pids) = ip('netns', 'pids', $ns);
        ip('netns', 'del', $ns) unless $pids =~ /\d/;
    }
    my (undef, $links) = ip('-o', 'link', 'show', 'type', 'bridge');
    for my $br ($links =~ /^\d+:\s+(fsb\d+)[:@]/mg) {
        my ($pid) = $br =~ /(\d+)/;
        ip('link', 'del', $br) unless pid_alive($pid);
    }
}

# A 10.A.B.0/24 derived from the PID that nothing on this machine routes.
sub pick_subnet {
    my ($pid) = @_;
    my (undef, $routes) = ip('-4', 'route', 'show', 'table', 'all');
    my (undef, $addrs) = ip('-4', '-o', 'addr', 'show');
    my %used;
    my $seen = "$routes\n$addrs";
    $used{"$1.$2"} = 1 while $seen =~ /\b10\.(\d+)\.(\d+)\.\d+/g;
    for my $i (0 .. 999) {
        my $n = ($pid + $i * 7919) % 30000;
        my ($a, $b) = (100 + int($n / 250), 1 + $n % 250);
        return "10.$a.$b" unless $used{"$a.$b"};
    }
    die 'no free 10.x.y.0/24 for the test network';
}

# Netns->new(N): the bridge and N hosts, up and addressed. Dies (after
# removing what it made) if any step fails.
sub new {
    my ($class, $n) = @_;
    reap_stale();
    my $self = bless {
        n      => $n,
        pid    => $$,
        net    => pick_subnet($$),
        bridge => "fsb$$",
        ns     => [],
        cut    => {},
    }, $class;
    push @all, $self;
    my $ok = eval {
        my $br = $self->{bridge};
        ip_ok('link', 'add', $br, 'type', 'bridge', 'stp_state', '0',
              'forward_delay', '0');
        ip_ok('addr', 'add', $self->gw . '/24', 'dev', $br);
        ip_ok('link', 'set', $br, 'up');
        for my $i (1 .. $n) {
            my $ns = "fsdfs$$" . "n$i";
            my ($h, $p) = ("fsv$$" . "h$i", "fsv$$" . "p$i");
            ip_ok('netns', 'add', $ns);
            push @{$self->{ns}}, $ns;
            ip_ok('link', 'add', $h, 'type', 'veth', 'peer', 'name', $p);
            $self->{veth}[$i] = $h;
            ip_ok('link', 'set', $p, 'netns', $ns);
            ip_ok('link', 'set', $h, 'master', $br);
            ip_ok('link', 'set', $h, 'up');
            ip_ok('-n', $ns, 'link', 'set', $p, 'name', 'eth0');
            ip_ok('-n', $ns, 'addr', 'add', $self->addr($i) . '/24', 'dev', 'eth0');
            ip_ok('-n', $ns, 'link', 'set', 'eth0', 'up');
            ip_ok('-n', $ns, 'link', 'set', 'lo', 'up');
        }
        1;
    };
    unless ($ok) {
        my $err = $@;
        $self->teardown;
        die $err;
    }
    # links come up asynchronously: wait until every host answers ARP
    # through the bridge, so a test's first request never races them
    for my $i (1 .. $n) {
        $self->wait_reachable($i, 10)
            or do { my $d = $self->diag; $self->teardown; die "host $i unreachable over the bridge:\n$d" };
    }
    return $self;
}

sub gw { "$_[0]{net}.1" }                      # the root namespace's address
sub addr { "$_[0]{net}." . (10 + $_[1]) }      # host i's address
sub ns { $_[0]{ns}[$_[1] - 1] }                # host i's namespace name
sub hosts { $_[0]{n} }

# The command prefix that runs something inside host i.
sub wrap {
    my ($self, $i) = @_;
    return [ip_bin(), 'netns', 'exec', $self->ns($i)];
}

# Run a command inside host i: (exit status, output).
sub run {
    my ($self, $i, @cmd) = @_;
    return sh(@{$self->wrap($i)}, @cmd);
}

# Whether a TCP connect to ADDR:PORT succeeds within $timeout seconds.
sub tcp_ok {
    my ($addr, $port, $timeout) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
                                  Timeout => $timeout // 1);
    return $s ? 1 : 0;
}

# Host i is reachable: its address answers ARP, i.e. a neighbour entry
# resolves (ping would need iputils, which the tests must not assume; an
# unanswered TCP connect to a closed port is enough to trigger the ARP).
sub wait_reachable {
    my ($self, $i, $timeout) = @_;
    my $end = time + ($timeout // 5);
    my $a = $self->addr($i);
    while (time < $end) {
        tcp_ok($a, 9, 0.3);         # nothing listens: RST if reachable
        my (undef, $neigh) = ip('neigh', 'show', $a, 'dev', $self->{bridge});
        return 1 if $neigh =~ /\b(REACHABLE|STALE|DELAY|PROBE)\b/;
        sleep 0.1;
    }
    return 0;
}

# Cut host i off the network: its switch port goes down.
sub cut {
    my ($self, $i) = @_;
    ip_ok('link', 'set', $self->{veth}[$i], 'down');
    $self->{cut}{$i} = 1;
}

# Plug host i back in.
sub heal {
    my ($self, $i) = @_;
    ip_ok('link', 'set', $self->{veth}[$i], 'up');
    delete $self->{cut}{$i};
}

# What the network looks like, for diagnostics.
sub diag {
    my ($self) = @_;
    my $out = '';
    $out .= (ip('-br', 'addr', 'show', 'master', $self->{bridge}))[1];
    $out .= (ip('-br', 'addr', 'show', 'dev', $self->{bridge}))[1];
    for my $i (1 .. @{$self->{ns}}) {
        $out .= "host $i (" . $self->ns($i) . '): '
              . (ip('-n', $self->ns($i), '-br', 'addr', 'show', 'dev', 'eth0'))[1];
    }
    return $out;
}

# Remove everything this object made; safe to call twice and from END.
sub teardown {
    my ($self) = @_;
    return if $self->{down} || $$ != $self->{pid};
    $self->{down} = 1;
    # the nodes in the namespaces: a graceful stop first (FsdfsTest knows
    # their pids and waits), then whatever is left in them, by pid
    FsdfsTest::shutdown_all() if defined &FsdfsTest::shutdown_all;
    for my $ns (@{$self->{ns}}) {
        my (undef, $pids) = ip('netns', 'pids', $ns);
        my @p = $pids =~ /(\d+)/g;
        next unless @p;
        kill 'KILL', @p;
        my $end = time + 5;
        sleep 0.05 while time < $end && grep { kill 0, $_ } @p;
    }
    for my $ns (@{$self->{ns}}) {
        ip('netns', 'del', $ns);
    }
    # the namespace's end of each veth went with it; the bridge's end too
    # unless something still held the namespace
    for my $h (grep { defined } @{$self->{veth} // []}) {
        ip('link', 'del', $h) if -e "/sys/class/net/$h";
    }
    ip('link', 'del', $self->{bridge}) if -e "/sys/class/net/$self->{bridge}";
    @all = grep { $_ != $self } @all;
}

# What teardown() left behind (names), for a test to assert it is nothing.
sub leftovers {
    my ($self) = @_;
    my (undef, $list) = ip('netns', 'list');
    my @left = grep { my $ns = $_; $list =~ /^\Q$ns\E\b/m } @{$self->{ns}};
    push @left, grep { defined && -e "/sys/class/net/$_" }
                @{$self->{veth} // []}, $self->{bridge};
    return @left;
}

END {
    my $rc = $?;
    if ($$ == $owner) {
        $_->teardown for @all;
    }
    $? = $rc;
}

# An interrupted test (Ctrl-C, prove's kill, a CI timeout) still runs the
# END blocks: FsdfsTest's (processes, temp dir) and this one.
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub {
        return unless $$ == $owner;
        print STDERR "# caught SIG$sig: tearing down the test network\n";
        exit 128 + ($sig eq 'INT' ? 2 : $sig eq 'TERM' ? 15 : 1);
    };
}

1;
