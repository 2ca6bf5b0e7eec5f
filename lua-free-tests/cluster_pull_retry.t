#!/usr/bin/perl
# The master retries a failed pull from another holder (issue 6, item 4).
#
# Nodes a and b hold three files (put on a, copied to b by fsdfsd; N is
# clamped to the two live nodes). Then, behind the index's back, a's copy
# of bad.mp3 is overwritten with other bytes of the same size and a's copy
# of gone.mp3 is deleted; ok.mp3 stays intact. b is made busy (idle client
# connections raise the load its heartbeat publishes), so a is the least
# loaded holder and the first choice of source for every file. Node c
# starts: N becomes 3 and every file needs a copy on c.
#
# What must happen, read from fsdfsd's log in order:
#   ok.mp3   pulled to c from a at the first try (a really is the first
#            choice, so the two others prove a retry and not luck);
#   bad.mp3  tried from a, c answers 409 (checksum mismatch), the pair
#            (bad.mp3, a) backs off, and the next try takes b: pulled to c
#            from b, a never tried again for it;
#   gone.mp3 tried from a, c answers 404 (source lacks it): a stops being a
#            holder and gets it back from b; c gets it from b, or from a
#            once a has it back.
# c ends with the right bytes of every file (local GET and disk), no temp
# file is left on any node, c's error.log shows the refused pulls.
#
# a's wrong copy of bad.mp3: after the 409 the master has a check it (the
# quarantine command with the record's sum: a hashes its copy, finds other
# bytes and moves it aside); a stops being a holder and the master copies
# the file back to a from a good holder; `fsdfs fsck --sums` is clean.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '256', '--replicas', '3');
my ($na, $nb) = map { start_node(name => $_, commands => 1) } qw(a b);
ok(nodes_up(10, $na, $nb), 'a and b up');

my ($ok, $bad, $gone) = map { "/music/r/$_.mp3" } qw(ok bad gone);
my %files = ($ok => blob(1, 30_000), $bad => blob(2, 41_000), $gone => blob(3, 52_000));
for my $p (sort keys %files) {
    my $out = put_file($p, $files{$p}, '--node', 'a');
    is($? >> 8, 0, "put $p on a") or diag($out);
}

# a failed pull's target comes back after 1 s, its bad source after
# retry_after: 4 s keeps a slow planner from reaching a (bad, or given the
# file back) before c's retry
my $m = start_fsdfsd(retry_after => '4s');
my %id = (a => node_id('a'), b => node_id('b'));
ok(wait_for(sub { !grep { holders($_) != 2 } keys %files }, 30),
   'fsdfsd copies every file to b')
    or diag(cluster_diag(sort keys %files));
ok(wait_kn(sub { ($_[0]{files} // 0) == 3 && ($_[0]{min_kn} // -1) >= 0 }, 20, sort keys %files),
   'two live nodes: N is clamped to 2, min(K-N) 0');

# The faults, on a's disk only: the index still says a holds both.
my $wrong = blob(999, length $files{$bad});
isnt($wrong, $files{$bad}, 'the wrong bytes differ');
write_file("$na->{root}$bad", $wrong);
is(-s "$na->{root}$bad", length $files{$bad}, "a's copy of bad.mp3: same size, other bytes");
ok(unlink("$na->{root}$gone"), "a's copy of gone.mp3 deleted");

# b busy: idle connections count in the load a node publishes.
my @held;
for (1 .. 16) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$nb->{port}", Timeout => 2) or last;
    push @held, $s;
}
is(scalar @held, 16, '16 idle connections held to b');
ok(wait_for(sub {
    (rcmd('HGET', "fsdfs:node:$id{b}", 'load') // 0) >= 12
        && (rcmd('HGET', "fsdfs:node:$id{a}", 'load') // 99) <= 4;
}, 10), 'b publishes a high load, a a low one')
    or diag('load a ' . (rcmd('HGET', "fsdfs:node:$id{a}", 'load') // '-')
            . ', b ' . (rcmd('HGET', "fsdfs:node:$id{b}", 'load') // '-'));
# fsdfsd reads the node hashes every second; an open_file_cache entry of
# gone.mp3 on a lives 1 s
sleep 2.5;

my $log0 = length fsdfsd_log($m);
my $t0 = time;
my $nc = start_node(name => 'c', commands => 1);
ok(nodes_up(10, $na, $nb, $nc), 'c up');
$id{c} = node_id('c');
my %name = reverse %id;

my $done = wait_for(sub {
    my $all = all_records();
    return 0 if grep { @{$all->{$_} // []} != 3 } keys %files;
    my $disk = disk_files($nc);
    !grep { !$disk->{$_} } keys %files;
}, 60);
ok($done, 'every file reaches K=3: c holds all three, a holds gone.mp3 again')
    or diag(cluster_diag(sort keys %files));
diag(sprintf 'c started: K=3 for all files after %.1fs', time - $t0);
close $_ for @held;

# The master's view, in order: [kind, dst, src, detail] per line about P.
sub story {
    my ($p) = @_;
    my @s;
    for (split /\n/, substr(fsdfsd_log($m), $log0)) {
        if (/pull \Q$p\E to (\d+) from (\d+) failed: (.*)/) { push @s, ['fail', $1, $2, $3] }
        elsif (/pull \Q$p\E to (\d+): source (\d+) lacks it/) { push @s, ['lacks', $1, $2] }
        elsif (/pulled \Q$p\E to (\d+) from (\d+)/) { push @s, ['pulled', $1, $2] }
        elsif (/pull \Q$p\E to (\d+) from (\d+)(?:,|$)/) { push @s, ['pull', $1, $2] }
    }
    return @s;
}
sub show { join '; ', map { !defined $_ ? 'nothing' : "$_->[0] to " . ($name{$_->[1]} // $_->[1]) . ' from '
                            . ($name{$_->[2]} // $_->[2]) . ($_->[3] ? " ($_->[3])" : '') } @_ }
sub to_c { grep { $_->[1] == $id{c} } @_ }

my @s = to_c(story($ok));
is(show(@s), 'pull to c from a; pulled to c from a',
   'ok.mp3: a, the least loaded holder, is the first choice and serves it');

@s = story($bad);
my @c = to_c(@s);
like(show(@c[0, 1]), qr/^pull to c from a; fail to c from a \(checksum mismatch \(409\b.*source avoided for 4000 ms\)$/,
     'bad.mp3: the first pull to c is from a and fails with 409, a avoided 4 s (retry_after)')
    or diag(show(@s));
is(show(@c[2 .. $#c]), 'pull to c from b; pulled to c from b',
   'bad.mp3: the retry takes the other holder, b, and succeeds')
    or diag(show(@s));
is(scalar(grep { $_->[0] eq 'pull' && $_->[2] == $id{a} } @s), 1,
   'bad.mp3: a is tried once, never again') or diag(show(@s));

# gone.mp3: a is no holder after its 404; b is the only good one, so a and
# c both copy it, c from b or from a once a has it back from b
@s = story($gone);
@c = to_c(@s);
is(show(@c[0, 1]), 'pull to c from a; lacks to c from a',
   'gone.mp3: the first pull to c is from a, which lacks it (404)')
    or diag(show(@s));
my @back_a = grep { $_->[0] eq 'pulled' && $_->[1] == $id{a} } @s;
is(show(@back_a), 'pulled to a from b', 'gone.mp3: a, no longer a holder, gets it back from b')
    or diag(show(@s));
my $retry = show(@c[2 .. $#c]);
ok($retry eq 'pull to c from b; pulled to c from b'
   || ($retry eq 'pull to c from a; pulled to c from a'
       && show(@s) =~ /pulled to a from b; .*pull to c from a; pulled to c from a$/),
   "gone.mp3: the retry to c takes a good holder: $retry") or diag(show(@s));

my $st = stats();
ok(($st->{pulls_failed} // 0) >= 2, "fsdfs:stats counts the failed pulls ($st->{pulls_failed})");

# c: the right bytes, nothing left over, the refusals in its log
for my $p (sort keys %files) {
    my $r = http($nc->{port}, 'GET', $p, 'X-Fsdfs-Local' => 1);
    ok($r->{status} == 200 && $r->{body} eq $files{$p}, "c serves its own copy of $p, the right bytes")
        or diag("$r->{status}, " . length($r->{body}) . ' bytes');
    is(slurp("$nc->{root}$p"), $files{$p}, "c's disk: $p has the right bytes");
}
for my $n ($na, $nb, $nc) {
    my @t = temp_files($n->{root});
    ok(!@t, "no temp file on $n->{name}") or diag("@t");
}
like(log_of($nc), qr/fsdfs: pull "\Q$bad\E" refused: 409 checksum mismatch/,
     "c's error.log: the pull of bad.mp3 refused with 409");
like(log_of($nc), qr/fsdfs: pull "\Q$gone\E" refused: 404/,
     "c's error.log: the pull of gone.mp3 refused with 404");
is(log_count($nc, qr/fsdfs: pull "\Q$bad\E": 200/), 1, "c's error.log: then one successful pull of bad.mp3");
is(slurp("$na->{root}$gone"), $files{$gone}, "a's disk: gone.mp3 back with the right bytes");

# a's wrong copy of bad.mp3: after c's 409 the master asks a to check its
# copy (POST /_fsdfs/quarantine with the record's sum): a hashes it, finds
# other bytes, moves it aside; a stops being a holder and, N being 3, gets
# the file back from a good holder.
like(substr(fsdfsd_log($m), $log0),
     qr/check of \Q$bad\E on $id{a}: other bytes than its record, quarantined on the node, no longer a holder/,
     "fsdfsd: a's copy of bad.mp3 checked after the 409, quarantined, a no longer a holder");
is(slurp("$na->{root}/.fsdfs-quarantine$bad"), $wrong, "a's wrong copy is in a's quarantine");
like(log_of($na), qr/fsdfs: quarantined "\Q$bad\E"/, "a's error.log: the quarantine");
my @back = grep { $_->[0] eq 'pulled' && $_->[1] == $id{a} } story($bad);
ok(@back && $back[-1][2] != $id{a}, 'bad.mp3 copied back to a from a good holder: ' . show(@back));
is(slurp("$na->{root}$bad"), $files{$bad}, "a's disk: bad.mp3 has the right bytes again");
# open_file_cache (valid 1s in the harness config) may still hold the
# quarantined inode for a moment
my $t1 = time;
ok(wait_for(sub { http($na->{port}, 'GET', $bad, 'X-Fsdfs-Local' => 1)->{body} eq $files{$bad} }, 5),
   "a's local copy of bad.mp3 answers the right bytes");
diag(sprintf "a served the new copy of bad.mp3 %.2fs after the check", time - $t1);

sub fsck_json {
    my $out = fsdfs('fsck', '--json', '--sums', @_);
    my $rc = $? >> 8;
    my $j = eval { decode_json((grep { /^\{/ } split /\n/, $out)[0] // '') };
    diag($out) unless $j;
    return ($rc, $j, $out);
}
my ($rc, $j, $out) = fsck_json();
is($rc, 0, 'fsck --sums is clean: no bad copy is left counted') or diag($out);
ok(!temp_files($na->{root}), 'no temp file on a');

files_answer('the end', \%files, $na, $nb, $nc);

finish();
