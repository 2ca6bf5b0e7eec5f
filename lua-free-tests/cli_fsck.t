#!/usr/bin/perl
# fsdfs fsck: the index against the disks, through each node's signed
# inventory. Two nodes, no master: files written on both disks and
# registered by `fsdfs scan`, then broken: a copy deleted (missing), a copy
# the index does not hold (extra, matching its record), a copy truncated
# (size), a byte flipped (sum, seen only with --sums), a file of a path the
# index does not know (extra, unknown). fsck reports each exactly and
# changes nothing; --repair --sums fixes them (holders, quarantine on the
# node, the good extra copy registered), --adopt registers the unknown
# path, and the next fsck is clean.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;

my $redis = start_redis();
fsdfs('init', '--buckets', '64', '--replicas', '2');
my @n = map { start_node(name => $_, commands => 1) } qw(a b);
my ($na, $nb) = @n;
ok(nodes_up(10, @n), 'a and b up');
my %id = map { $_->{name} => node_id($_->{name}) } @n;

my %files;
for my $i (1 .. 6) {
    my $path = sprintf '/f/%02d.mp3', $i;
    $files{$path} = blob($i, 1000 + 777 * $i);
    write_file($_->{root} . $path, $files{$path}) for @n;
}
$files{'/f/07.mp3'} = blob(7, 3000);
write_file("$na->{root}/f/07.mp3", $files{'/f/07.mp3'});
for my $node (@n) {
    my $out = fsdfs('scan', $node->{name}, $node->{root});
    is($? >> 8, 0, "scan $node->{name}") or diag($out);
}

sub fsck {
    my $out = fsdfs('fsck', @_);
    return ($? >> 8, $out);
}
sub fsck_json {
    my ($rc, $out) = fsck('--json', @_);
    my $j = eval { decode_json((grep { /^\{/ } split /\n/, $out)[0] // '') };
    diag($out) unless $j;
    return ($rc, $j, $out);
}
sub index_records {
    my %r;
    for my $b (0 .. 63) {
        my %h = @{rcmd('HGETALL', "fsdfs:loc:$b") // []};
        %r = (%r, %h);
    }
    return \%r;
}
sub problems {
    my ($j) = @_;
    return [sort map { "$_->{node} $_->{kind} $_->{path}" } @{$j->{problems}}];
}

my ($rc, $j, $out) = fsck_json();
is($rc, 0, 'a fresh cluster is clean: exit 0') or diag($out);
is($j->{total}, 0, 'no problems');
is_deeply({map { ($_->{name} => $_->{files}) } @{$j->{nodes}}}, {a => 7, b => 6},
          'files per node');
($rc, $out) = fsck();
like($out, qr/fsck: 7 records, 0 problems/, 'text summary') or diag($out);

# break it
unlink "$nb->{root}/f/01.mp3" or die;                               # missing
write_file("$nb->{root}/f/07.mp3", $files{'/f/07.mp3'});           # extra, good
truncate("$na->{root}/f/02.mp3", 500) or die;                      # size
my $flipped = $files{'/f/03.mp3'};
substr($flipped, 100, 1) = chr(ord(substr($flipped, 100, 1)) ^ 1);
write_file("$nb->{root}/f/03.mp3", $flipped);                      # sum
write_file("$na->{root}/x/unknown.mp3", 'who am I');               # unknown
write_file("$na->{root}/f/.fsdfs-tmp-1-00000000000000aa", 'temp'); # skipped

my $before = index_records();
is(scalar(keys %$before), 7, '7 records before');
my $xlen = rcmd('XLEN', 'fsdfs:events');

($rc, $j, $out) = fsck_json();
is($rc, 1, 'problems: exit 1') or diag($out);
is_deeply(problems($j), ['a extra /x/unknown.mp3', 'a size /f/02.mp3',
                         'b extra /f/07.mp3', 'b missing /f/01.mp3'],
          'without --sums: missing, extra (2), size') or diag($out);
my %p = map { ("$_->{node} $_->{path}" => $_) } @{$j->{problems}};
ok($p{'b /f/07.mp3'}{known} && $p{'b /f/07.mp3'}{matches}, 'extra /f/07: known, matches');
ok(!$p{'a /x/unknown.mp3'}{known}, 'extra /x/unknown: unknown path');
is($p{'a /f/02.mp3'}{size}, 500, 'size: disk size');
is($p{'a /f/02.mp3'}{indexed_size}, length $files{'/f/02.mp3'}, 'size: indexed size');
my %nd = map { ($_->{name} => $_) } @{$j->{nodes}};
is_deeply([@{$nd{a}}{qw(missing extra size sum)}], [0, 1, 1, 0], 'counts of a');
is_deeply([@{$nd{b}}{qw(missing extra size sum)}], [1, 1, 0, 0], 'counts of b');
is($j->{total}, 4, 'total 4');

($rc, $j, $out) = fsck_json('--sums');
is($rc, 1, '--sums: exit 1');
is_deeply(problems($j), ['a extra /x/unknown.mp3', 'a size /f/02.mp3',
                         'b extra /f/07.mp3', 'b missing /f/01.mp3',
                         'b sum /f/03.mp3'],
          '--sums: the flipped byte too') or diag($out);
%p = map { ("$_->{node} $_->{path}" => $_) } @{$j->{problems}};
isnt($p{'b /f/03.mp3'}{sum}, $p{'b /f/03.mp3'}{indexed_sum}, 'sum: differs');

($rc, $j, $out) = fsck_json('--node', 'b', '--sums');
is_deeply(problems($j), ['b extra /f/07.mp3', 'b missing /f/01.mp3', 'b sum /f/03.mp3'],
          '--node b: only b') or diag($out);
($rc, $out) = fsck('--node', 'zz');
is($rc, 4, 'unknown node: exit 4');
($rc, $out) = fsck('--adopt');
is($rc, 2, '--adopt without --repair --sums: usage');

($rc, $out) = fsck('--sums');
like($out, qr/^b\s+sum\s+\/f\/03\.mp3/m, 'text: one line per problem') or diag($out);
like($out, qr/fsck: 7 records, 5 problems/, 'text: total');

is_deeply(index_records(), $before, 'nothing changed without --repair: records');
is(rcmd('XLEN', 'fsdfs:events'), $xlen, 'no event');
ok(-e "$na->{root}/f/02.mp3" && -e "$nb->{root}/f/03.mp3", 'no copy moved');

# repair
($rc, $j, $out) = fsck_json('--repair', '--sums');
is($rc, 1, '--repair: exit 1 (problems were found)') or diag($out);
is($j->{repaired}, 4, '4 repaired') or diag($out);
is_deeply([holders('/f/01.mp3')], [$id{a}], 'missing: b removed from /f/01');
is_deeply([holders('/f/07.mp3')], [sort { $a <=> $b } $id{a}, $id{b}], 'extra: b added to /f/07');
is_deeply([holders('/f/02.mp3')], [$id{b}], 'size: a removed from /f/02');
is_deeply([holders('/f/03.mp3')], [$id{a}], 'sum: b removed from /f/03');
ok(!-e "$na->{root}/f/02.mp3", 'size: the copy left its place');
is(-s "$na->{root}/.fsdfs-quarantine/f/02.mp3", 500, 'size: it is in quarantine');
is(slurp("$nb->{root}/.fsdfs-quarantine/f/03.mp3"), $flipped, 'sum: in quarantine');
ok(-e "$na->{root}/x/unknown.mp3", 'unknown: left on disk');
ok(!defined record_of('/x/unknown.mp3'), 'unknown: not indexed');
is(rcmd('XLEN', 'fsdfs:events'), $xlen + 4, 'one event per holder change');
my @ev = @{rcmd('XREVRANGE', 'fsdfs:events', '+', '-', 'COUNT', 4) // []};
my @types = sort map { my %f = @{$_->[1]}; "$f{type} $f{path}" } @ev;
is_deeply(\@types, ['have /f/07.mp3', 'set /f/01.mp3', 'set /f/02.mp3', 'set /f/03.mp3'],
          'events: have for the added holder, set for the others');

($rc, $j, $out) = fsck_json('--sums');
is($rc, 1, 'after repair: only the unknown path left');
is_deeply(problems($j), ['a extra /x/unknown.mp3'], 'the unknown path') or diag($out);

($rc, $j, $out) = fsck_json('--repair', '--sums', '--adopt');
is($rc, 1, '--adopt: exit 1');
my $rec = record_of('/x/unknown.mp3');
like($rec // '', qr/^1 8 [0-9a-f]{16} \d+ $id{a}$/, '--adopt: a new record held by a');

($rc, $j, $out) = fsck_json('--sums');
is($rc, 0, 'a second fsck is clean: exit 0') or diag($out);
is($j->{total}, 0, 'total 0');
($rc, $out) = fsck();
is($rc, 0, 'text: clean');

# redis down
stop_redis($redis);
($rc, $out) = fsck();
is($rc, 3, 'redis down: exit 3') or diag($out);

done_testing();
