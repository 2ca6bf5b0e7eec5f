#!/usr/bin/perl
# The periodic sweep of pull temp files. A worker SIGKILLed mid-pull (the
# master respawns it) leaves .fsdfs-tmp-<running master's pid>-<random>,
# which the start sweep keeps (it may be a live pull of another worker).
# Worker 0 therefore also sweeps every max(fsdfs_pull_timeout, 30 s),
# removing temp files older than fsdfs_pull_timeout + max(fsdfs_pull_timeout,
# 60 s), an age no live pull's file reaches.
#
# Proves: after the start sweep has run, a temp file named after the
# running master with an mtime an hour old is removed without a restart,
# with one log line saying how many; a fresh one and one 20 s old (inside
# the bound of 62 s for a 2 s pull timeout) stay, as does an old file that
# is not a temp file; the workers keep running.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(time);

start_redis();
fsdfs('init', '--buckets', '256');

# another master's leftover: the start sweep's, logged once
my $root = tmp() . '/node-a/data';
write_file("$root/m/.fsdfs-tmp-1-0123456789abcdef", 'other master');

my $a = start_node(name => 'a', commands => 1, http => 'fsdfs_pull_timeout 2s;');
my $removed1 = qr/fsdfs: removed 1 stale temp file under /;

ok(wait_for(sub { !-e "$root/m/.fsdfs-tmp-1-0123456789abcdef"
                  && log_count($a, $removed1) == 1 }, 20),
   'start sweep: the other master\'s temp file removed, one log line')
    or diag(log_of($a));

my ($master, @workers) = FsdfsTest::nginx_pids($a);
ok($master && @workers == 2, "master $master with two workers");

# what a killed worker leaves, aged past the bound, and what must stay
my $old = "$root/music/deep/.fsdfs-tmp-$master-00000000deadbeef";
my $fresh = "$root/music/.fsdfs-tmp-$master-00000000cafef00d";
my $young = "$root/music/.fsdfs-tmp-$master-0000000012345678";
my $data = "$root/music/deep/old.mp3";
write_file($_, 'partial') for $old, $fresh, $young;
write_file($data, 'an old copy');
my $now = time;
utime $now - 3600, $now - 3600, $old, $data or die "utime: $!";
utime $now - 20, $now - 20, $young or die "utime: $!";
my $t0 = time;

# the period is 30 s for a 2 s pull timeout; generous under load
ok(wait_for(sub { !-e $old }, 60), 'periodic sweep: the old temp file of the running master is removed')
    or diag(log_of($a));
my $took = time - $t0;
diag(sprintf 'removed %.1f s after it was planted', $took);
ok(wait_for(sub { log_count($a, $removed1) == 2 }, 5),
   'one more "removed 1 stale temp file" line') or diag(log_of($a));
ok(-e $fresh, 'a fresh temp file of this master stays');
ok(-e $young, 'a temp file 20 s old (inside the bound) stays');
ok(-e $data, 'an old file that is not a temp file stays');

my (undef, @now) = FsdfsTest::nginx_pids($a);
is_deeply([sort @now], [sort @workers], 'the same workers still run');

finish();
