#!/usr/bin/perl
# A data directory moved away and back. Three nodes, N=2, no master yet:
# eight files sit on c's disk only and four on a's, registered by
# `fsdfs scan`. c's data directory is moved away: its copies vanish while
# the index still names c. The master starts and tries to copy c's files:
# c answers 404 to every pull from it, and the master takes c off those
# records (holder removal; the files are lost, K=0) while a's files reach
# N (and fill c). The old directory is moved back into the new one and
# `fsdfs scan c` registers c again as the holder of its eight files; the
# master copies them to N and fills the quotas; every file answers 200
# through every node.

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
my @n = map { start_node(name => $_, commands => 1, quota => '10m') } qw(a b c);
my ($na, $nb, $nc) = @n;
ok(nodes_up(10, @n), 'a, b and c up');
my %id = map { $_->{name} => node_id($_->{name}) } @n;

my (%files, @on_c, @on_a);
for my $i (1 .. 12) {
    my $node = $i <= 8 ? $nc : $na;
    my $path = sprintf '/music/%s/%02d.mp3', $node->{name}, $i;
    $files{$path} = blob($i, 2000 + 3001 * $i);
    write_file($node->{root} . $path, $files{$path});
    push @{$i <= 8 ? \@on_c : \@on_a}, $path;
}
for my $node ($na, $nc) {
    my $out = fsdfs('scan', $node->{name}, $node->{root});
    is($? >> 8, 0, "scan $node->{name}") or diag($out);
}

my $away = "$nc->{root}.away";
ok(rename($nc->{root}, $away) && mkdir($nc->{root}), "c's data directory moved away");
is(scalar(grep { "@{[holders($_)]}" eq $id{c} } @on_c), 8, 'the index still names c for its 8 files');

my $t0 = time;
my $m = start_fsdfsd();
ok(wait_for(sub { !grep { holders($_) } @on_c }, 20),
   'pulls from c fail (404): the master takes c off the records of its 8 files')
    or diag(cluster_diag(@on_c));
diag(sprintf 'rescan: holder removal %.1fs after the master started', time - $t0);
ok(wait_kn(sub { ($_[0]{lost} // 0) == 8 }, 10, @on_c), 'fsdfs:stats: 8 files lost');
ok(wait_for(sub { !grep { holders($_) < 2 } @on_a }, 20), "a's files reach N meanwhile")
    or diag(cluster_diag(@on_a));

# c got copies of a's files meanwhile: the old directory is merged back
my $cp = `cp -a '$away/.' '$nc->{root}' 2>&1 && rm -rf '$away' 2>&1`;
ok($? == 0 && !-e $away,
   "c's data directory moved back (into the new one, which holds copies of a's files)")
    or diag("cp/rm: status $?, errno $!: $cp");
my $out = fsdfs('scan', 'c', $nc->{root});
is($? >> 8, 0, 'fsdfs scan c') or diag($out);
like($out, qr/\b8 added as holder\b/, 'c is registered again as holder of its 8 files');

$t0 = time;
ok(wait_kn(sub { ($_[0]{files} // 0) == 12 && ($_[0]{min_kn} // -1) >= 1 }, 30, sort keys %files),
   'every file reaches N and the quotas fill (K=3)');
diag(sprintf 'rescan: 12 files on all three nodes %.1fs after the scan', time - $t0);
for my $node (@n) {
    my @bad = grep { slurp($node->{root} . $_) ne $files{$_} } sort keys %files;
    is("@bad", '', "$node->{name} holds every file with its exact bytes");
}

files_answer('after the rescan', \%files, @n);

finish();
