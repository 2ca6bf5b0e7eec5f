#!/usr/bin/perl
# Many small files. Four nodes, N=3: 400 files of 1-4 kB, each written on
# one node's disk and registered by `fsdfs scan` (one copy each). A master
# starts; all 400 reach N=3 within 45 s (800 pulls), and the quotas, roomy
# here, fill until every file is on all four nodes (400 more). Both times
# are printed. Every file answers 200 with its bytes through every node.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time);

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '1024', '--replicas', '3');
my @n = map { start_node(name => $_, commands => 1, quota => '50m') } qw(a b c d);
ok(nodes_up(10, @n), 'four nodes up');

my %files;
for my $i (1 .. 400) {
    my $node = $n[$i % 4];
    my $path = sprintf '/music/%02x/%04d.mp3', $i % 64, $i;
    $files{$path} = blob($i, 1024 + ($i * 37) % 3072);
    write_file($node->{root} . $path, $files{$path});
}
for my $node (@n) {
    my $out = fsdfs('scan', $node->{name}, $node->{root});
    is($? >> 8, 0, "scan $node->{name}: 100 files") or diag($out);
}

my $t0 = time;
my $m = start_fsdfsd();
my $to_n = wait_kn(sub { ($_[0]{files} // 0) == 400 && ($_[0]{min_kn} // -1) >= 0 }, 45);
ok($to_n, '400 files reach N=3 within 45 s');
my $t_n = time - $t0;
my $full = wait_kn(sub { ($_[0]{files} // 0) == 400 && ($_[0]{min_kn} // -1) >= 1 }, 45);
ok($full, 'and then fill the four nodes');
my $t_full = time - $t0;
diag(sprintf '400 files: N=3 after %.1fs (800 pulls, %.0f/s), on all 4 nodes after %.1fs (1200 pulls, %.0f/s)',
     $t_n, 800 / $t_n, $t_full, 1200 / $t_full);
my $st = stats();
diag('fsdfs:stats: ' . join ' ', map { "$_=$st->{$_}" } sort keys %$st);

my $all = all_records();
is(scalar(grep { @{$all->{$_}} == 4 } keys %files), 400, 'the index lists four holders for each file');

files_answer('400 files', \%files, @n);

finish();
