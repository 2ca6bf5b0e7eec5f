#!/usr/bin/perl
# `make demo` end to end: conf.d/demo/demo.sh start on free ports in a temp
# dir, as a user would run it. Every track, put onto one node, gets a
# second holder from fsdfsd; every track answers 200 through every node
# (a non-holder's 302 followed by hand) with the bytes that were put; then
# demo.sh stop leaves no process and no open port, and is safe twice.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

my $top = "$FindBin::Bin/..";
my $demo = "$top/conf.d/demo/demo.sh";
my $build = build_dir();

for my $tool (qw(sox lame redis-server redis-cli nginx)) {
    plan skip_all => "$tool is not installed (make deps installs it)"
        unless grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/sbin";
}
plan skip_all => "no $build/fsdfsd (make daemon)" unless -x "$build/fsdfsd";
# the demo starts nginx as a user would, without the sanitizer runtime the
# ASan module needs; the cluster scenarios cover that build
plan skip_all => 'the demo runs the release build (FSDFS_ASAN is set)' if $ENV{FSDFS_ASAN};

my $dir = tmp() . '/demo';
my @ports;
while (@ports < 4) {
    my $p = free_port();
    push @ports, $p unless grep { $_ == $p } @ports;
}
my ($rport, @nport) = @ports;
$ENV{FSDFS_BUILD} = $build;
$ENV{FSDFS_DEMO_DIR} = $dir;
$ENV{FSDFS_DEMO_REDIS_PORT} = $rport;
$ENV{FSDFS_DEMO_PORTS} = "@nport";

my $started = 0;
END { system($demo, 'stop') if $started && -e "$dir/.fsdfs-demo" }

my $t0 = time;
$started = 1;
my $out = `$demo start 2>&1`;
is($? >> 8, 0, 'demo.sh start exits 0') or diag($out);
diag(sprintf 'demo.sh start took %.1f s', time - $t0);
like($out, qr/stored \/music\/track12\.ogg on node/, 'the 12 tracks were put');
like($out, qr/min\(K-N\) 0/, 'the progress shows min(K-N) reaching 0');
like($out, qr/^master\s+demo/m, 'fsdfs status names the master');
like($out, qr{curl -sI http://127\.0\.0\.1:\d+/music/}, 'the curl commands to try are shown');
unlike($out, qr/fsdfsd exited/, 'fsdfsd kept running');

my @tracks = map { s{^.*/}{}r } sort glob "$dir/audio/track*";
is(scalar @tracks, 12, '12 tracks made');

my $fsdfs = "$build/fsdfs";
sub where {
    my ($path) = @_;
    my $j = `$fsdfs -r 127.0.0.1:$rport where $path --json 2>/dev/null`;
    return eval { decode_json($j) };
}

my %rec;
my $all_two = wait_for(sub {
    for my $t (@tracks) {
        $rec{$t} = where("/music/$t");
        return 0 unless $rec{$t} && @{$rec{$t}{holders} || []} >= 2;
    }
    return 1;
}, 30);
ok($all_two, 'every track has at least 2 holders')
    or diag(join "\n", map { "$_: " . scalar(@{($rec{$_} || {})->{holders} || []}) } @tracks);

my (%codes, @bad);
for my $t (@tracks) {
    my $want = slurp("$dir/audio/$t");
    for my $port (@nport) {
        my $r = http($port, 'GET', "/music/$t");
        $codes{$r->{status}}++;
        if ($r->{status} == 302) {
            my ($p, $uri) = ($r->{headers}{location} // '') =~ m{^http://127\.0\.0\.1:(\d+)(/.*)$};
            $r = $p ? http($p, 'GET', $uri) : { status => 0, body => '' };
        }
        push @bad, "$t via $port: $r->{status}, " . length($r->{body}) . ' bytes'
            unless $r->{status} == 200 && $r->{body} eq $want;
    }
}
is("@bad", '', 'every track answers 200 with its bytes through every node');
ok($codes{200} && $codes{302}, 'some answers came from disk (200), some by redirect (302)')
    or diag(explain \%codes);

my @pids = grep { defined } map { slurp($_) =~ /(\d+)/ ? $1 : undef }
           "$dir/redis.pid", "$dir/fsdfsd.pid", map { "$dir/$_/nginx.pid" } qw(a b c);
is(scalar @pids, 5, 'pid files of Redis, fsdfsd and three nodes');

$out = `$demo stop 2>&1`;
is($? >> 8, 0, 'demo.sh stop exits 0') or diag($out);
$started = 0;
my @open = grep { FsdfsTest::port_open($_) } @ports;
is("@open", '', 'every demo port is closed');
my @alive = grep { kill 0, $_ } @pids;
is("@alive", '', 'no demo process is left');
ok(!-e $dir, 'the run dir is removed');
$out = `$demo stop 2>&1`;
is($? >> 8, 0, 'a second demo.sh stop exits 0') or diag($out);

finish();
