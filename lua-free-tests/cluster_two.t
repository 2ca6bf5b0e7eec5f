#!/usr/bin/perl
# Two nodes, replicas=2. Each starts with its own files on disk, registered
# by `fsdfs scan`; a master starts and copies every file to the other node.
# In the end both nodes hold every file with its exact bytes, the index
# lists both as holders, no temp file is left, and every file answers 200
# through both nodes.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time);

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1, quota => '10m') } qw(a b);
ok(nodes_up(10, @n), 'a and b are up and see each other');

# each node has files of its own, from one byte to 100 kB
my %files;
for my $i (1 .. 12) {
    my $node = $n[$i % 2];
    my $path = sprintf '/music/%s/%02d.mp3', $node->{name}, $i;
    $files{$path} = blob($i, $i == 1 ? 1 : 1000 + 7919 * $i);
    write_file($node->{root} . $path, $files{$path});
}
for my $node (@n) {
    my $out = fsdfs('scan', $node->{name}, $node->{root});
    is($? >> 8, 0, "scan $node->{name}: 6 files registered") or diag($out);
}
my %id = map { $_->{name} => node_id($_->{name}) } @n;
is(scalar(grep { holders($_) == 1 } keys %files), 12, 'before the master: one holder per file');

my $t0 = time;
my $m = start_fsdfsd();
ok(wait_for(sub { fsdfsd_log($m) =~ /leading, epoch \d+/ }, 10), 'fsdfsd leads')
    or diag(fsdfsd_tail($m));

my $took = wait_kn(sub { ($_[0]{files} // 0) == 12 && ($_[0]{min_kn} // -1) >= 0 }, 30,
                   sort keys %files);
ok($took, 'min(K-N) >= 0 over 12 files');
diag(sprintf 'two nodes: 12 files at N=2 %.1fs after fsdfsd started', time - $t0);

my @both = sort { $a <=> $b } values %id;
my @missing = grep { "@{[holders($_)]}" ne "@both" } sort keys %files;
is("@missing", '', 'the index lists both nodes as holders of every file');

for my $node (@n) {
    my $disk = disk_files($node);
    my @bad = grep { !defined $disk->{$_} || slurp($node->{root} . $_) ne $files{$_} }
              sort keys %files;
    is("@bad", '', "$node->{name} holds every file with its exact bytes");
    my @tmp = grep { m{/\.fsdfs} } keys %$disk;
    is("@tmp", '', "no temp file left on $node->{name}");
}

like(stats()->{epoch} // '', qr/^[1-9]\d*$/, 'fsdfs:stats names the epoch');

files_answer('two nodes', \%files, @n);

finish();
