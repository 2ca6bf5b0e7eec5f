#!/usr/bin/perl
# The fsck commands: GET /_fsdfs/inventory lists the data root (regular
# files only, symlinks not followed, .fsdfs-* temp and quarantine entries
# skipped) as "path\tsize[\tsum]" lines ending "# end <count>", signed like
# every command; POST /_fsdfs/quarantine moves a copy under
# <root>/.fsdfs-quarantine/ (200), 404 when there is none; with sum= it
# hashes the copy first and keeps one that matches (409).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs('init', '--buckets', '256');
my ($secret_file, $secret) = write_secret();
my $cmds = "location /_fsdfs/ { fsdfs_commands; }";

my $n = start_node(name => 'a', http => "fsdfs_secret $secret_file;",
                   server => $cmds);
ok(wait_for(sub {
    my $j = status_json($n);
    $j && $j->{node}{id} && @{$j->{nodes} // []};
}, 5), 'node registered');

my $root = $n->{root};
my %files = ('/m/a.mp3' => 'a' x 1000, '/m/sub/b.mp3' => 'bb' x 33,
             '/c.txt' => '', '/m/sub/deep/d+e.ogg' => "d\n" x 70000);
write_file("$root$_", $files{$_}) for keys %files;
write_file("$root/m/.fsdfs-tmp-1-0123456789abcdef", 'temp');
write_file("$root/.fsdfs-quarantine/m/q.mp3", 'quarantined');
symlink("$root/m/a.mp3", "$root/m/link.mp3") or die;
mkdir "$root/m/emptydir";
write_file("$root/m/bad name.mp3", 'space');      # not a valid path

sub inventory {
    my (@p) = @_;
    return cmd($n, $secret, 'inventory', [@p], method => 'GET');
}

sub parse {
    my ($body) = @_;
    my (%l, $end, $skipped);
    for (split /\n/, $body) {
        if (/^# end (\d+)$/) { $end = $1; next }
        if (/^# skipped (\d+)$/) { $skipped = $1; next }
        my @f = split /\t/;
        $l{$f[0]} = [@f[1 .. $#f]];
    }
    return (\%l, $end, $skipped);
}

# signature
my $q = sign_cmd($secret, 'GET', '/_fsdfs/inventory', []);
(my $bad = $q) =~ s/sig=([0-9a-f])/'sig=' . ($1 eq '0' ? '1' : '0')/e;
my $r = http_body($n->{port}, 'GET', "/_fsdfs/inventory?$bad", '');
is($r->{status}, 403, 'bad signature: 403');
is($r->{json} && $r->{json}{error}, 'bad signature', 'bad signature: said');
$r = http_body($n->{port}, 'GET', '/_fsdfs/inventory', '');
is($r->{status}, 403, 'unsigned: 403');
$r = cmd($n, $secret, 'inventory', [], method => 'POST');
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET', 'Allow: GET');
$r = cmd($n, $secret, 'inventory', [], method => 'GET', ts => time - 100);
is($r->{status}, 403, 'stale ts: 403');
$r = inventory(sums => 2);
is($r->{status}, 400, 'sums=2: 400');

# listing
$r = inventory();
is($r->{status}, 200, 'inventory: 200');
like($r->{headers}{'content-type'}, qr{^text/plain}, 'text/plain');
is($r->{headers}{'content-length'}, length($r->{body}), 'content-length');
like($r->{body}, qr/\n# end 4\n\z/, 'ends with # end 4');
my ($l, $end, $skipped) = parse($r->{body});
is_deeply([sort keys %$l], [sort keys %files],
          'exactly the regular files: no temp, quarantine, symlink, dir')
    or diag($r->{body});
is($l->{$_}[0], length $files{$_}, "size of $_") for sort keys %files;
ok(!grep({ @{$l->{$_}} != 1 } keys %$l), 'no sums without sums=1');
is($skipped, 1, 'the invalid name is counted as skipped');

# sums
$r = inventory(sums => 1);
is($r->{status}, 200, 'inventory sums=1: 200');
($l, $end) = parse($r->{body});
is($end, 4, 'sums: # end 4');
for (sort keys %files) {
    is_deeply($l->{$_}, [length $files{$_}, sum64($files{$_})],
              "size and sum of $_");
}
$r = inventory(sums => 0);
($l) = parse($r->{body});
is(scalar(@{$l->{'/c.txt'}}), 1, 'sums=0: no sums');

# many files: the listing goes through a temp file, not memory
for my $i (1 .. 3000) {
    write_file(sprintf("$root/many/%02d/f%05d.bin", $i % 50, $i), $i);
}
$r = inventory();
($l, $end) = parse($r->{body});
is($end, 3004, 'many files: # end 3004');
is(scalar(keys %$l), 3004, 'many files: every line');
is($l->{'/many/07/f00007.bin'}[0], 1, 'one of them');
opendir(my $d, $root) or die;
is_deeply([grep { /^\.fsdfs-tmp/ } readdir $d], [], 'no temp file left');
closedir $d;

# quarantine
$r = cmd($n, $secret, 'quarantine', [path => '/m/sub/b.mp3']);
is($r->{status}, 200, 'quarantine: 200') or diag($r->{body});
ok($r->{json} && $r->{json}{ok}, 'quarantine: ok');
ok(!-e "$root/m/sub/b.mp3", 'quarantine: the copy is gone');
is(slurp("$root/.fsdfs-quarantine/m/sub/b.mp3"), $files{'/m/sub/b.mp3'},
   'quarantine: it is under .fsdfs-quarantine');
$r = cmd($n, $secret, 'quarantine', [path => '/m/sub/b.mp3']);
is($r->{status}, 404, 'quarantine again: 404');
$r = cmd($n, $secret, 'quarantine', [path => '/m/link.mp3']);
is($r->{status}, 404, 'quarantine of a symlink: 404');
ok(-e "$root/m/a.mp3", 'the symlink target stays');
$r = cmd($n, $secret, 'quarantine', [path => '/m/../c.txt']);
is($r->{status}, 400, 'quarantine of a bad path: 400');
$r = cmd($n, $secret, 'quarantine', [path => '/m/a.mp3'], method => 'GET');
is($r->{status}, 405, 'quarantine by GET: 405');

# with sum= (fsdfsd, after a pull found other bytes): hashed first, a
# copy that matches is kept
my $a_sum = sum64($files{'/m/a.mp3'});
$r = cmd($n, $secret, 'quarantine', [path => '/m/a.mp3', sum => $a_sum]);
is($r->{status}, 409, 'quarantine with the right sum: 409') or diag($r->{body});
like($r->{body}, qr/matches the sum: kept/, 'quarantine with the right sum: says it is kept');
is(slurp("$root/m/a.mp3"), $files{'/m/a.mp3'}, 'quarantine with the right sum: the copy stays');
for my $bad ('xyz', '0123', '0123456789abcdefg', '') {
    $r = cmd($n, $secret, 'quarantine', [path => '/m/a.mp3', sum => $bad]);
    is($r->{status}, 400, "quarantine with sum '$bad': 400") or diag($r->{body});
}
ok(-e "$root/m/a.mp3", 'a bad sum changes nothing');
$r = cmd($n, $secret, 'quarantine', [path => '/m/sub/deep/d+e.ogg', sum => sum64('other')]);
is($r->{status}, 200, 'quarantine with another sum: 200') or diag($r->{body});
is(slurp("$root/.fsdfs-quarantine/m/sub/deep/d+e.ogg"), $files{'/m/sub/deep/d+e.ogg'},
   'quarantine with another sum: moved aside');
$r = inventory();
($l, $end) = parse($r->{body});
ok(!exists $l->{'/m/sub/b.mp3'}, 'a quarantined copy is not listed');
ok(!exists $l->{'/m/sub/deep/d+e.ogg'}, 'nor one quarantined for its sum');
is($end, 3002, '# end 3002 after them');

unlike(log_of($n), qr/\[(alert|emerg|crit)\]/, 'no alert in the log');

done_testing();
