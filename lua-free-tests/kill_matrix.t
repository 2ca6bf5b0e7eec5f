#!/usr/bin/perl
# Kill matrix under load (DESIGN §8: killing any single process loses no
# file and everything recovers without manual steps; a GET for a file with
# a live copy never gets 404).
#
# Redis (with an AOF, as conf.d/redis.conf has operators run it), four
# nodes and two fsdfsd (m1 leads, m2 waits), N=2. Every put lands on d;
# the master copies each new file to N, then on to the other nodes until
# a, b and c are full, and from then on makes room for new files' copies
# by evicting surplus ones (see %quota). Pulls are paced (limit_rate on
# requests carrying X-Fsdfs-Local) so that the replication of a batch
# takes seconds.
#
# Each phase puts a batch of files, drives every node at once with wrk
# (one wrk per node, lua-free-tests/kill_matrix.lua rotating over every
# path put so far: local hits and redirects), waits until pulls are in
# flight, and then, one at a time:
#   none     no kill: the baseline;
#   worker   SIGKILL of one nginx worker of a (its master respawns it);
#   master   SIGKILL of b's nginx master: the orphaned workers keep
#            serving; then, as a supervisor would, they are told to quit
#            and nginx is started again;
#   fsdfsd   SIGKILL of the leading fsdfsd: the standby takes the lease
#            and replication goes on; the killed one comes back as standby;
#   redis    SIGKILL of Redis, down 2 s, started again on its AOF.
# After each: every answer wrk got is 200/206/302/304, except 503s that
# fall inside the documented windows, each checked against the times of
# its first and last occurrence: Redis unreachable ("misses answer from
# the cache, the rest get 503"), from the kill until one node-table
# refresh after every node has beaten again; a node just started ("until
# a worker has read the node table ... misses answer 503"), until it sees
# every node alive and one table refresh after. No file is lost (every
# file put so far has a holder in the index, every holder the index names
# has the file on disk, and every file answers 200 with its bytes through
# every node); the cluster converges to min(K-N) >= 0. A table of the
# figures goes to the test output, with the copies left on disk that the
# index does not know (temp files of pulls cut short included).
#
# The master's journal (fsdfs:inflight) names every pull it sent and every
# evicted copy it took out of the index until the outcome is settled; a
# new master settles what the old one left. So after the fsdfsd and the
# Redis kills (a master that lost its lease while Redis was down, and the
# one that takes over after) and at the end, no node may keep a copy the
# index does not give it (polled: the settling pulls take a moment). Temp
# files are the nodes' own to sweep (a SIGKILLed worker leaves its pull's
# behind): they are shown, not counted there.
#
# First, a node that cached a miss of a path (open_file_cache_errors on)
# must serve the file to a peer pulling it as soon as it arrives.
#
# Socket errors are not responses: a SIGKILLed worker resets the
# connections it had open, and a node being restarted refuses
# connections. They are counted and shown, and required to be 0 only in
# the phases where no nginx process dies.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

need_cluster();
chomp(my $wrk = `command -v wrk 2>/dev/null`);
plan skip_all => 'needs wrk (Debian package wrk, in the Makefile deps)' unless $wrk;
my $script = "$FindBin::Bin/kill_matrix.lua";

my $size = 40000;
my $batch = 4;
my $wrk_s = 4;
# a, b and c hold 10 copies each (the master keeps 1% free), d every
# file: from the third batch on, new copies on a, b or c need evictions.
# The spare room at the end (30 copies for 21 files at N=2) was there for
# the copies a killed master left on disk unindexed: a pull the master
# could not record (it was SIGKILLed, or lost its lease while Redis was
# down) left a copy the index does not know, which used its node's quota
# for good; with every node full that way a file would stay at K-N = -1.
# The journal now settles them (below); the table counts what is left
# ("unindexed": after the settling, for the phases that wait for it).
my %quota = map { $_ => $_ eq 'd' ? '2m' : 10 * $size + 20000 } qw(a b c d);
my %ok_status = map { $_ => 1 } (200, 206, 302, 304);

# What this file starts itself: wrk runs and the Redis restarted on its AOF
# (the harness starts Redis without persistence and cannot restart it
# with an AOF). Stopped whatever happens.
my (@wrk_pids, $own_redis);
sub cleanup {
    for my $pid (grep { $_ } @wrk_pids) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    @wrk_pids = ();
    if ($own_redis) {
        kill 'KILL', $own_redis;
        waitpid($own_redis, 0);
        $own_redis = 0;
    }
}
END { cleanup() }

my $redis = start_redis();
# conf.d/redis.conf: appendonly yes, appendfsync everysec. Without it a
# restarted Redis comes back empty: the index, and every file, is gone.
redis_cli('CONFIG', 'SET', 'appendfsync', 'everysec');
redis_cli('CONFIG', 'SET', 'appendonly', 'yes');
ok(wait_for(sub {
    my $i = redis_cli('INFO', 'persistence') // '';
    $i =~ /aof_enabled:1/ && $i =~ /aof_rewrite_in_progress:0/
        && $i =~ /aof_rewrite_scheduled:0/ && $i =~ /aof_last_bgrewrite_status:ok/;
}, 15), 'Redis writes an append-only file, as conf.d/redis.conf has it');

fsdfs('init', '--buckets', '256', '--replicas', '2');
my $http = 'map $http_x_fsdfs_local $km_pull_rate { 1 32k; default 0; }';
my @n = map {
    start_node(name => $_, commands => 1, quota => $quota{$_},
               http => $http, location => 'fsdfs on; limit_rate $km_pull_rate;')
} qw(a b c d);
my ($na, $nb, $nc, $d) = @n;
ok(nodes_up(15, @n), 'four nodes up');
my %by_id = map { node_id($_->{name}) => $_ } @n;

# A copy that arrives just after a miss was cached as "not found"
# (open_file_cache_errors on, as README advises) must be served to a peer
# pulling it (X-Fsdfs-Local) at once: a 404 there makes the master drop
# the holder from the index, and the only holder of a new file is the
# node it was put on. Both of d's workers see the miss first.
my %files;
{
    my $path = '/km/pre/00.mp3';
    # nginx caches by whole seconds: all of it within one
    sleep(1.02 - (time - int(time)));
    my @miss = map { http($d->{port}, 'GET', $path)->{status} } 1 .. 8;
    is("@miss", join(' ', (404) x 8), "$path unknown: 404 on d");
    $files{$path} = blob(1000, $size);
    my $out = put_file($path, $files{$path}, '--node', 'd');
    is($? >> 8, 0, "put $path on d") or diag($out);
    my @pull = map { http($d->{port}, 'GET', $path, 'X-Fsdfs-Local' => 1)->{status} } 1 .. 8;
    is("@pull", join(' ', (200) x 8), 'a peer pulling it from d at once gets 200, not a cached 404');
}

my $m1 = start_fsdfsd(name => 'm1', dead_after => '5s');
ok(wait_for(sub { fsdfsd_log($m1) =~ /leading, epoch \d+/ }, 15), 'm1 leads')
    or diag(fsdfsd_tail($m1));
my $m2 = start_fsdfsd(name => 'm2', dead_after => '5s');
ok(wait_for(sub { fsdfsd_log($m2) =~ /standby/ }, 15), 'm2 waits as a standby')
    or diag(fsdfsd_tail($m2));
my @sidecars = ($m1, $m2);

my $seq = 0;

# A batch of new files, put on d (the node with room).
sub put_batch {
    my ($label) = @_;
    my @new;
    for (1 .. $batch) {
        $seq++;
        my $path = sprintf '/km/%s/%02d.mp3', $label, $seq;
        my $bytes = blob($seq, $size);
        my $out = put_file($path, $bytes, '--node', 'd');
        is($? >> 8, 0, "$label: put $path") or diag($out);
        $files{$path} = $bytes;
        push @new, $path;
    }
    return @new;
}

# One wrk per node, all at once, over every path put so far.
sub wrk_start {
    my ($label, $secs) = @_;
    my $list = tmp() . "/paths-$label";
    write_file($list, join '', map { "$_\n" } sort keys %files);
    my @runs;
    for my $node (@n) {
        my $out = tmp() . "/wrk-$label-$node->{name}.out";
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', $out or exit 127;
            open STDERR, '>&', \*STDOUT;
            exec $wrk, '-t1', '-c4', "-d${secs}s", '--timeout', '5s',
                 '-s', $script, "$node->{url}/", '--', $list;
            exit 127;
        }
        push @wrk_pids, $pid;
        push @runs, { node => $node, pid => $pid, out => $out };
    }
    return { label => $label, secs => $secs, runs => \@runs, t0 => time };
}

# Waits for the wrk runs and reads what the script printed: per node,
# requests, {status => [count, first, last]} and socket errors.
sub wrk_wait {
    my ($w) = @_;
    my $end = $w->{t0} + $w->{secs} + 20;
    for my $r (@{$w->{runs}}) {
        while (waitpid($r->{pid}, WNOHANG) == 0) {
            if (time > $end) {
                kill 'KILL', $r->{pid};
                waitpid($r->{pid}, 0);
                last;
            }
            sleep 0.1;
        }
        @wrk_pids = grep { $_ != $r->{pid} } @wrk_pids;
        my $text = slurp($r->{out});
        $r->{ran} = $text =~ /^km requests (\d+)$/m ? 1 : 0;
        $r->{requests} = $1 // 0;
        $r->{status} = {};
        while ($text =~ /^km status (\d+) (\d+) ([\d.]+) ([\d.]+)$/mg) {
            $r->{status}{$1} = [$2, $3, $4];
        }
        $r->{sockerr} = 0;
        if ($text =~ /^km errors connect (\d+) read (\d+) write (\d+) status \d+ timeout (\d+)$/m) {
            $r->{sockerr} = $1 + $2 + $3 + $4;
            $r->{sockdetail} = "connect $1 read $2 write $3 timeout $4";
        }
        $r->{text} = $text;
    }
    return $w;
}

# Every wrk ran; every answer is OK or a 503 inside an allowed window
# ({node => NAME or undef for any, from => T, to => T}); returns
# (requests, bad answers, allowed 503s, socket errors, details).
sub judge {
    my ($w, @allow) = @_;
    my ($req, $bad, $allowed, $sock, @why) = (0, 0, 0, 0);
    for my $r (@{$w->{runs}}) {
        my $name = $r->{node}{name};
        ok($r->{ran}, "$w->{label}: wrk ran against $name")
            or diag($r->{text});
        $req += $r->{requests};
        $sock += $r->{sockerr};
        push @why, "$name: socket errors $r->{sockdetail}" if $r->{sockerr};
        for my $code (sort keys %{$r->{status}}) {
            next if $ok_status{$code};
            my ($cnt, $first, $last) = @{$r->{status}{$code}};
            my $win = $code == 503 && (grep {
                (!defined $_->{node} || $_->{node} eq $name)
                    && $first >= $_->{from} - 0.05 && $last <= $_->{to} + 0.05
            } @allow)[0];
            if ($win) {
                $allowed += $cnt;
                push @why, sprintf '%s: %d x 503 from %.2f to %.2f s, inside the window %.2f-%.2f',
                               $name, $cnt, $first - $w->{t0}, $last - $w->{t0},
                               $win->{from} - $w->{t0}, $win->{to} - $w->{t0};
            } else {
                $bad += $cnt;
                push @why, sprintf '%s: %d x %d from %.2f to %.2f s (after wrk started)%s',
                               $name, $cnt, $code, $first - $w->{t0}, $last - $w->{t0},
                               @allow ? ', outside every allowed window: '
                                   . join(', ', map { sprintf '%s %.2f-%.2f', $_->{node} // 'any',
                                                  $_->{from} - $w->{t0}, $_->{to} - $w->{t0} } @allow)
                                   : '';
            }
        }
    }
    return ($req, $bad, $allowed, $sock, @why);
}

# Files lost: put, but with no holder in the index whose disk has the
# bytes. Also lists holders the index names that lack the copy.
sub lost_files {
    my $all = all_records();
    my (@lost, @phantom);
    for my $p (sort keys %files) {
        my $good = 0;
        for my $id (@{$all->{$p} // []}) {
            my $node = $by_id{$id};
            my $f = $node ? "$node->{root}$p" : '';
            if ($node && -f $f && -s _ == length $files{$p} && slurp($f) eq $files{$p}) {
                $good++;
            } else {
                push @phantom, "$p: the index names node $id, whose disk lacks the copy";
            }
        }
        push @lost, "$p: holders [@{$all->{$p} // []}] in the index, no good copy" unless $good;
    }
    return (\@lost, \@phantom);
}

# fsdfs:stats published after T (its updated field: unix ms).
sub fresh {
    my ($updated, $t) = @_;
    return defined $updated && $updated =~ /^\d+$/ && $updated > $t * 1000;
}


# unindexed() without the temp files.
sub unindexed_copies { grep { !m{/\.fsdfs-tmp-[^/]*$} } unindexed(@n) }

# After a master's death: every copy it left out of the index is settled
# (indexed or dropped) by the next one, from the journal.
sub settled {
    my ($label) = @_;
    my @extra;
    ok(wait_for(sub { !(@extra = unindexed_copies()) }, 30),
       "$label: no copy on a disk that the index does not name (journal settled)")
        or diag("unindexed: @extra\njournal: "
                . join(', ', @{rcmd('HKEYS', 'fsdfs:inflight') // []}) . "\n"
                . join '', map { fsdfsd_tail($_, 30) } grep { $_->{pid} } @sidecars);
    return scalar @extra;
}

sub leader {
    my $m = rcmd('GET', 'fsdfs:master') // '';
    my ($name) = $m =~ /^(.+):\d+$/;
    return $name && (grep { $_->{name} eq $name && $_->{pid} } @sidecars)[0];
}

my @table;
my $t_all = time;
# phases after which the journal must have been settled
my %settle = (fsdfsd => 1, redis => 1);

# One phase: a batch, load, replication running, the kill, recovery,
# the checks. $kill->() does the kill and whatever a supervisor would do,
# and returns the allowed 503 windows.
sub phase {
    my ($label, $kill) = @_;
    my @new = put_batch($label);
    my $w = wrk_start($label, $wrk_s);
    # sampled at once: after a slow put batch, little of the replication
    # may be left
    my $inflight = 0;
    ok(wait_for(sub { $inflight = stats()->{pulls_inflight} // 0; $inflight > 0 }, 10),
       "$label: replication is running ($inflight pulls in flight)")
        or diag(cluster_diag(@new));
    my $t_kill = time;
    my @allow = $kill ? $kill->($w) : ();
    wrk_wait($w);
    my ($req, $bad, $allowed, $sock, @why) = judge($w, @allow);

    my $t_rec = time;
    ok(nodes_up(30, @n), "$label: every node up and seen alive by every node");
    ok(wait_for(sub { leader() }, 15), "$label: a fsdfsd holds the lease")
        or diag(rcmd('GET', 'fsdfs:master') // 'no lease');
    my $n_files = keys %files;
    my $conv = wait_kn(sub {
        ($_[0]{files} // 0) == $n_files && ($_[0]{min_kn} // -1) >= 0
            && fresh($_[0]{updated}, $t_kill);
    }, 90, @new);
    ok($conv, "$label: converged, $n_files files, min(K-N) >= 0");
    my $t_conv = time - $t_rec;

    is($bad, 0, "$label: no answer other than 200/206/302/304 outside the allowed 503 windows")
        or diag(join "\n", @why);
    note(join "\n", @why) if @why && !$bad;
    my ($lost, $phantom) = lost_files();
    is(scalar(@$lost), 0, "$label: no file lost (a holder with the bytes for each of $n_files)")
        or diag(join "\n", @$lost[0 .. ($#$lost < 9 ? $#$lost : 9)]);
    is(scalar(@$phantom), 0, "$label: every holder in the index has the file on disk")
        or diag(join "\n", @$phantom[0 .. ($#$phantom < 9 ? $#$phantom : 9)]);
    files_answer("$label", \%files, @n);
    my @extra = unindexed(@n);
    note("$label: unindexed copies: @extra") if @extra;
    my $left = $settle{$label} ? settled($label) : scalar(@extra);
    push @table, [$label, $req, $bad, $allowed, $sock, scalar(@$lost), $inflight,
                  sprintf('%.1f', $t_conv), $left];
    return { w => $w, sock => $sock, why => \@why };
}

# Baseline: the same load with nothing killed.
my $p = phase('none');
is($p->{sock}, 0, 'none: no socket errors') or diag(join "\n", @{$p->{why}});

# 1. One worker of a. Its open connections are reset (wrk counts read
# errors); the master logs "[alert] worker process N exited on signal 9",
# which is this test's doing: that log is set aside (rotated, as logrotate
# does) and checked here for anything else.
my $victim;
phase('worker', sub {
    my ($master, @workers) = FsdfsTest::nginx_pids($na);
    $victim = $workers[-1];
    kill 'KILL', $victim;
    ok(wait_for(sub {
        my (undef, @now) = FsdfsTest::nginx_pids($na);
        @now == @workers && !grep { $_ == $victim } @now;
    }, 10), "worker: a's master respawned worker $victim");
    return ();
});
{
    my $log = "$na->{prefix}/error.log";
    rename $log, "$log.worker-kill" or die "rename $log: $!";
    my ($master) = FsdfsTest::nginx_pids($na);
    kill 'USR1', $master;
    ok(wait_for(sub { -e $log }, 5), 'a reopens its error.log (USR1)');
    sleep 0.5;
    my @lines = split /^/, slurp("$log.worker-kill");
    ok((grep { /worker process $victim exited on signal 9/ } @lines),
       "a's log says worker $victim exited on signal 9");
    my @bad = grep { /\[alert\]|\[emerg\]|exited on signal|AddressSanitizer|runtime error:/
                     && !/worker process $victim exited on signal 9/ } @lines;
    is(scalar(@bad), 0, 'and nothing else alarming while it was killed')
        or diag(join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

# 2. b's master. The orphaned workers still hold the listening socket and
# serve; a supervisor (systemd's KillMode=control-group does this) stops
# what is left of the old nginx and starts it again.
phase('master', sub {
    my ($master, @workers) = FsdfsTest::nginx_pids($nb);
    kill 'KILL', $master;
    ok(wait_for(sub { !FsdfsTest::running($master) }, 5), 'master: b\'s master is gone');
    sleep 0.5;
    my ($path) = sort keys %files;
    my $r = http($nb->{port}, 'GET', $path);
    ok($ok_status{$r->{status}}, "master: b's orphaned workers still serve ($r->{status})");
    kill 'QUIT', @workers;
    wait_for(sub { !grep { FsdfsTest::running($_) } @workers }, 10)
        or kill 'KILL', @workers;
    ok(wait_for(sub { !grep { FsdfsTest::running($_) } @workers }, 5),
       'master: the orphaned workers are gone');
    my $t_start = time;
    restart_node($nb);
    # b's own table read: until then its misses may answer 503 (README,
    # "Start"); the window closes once b sees every node alive
    my $ready = wait_for(sub {
        my $j = status_json($nb) or return 0;
        (grep { $_->{alive} } @{$j->{nodes} // []}) == @n;
    }, 15);
    ok($ready, 'master: b is back and sees every node alive');
    # the status came from one worker: the other reads its table within
    # a second (plus slack for a busy machine), as in the redis phase
    return ({ node => 'b', from => $t_start, to => time + 1.5 });
});

# 3. The leading fsdfsd.
phase('fsdfsd', sub {
    my $lead = leader();
    ok($lead, 'fsdfsd: ' . ($lead ? "$lead->{name} leads" : 'no leader'));
    return () unless $lead;
    my ($other) = grep { $_ != $lead && $_->{pid} } @sidecars;
    my $mark = length fsdfsd_log($other);
    kill_fsdfsd($lead);
    ok(wait_for(sub { substr(fsdfsd_log($other), $mark) =~ /leading, epoch \d+/ }, 10),
       "fsdfsd: $other->{name} takes the lease")
        or diag(fsdfsd_tail($other));
    # the killed one comes back, as systemd's Restart= would
    my $again = start_fsdfsd(name => "$lead->{name}-again", dead_after => '5s');
    push @sidecars, $again;
    ok(wait_for(sub { fsdfsd_log($again) =~ /standby/ }, 15),
       "fsdfsd: $again->{name} waits as a standby")
        or diag(fsdfsd_tail($again));
    return ();
});
$p = $table[-1];
is($p->[4], 0, 'fsdfsd: no socket errors (no nginx process died)');

# 4. Redis, down 2 s, started again on its data dir: the AOF brings the
# index back. Allowed: 503 from every node from the kill until every node
# sees every node alive again.
my $redis_phase = phase('redis', sub {
    my $t_kill = time;
    kill_redis($redis);
    sleep 2;
    my $dir = tmp() . "/redis-$redis";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-server', '--port', $redis, '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec',
             '--dir', $dir, '--daemonize', 'no',
             '--hash-max-listpack-entries', '512', '--hash-max-listpack-value', '128';
        exit 127;
    }
    $own_redis = $pid;
    ok(wait_for(sub { (redis_cli('PING') // '') eq 'PONG' }, 10), 'redis: back on its AOF')
        or diag(slurp("$dir/redis.log"));
    my $t_back = time;
    is(scalar(keys %{all_records()}), scalar(keys %files), 'redis: the index came back whole');
    # The alive keys expired while Redis was down: a node that reads its
    # table before the others have beaten again takes them for dead, and
    # its misses answer 503 (no live holder) until its next read of the
    # table, a second later. So the window closes one table refresh
    # (1 s, plus slack for a busy machine) after every node has written
    # a heartbeat to the Redis that came back.
    my $beat = wait_for(sub {
        for my $node (@n) {
            my $ts = rcmd('HGET', 'fsdfs:node:' . node_id($node->{name}), 'ts') // 0;
            return 0 unless $ts =~ /^\d+$/ && $ts > $t_back * 1000;
        }
        1;
    }, 20);
    ok($beat, 'redis: every node heartbeats again');
    my $t_beat = time;
    ok(wait_for(sub {
        for my $node (@n) {
            my $j = status_json($node) or return 0;
            return 0 if (grep { $_->{alive} } @{$j->{nodes} // []}) < @n;
        }
        1;
    }, 20), 'redis: every node sees every node alive again');
    note(sprintf 'redis: down %.2f s, every node beating %.2f s after it came back',
                 $t_back - $t_kill, $t_beat - $t_back);
    return ({ from => $t_kill, to => $t_beat + 1.5 });
});
is($table[-1][4], 0, 'redis: no socket errors (no nginx process died)');

# After it all, the same load once more: nothing but OK answers.
{
    my $w = wrk_wait(wrk_start('after', 2));
    my ($req, $bad, $allowed, $sock, @why) = judge($w);
    is($bad + $sock, 0, "after: $req requests, every answer OK, no socket errors")
        or diag(join "\n", @why);
    push @table, ['after', $req, $bad, $allowed, $sock, scalar(@{(lost_files())[0]}), '-', '-',
                  settled('after')];
}

my $evictions = 0;
$evictions += () = fsdfsd_log($_) =~ /^.* \(evicted\)$/mg for @sidecars;
my $fmt = '%-8s %9s %7s %12s %8s %5s %8s %7s %10s';
diag(sprintf "kill matrix (%d files, N=2, %d copies evicted, %.0f s in all):\n$fmt\n%s",
             scalar(keys %files), $evictions, time - $t_all,
             'kill', 'requests', 'non-OK', '503 allowed', 'sockerr', 'lost', 'pulls@k', 'conv s',
             'unindexed', join "\n", map { sprintf $fmt, @$_ } @table);

finish();
cleanup();
