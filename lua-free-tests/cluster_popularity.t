#!/usr/bin/perl
# Live popularity end to end: four nodes count the GETs they serve
# (fsdfs_popularity, flushed every 200 ms to fsdfs:pop); fsdfsd has
# `replicas 2`, `pop_boost per=20 add=1 max=2` and a 2 s half-life.
# Quotas hold 6 files of 100 kB per node, 8 files: every file ends at
# K=3. Hammering one file with GETs raises its N to 4, and a fourth copy
# appears (evicting another file's surplus); when the GETs stop its
# popularity halves every 2 s, N falls back to 2, and its surplus is
# evicted in turn by the file that gave way. Then a rebase: with pop_t0
# moved 70 half-lives back, the master scales every score by 2^-70 in
# one script and moves pop_t0, and popularity reads the same.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time sleep);

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '64');
my @n = map {
    start_node(name => $_, commands => 1, quota => '650k',
               http => "fsdfs_popularity zone=pop_$_:1m flush=200ms;\n    ")
} qw(a b c d);
ok(nodes_up(10, @n), 'four nodes up, counting hits');

my (%files, @paths);
for my $i (1 .. 8) {
    my $p = sprintf '/music/t%02d.ogg', $i;
    $files{$p} = blob($i, 100_000);
    my $out = put_file($p, $files{$p}, '--node', $n[$i % 4]{name});
    is($? >> 8, 0, "put $p") or diag($out);
    push @paths, $p;
}

my %extra = (replicas => 2, pop_half_life => '2s',
             pop_boost => 'per=20 add=1 max=2');
my $m = start_fsdfsd(extra => \%extra);
ok(wait_for(sub { fsdfsd_log($m) =~ /index loaded/ }, 10), 'fsdfsd leads')
    or diag(fsdfsd_tail($m));
is(redis_cli('HGET', 'fsdfs:config', 'pop_half_life'), '2',
   'the master wrote pop_half_life 2 into fsdfs:config');
like(redis_cli('HGET', 'fsdfs:config', 'pop_t0'), qr/^\d+$/, 'and pop_t0');

ok(wait_for(sub { !grep { holders($_) != 3 } @paths }, 40),
   'every file at K=3 (N=2, quota filled)') or diag(cluster_diag(@paths));
sleep 1.5;      # nodes read pop_half_life and pop_t0 every second

my $hot = '/music/t03.ogg';
my $t0 = time;
my ($got, $hits) = (0, 0);
while (time - $t0 < 20 && holders($hot) < 4) {
    for (1 .. 10) {
        my $r = follow($n[$hits % 4]{port}, $hot, 2);
        $got++ if $r->{status} == 200 && $r->{body} eq $files{$hot};
        $hits++;
    }
    sleep 0.2;      # about 50 plays a second: a hit, not a flood
}
is($got, $hits, "$hits GETs of $hot answered");
is(scalar(holders($hot)), 4, "hot: a fourth copy of $hot");
diag(sprintf 'popularity: fourth copy %.1fs after the first GET (%d GETs)', time - $t0, $hits);
like(fsdfsd_log($m), qr/popularity of \Q$hot\E is [\d.]+: \+2 copies/,
     'the master saw the boost');
my $score = redis_cli('ZSCORE', 'fsdfs:pop', $hot);
ok(defined $score && $score > 0, "fsdfs:pop has $hot (score $score)");

# cooling down: nothing read now
$t0 = time;
ok(wait_for(sub { fsdfsd_log($m) =~ /popularity of \Q$hot\E fell below/ }, 30),
   'the boost ends as popularity decays') or diag(fsdfsd_tail($m));
diag(sprintf 'popularity: boost gone %.1fs after the last GET', time - $t0);
ok(wait_for(sub { holders($hot) == 3 && !grep { holders($_) != 3 } @paths }, 40),
   'its surplus copy evicted: every file back at K=3') or diag(cluster_diag(@paths));
ok(wait_for(sub { ($_ = stats()->{min_kn}) && $_ == 1 }, 10), 'min(K-N) = 1');

# rebase: T0 seventy half-lives back makes every score 2^70 times larger
# (written with the master away: it reads pop_t0 at takeover)
stop_fsdfsd($m);
my $t0s = redis_cli('HGET', 'fsdfs:config', 'pop_t0');
my $tw = time;
rcmd('ZADD', 'fsdfs:pop', 2 ** 70 * 5 * 2 ** (($tw - $t0s) / 2), '/music/t05.ogg');
redis_cli('HSET', 'fsdfs:config', 'pop_t0', $t0s - 140);
$m = start_fsdfsd(name => 'm2', extra => \%extra);
ok(wait_for(sub { fsdfsd_log($m) =~ /popularity rebased/ }, 15), 'the master rebases')
    or diag(fsdfsd_tail($m));
my $nt0 = redis_cli('HGET', 'fsdfs:config', 'pop_t0');
cmp_ok(abs($nt0 - time), '<', 5, "pop_t0 moved to about now ($nt0)");
my $s = redis_cli('ZSCORE', 'fsdfs:pop', '/music/t05.ogg');
my $pop = $s * 2 ** (-(time - $nt0) / 2);
my $want = 5 * 2 ** (-(time - $tw) / 2);        # 5 when written, decaying since
ok(abs($pop - $want) < 0.1 * $want, "popularity kept across the rebase ($want, read $pop)");

# a new half-life: the scores are converted, popularity now is kept
sub pop_now {
    my ($t0, $h) = split ' ', redis_cli('HMGET', 'fsdfs:config', 'pop_t0', 'pop_half_life');
    my $s = redis_cli('ZSCORE', 'fsdfs:pop', $_[0]);
    return $s * 2 ** (-(time - $t0) / $h);
}
stop_fsdfsd($m);
my ($p0, $at) = (pop_now('/music/t05.ogg'), time);
$m = start_fsdfsd(name => 'm3', extra => { %extra, pop_half_life => '4s' });
ok(wait_for(sub { fsdfsd_log($m) =~ /popularity half-life 2s -> 4s: \d+ member/ }, 15),
   'a new half-life rescales the scores') or diag(fsdfsd_tail($m));
is(redis_cli('HGET', 'fsdfs:config', 'pop_half_life'), '4', 'pop_half_life 4 in fsdfs:config');
my $p1 = pop_now('/music/t05.ogg');
my $dt = time - $at;
# pop_t0 is whole seconds: the conversion is done as of the second that
# began, up to 1 s before our first reading (at most 2^(1/2) more)
ok($p1 <= $p0 * 1.42 && $p1 >= $p0 * 2 ** (-$dt / 2) * 0.99,
   sprintf 'popularity kept across the change (%.3f, then %.3f %.1fs later)', $p0, $p1, $dt);

files_answer('popularity', \%files, @n);
finish();
