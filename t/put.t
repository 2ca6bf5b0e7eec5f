#!/usr/bin/perl
# Put: a signed PUT stores a new file (checked for size and sum, fsynced,
# linked into place only if absent) and creates its record with this node
# as holder, clears its tombstone and announces it on fsdfs:events: 201.
# A path the index or the disk already has is 409 and nothing changes; a
# bad size or sum is 409 and leaves nothing; unsigned is 403; Redis down
# is 503. Drop removes a copy.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use POSIX ();

my $redis = start_redis();
fsdfs('init', '--buckets', '256');
my ($secret_file, $secret) = write_secret();
my $cmds = "location /_fsdfs/ { fsdfs_commands; client_max_body_size 0; }";
my $n = start_node(name => 'a', http => "fsdfs_secret $secret_file;", server => $cmds,
                   redis_opts => ' timeout=3s');
ok(wait_for(sub {
    my $j = status_json($n);
    $j && $j->{node}{id} && $j->{redis}{buckets} && @{$j->{nodes} // []};
}, 5), 'node registered, table and buckets read');
sleep 1.1;
my $id = node_id('a');

sub put {
    my ($path, $body, %o) = @_;
    return cmd($n, $secret, 'put',
               [path => $path, size => $o{size} // length $body,
                sum => $o{sum} // sum64($body), ($o{n} ? (n => $o{n}) : ())],
               body => $body);
}

sub record { redis_cli('HGET', bucket_key($_[0]), $_[0]) }

sub nothing_left {
    my ($path, $what) = @_;
    ok(!-e "$n->{root}$path", "$what: no file");
    is(record($path), '', "$what: no record");
    my @t = temp_files($n->{root});
    ok(!@t, "$what: no temp file") or diag("@t");
}

# the good put
my $body = join '', map { chr(($_ * 13) % 256) } 1 .. 200_000;
redis_cli('ZADD', 'fsdfs:tomb', 1, '/up/a.mp3');
my $t0 = time;
my $r = put('/up/a.mp3', $body);
is($r->{status}, 201, 'put: 201') or diag($r->{body});
is_deeply([@{$r->{json} // {}}{qw(op path size)}], ['put', '/up/a.mp3', length $body],
          'put: JSON op, path, size');
ok($r->{json} && $r->{json}{ok}, 'put: ok');
ok(slurp("$n->{root}/up/a.mp3") eq $body, 'put: the bytes are on disk');
my $rec = record('/up/a.mp3');
like($rec, qr/^1 ${\ length $body} ${\ sum64($body)} (\d+) $id$/, 'put: the record, this node the holder')
    or diag($rec);
my ($ctime) = $rec =~ /^1 \d+ \w+ (\d+)/;
ok($ctime >= $t0 - 1 && $ctime <= time + 1, 'put: ctime is now');
is(redis_cli('ZSCORE', 'fsdfs:tomb', '/up/a.mp3'), '', 'put: tombstone cleared');
my $ev = redis_cli('XREVRANGE', 'fsdfs:events', '+', '-', 'COUNT', 1);
is($ev =~ s/^\d+-\d+\n//r, "type\nput\nnode\n$id\npath\n/up/a.mp3", 'put: event type put node path');
ok(!temp_files($n->{root}), 'put: no temp file');
my $g = http($n->{port}, 'GET', '/up/a.mp3');
is($g->{status}, 200, 'put: then served');
ok($g->{body} eq $body, 'put: served bytes equal');

# n=
$r = put('/up/n.mp3', 'three', n => 3);
is($r->{status}, 201, 'put with n=3: 201');
like(record('/up/n.mp3'), qr/^1 5 \w{16} \d+ $id n=3$/, 'put: n=3 in the record');

# conflicts
$r = put('/up/a.mp3', 'other bytes');
is($r->{status}, 409, 'path in the index: 409');
like($r->{json}{error} // '', qr/exists in the index/, '409: exists in the index');
ok(slurp("$n->{root}/up/a.mp3") eq $body, '409: the file is untouched');
like(record('/up/a.mp3'), qr/^1 ${\ length $body} /, '409: the record is untouched');

write_file("$n->{root}/up/disk.mp3", 'on disk only');
$r = put('/up/disk.mp3', 'new bytes');
is($r->{status}, 409, 'path on disk, not indexed: 409');
like($r->{json}{error} // '', qr/exists on disk/, '409: exists on disk');
is(slurp("$n->{root}/up/disk.mp3"), 'on disk only', '409: disk file untouched');
is(record('/up/disk.mp3'), '', '409: no record made');

redis_cli('HSET', bucket_key('/up/race.mp3'), '/up/race.mp3', '1 1 0000000000000000 1 -');
$r = put('/up/race.mp3', 'r');
is($r->{status}, 409, 'record appears before the put: 409');
ok(!-e "$n->{root}/up/race.mp3", '409: no file left');

# the race HEXISTS cannot see: another writer's HSETNX lands between our
# check and ours (writes paused, the other one queued first)
my $lost_key = bucket_key('/up/lost.mp3');
redis_cli('CLIENT', 'PAUSE', 1000, 'WRITE');
my $rival = fork() // die "fork: $!";
if ($rival == 0) {
    redis_cli('HSETNX', $lost_key, '/up/lost.mp3', '1 1 0000000000000000 1 -');
    POSIX::_exit(0);    # not through the harness's END
}
select undef, undef, undef, 0.2;
$r = put('/up/lost.mp3', 'lost');
waitpid $rival, 0;
is($r->{status}, 409, 'record created by another writer meanwhile: 409') or diag($r->{body});
like($r->{json}{error} // '', qr/exists in the index \(created meanwhile\)/,
     '409: lost at HSETNX, not at HEXISTS');
ok(!-e "$n->{root}/up/lost.mp3", '409: the file just stored is removed again');
is(record('/up/lost.mp3'), '1 1 0000000000000000 1 -', "409: the other writer's record stands");

$r = put('/up/badsum.mp3', 'data', sum => sum64('atad'));
is($r->{status}, 409, 'bad sum: 409');
like($r->{json}{error} // '', qr/checksum mismatch/, '409: checksum mismatch');
nothing_left('/up/badsum.mp3', 'bad sum');
$r = put('/up/badsize.mp3', 'data', size => 5);
is($r->{status}, 409, 'size param differs from the body: 409');
nothing_left('/up/badsize.mp3', 'bad size');

# refusals before anything is read or written
my $q = sign_cmd($secret, 'PUT', '/_fsdfs/put', [path => '/up/u.mp3', size => 4, sum => sum64('data')]);
$r = http_body($n->{port}, 'PUT', '/_fsdfs/put?path=/up/u.mp3&size=4&sum=' . sum64('data'), 'data');
is($r->{status}, 403, 'unsigned: 403');
nothing_left('/up/u.mp3', 'unsigned');
(my $tampered = $q) =~ s{/up/u.mp3}{/up/v.mp3};
$r = http_body($n->{port}, 'PUT', "/_fsdfs/put?$tampered", 'data');
is($r->{status}, 403, 'tampered: 403');
nothing_left('/up/v.mp3', 'tampered');
$r = cmd($n, $secret, 'put', [path => '/up/../x.mp3', size => 4, sum => sum64('data')], body => 'data');
is($r->{status}, 400, 'bad path: 400');
$r = cmd($n, $secret, 'put', [path => '/up/w.mp3', size => 4], body => 'data');
is($r->{status}, 400, 'no sum: 400');
$r = cmd($n, $secret, 'put', [path => '/up/w.mp3', size => 4, sum => sum64('data'), n => 256], body => 'data');
is($r->{status}, 400, 'n=256: 400');
nothing_left('/up/w.mp3', '400s');

# an empty file and a big one
$r = put('/up/empty.mp3', '');
is($r->{status}, 201, 'empty file: 201');
is(-s "$n->{root}/up/empty.mp3", 0, 'empty file on disk');
my $big = join '', map { pack 'N', $_ * 2654435761 % 4294967296 } 1 .. 1_000_000;
$r = put('/up/big.mp3', $big);
is($r->{status}, 201, '4 MB file: 201');
ok(slurp("$n->{root}/up/big.mp3") eq $big, '4 MB file: bytes equal');

# drop what was put
$r = cmd($n, $secret, 'drop', [path => '/up/big.mp3']);
is($r->{status}, 200, 'drop: 200');
ok($r->{json} && $r->{json}{dropped}, 'drop: dropped');
ok(!-e "$n->{root}/up/big.mp3", 'drop: file gone');
$r = cmd($n, $secret, 'drop', [path => '/up']);
is($r->{status}, 409, 'drop of a directory: 409');
ok(-d "$n->{root}/up", 'the directory is still there');

my $j = status_json($n);
is($j->{counters}{puts}, 4, 'puts counted');

# Redis down: 503, nothing left
kill_redis();
ok(wait_for(sub { my $j = status_json($n); $j && !$j->{redis}{up} }, 3), 'node sees redis down');
$r = put('/up/down.mp3', 'down');
is($r->{status}, 503, 'redis down: 503');
like($r->{json}{error} // '', qr/index unreachable/, '503: index unreachable');
ok(!-e "$n->{root}/up/down.mp3", '503: no file');
ok(!temp_files($n->{root}), '503: no temp file');

finish();
