#!/usr/bin/perl
# Tiny quotas. Three nodes, N=2, each with room for 12 files of 8 kB
# (quota 100 kB, the master keeps 1% free).
#
# Ten files arrive: the master copies each to N, then keeps filling the
# quotas until every file is on all three nodes (K-N = +1). The master is
# stopped while six new files arrive, two per node, so every node is full
# when it comes back: each new file then needs a copy that only an
# eviction can make room for, and the master drops a surplus copy of an
# old file (K-N +1, at least 2 above the new file's -1) to make it.
# In the end 16 files use all 36 slots: 12 at K-N = 0, 4 at +1.
#
# All along, sampled every 200 ms: no file that reached N ever falls
# below it in the index, no node's data exceeds its quota (on disk, temp
# files included, and in its heartbeat), and every file answers 200 with
# its bytes (one GET each, through the nodes in turn), evictions or not.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time);

my $quota = 102400;
my $size = 8192;

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1, quota => $quota) } qw(a b c);
ok(nodes_up(10, @n), 'a, b and c are up and see each other');
my %id = map { $_->{name} => node_id($_->{name}) } @n;

# the watchdog, run at every poll
my (%files, @old, @new);
my (%reached, @below, @over, @unread, $samples);
sub sample {
    $samples++;
    my $all = all_records();
    for my $p (keys %$all) {
        my $k = @{$all->{$p}};
        $reached{$p} = 1 if $k >= 2;
        push @below, sprintf('%.1fs %s K=%d', time, $p, $k) if $reached{$p} && $k < 2;
    }
    for my $node (@n) {
        my $disk = 0;
        $disk += $_ for values %{disk_files($node)};
        my $used = rcmd('HGET', "fsdfs:node:$id{$node->{name}}", 'used') // 0;
        push @over, "$node->{name}: disk $disk" if $disk > $quota;
        push @over, "$node->{name}: heartbeat used $used" if $used > $quota;
    }
    push @unread, spot_check(\%files, @n);
}
sub watched { my ($cond) = @_; return sub { sample(); $cond->(@_) } }

my $m = start_fsdfsd(name => 'm1');
for my $i (1 .. 10) {
    my $path = sprintf '/music/old/%02d.mp3', $i;
    $files{$path} = blob($i, $size);
    push @old, $path;
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 3]{name});
    is($? >> 8, 0, "put $path") or diag($out);
}

my $t0 = time;
ok(wait_kn(watched(sub { ($_[0]{files} // 0) == 10 && ($_[0]{min_kn} // -1) >= 0 }), 30, @old),
   'ten files at N=2');
ok(wait_kn(watched(sub { ($_[0]{files} // 0) == 10 && ($_[0]{min_kn} // -1) >= 1 }), 30, @old),
   'then the quotas fill: every file on all three nodes (K-N = +1)');
diag(sprintf 'quota: 10 files on all 3 nodes %.1fs after the puts', time - $t0);
is_deeply(kn_hist(), { 1 => 10 }, 'fsdfs:kn: 10 files at +1');

stop_fsdfsd($m);
for my $i (1 .. 6) {
    my $path = sprintf '/music/new/%02d.mp3', $i;
    $files{$path} = blob(100 + $i, $size);
    push @new, $path;
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 3]{name});
    is($? >> 8, 0, "master away: put $path on $n[$i % 3]{name}") or diag($out);
}
sample();
is(scalar(grep { holders($_) == 1 } @new), 6, 'the six new files have one copy each');

$t0 = time;
my $m2 = start_fsdfsd(name => 'm2');
my $took = wait_kn(watched(sub { ($_[0]{files} // 0) == 16 && ($_[0]{min_kn} // -1) >= 0 }),
                   40, @new, @old);
ok($took, 'the new files reach N=2 on full nodes');
diag(sprintf 'quota: 6 new files at N=2 on full nodes %.1fs after the master came back', time - $t0);

# the drops of evicted copies follow the index within the cache ttl
my %disk_ok;
ok(wait_for(sub {
    sample();
    my $all = all_records();
    for my $node (@n) {
        my $disk = disk_files($node);
        my $want = join ' ', sort grep { my $p = $_; grep { $_ == $id{$node->{name}} } @{$all->{$p}} } keys %$all;
        my $have = join ' ', sort keys %$disk;
        $disk_ok{$node->{name}} = $want eq $have ? 1 : "index: $want\ndisk: $have";
    }
    !grep { $_ ne 1 } values %disk_ok;
}, 10), 'every node holds on disk exactly what the index says')
    or diag(explain \%disk_ok);

my $kn = kn_hist();
is_deeply($kn, { 0 => 12, 1 => 4 }, '36 slots for 16 files: 12 at K-N = 0, 4 at +1')
    or diag(cluster_diag());
my $evicted = grep { holders($_) == 2 } @old;
is($evicted, 6, 'six old files gave up their surplus copy');

is(scalar(@below), 0, "no file fell below N in $samples samples")
    or diag(join "\n", @below[0 .. ($#below < 9 ? $#below : 9)]);
is(scalar(@over), 0, "no node over its quota in $samples samples")
    or diag(join "\n", @over[0 .. ($#over < 9 ? $#over : 9)]);
is(scalar(@unread), 0, "every file answered 200 with its bytes in $samples rounds of reads")
    or diag(join "\n", @unread[0 .. ($#unread < 9 ? $#unread : 9)]);

files_answer('tiny quotas', \%files, @n);

finish();
