#!/usr/bin/env bash
# Soak benchmark (not in CI, not in `make bench`): SOAK_SECONDS (600) of
# mixed load on a real cluster on loopback, started with the test harness
# t/lib/FsdfsTest.pm like bench/cluster.sh: Redis, four nginx nodes (a b c
# d) with commands and quotas, fsdfsd m1 leading and m2 standing by.
# Meanwhile, all at once:
#
#   reads    wrk against every node (bench/soak.lua): GETs rotating over
#            the base files, some with a Range, some conditional; local
#            hits and redirects. Every status is counted: anything but
#            200/206/302/304 is an error; socket errors apart. wrk runs in
#            slices of SOAK_SLICE s, so a slice can be put in the downtime
#            window of its node (below)
#   writes   every SOAK_PUT_EVERY s one `fsdfs put` of a new file (the CLI
#            picks the node) and, once more than SOAK_LIVE_FILES of them
#            live, one `fsdfs rm` of an older one; after each, SOAK_PROBES
#            GETs of random live files through random nodes, redirects
#            followed, bytes checked. Quotas are sized so the nodes are full
#            (fsdfsd fills them), so every new file needs evictions
#   restarts every SOAK_RESTART_EVERY (60-90) s one node of
#            SOAK_RESTART_NODES (b c d; a stays up the whole run, so one
#            node's workers are measured end to end) goes down, in turn:
#            graceful stop (SIGQUIT) 2 s, SIGKILL 2 s, graceful stop 12 s,
#            SIGKILL 12 s (12 s: dead after dead_after 5 s, its files are
#            re-replicated, then it comes back and its copies count again)
#   RSS      every SOAK_RSS_EVERY (30) s VmRSS and RssAnon of every nginx
#            worker, both fsdfsd and Redis (/proc/PID/status)
#
# A node's downtime window runs from its stop until it and every other node
# see each other alive again, plus 3 s. In it, for that node only, socket
# errors, wrk runs that could not connect and 503s (a node answers 503 until
# it has read the node table) are counted apart, and a probe whose
# connection to the node (first hop or redirect) failed is counted apart;
# a 404, a wrong byte or any other status is an error wherever it happens.
#
# After the load: time until min(K-N) >= 0 again; every file put and not
# removed must answer 200 with its bytes through every node and have K >= 1
# (files lost, goal 0); every holder the index names must have the file on
# its disk (goal 0: a holder without it is a copy counted that is not
# there); the last removed files must answer 404 everywhere;
# the RSS samples as a table, and start / end / ratio per process (a
# restarted node: its current workers since their start, or, when they ran
# less than two samples, its longest-lived earlier workers; printed which).
# It reports; it fails only on a setup that would not start. Then the
# harness's log checks (no alert, crash or sanitizer report) as TAP lines.
#
#   FSDFS_BUILD=$PWD/build SOAK_SECONDS=600 bench/soak.sh
#
# Knobs (defaults): SOAK_SECONDS 600, SOAK_BASE_FILES 100, SOAK_LIVE_FILES
# 100, SOAK_SIZE 65536 (mean; files are 0.5x-1.5x), SOAK_PUT_EVERY 0.5,
# SOAK_PROBES 3, SOAK_CONNS 4 (wrk connections per node), SOAK_DELAY_MS 10
# (pause per request per connection), SOAK_SLICE 10, SOAK_RSS_EVERY 30,
# SOAK_RESTART_EVERY 60-90, SOAK_RESTART_NODES "b c d", SOAK_SEED (time);
# SOAK_LOGS=DIR copies every log there at the end.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
export FSDFS_BUILD=${FSDFS_BUILD:-$top/build}
for cmd in redis-server redis-cli nginx wrk perl; do
    command -v "$cmd" >/dev/null || { echo "soak: needs $cmd (make deps)" >&2; exit 1; }
done
for f in ngx_http_fsdfs_module.so fsdfs fsdfsd; do
    [ -e "$FSDFS_BUILD/$f" ] || { echo "soak: no $FSDFS_BUILD/$f: build first (make)" >&2; exit 1; }
done

exec perl -I"$top/t/lib" - "$top" <<'PERL'
use strict;
use warnings;
use FsdfsTest;
use POSIX ();
use Time::HiRes qw(time sleep);
use List::Util qw(sum0 min max);
use Time::Local qw(timegm);

my $top = shift @ARGV;
my $secs = $ENV{SOAK_SECONDS} // 600;
my $base_n = $ENV{SOAK_BASE_FILES} // 100;
my $live_n = $ENV{SOAK_LIVE_FILES} // 100;
my $fsize = $ENV{SOAK_SIZE} // 65536;
my $put_every = $ENV{SOAK_PUT_EVERY} // 0.5;
my $probes = $ENV{SOAK_PROBES} // 3;
my $conns = $ENV{SOAK_CONNS} // 4;
my $delay_ms = $ENV{SOAK_DELAY_MS} // 10;
my $slice = $ENV{SOAK_SLICE} // 10;
my $rss_every = $ENV{SOAK_RSS_EVERY} // 30;
my ($rmin, $rmax) = split /-/, ($ENV{SOAK_RESTART_EVERY} // '60-90');
$rmax //= $rmin;
my @restart_names = split ' ', ($ENV{SOAK_RESTART_NODES} // 'b c d');
my $seed = $ENV{SOAK_SEED} // int(time);
srand($seed);
my $dead_after = 5;
my @downs = (2, 12);            # short: stale only; long: dead, healed, back
my $grace = 3;
my %ok_status = map { $_ => 1 } 200, 206, 302, 304;
my $lua = "$top/bench/soak.lua";
my $main_pid = $$;
my $tmp = tmp();
my (@kids, $loadavg0);

sub fail {
    print STDERR "soak: @_\n";
    exit 1;
}
sub loadavg { my $l = slurp('/proc/loadavg'); $l =~ /^(\S+ \S+ \S+)/ ? $1 : '?' }
sub lines_of { my @l = split /\n/, slurp($_[0]); return @l }

# children (the load) stop with the main process, however it ends
END {
    if ($$ == $main_pid) {
        for my $k (grep { $_->{pid} } @kids) {
            kill 'TERM', $k->{pid};
            waitpid($k->{pid}, 0);
        }
    }
}
$SIG{INT} = $SIG{TERM} = sub { exit 130 };

# --- the cluster -------------------------------------------------------------

$loadavg0 = loadavg();
start_redis();
my $redis_pid = (redis_cli('INFO', 'server') // '') =~ /process_id:(\d+)/ ? $1 : 0;
fsdfs('init', '--buckets', '1024', '--replicas', '2');
# room for about 2.5 copies of everything on three nodes (so a dead node
# can be healed), which is about 3.3 copies on four: the nodes fill up
my $unique = ($base_n + $live_n) * $fsize;
my $quota = int($unique * 2.5 / 3 / 0.85 / 1024 + 1) * 1024;
my @n = map { start_node(name => $_, commands => 1, quota => $quota,
                         http => 'if_modified_since before;') } qw(a b c d);
my %by_name = map { $_->{name} => $_ } @n;
my %by_port = map { $_->{port} => $_ } @n;
for (@restart_names) { $by_name{$_} or fail("SOAK_RESTART_NODES: no node $_") }
nodes_up(15, @n) or fail('nodes not up');

# every file: path => [seed, length, sum]; the bytes are blob(seed, length)
my (%file, @base, @live);
sub new_file {
    my ($path, $s) = @_;
    my $len = int($fsize / 2 + rand($fsize));
    my $data = blob($s, $len);
    $file{$path} = [$s, $len, sum64($data)];
    return $data;
}
for my $i (1 .. $base_n) {
    my $p = sprintf '/soak/base/%04d.mp3', $i;
    put_file($p, new_file($p, $i), '--node', $n[$i % 4]{name});
    $? == 0 or fail("put $p failed");
    push @base, $p;
}
my $seq = 0;
for (1 .. $live_n) {
    my $p = sprintf '/soak/w/%06d.ogg', ++$seq;
    put_file($p, new_file($p, 1_000_000 + $seq), '--node', $n[$seq % 4]{name});
    $? == 0 or fail("put $p failed");
    push @live, $p;
}
my %fconf = (dead_after => "${dead_after}s", extra => { reserve => '15%' });
my $m1 = start_fsdfsd(name => 'm1', %fconf);
wait_for(sub { fsdfsd_log($m1) =~ /leading/ }, 15) or fail("m1 does not lead:\n" . fsdfsd_tail($m1));
my $m2 = start_fsdfsd(name => 'm2', %fconf);
wait_for(sub { fsdfsd_log($m2) =~ /standby/ }, 15) or fail("m2 not standing by:\n" . fsdfsd_tail($m2));
my $nfiles = $base_n + $live_n;
wait_kn(sub { ($_[0]{files} // 0) == $nfiles && ($_[0]{min_kn} // -1) >= 0 }, 180)
    or fail('the files never reached N=2');
# then the quotas fill: no pull for 3 s in a row
my ($last, $quiet) = (-1, 0);
wait_for(sub {
    my $s = stats();
    my $d = $s->{pulls_done} // 0;
    ($d == $last && !($s->{pulls_inflight} // 0)) ? $quiet++ : ($quiet = 0);
    $last = $d;
    sleep 0.5;
    $quiet >= 6;
}, 240) or fail('the quotas never filled');
my $kn0 = kn_hist();
printf "soak: seed %d, %d nodes of quota %.1f MB, %d base + %d written files of %d KB mean, "
     . "filled: K-N %s\n", $seed, scalar @n, $quota / 1048576, $base_n, $live_n, $fsize / 1024,
       join(' ', map { "$_:$kn0->{$_}" } sort { $a <=> $b } keys %$kn0);
my $s0 = stats();

my $paths_file = "$tmp/paths.txt";
write_file($paths_file, join("\n", @base) . "\n");

# --- the load ------------------------------------------------------------------

my $t0 = time;
my $deadline = $t0 + $secs;
printf "soak: load for %d s from %s (load average %s)\n", $secs, scalar(localtime $t0), $loadavg0;

sub child {
    my ($name, $code) = @_;
    my $pid = fork() // fail("fork: $!");
    if ($pid == 0) {
        $SIG{INT} = 'DEFAULT';
        $SIG{TERM} = sub { POSIX::_exit(0) };
        my $ok = eval { $code->(); 1 };
        print STDERR "soak: $name: $@" unless $ok;
        POSIX::_exit($ok ? 0 : 1);      # never the harness's END: it stops the cluster
    }
    push @kids, { pid => $pid, name => $name };
}

sub out_file {
    my ($path) = @_;
    open my $fh, '>', $path or die "$path: $!";
    $fh->autoflush(1);
    return $fh;
}

# wrk, slice after slice, against one node
for my $k (0 .. $#n) {
    my $node = $n[$k];
    child("wrk $node->{name}", sub {
        my $log = out_file("$tmp/wrk-$node->{name}.log");
        my $pidf = "$tmp/wrk-$node->{name}.pid";
        my $wrk = 0;
        $SIG{TERM} = sub { kill 'INT', $wrk if $wrk; POSIX::_exit(0) };
        while ((my $left = $deadline - time) >= 1) {
            my $d = $left < $slice ? int($left) : $slice;
            my $ta = time;
            $wrk = open(my $fh, '-|') // die "fork: $!";
            if ($wrk == 0) {
                open STDERR, '>&', \*STDOUT;
                exec 'wrk', '-t1', "-c$conns", "-d${d}s", '--timeout', '5s', '-s', $lua,
                     "$node->{url}/", '--', $paths_file, $k, $delay_ms
                    or POSIX::_exit(127);
            }
            write_file($pidf, $wrk);
            my $out = do { local $/; <$fh> } // '';
            close $fh;
            $wrk = 0;
            unlink $pidf;
            my $tb = time;
            if ($out =~ /unable to connect/) {
                print $log "refused $ta $tb\n";
                sleep 0.25;
                next;
            }
            my %r = (req => 0, connect => 0, read => 0, write => 0, timeout => 0);
            $r{req} = $1 if $out =~ /^SOAK requests (\d+)/m;
            $r{"s$1"} = $2 while $out =~ /^SOAK status (\d+) (\d+)/mg;
            @r{qw(connect read write timeout)} = ($1, $2, $3, $4)
                if $out =~ /^SOAK socket connect (\d+) read (\d+) write (\d+) timeout (\d+)/m;
            $r{p99} = $1 if $out =~ /^SOAK latency p50 \d+ p99 (\d+)/m;
            unless ($out =~ /^SOAK requests/m) {
                (my $o = $out) =~ s/\n/ | /g;
                print $log "broken $ta $tb $o\n";
                sleep 0.25;
                next;
            }
            print $log join(' ', 'slice', $ta, $tb, map { "$_=$r{$_}" } sort keys %r), "\n";
        }
    });
}

# writes and probes
child('writer', sub {
    my $log = out_file("$tmp/writer.log");
    my @live = @live;
    my %probed = (ok => 0);
    my $next = time;
    while (time < $deadline) {
        sleep($next - time) if $next > time;
        $next = max($next + $put_every, time - $put_every);
        last if time >= $deadline;
        my $p = sprintf '/soak/w/%06d.ogg', ++$seq;
        my $t = time;
        my $out = put_file($p, new_file($p, 1_000_000 + $seq));
        my $rc = $? >> 8;
        if ($rc == 0) {
            push @live, $p;
            print $log "put ok $t\n";
        } else {
            (my $o = $out) =~ s/\s+/ /g;
            # the answer may be lost after the node stored and indexed it
            fsdfs('where', $p);
            my $indexed = $? == 0;
            push @live, $p if $indexed;
            print $log "put fail $t rc=$rc indexed=", ($indexed ? 1 : 0), " $o\n";
            delete $file{$p} unless $indexed;
        }
        if (@live > $live_n) {
            my $i = int(rand(@live / 2));      # one of the older half
            my $rp = $live[$i];
            $t = time;
            my $o = fsdfs('rm', $rp);
            my $rrc = $? >> 8;
            if ($rrc == 0) {
                splice @live, $i, 1;
                print $log "rm ok $t $rp\n";
            } else {
                $o =~ s/\s+/ /g;
                print $log "rm fail $t rc=$rrc $o\n";
            }
        }
        for (1 .. $probes) {
            my $pp = rand() < 0.5 ? $base[rand @base] : $live[rand @live];
            my $node = $n[rand @n];
            $t = time;
            my $r = follow($node->{port}, $pp, 2);
            my $okb = $r->{status} == 200 && sum64($r->{body}) eq $file{$pp}[2];
            if ($okb) { $probed{ok}++; next }
            printf $log "probe bad %.3f %s %s %d %s%s\n", $t, $node->{name}, $pp, $r->{status},
                   join(',', @{$r->{hops}}), $r->{status} == 200 ? ' wrong-bytes' : '';
        }
    }
    print $log "probes ok $probed{ok}\n";
    print $log "live $_ @{$file{$_}}\n" for @live;
    print $log "seq $seq\n";
});

# cluster figures every second, RSS every SOAK_RSS_EVERY s
sub proc_mem {
    my ($pid) = @_;
    my $s = slurp("/proc/$pid/status");
    my ($rss) = $s =~ /^VmRSS:\s+(\d+)/m;
    my ($anon) = $s =~ /^RssAnon:\s+(\d+)/m;
    return defined $rss ? ($rss, $anon // 0) : ();
}
sub workers {
    my ($node) = @_;
    my $master = slurp("$node->{prefix}/nginx.pid");
    return () unless $master =~ /^(\d+)/;
    $master = $1;
    my @w;
    for my $st (glob '/proc/[0-9]*/stat') {
        my ($pid, $ppid) = slurp($st) =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @w, $pid if $ppid == $master && slurp("/proc/$pid/cmdline") =~ /worker process/;
    }
    return sort { $a <=> $b } @w;
}
child('sampler', sub {
    my $log = out_file("$tmp/sampler.log");
    my $next_rss = $t0;
    my $next = $t0;
    while (1) {
        my $now = time;
        my %s = split /\n/, (redis_cli('HGETALL', 'fsdfs:stats') // '');
        printf $log "stats %.3f %s\n", $now,
               join(' ', map { "$_=" . ($s{$_} // '') }
                    qw(min_kn lost under files pulls_inflight pulls_done pulls_failed drops_done
                       drops_failed master epoch nodes_live));
        if ($now >= $next_rss - 0.5 || $now >= $deadline) {
            my @p = ([fsdfsd => m1 => $m1->{pid}], [fsdfsd => m2 => $m2->{pid}],
                     [redis => redis => $redis_pid]);
            for my $node (@n) {
                push @p, map { [nginx => $node->{name} => $_] } workers($node);
            }
            for (@p) {
                my ($rss, $anon) = proc_mem($_->[2]) or next;
                printf $log "rss %.3f %s %s %d %d %d\n", $now, @$_, $rss, $anon;
            }
            $next_rss += $rss_every;
        }
        last if $now >= $deadline;
        $next = min($next + 1, $deadline);
        sleep($next - time) if $next > time;
    }
});

# node restarts, in turn, from here
my @windows;
my $ri = 0;
my $next_restart = $t0 + ($rmin + rand($rmax - $rmin)) / 2;
while (time < $deadline) {
    my $down = $downs[int($ri / 2) % 2];
    if (time >= $next_restart && $deadline - time > $down + 25) {
        my $node = $by_name{$restart_names[$ri % @restart_names]};
        my $kind = $ri % 2 ? 'kill' : 'stop';
        my $w = { node => $node->{name}, kind => $kind, down => $down, stop => time };
        $kind eq 'kill' ? kill_node($node) : stop_node($node);
        $w->{gone} = time;
        # a wrk whose node is gone reconnects in a busy loop: end its slice
        my $wp = slurp("$tmp/wrk-$node->{name}.pid");
        kill 'INT', $1 if $wp =~ /^(\d+)/;
        sleep($w->{stop} + $down - time) if $w->{stop} + $down > time;
        my $tries = 0;
        until (eval { restart_node($node); 1 }) {
            $w->{restart_errors} .= $@;
            fail("$node->{name} would not start again: $w->{restart_errors}") if ++$tries >= 10;
            sleep 1;
        }
        $w->{start} = time;
        $w->{ready_ok} = nodes_up(60, @n);
        $w->{ready} = time;
        $w->{end} = $w->{ready} + $grace;
        push @windows, $w;
        $ri++;
        $next_restart = $w->{stop} + $rmin + rand($rmax - $rmin);
    }
    sleep 0.2;
}
for my $k (@kids) {
    waitpid($k->{pid}, 0);
    $k->{status} = $?;
    $k->{pid} = 0;
}
my $t_end = time;
my $loadavg1 = loadavg();
for (grep { $_->{status} } @kids) {
    print STDERR "soak: $_->{name} ended with status $_->{status}\n";
}

# --- after the load --------------------------------------------------------------

my (@wlive, @removed, $probes_ok);
my (%puts, %rms) = ();
my @bad_probes;
for (lines_of("$tmp/writer.log")) {
    if (/^live (\S+) (\d+) (\d+) (\S+)/) { push @wlive, $1; $file{$1} = [$2, $3, $4] }
    elsif (/^probes ok (\d+)/) { $probes_ok = $1 }
    elsif (/^put (ok|fail) (\S+)/) { push @{$puts{$1}}, [$2, $_] }
    elsif (/^rm (ok|fail) (\S+) ?(\S*)/) { push @{$rms{$1}}, [$2, $_]; push @removed, $3 if $1 eq 'ok' }
    elsif (/^probe bad (\S+) (\S+) (\S+) (\d+) (\S+)( wrong-bytes)?/) {
        push @bad_probes, { t => $1, node => $2, path => $3, status => $4,
                            hops => [split /,/, $5], wrong => $6 ? 1 : 0 };
    }
}
defined $probes_ok or fail("the writer did not finish: see $tmp/writer.log");

sub in_window {
    my ($name, $from, $to) = @_;
    $to //= $from;
    return grep { $_->{node} eq $name && $from <= $_->{end} && $to >= $_->{stop} } @windows;
}
sub in_any_window { my ($t) = @_; grep { $t <= $_->{end} && $t >= $_->{stop} } @windows }

# reads
my (%st, %st_down, %sock, %sock_down, $req, $refused, $refused_down, $broken, $p99max);
($req, $refused, $refused_down, $broken, $p99max) = (0, 0, 0, 0, 0);
for my $node (@n) {
    for (lines_of("$tmp/wrk-$node->{name}.log")) {
        if (/^refused (\S+) (\S+)/) {
            in_window($node->{name}, $1, $2) ? $refused_down++ : $refused++;
            next;
        }
        if (/^broken/) { $broken++; print STDERR "soak: wrk $node->{name}: $_\n"; next }
        my ($ta, $tb) = /^slice (\S+) (\S+)/ or next;
        my %r = /(\w+)=(\d+)/g;
        my $down = in_window($node->{name}, $ta, $tb);
        $req += $r{req};
        $p99max = $r{p99} if ($r{p99} // 0) > $p99max;
        for my $k (grep { /^s\d+$/ } keys %r) {
            my $code = substr $k, 1;
            # in its own downtime a node may answer 503 (no node table yet);
            # a 404 or anything else counts there too
            if ($down && $code == 503) { $st_down{$code} += $r{$k} } else { $st{$code} += $r{$k} }
        }
        for my $e (qw(connect read write timeout)) {
            $down ? ($sock_down{$e} += $r{$e}) : ($sock{$e} += $r{$e});
        }
    }
}
my $read_errors = sum0(map { $st{$_} } grep { !$ok_status{$_} } keys %st);

# probes
my (%pbad, %pexcused);
for my $p (@bad_probes) {
    my $last_port = $p->{hops}[-1];
    my $to = $by_port{$last_port} ? $by_port{$last_port}{name} : "port $last_port";
    if ($p->{status} == 0 && in_window($to, $p->{t}, $p->{t} + 1)) {
        # the connection to a node in its downtime failed
        $pexcused{@{$p->{hops}} == 1 ? 'asked a node that was down' : 'redirected to a node that was down'}++;
    } elsif ($p->{status} == 503 && in_any_window($p->{t})) {
        $pexcused{'503 during a restart'}++;
    } else {
        my $what = $p->{wrong} ? 'wrong bytes' : $p->{status} ? $p->{status} : 'no answer';
        $pbad{$what}++;
        print "soak: bad probe: t+", sprintf('%.1f', $p->{t} - $t0),
              " via $p->{node} $p->{path}: $what (ports @{$p->{hops}})\n";
    }
}

# writes
my ($puts_fail_down, $rms_fail_down) = (0, 0);
for (@{$puts{fail} // []}) {
    if (in_any_window($_->[0])) { $puts_fail_down++ } else { print "soak: $_->[1]\n" }
}
for (@{$rms{fail} // []}) {
    if (in_any_window($_->[0])) { $rms_fail_down++ } else { print "soak: $_->[1]\n" }
}

# the cluster during the run
my (@kn_seen, @lost_seen, @under_seen);
my %rss;                # kind/name => [[t, pid, rss, anon], ...]
for (lines_of("$tmp/sampler.log")) {
    if (/^stats (\S+) (.*)/) {
        my ($t, %s) = ($1, map { split /=/, $_, 2 } split ' ', $2);
        next unless length($s{min_kn} // '');
        push @kn_seen, $s{min_kn};
        push @lost_seen, $s{lost} || 0;
        push @under_seen, $s{under} || 0;
    } elsif (/^rss (\S+) (\S+) (\S+) (\d+) (\d+) (\d+)/) {
        push @{$rss{"$2 $3"}}, [$1, $4, $5, $6];
    }
}

# the masters' failed pulls and drops, by outcome; those with a node in its
# downtime window (as target or source) apart
my %fails;
my %id_name = reverse %{node_ids()};
for my $d ($m1, $m2) {
    for (lines_of($d->{log})) {
        my ($y, $mo, $dd, $h, $mi, $sec, $rest) =
            /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):([\d.]+)Z \[\w+\] (.*)/ or next;
        my ($what, $nodes, $why);
        if ($rest =~ /^(pull|drop) \S+ (?:to|on) (\d+(?: from \d+)?) failed: (.+?) \((\d+)/) {
            ($what, $nodes, $why) = ($1, $2, "$3 ($4)");
        } elsif ($rest =~ /^evict \S+ from (\d+) abandoned: (.*)/) {
            # an eviction's drop that failed: counted in drops_failed
            ($what, $nodes, $why) = ('drop', $1, "evict abandoned: $2");
        } else {
            next;
        }
        my $t = timegm(0, $mi, $h, $dd, $mo - 1, $y) + $sec;
        next if $t < $t0 || $t > $t_end;
        my $down = grep { in_window($id_name{$_} // '', $t) } $nodes =~ /(\d+)/g;
        $fails{$what}{$why . ($down ? ' in a downtime' : '')}++;
    }
}

# converge, then every file through every node
stats()->{min_kn} // fail('no figures after the load');
my $conv = wait_kn(sub { ($_[0]{files} // 0) == $base_n + @wlive && ($_[0]{min_kn} // -1) >= 0 }, 180);
my $s1 = stats();
my %want = map { $_ => $file{$_} } @base, @wlive;
my ($lost, $bad_answers, $k0) = (0, 0, 0);
my $ids = node_ids();
my %alive = map { $_ => rcmd('EXISTS', "fsdfs:alive:$_") ? 1 : 0 } values %$ids;
my $all = all_records();
for my $p (sort keys %want) {
    my $bad = 0;
    for my $node (@n) {
        my $r = follow($node->{port}, $p, 2);
        next if $r->{status} == 200 && sum64($r->{body}) eq $want{$p}[2];
        $bad++;
        print "soak: after the load $p via $node->{name}: $r->{status}"
            . ($r->{status} == 200 ? ' wrong bytes' : '') . "\n" if $bad_answers++ < 20;
    }
    $lost++ if $bad == @n;
    $k0++ unless grep { $alive{$_} } @{$all->{$p} // []};
}
# the index against the disks: a holder whose disk lacks the file is a copy
# counted that is not there; a copy no record names uses quota for nothing
# (drops in flight are given a few seconds to settle)
my ($ghosts, $strays, @ghost_ex, @stray_ex) = (0, 0);
wait_for(sub {
    my $recs = all_records();
    ($ghosts, $strays, @ghost_ex, @stray_ex) = (0, 0);
    for my $node (@n) {
        my $id = $ids->{$node->{name}};
        my $disk = disk_files($node);
        for my $p (keys %$recs) {
            next unless grep { $_ == $id } @{$recs->{$p}};
            next if $disk->{$p};
            $ghosts++;
            push @ghost_ex, "$p on $node->{name}";
        }
        for my $p (grep { !/\/\.fsdfs/ && !grep { $_ == $id } @{$recs->{$_} // []} } keys %$disk) {
            $strays++;
            push @stray_ex, "$p on $node->{name}" . ($recs->{$p} ? '' : ' (no record)');
        }
    }
    !$ghosts && !$strays;
}, 10);
my @check_rm = @removed > 200 ? @removed[-200 .. -1] : @removed;
my $back = 0;
for my $p (@check_rm) {
    for my $node (@n) {
        my $r = http($node->{port}, 'GET', $p);
        $back++ if $r->{status} != 404;
    }
}

# --- the report ------------------------------------------------------------------

sub mb { defined $_[0] ? sprintf('%.1f', $_[0] / 1024) : '-' }
sub ratio { $_[1] ? sprintf('%.2f', $_[0] / $_[1]) : '-' }
my $elapsed = $t_end - $t0;
print "\n== soak: ", sprintf('%.0f', $elapsed), " s of load, ", scalar(localtime $t0),
      ", load average at start $loadavg0, at end $loadavg1, ", `nproc` =~ s/\s+//r, " cores\n";
printf "cluster   4 nodes x 2 workers, quota %.1f MB each (fsdfsd reserve 15%%), N=2, dead_after %d s, "
     . "m1 leading, m2 standby\n", $quota / 1048576, $dead_after;
printf "reads     wrk -t1 -c%d per node, %d ms pause per request per connection, %d base files, "
     . "1/5 ranges, 1/7 conditional\n", $conns, $delay_ms, $base_n;
printf "writes    1 put every %.1f s, 1 rm each once %d written files live; %d probes after each\n",
       $put_every, $live_n, $probes;
print "\nrestarts  node  how    down   stop->back ready  window\n";
for my $w (@windows) {
    printf "          %-5s %-5s %3d s   t+%-6.0f %5.1f s  %5.1f s %s\n", $w->{node}, $w->{kind},
           $w->{down}, $w->{stop} - $t0, $w->{ready} - $w->{stop}, $w->{end} - $w->{stop},
           $w->{ready_ok} ? '' : '(nodes_up timed out)';
}
print "          none\n" unless @windows;

my $down_socks = sum0(values %sock_down);
printf "\nreads     %d requests (%.0f/s), by status: %s\n", $req, $req / ($elapsed || 1),
       join(', ', map { "$_: $st{$_}" } sort keys %st);
printf "          ERRORS (not 200/206/302/304): %d%s   goal 0\n", $read_errors,
       $read_errors ? ' (' . join(', ', map { "$_: $st{$_}" } grep { !$ok_status{$_} } sort keys %st) . ')' : '';
printf "          socket errors outside downtime: %d (connect %d, read %d, write %d, timeout %d)\n",
       sum0(values %sock), map { $sock{$_} // 0 } qw(connect read write timeout);
printf "          in the restarted node's downtime (apart): %d socket errors (connect %d, read %d, "
     . "write %d, timeout %d), %d 503, %d wrk runs refused\n", $down_socks,
       (map { $sock_down{$_} // 0 } qw(connect read write timeout)), $st_down{503} // 0, $refused_down;
printf "          wrk runs refused outside downtime: %d, unreadable wrk output: %d, worst slice p99 %.1f ms\n",
       $refused, $broken, $p99max / 1000;
my $pbad = sum0(values %pbad);
my $ptotal = $probes_ok + @bad_probes;
printf "probes    %d GETs following redirects, bytes checked: %d ok; ERRORS %d%s   goal 0\n", $ptotal,
       $probes_ok, $pbad, $pbad ? ' (' . join(', ', map { "$_: $pbad{$_}" } sort keys %pbad) . ')' : '';
printf "          apart: %s\n", %pexcused ? join(', ', map { "$_: $pexcused{$_}" } sort keys %pexcused) : 'none';
my $pf = @{$puts{fail} // []};
my $rf = @{$rms{fail} // []};
printf "writes    %d puts ok, %d failed (%d in a downtime window); %d rm ok, %d failed (%d in a downtime window)\n",
       scalar @{$puts{ok} // []}, $pf, $puts_fail_down, scalar @{$rms{ok} // []}, $rf, $rms_fail_down;
printf "cluster   during the load: %d pulls done, %d failed; %d drops done, %d failed; "
     . "lowest min(K-N) %s; files under N (K<N) at once: mean %.1f, most %d; most files lost (K=0) at once: %d\n",
       ($s1->{pulls_done} // 0) - ($s0->{pulls_done} // 0), ($s1->{pulls_failed} // 0) - ($s0->{pulls_failed} // 0),
       ($s1->{drops_done} // 0) - ($s0->{drops_done} // 0), ($s1->{drops_failed} // 0) - ($s0->{drops_failed} // 0),
       (@kn_seen ? min(@kn_seen) : '-'), (@under_seen ? sum0(@under_seen) / @under_seen : 0),
       (@under_seen ? max(@under_seen) : 0), (@lost_seen ? max(@lost_seen) : 0);
for my $what (qw(pull drop)) {
    my @f = map { "$_: $fails{$what}{$_}" }
            sort { $fails{$what}{$b} <=> $fails{$what}{$a} } keys %{$fails{$what} // {}};
    printf "          %s failures by outcome (status): %s\n", $what, @f ? join(', ', @f) : 'none';
}
printf "after     min(K-N) >= 0 %s; min(K-N) %s, files %s\n",
       $conv ? sprintf('%.1f s after the load', $conv) : 'NOT reached in 180 s',
       $s1->{min_kn} // '-', $s1->{files} // '-';
printf "          FILES LOST: %d of %d (no node answers 200 with the bytes)   goal 0; "
     . "wrong answers through some node: %d; K=0 in the index: %d\n", $lost, scalar keys %want,
       $bad_answers, $k0;
printf "          index vs disks: %d holders named in the index without the file on disk (goal 0)%s; "
     . "%d copies on disk that no record names%s\n", $ghosts,
       $ghosts ? ' (' . join(', ', @ghost_ex[0 .. min(4, $#ghost_ex)]) . ')' : '', $strays,
       $strays ? ' (' . join(', ', @stray_ex[0 .. min(4, $#stray_ex)]) . ')' : '';
printf "          removed files answering anything but 404: %d of %d GETs (the last %d removed, every node)\n",
       $back, @check_rm * @n, scalar @check_rm;

# RSS
my @kinds = ('fsdfsd m1', 'fsdfsd m2', 'redis redis', map { "nginx $_->{name}" } @n);
my %at;                 # time => kind => [rss of each pid]
for my $k (keys %rss) {
    push @{$at{$_->[0]}{$k}}, $_ for @{$rss{$k}};
}
print "\nRSS (VmRSS, MB; nginx: each worker; * new workers since the last sample)\n";
printf "%8s %9s %9s %7s %s\n", 't', 'fsdfsd m1', 'fsdfsd m2', 'redis',
       join(' ', map { sprintf '%-11s', "nginx $_->{name}" } @n);
my %prev_pids;
for my $t (sort { $a <=> $b } keys %at) {
    my @col;
    for my $k (@kinds) {
        my @s = sort { $a->[1] <=> $b->[1] } @{$at{$t}{$k} // []};
        my $pids = join ',', map { $_->[1] } @s;
        my $mark = $k =~ /^nginx/ && defined $prev_pids{$k} && $prev_pids{$k} ne $pids ? '*' : '';
        $prev_pids{$k} = $pids;
        push @col, @s ? join('/', map { mb($_->[2]) } @s) . $mark : '-';
    }
    printf "t+%-6.0f %9s %9s %7s %s\n", $t - $t0, @col[0 .. 2],
           join(' ', map { sprintf '%-11s', $_ } @col[3 .. $#col]);
}

# start / end per process group: the sum over its pids at the first and
# the last sample of one life (the same pids)
print "\nRSS start -> end        VmRSS MB            RssAnon MB         span\n";
for my $k (@kinds) {
    my @lives;          # [pids, [t, sum rss, sum anon]...]
    for my $t (sort { $a <=> $b } keys %at) {
        my @s = sort { $a->[1] <=> $b->[1] } @{$at{$t}{$k} // []} or next;
        my $pids = join ',', map { $_->[1] } @s;
        push @lives, [$pids] if !@lives || $lives[-1][0] ne $pids;
        push @{$lives[-1]}, [$t, sum0(map { $_->[2] } @s), sum0(map { $_->[3] } @s)];
    }
    next unless @lives;
    my $life = $lives[-1];
    my $which = @lives > 1 ? 'since its last restart' : 'whole run';
    if (@$life < 3) {
        ($life) = sort { $b->[-1][0] - $b->[1][0] <=> $a->[-1][0] - $a->[1][0] } @lives;
        $which = 'its longest life (the current one is too short)';
    }
    my ($first, $last) = ($life->[1], $life->[-1]);
    printf "%-12s %6s -> %6s = %-5s %6s -> %6s = %-5s %4.0f s, %s\n", $k =~ s/^(fsdfsd|redis) //r,
           mb($first->[1]), mb($last->[1]), ratio($last->[1], $first->[1]), mb($first->[2]),
           mb($last->[2]), ratio($last->[2], $first->[2]), $last->[0] - $first->[0], $which;
}
print "(nginx rows: both workers summed; goal: flat)\n\n";

# stop everything; the harness's log checks print as TAP lines
FsdfsTest::shutdown_all();
if (my $keep = $ENV{SOAK_LOGS}) {
    # the harness removes its temp dir when all is well: copy the logs out
    system('mkdir', '-p', $keep);
    system('cp', glob("$tmp/*.log"), $keep);
    system('cp', "$_->{log}", "$keep/fsdfsd-$_->{name}.log") for $m1, $m2;
    system('cp', "$_->{prefix}/error.log", "$keep/nginx-$_->{name}.log") for @n;
    print "soak: logs copied to $keep\n";
}
finish();
PERL
