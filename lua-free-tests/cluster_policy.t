#!/usr/bin/perl
# Replication policy on a real cluster: four nodes, fsdfsd with
# `replicas 2`, a rule giving /music/hits/ N=3 and a boost of one copy per
# 1000 of the `popularity` variable. Quotas hold 6 files of 100 kB per
# node: 24 copies for 8 files, so the copies a file gets follow its N.
#
# The master's N of every file is read back through fsdfs:kn: K-N of each
# file (K from the index) must give the histogram the master publishes.
#
#   1. two files on free quota fill all four nodes; lowering one's N to 1
#      (fsdfs set replicas=1) deletes nothing while quota is free;
#   2. six more files, put while the master is away (a full node refuses
#      puts), then a new master computes every N at its index load: quota
#      runs short, and the lowered file's surplus copies are evicted;
#   3. fsdfs set PATH replicas=4 -> 4 copies (evicting others' surplus);
#   4. fsdfs set PATH popularity=2500 -> N 2+2 = 4 copies;
#   5. the same through redis-cli: HSET of the rewritten record, XADD set
#      -> popularity=1500 gives N=3;
#   6. replicas=default: back to the rule.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time sleep);

need_cluster();

# a plug-in that cannot be loaded stops fsdfsd before it does anything
{
    my $conf = tmp() . '/bad-plugin.conf';
    write_file($conf, "secret " . secret_file() . "\npolicy_plugin " . tmp() . "/none.so\n");
    my $out = `${\ build_dir()}/fsdfsd -c $conf -t 2>&1`;
    is($? >> 8, 2, 'fsdfsd -t refuses a missing plug-in');
    like($out, qr{policy_plugin "\S+/none\.so": cannot load}, 'and says why') or diag($out);
    write_file($conf, "secret " . secret_file() . "\npolicy_plugin ${\ build_dir()}/sample_policy.so\n"
                      . "rule ^/music/hits/ 3\n");
    $out = `${\ build_dir()}/fsdfsd -c $conf -t 2>&1`;
    like($out, qr/ok .*1 rule\(s\), policy plug-in/, 'the sample plug-in loads') or diag($out);
}

my $redis = start_redis();
fsdfs('init', '--buckets', '64');
my @n = map { start_node(name => $_, commands => 1, quota => '650k') } qw(a b c d);
ok(nodes_up(10, @n), 'four nodes up');
my $m = start_fsdfsd(extra => {
    replicas => 2,
    rule     => '^/music/hits/ 3',
    boost    => 'popularity per=1000 add=1 max=3',
});
ok(wait_for(sub { fsdfsd_log($m) =~ /leading, epoch \d+/ }, 10), 'fsdfsd leads')
    or diag(fsdfsd_tail($m));

my %want;       # path => N the policy must give
my %files;

# K-N of every file from the index, as the histogram fsdfs:kn must show
sub kn_from_index {
    my %h;
    for my $p (keys %want) {
        my $k = () = holders($p);
        $h{$k - $want{$p}}++;
    }
    return \%h;
}

sub hist_str { my $h = shift; join ' ', map { "$_:$h->{$_}" } sort { $a <=> $b } keys %$h }

# Waits until every file has K >= its N and the master's K-N histogram
# matches the N we expect; one test.
sub copies_follow {
    my ($label, $timeout) = @_;
    my $t0 = time;
    my $good = wait_for(sub {
        my @short = grep { holders($_) < $want{$_} } keys %want;
        return 0 if @short;
        my $st = stats();
        return 0 unless ($st->{files} // 0) == keys %want && ($st->{pulls_inflight} // 1) == 0;
        return hist_str(kn_from_index()) eq hist_str(kn_hist());
    }, $timeout // 40);
    ok($good, "$label: every file has K >= N, and the master's N is the policy's")
        or diag('index K-N ' . hist_str(kn_from_index()) . ', fsdfs:kn ' . hist_str(kn_hist()) . "\n"
                . join('', map { "$_ N=$want{$_} K=" . holders($_) . "\n" } sort keys %want)
                . cluster_diag());
    diag(sprintf '%s: %.1fs', $label, time - $t0) if $good;
    return $good;
}

sub put_somewhere {
    my ($path, $data) = @_;
    my $out = '';
    for my $node (@n) {
        $out = put_file($path, $data, '--node', $node->{name});
        return 1 if $? == 0;
    }
    diag("put $path: $out");
    return 0;
}

# 1. free quota -------------------------------------------------------------
my ($hit, $a) = ('/music/hits/h1.ogg', '/music/a.mp3');
for my $p ($hit, $a) {
    $files{$p} = blob(length $p, 100_000);
    ok(put_somewhere($p, $files{$p}), "put $p");
}
%want = ($hit => 3, $a => 2);
copies_follow('two files, rule and default');
ok(wait_for(sub { holders($hit) == 4 && holders($a) == 4 }, 30),
   'free quota: both fill all four nodes');

my $out = fsdfs('set', $a, 'replicas=1');
is($? >> 8, 0, 'fsdfs set replicas=1') or diag($out);
$want{$a} = 1;
copies_follow('N lowered to 1');
sleep 3;
is(scalar(holders($a)), 4, 'quota free: the surplus copies stay (nothing deleted)');
unlike(fsdfsd_log($m), qr/evicting|dropped \Q$a\E/, 'no eviction, no drop');

# 2. quota runs short: the lowered file gives way ---------------------------
stop_fsdfsd($m);
for my $name (qw(hits/h2.ogg b.mp3 c.mp3 d.mp3 e.mp3 f.mp3)) {
    my $p = "/music/$name";
    $files{$p} = blob(length($p) * 7, 100_000);
    ok(put_somewhere($p, $files{$p}), "put $p");
    $want{$p} = $p =~ m{/hits/} ? 3 : 2;
}
$m = start_fsdfsd(name => 'm2', extra => {
    replicas => 2,
    rule     => '^/music/hits/ 3',
    boost    => 'popularity per=1000 add=1 max=3',
});
ok(wait_for(sub { fsdfsd_log($m) =~ /index loaded/ }, 10), 'a new master loads the index')
    or diag(fsdfsd_tail($m));
copies_follow('eight files, quota short', 60);
cmp_ok(scalar(holders($a)), '<', 4, 'the surplus of the lowered file was evicted');
like(fsdfsd_log($m), qr/evicting/, 'by eviction');

# 3. explicit replicas=4 -----------------------------------------------------
$out = fsdfs('set', $a, 'replicas=4');
is($? >> 8, 0, 'fsdfs set replicas=4') or diag($out);
$want{$a} = 4;
copies_follow('replicas=4', 60);
is(scalar(holders($a)), 4, "$a on all four nodes");

# 4. a variable boost through the CLI ----------------------------------------
my $b = '/music/b.mp3';
$out = fsdfs('set', $b, 'popularity=2500');
is($? >> 8, 0, 'fsdfs set popularity=2500') or diag($out);
like(record_of($b), qr/ popularity=2500\b/, 'the variable is in the record');
$want{$b} = 4;
copies_follow('popularity=2500: two steps of 1000', 60);
is(scalar(holders($b)), 4, "$b on all four nodes");

# 5. the same through redis-cli: HSET of the rewritten line, then XADD -------
my $c = '/music/c.mp3';
my $bucket = bucket_of($c);
my $rec = redis_cli('HGET', $bucket, $c);
like($rec, qr/^1 \d+ [0-9a-f]{16} \d+ \S+$/, "redis-cli HGET $bucket $c");
redis_cli('HSET', $bucket, $c, "$rec popularity=1500");
redis_cli('XADD', 'fsdfs:events', '*', 'type', 'set', 'path', $c);
$want{$c} = 3;
copies_follow('popularity=1500 written with redis-cli', 60);
like(record_of($c), qr/ popularity=1500$/, 'the record keeps the variable');

# 6. back to the policy --------------------------------------------------------
$out = fsdfs('set', $a, 'replicas=default');
is($? >> 8, 0, 'fsdfs set replicas=default') or diag($out);
$want{$a} = 2;
copies_follow('replicas=default: N from the policy again', 60);

like(fsdfsd_log($m), qr/N of \Q$a\E is now 4/, 'the master logs N changes');
is(stats()->{policy_clamped}, 0, 'fsdfs:stats policy_clamped: 0 (no plug-in)');
is(stats()->{pop_boosted}, 0, 'fsdfs:stats pop_boosted: 0 (no pop_boost)');
files_answer('policy', \%files, @n);

finish();
