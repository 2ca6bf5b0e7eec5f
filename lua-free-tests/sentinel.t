#!/usr/bin/perl
# Redis HA through Sentinel. A Redis master, one replica and three
# sentinels (quorum 2, down after 1 s) on loopback; two nodes and fsdfsd
# given `sentinel://.../fsdfs` instead of an address, and the CLI too.
# Files are put and replicated. Then the Redis master is SIGKILLed while a
# loop of GETs runs through both nodes: the sentinels promote the replica,
# and without any restart the nodes heartbeat to it, redirects resolve
# through it (an unknown path is a 404 again, not a 503), fsdfsd leads on
# it and replicates a new file. Answers other
# than 200 are counted: 503s only while there is no master, none after.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time sleep);

need_cluster();

my ($sentinel_bin) = grep { -x } map { "$_/redis-sentinel" } split /:/, $ENV{PATH};
plan skip_all => 'no redis-sentinel binary (apt-get install redis-sentinel)'
    unless $sentinel_bin;

my $name = 'fsdfs';
my $replica = start_redis();
my $master = start_redis();
redis_cli($replica, 'REPLICAOF', '127.0.0.1', $master);
ok(wait_for(sub { (redis_cli($replica, 'INFO', 'replication') // '') =~ /master_link_status:up/ }, 15),
   "redis $replica replicates $master");

# Three sentinels, each with its own writable config (Sentinel rewrites it).
my (@sentinels, @spids);
for my $i (1 .. 3) {
    my $port = free_port();
    my $dir = tmp() . "/sentinel-$port";
    mkdir $dir;
    write_file("$dir/sentinel.conf", <<"CONF");
port $port
bind 127.0.0.1
daemonize no
dir $dir
logfile $dir/sentinel.log
sentinel monitor $name 127.0.0.1 $master 2
sentinel down-after-milliseconds $name 1000
sentinel failover-timeout $name 3000
sentinel parallel-syncs $name 1
CONF
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$dir/stdout.log";
        open STDERR, '>&', \*STDOUT;
        exec $sentinel_bin, "$dir/sentinel.conf";
        exit 127;
    }
    push @sentinels, $port;
    push @spids, $pid;
}
END { my $rc = $?; kill 'KILL', @spids if @spids; waitpid($_, 0) for @spids; $? = $rc; }

sub sentinel_master {
    my ($port) = @_;
    my $r = redis_cli($port, 'SENTINEL', 'get-master-addr-by-name', $name) // '';
    return $r =~ /^127\.0\.0\.1\n(\d+)$/ ? $1 : 0;
}
sub sentinels_ready {
    for my $s (@sentinels) {
        return 0 unless sentinel_master($s) == $master;
        my $info = redis_cli($s, 'SENTINEL', 'master', $name) // '';
        my %m = split /\n/, $info;
        return 0 unless ($m{'num-slaves'} // 0) >= 1 && ($m{'num-other-sentinels'} // 0) >= 2;
    }
    return 1;
}
ok(wait_for(\&sentinels_ready, 30),
   'three sentinels watch the master, know the replica and each other')
    or diag(map { "sentinel $_: " . (redis_cli($_, 'SENTINEL', 'master', $name) // 'down') . "\n" } @sentinels);

my $saddr = "sentinel://" . join(',', map { "127.0.0.1:$_" } @sentinels) . "/$name";
my $cli = build_dir() . '/fsdfs';
sub cli { my $o = `$cli -r '$saddr' @_ 2>&1`; return $o }

fsdfs($master, 'init', '--buckets', '64', '--replicas', '2');

# A bad sentinel address is refused, clearly, by each of the three.
my $o = `$cli -r 'sentinel://redis-a:26379/$name' nodes 2>&1`;
is($? >> 8, 2, 'CLI: a sentinel host name is a usage error');
like($o, qr/invalid redis address.*IP address/, 'and says an IP address is needed');

my @n;
for my $nn (qw(a b)) {
    my $port = free_port();
    my $conf = node_conf(name => $nn, port => $port, prefix => tmp() . "/node-$nn",
                         commands => 1, quota => '10m', redis => $master);
    $conf =~ s/fsdfs_redis 127\.0\.0\.1:\d+/fsdfs_redis $saddr/ or die 'no fsdfs_redis line';
    push @n, start_node(name => $nn, port => $port, commands => 1, quota => '10m',
                        redis => $master, conf => $conf);
}
ok(nodes_up(20, @n), 'a and b up through the sentinels (alive keys on the master)');
for my $nd (@n) {
    like(log_of($nd), qr/redis master for "$name" is now 127\.0\.0\.1:$master\b/,
         "$nd->{name} logs the master it found");
}

my $bad_conf = node_conf(name => 'x', port => free_port(), prefix => '@PREFIX@',
                         redis => $master);
$bad_conf =~ s/fsdfs_redis 127\.0\.0\.1:\d+/fsdfs_redis sentinel:\/\/127.0.0.1:1,localhost:2\/$name/;
my ($rc, $out) = nginx_t($bad_conf);
isnt($rc, 0, 'nginx -t: a sentinel host name fails the config');
like($out, qr/fsdfs_redis: invalid address .*IP address/, 'and says an IP address is needed')
    or diag($out);

# dead_after well above the failover time: a node is not declared dead for
# the seconds its heartbeats had no master to go to
my $m1 = start_fsdfsd(name => 'm1', lease => '3s', dead_after => '30s',
                      extra => { redis => $saddr });
ok(wait_for(sub { fsdfsd_log($m1) =~ /leading, epoch \d+/ }, 15), 'fsdfsd leads through the sentinels')
    or diag(fsdfsd_tail($m1));
like(fsdfsd_log($m1), qr/redis master for "$name" is now 127\.0\.0\.1:$master\b/,
     'fsdfsd logs the master it found');

$o = cli('nodes');
is($? >> 8, 0, 'CLI -r sentinel://: nodes') or diag($o);
like($o, qr/\ba\b.*\n.*\bb\b/s, 'lists a and b');

my %files;
for my $i (1 .. 6) {
    my $path = "/music/se/$i.mp3";
    $files{$path} = blob($i, 3000 + 777 * $i);
    my $po = put_file($path, $files{$path}, '--node', $n[$i % 2]{name});
    is($? >> 8, 0, "put $path") or diag($po);
}
# one copy only, on a: b answers it with a redirect found through Redis
my $one = '/music/se/only-a.mp3';
$files{$one} = blob(99, 5000);
my $po = put_file($one, $files{$one}, '--node', 'a', '--replicas', '1');
is($? >> 8, 0, "put $one with one replica") or diag($po);
ok(wait_kn(sub { ($_[0]{files} // 0) == 7 && ($_[0]{min_kn} // -1) >= 0 }, 30, sort keys %files),
   'replicated: every file has its N copies');
my $r = follow($n[1]{port}, $one, 2);
is($r->{status}, 200, "b answers $one");
diag("$one through b: hops @{$r->{hops}}");
# a miss is resolved through Redis: an unknown path is a 404 only when the
# index answers (503 while there is no master)
my $missing = '/music/se/never-put.mp3';
is(follow($n[1]{port}, $missing, 2)->{status}, 404, 'b: an unknown path is 404 (index lookup)');

# The failover, under a loop of GETs through both nodes (30 s at most).
my (%count, @bad_at, $t_kill, $t_promoted, $t_alive, $t_redirect);
my $t0 = time;
my $ids = node_ids($master);
my @ids = map { $ids->{$_->{name}} } @n;
my $end = $t0 + 30;
my $i = 0;
while (time < $end) {
    my $path = (sort keys %files)[$i % keys %files];
    my $nd = $n[$i++ % 2];
    $path = $missing if $i % 3 == 0;
    my $res = follow($nd->{port}, $path, 2);
    my $st = $path eq $missing ? ($res->{status} == 404 ? 200 : $res->{status})
           : $res->{status} == 200 && $res->{body} ne $files{$path} ? 'wrong' : $res->{status};
    $count{$st}++;
    if ($st ne '200') {
        push @bad_at, [ time, $st, $path, $nd->{name} ];
    }
    if (!$t_kill && time - $t0 > 1) {
        kill_redis($master);
        $t_kill = time;
    }
    next unless $t_kill;
    if (!$t_promoted && !grep { sentinel_master($_) != $replica } @sentinels) {
        $t_promoted = time;
    }
    if ($t_promoted && !$t_alive
        && !grep { !rcmd($replica, 'EXISTS', "fsdfs:alive:$_") } @ids)
    {
        $t_alive = time;
    }
    if ($t_alive && !$t_redirect && $path eq $missing && $st eq '200') {
        $t_redirect = time;
    }
    last if $t_redirect && time - $t_redirect > 2;
    sleep 0.02;
}
my $total = 0;
$total += $_ for values %count;
ok($t_promoted, 'the sentinels promoted the replica') or diag(`tail -20 ${\tmp()}/sentinel-$sentinels[0]/sentinel.log`);
ok($t_alive, "both nodes heartbeat to the new master $replica (alive keys there)");
ok($t_redirect, 'misses resolve again through the new master (404 for an unknown path)');
my $last_bad = @bad_at ? $bad_at[-1][0] : $t_kill;
my @not503 = grep { $_->[1] ne '503' } @bad_at;
is(scalar(@not503), 0, 'the only errors during the failover are 503s')
    or diag(join "\n", map { sprintf '%.2f %s %s via %s', $_->[0] - $t_kill, @$_[1 .. 3] } @not503[0 .. ($#not503 < 9 ? $#not503 : 9)]);
# worker 0 writes the alive keys; the other worker may still be in its
# reconnect backoff (2 s) then, longer on a slow machine
my $grace = $ENV{FSDFS_ASAN} ? 8 : 5;
ok(!$t_alive || $last_bad <= $t_alive + $grace, "no error later than $grace s after the nodes are back");
diag(sprintf 'failover: promoted %.2fs, alive on new master %.2fs, lookups %.2fs after SIGKILL; '
             . '%d GETs, %d not 200 (%s), last one %.2fs after the kill',
     map({ defined $_ ? $_ - $t_kill : -1 } $t_promoted, $t_alive, $t_redirect),
     $total, scalar(@bad_at), join(' ', map { "$_:$count{$_}" } sort keys %count),
     $last_bad - $t_kill);
cmp_ok(scalar(@bad_at), '<=', $total / 2, 'most GETs answered during the failover');

for my $nd (@n) {
    ok(wait_for(sub { log_of($nd) =~ /redis master for "$name" is now 127\.0\.0\.1:$replica\b/ }, 10),
       "$nd->{name} logs the switch to $replica");
}
ok(wait_for(sub { fsdfsd_log($m1) =~ /redis master for "$name" is now 127\.0\.0\.1:$replica\b/ }, 20),
   'fsdfsd follows the failover') or diag(fsdfsd_tail($m1));
ok(wait_for(sub { (rcmd($replica, 'GET', 'fsdfs:master') // '') =~ /^m1:\d+$/ }, 20),
   'fsdfsd holds the lease on the new master') or diag(fsdfsd_tail($m1));
diag('lease on the new master: ' . (rcmd($replica, 'GET', 'fsdfs:master') // 'none')
     . ', epoch ' . (rcmd($replica, 'GET', 'fsdfs:epoch') // 'none'));

my $new = '/music/se/after.mp3';
$files{$new} = blob(7, 9000);
$o = `$cli -r '$saddr' put ${\do { my $f = tmp() . '/after'; write_file($f, $files{$new}); $f }} $new --node b 2>&1`;
is($? >> 8, 0, 'CLI -r sentinel://: put after the failover') or diag($o);
my $repl = wait_for(sub {
    my $s = stats($replica);
    ($s->{files} // 0) == 8 && ($s->{min_kn} // -1) >= 0;
}, 30);
ok($repl, 'the new file is replicated under the new master')
    or diag(fsdfsd_tail($m1));
$o = cli('where', $new);
is($? >> 8, 0, 'CLI -r sentinel://: where after the failover') or diag($o);
like($o, qr/\ba\b.*\bb\b|\bb\b.*\ba\b/s, 'it is on a and b');
like($o, qr/redis-cli -h 127\.0\.0\.1 -p $replica\b/, 'shown on the new master');

files_answer('after the failover', \%files, @n);

stop_fsdfsd($m1);
FsdfsTest::check_fsdfsd_logs();
finish();
