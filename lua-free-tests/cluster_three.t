#!/usr/bin/perl
# Three nodes, the default N=3. A master runs; files arrive by `fsdfs put`
# (onto a named node, or wherever the CLI chooses). Every file reaches
# K=3: fsdfs:stats says min(K-N) >= 0, fsdfs:kn has every file at 0, the
# index lists the three nodes, every node's max(K-N) (fsdfs:nodekn, every
# 5 s, read by status --json) is 0; a second put of a known path is refused and
# changes nothing; every file answers 200 through every node.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time);
use JSON::PP;

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256');
my @n = map { start_node(name => $_, commands => 1, quota => '10m') } qw(a b c);
ok(nodes_up(10, @n), 'a, b and c are up and see each other');
my $m = start_fsdfsd();
ok(wait_for(sub { fsdfsd_log($m) =~ /leading, epoch \d+/ }, 10), 'fsdfsd leads')
    or diag(fsdfsd_tail($m));

my (%files, $t0);
for my $i (1 .. 15) {
    my $path = sprintf '/music/%02d/track%d.%s', $i % 4, $i, $i % 2 ? 'mp3' : 'ogg';
    $files{$path} = blob(100 + $i, 3000 + 4099 * $i);
    my @on = $i % 4 ? ('--node', $n[$i % 3]{name}) : ();
    my $out = put_file($path, $files{$path}, @on);
    is($? >> 8, 0, "put $path " . (@on ? "on $on[1]" : 'where the CLI chooses')) or diag($out);
    $t0 //= time;
}

my $took = wait_kn(sub { ($_[0]{files} // 0) == 15 && ($_[0]{min_kn} // -1) >= 0 }, 40,
                   sort keys %files);
ok($took, 'min(K-N) >= 0 over the 15 files');
diag(sprintf 'three nodes: 15 files at N=3 %.1fs after the first put', time - $t0);

is_deeply(kn_hist(), { 0 => 15 }, 'fsdfs:kn: all 15 files at K-N = 0');
my @ids = sort { $a <=> $b } map { node_id($_->{name}) } @n;
my @short = grep { "@{[holders($_)]}" ne "@ids" } sort keys %files;
is("@short", '', 'K=3 in the index: every file held by a, b and c');
# fsdfs:nodekn comes every 5 s: wait for it to catch up, bounded
my $nkn;
ok(wait_for(sub {
       my $st = eval { decode_json(fsdfs('status', '--json')) } or return 0;
       $nkn = join ' ', sort map { "$_->{name}=" . ($_->{max_kn} // 'null') }
                             @{$st->{nodes}};
       return $nkn eq 'a=0 b=0 c=0';
   }, 15), 'status --json: every node max_kn 0 (all files K=N=3)')
    or diag("max_kn: $nkn; fsdfs:nodekn: " . redis_cli('HGETALL', 'fsdfs:nodekn'));
for my $node (@n) {
    my @bad = grep { slurp($node->{root} . $_) ne $files{$_} } sort keys %files;
    is("@bad", '', "$node->{name} holds every file with its exact bytes");
}

# a known path cannot be put again
my ($first) = sort keys %files;
my $out = put_file($first, 'other bytes', '--node', 'a');
isnt($? >> 8, 0, 'a second put of a known path fails') or diag($out);
is(slurp($n[0]{root} . $first), $files{$first}, 'and the file keeps its bytes');

files_answer('three nodes', \%files, @n);

finish();
