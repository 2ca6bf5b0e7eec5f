#!/usr/bin/env bash
# Cluster benchmark: replication figures measured on a real cluster on
# loopback (Redis, nginx nodes with the fsdfs module, fsdfsd), with the test
# harness t/lib/FsdfsTest.pm. Prints each figure beside its baseline or
# bound and its goal; a MISS is reported, never fatal.
#
#   pull rate      node b starts empty beside node a holding FILES files of
#                  SIZE bytes; fsdfsd copies them all to b (PULLS transfers
#                  at once: b's thread pool; DEPTH more queued on b so no
#                  thread waits for the master's round trip); bytes / (last
#                  copy - first copy), against one curl --parallel (PULLS
#                  at once) downloading the same files from a into a
#                  directory, until its files are on disk too (syncfs), as a pull's
#                  are before it answers                       goal >= 0.8
#                  (and, for reference, against curl alone: page cache)
#   first pull     b's nginx started -> first copy on b's disk    <= 2 s
#   heal           4 nodes, N=2, quotas full (HEAL_FILES files): the node
#                  holding most files at K=N is killed -> min(K-N) >= 0
#                  again (evictions + pulls), against
#                  1.5 x bytes to copy / pull rate + 10 s
#   failover       the leading fsdfsd killed (SIGKILL) -> the standby logs
#                  "leading" (lease 3 s)                            <= 5 s
#
#   FILES=256 SIZE=1048576 PULLS=4 DEPTH=2 HEAL_FILES=30 HEAL_SIZE=262144 bench/cluster.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
export FSDFS_BUILD=${FSDFS_BUILD:-$top/build}
for cmd in redis-server nginx curl perl; do
    command -v "$cmd" >/dev/null || { echo "bench: needs $cmd (make deps)" >&2; exit 1; }
done
for f in ngx_http_fsdfs_module.so fsdfs fsdfsd; do
    [ -e "$FSDFS_BUILD/$f" ] || { echo "bench: no $FSDFS_BUILD/$f: build first (make)" >&2; exit 1; }
done

exec perl -I"$top/t/lib" - <<'PERL'
use strict;
use warnings;
use FsdfsTest;
use Time::HiRes qw(time sleep);
use List::Util qw(sum0);

my $files = $ENV{FILES} || 256;
my $size = $ENV{SIZE} || 1048576;
my $pulls = $ENV{PULLS} || 4;
my $depth = $ENV{DEPTH} // 2;
my $queue = $pulls + $depth;
my $heal_files = $ENV{HEAL_FILES} || 30;
my $heal_size = $ENV{HEAL_SIZE} || 262144;
my @rows;

sub row {
    my ($what, $got, $base, $ratio, $goal, $ok) = @_;
    push @rows, [$what, $got, $base, $ratio, $goal, $ok ? 'ok' : 'MISS'];
    printf "%-28s %-22s %-26s %-8s %-10s %s\n", @{$rows[-1]};
}
sub fail { print STDERR "bench: @_\n"; exit 1 }
printf "%-28s %-22s %-26s %-8s %-10s %s\n", 'figure', 'measured', 'baseline / bound',
       'ratio', 'goal', '';

# --- pull rate and first pull ---------------------------------------------

start_redis();
fsdfs('init', '--buckets', '1024', '--replicas', '2');
my %conf = (commands => 1, quota => '4g', pulls => $queue, threads => $pulls, workers => 2);
my $na = start_node(name => 'a', %conf);
my @paths;
for my $i (1 .. $files) {
    my $p = sprintf '/bench/%03d.mp3', $i;
    write_file($na->{root} . $p, blob($i, $size));
    push @paths, $p;
}
fsdfs('scan', 'a', $na->{root});
$? == 0 or fail('scan failed');
nodes_up(10, $na) or fail('node a not up');
my $m = start_fsdfsd(name => 'm1', extra => { pulls_in => $queue, pulls_out => $queue });
wait_for(sub { fsdfsd_log($m) =~ /leading/ }, 10) or fail('fsdfsd does not lead');
sleep 1;

# baseline: the same bytes by curl, as many at once
my $dl = tmp() . '/curl';
mkdir $dl;
open my $cfg, '>', "$dl/urls" or fail($!);
printf $cfg "url = \"%s%s\"\noutput = \"%s/%d\"\n", $na->{url}, $paths[$_], $dl, $_ for 0 .. $#paths;
close $cfg;
# Returns (seconds until curl is done, seconds until its files are also
# on disk, as a pull's are before it answers). `sync -f` (syncfs) writes
# back the whole filesystem in one go: the fastest way for curl's files,
# so the strictest baseline (it also flushes whatever else is dirty).
sub curl_all {
    system('rm', '-f', glob("$dl/[0-9]*"));
    my $t0 = time;
    my $pid = fork() // fail("fork: $!");
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec 'curl', '-sS', '--no-progress-meter', '--parallel', '--parallel-max', $pulls,
             '-K', "$dl/urls";
        exit 127;
    }
    waitpid($pid, 0);
    $? == 0 or fail('curl failed');
    my $t = time - $t0;
    system('sync', '-f', $dl) == 0 or fail('sync failed');
    my $t_sync = time - $t0;
    my $got = sum0(map { -s "$dl/$_" // 0 } 0 .. $#paths);
    $got == $files * $size or fail("curl fetched $got bytes");
    return ($t, $t_sync);
}
curl_all();                             # warm: a's files in the page cache
my @t_curl = curl_all();

my $t_start = time;
my $nb = start_node(name => 'b', %conf);
my ($t_first, $t_done);
my %left = map { $_ => 1 } @paths;
my $end = time + 300;
while (time < $end) {
    for my $p (keys %left) {
        delete $left{$p} if (-s $nb->{root} . $p // 0) == $size;
    }
    $t_first //= time if keys %left < $files;
    if (!%left) { $t_done = time; last }
    sleep 0.02;
}
$t_done or fail("b did not get every file in 300 s:\n" . cluster_diag());
my $pull_rate = $files * $size / ($t_done - $t_first || 0.001);
my @after = curl_all();                 # before and after, against drift
system('rm', '-rf', $dl);
my $curl_rate = $files * $size / (($t_curl[0] + $after[0]) / 2);
my $sync_rate = $files * $size / (($t_curl[1] + $after[1]) / 2);
row('pull rate', sprintf('%.0f MB/s', $pull_rate / 1e6),
    sprintf('curl+syncfs %.0f MB/s', $sync_rate / 1e6),
    sprintf('%.2f', $pull_rate / $sync_rate), '>= 0.8', $pull_rate / $sync_rate >= 0.8);
row('pull rate, page cache', sprintf('%.0f MB/s', $pull_rate / 1e6),
    sprintf('curl, no fsync %.0f MB/s', $curl_rate / 1e6),
    sprintf('%.2f', $pull_rate / $curl_rate), '>= 0.8', $pull_rate / $curl_rate >= 0.8);
row('node start -> first pull', sprintf('%.2f s', $t_first - $t_start), '-', '-', '<= 2 s',
    $t_first - $t_start <= 2);
stop_fsdfsd($m);
stop_node($_) for $na, $nb;

# --- heal and failover -----------------------------------------------------

start_redis();
fsdfs('init', '--buckets', '1024', '--replicas', '2');
my $slots = int(2 * $heal_files / 3 + 0.999);     # live slots after a loss = F x N
my $quota = int($slots * $heal_size * 1.0102) + 1; # and the 1% reserve
my @n = map { start_node(name => "h$_", commands => 1, quota => $quota, pulls => $pulls) } 1 .. 4;
nodes_up(10, @n) or fail('heal nodes not up');
my %id = map { $_->{name} => node_id($_->{name}) } @n;
for my $i (1 .. $heal_files) {
    put_file(sprintf('/heal/%03d.mp3', $i), blob(1000 + $i, $heal_size), '--node', $n[$i % 4]{name});
    $? == 0 or fail("put $i failed");
}
my $h1 = start_fsdfsd(name => 'h1', dead_after => '3s', extra => { pulls_in => $pulls, pulls_out => $pulls });
wait_for(sub { fsdfsd_log($h1) =~ /leading/ }, 10) or fail('h1 does not lead');
my $h2 = start_fsdfsd(name => 'h2', dead_after => '3s', extra => { pulls_in => $pulls, pulls_out => $pulls });
my $surplus = 4 * $slots - 2 * $heal_files;
wait_kn(sub { my $h = kn_hist(); ($_[0]{files} // 0) == $heal_files && ($_[0]{min_kn} // -1) >= 0
              && sum0(map { $_ * $h->{$_} } keys %$h) >= $surplus }, 120)
    or fail('heal cluster did not fill');

my $all = all_records();
my %at_n;
for my $p (grep { @{$all->{$_}} == 2 } keys %$all) {
    push @{$at_n{$_}}, $p for @{$all->{$p}};
}
my ($vid) = sort { @{$at_n{$b}} <=> @{$at_n{$a}} } keys %at_n;
my ($victim) = grep { $id{$_->{name}} == $vid } @n;
my $heal_bytes = @{$at_n{$vid}} * $heal_size;
my $t0 = time;
kill_node($victim);
wait_kn(sub { my $k = $_[0]{min_kn} // 0; $k < 0 }, 20) or fail('the loss never showed');
wait_kn(sub { ($_[0]{min_kn} // -1) >= 0 }, 300) or fail('no heal in 300 s');
my $t_heal = time - $t0;
my $bound = 1.5 * $heal_bytes / $pull_rate + 10;
row('heal after losing a node', sprintf('%.1f s', $t_heal),
    sprintf('%.1f s (%d files, %.1f MB)', $bound, scalar @{$at_n{$vid}}, $heal_bytes / 1e6),
    sprintf('%.2f', $t_heal / $bound), '<= 1', $t_heal <= $bound);

my ($lead, $standby) = fsdfsd_log($h1) =~ /leading/ ? ($h1, $h2) : ($h2, $h1);
wait_for(sub { fsdfsd_log($standby) =~ /standby/ }, 10) or fail('no standby');
$t0 = time;
kill_fsdfsd($lead);
wait_for(sub { fsdfsd_log($standby) =~ /leading/ }, 30) or fail('no new master in 30 s');
my $t_fo = time - $t0;
row('master kill -> new master', sprintf('%.2f s', $t_fo), 'lease 3 s', '-', '<= 5 s', $t_fo <= 5);

# stop everything; the harness's log checks (alerts, crashes, sanitizers)
# print as TAP lines
finish();
PERL
