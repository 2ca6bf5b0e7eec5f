#!/usr/bin/perl
# Master failover. Three nodes, N=2, two fsdfsd: m1 leads, m2 waits.
# A command signed here in Perl (README's canon, Digest::SHA) with the
# current epoch is obeyed, one with a tampered signature refused. m1 is
# killed with SIGKILL: within 5 s m2 logs "leading" under a higher
# fsdfs:epoch, and the nodes refuse a command signed with the old epoch
# (403 "old epoch") while they obey the new one. Replication goes on under
# m2: new files reach N and fill the quotas. m1 comes back and waits as a
# standby. Every file answers 200 through every node.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use Time::HiRes qw(time sleep);

# A signed query string: parameters, ts and epoch sorted by name, their
# values percent-encoded on the wire and signed unencoded.
sub signed_query {
    my ($method, $uri, $epoch, %p) = @_;
    my %all = (%p, ts => int(time), epoch => $epoch);
    my $canon = "$method\n$uri\n" . join '', map { "$_=$all{$_}\n" } sort keys %all;
    (my $key = slurp(secret_file())) =~ s/\n\z//;
    my $enc = sub { (my $v = shift) =~ s{([^A-Za-z0-9\-_.~/])}{sprintf '%%%02X', ord $1}ge; $v };
    return join('&', map { "$_=" . $enc->($all{$_}) } sort keys %all)
         . '&sig=' . hmac_sha256_hex($canon, $key);
}
sub drop_cmd {
    my ($node, $epoch, $path, %o) = @_;
    my $q = signed_query('POST', '/_fsdfs/drop', $epoch, path => $path);
    $q =~ s/sig=(.)/'sig=' . ($1 eq '0' ? '1' : '0')/e if $o{tamper};
    return http($node->{port}, 'POST', "/_fsdfs/drop?$q", 'Content-Length' => 0);
}

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1, quota => '10m') } qw(a b c);
ok(nodes_up(10, @n), 'a, b and c up');

my $m1 = start_fsdfsd(name => 'm1', lease => '3s');
ok(wait_for(sub { fsdfsd_log($m1) =~ /leading, epoch \d+/ }, 10), 'm1 leads')
    or diag(fsdfsd_tail($m1));
my $m2 = start_fsdfsd(name => 'm2', lease => '3s');
ok(wait_for(sub { fsdfsd_log($m2) =~ /standby/ }, 10), 'm2 waits as a standby')
    or diag(fsdfsd_tail($m2));

my %files;
for my $i (1 .. 6) {
    my $path = "/music/fo/$i.mp3";
    $files{$path} = blob($i, 4000 + 999 * $i);
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 3]{name});
    is($? >> 8, 0, "put $path") or diag($out);
}
ok(wait_kn(sub { ($_[0]{files} // 0) == 6 && ($_[0]{min_kn} // -1) >= 1 }, 30, sort keys %files),
   'under m1: six files on all three nodes');

my $e1 = rcmd('GET', 'fsdfs:epoch');
like($e1, qr/^[1-9]\d*$/, "fsdfs:epoch is $e1");
my $r = drop_cmd($n[0], $e1, '/music/fo/none.mp3');
is($r->{status}, 200, 'a drop signed here with the current epoch is obeyed') or diag($r->{raw});
$r = drop_cmd($n[0], $e1, '/music/fo/none.mp3', tamper => 1);
is($r->{status}, 403, 'a tampered signature is refused');

my $t0 = time;
kill_fsdfsd($m1);
my @unread;
my $led = wait_for(sub {
    push @unread, spot_check(\%files, @n);
    fsdfsd_log($m2) =~ /leading, epoch \d+/;
}, 5);
my $t_lead = time - $t0;
is(scalar(@unread), 0, 'no master for a while: every file still answers 200 with its bytes')
    or diag(join "\n", @unread[0 .. ($#unread < 9 ? $#unread : 9)]);
ok($led, 'm1 killed: m2 leads within 5 s') or diag(fsdfsd_tail($m2));
diag(sprintf 'failover: m2 leading %.2fs after SIGKILL of m1 (lease 3s)', $t_lead);
my ($e2_log) = fsdfsd_log($m2) =~ /leading, epoch (\d+)/;
my $e2 = rcmd('GET', 'fsdfs:epoch') // 0;
cmp_ok($e2, '>', $e1, "fsdfs:epoch went up: $e1 -> $e2");
is($e2_log, $e2, 'm2 logs the epoch it leads under');

my %seen;
ok(wait_for(sub {
    my $ok = 1;
    for my $node (@n) {
        my $r = drop_cmd($node, $e1, '/music/fo/none.mp3');
        $seen{"$node->{name}: $r->{status}"} = 1;
        $ok &&= $r->{status} == 403 && $r->{body} =~ /old epoch/;
    }
    $ok;
}, 3), 'every node refuses a command signed with the old epoch: 403 old epoch')
    or diag(join ' ', sort keys %seen);
for my $node (@n) {
    my $r = drop_cmd($node, $e2, '/music/fo/none.mp3');
    is($r->{status}, 200, "$node->{name} obeys the new epoch") or diag($r->{raw});
}
for my $p (sort keys %files) {
    ok(-f $_->{root} . $p, "$p still on $_->{name}") for @n;
}

for my $i (7 .. 10) {
    my $path = "/music/fo/$i.mp3";
    $files{$path} = blob($i, 4000 + 999 * $i);
    my $out = put_file($path, $files{$path}, '--node', $n[$i % 3]{name});
    is($? >> 8, 0, "under m2: put $path") or diag($out);
}
$t0 = time;
ok(wait_kn(sub { ($_[0]{files} // 0) == 10 && ($_[0]{min_kn} // -1) >= 1
                 && ($_[0]{epoch} // 0) == $e2 }, 30, sort keys %files),
   'replication goes on under m2: ten files on all three nodes');
diag(sprintf 'failover: new files on all nodes %.1fs after their put', time - $t0);

my $m3 = start_fsdfsd(name => 'm1-again', lease => '3s');
ok(wait_for(sub { fsdfsd_log($m3) =~ /standby/ }, 10), 'm1 back: it waits as a standby')
    or diag(fsdfsd_tail($m3));
sleep 1;
unlike(fsdfsd_log($m3), qr/leading/, 'and does not lead');
is(rcmd('GET', 'fsdfs:epoch'), $e2, 'the epoch stays');

files_answer('after failover', \%files, @n);

finish();
