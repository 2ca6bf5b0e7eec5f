#!/usr/bin/perl
# The hostile-input corpus (t/hostile/*.txt) against real nginx and Redis:
# requests to the read path, signed commands, malformed fsdfs directives
# and corrupt index records. Each case asserts its status or error and
# that nothing changed: both nodes' data dirs (temp files included), the
# index (HGETALL of every bucket) and the length of fsdfs:events are the
# same before and after. finish() then fails on any alert or crash.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use Time::HiRes qw(sleep time);

my %count;
my $redis = start_redis();
fsdfs('init', '--buckets', '64');
my ($secret_file, $secret) = write_secret();
my $cmds = "location /_fsdfs/ { fsdfs_commands; client_max_body_size 4k; }\n"
         . "        location /raw/ { fsdfs on; }\n"
         . "        merge_slashes on;";
my %common = (http => "fsdfs_secret $secret_file;\n"
                    . "    fsdfs_cache zone=HZ:1m ttl=1s neg_ttl=0;",
              location => 'fsdfs on; fsdfs_match "^/m/";',
              server => $cmds);
my $na = start_node(name => 'a', %common);
my $nb = start_node(name => 'b', %common, http => $common{http} =~ s/HZ/HZB/r);
for my $n ($na, $nb) {
    ok(wait_for(sub { my $j = status_json($n);
                      $j && $j->{node}{id} && @{$j->{nodes} // []} >= 2 }, 10),
       "$n->{name} registered and sees both nodes");
}
sleep 1.1;                      # every worker's copy of the table is fresh
my ($ida, $idb) = (node_id('a'), node_id('b'));

# fixtures
write_file("$na->{prefix}/outside.mp3", 'TOPSECRET outside');
write_file("$na->{root}/TOPSECRET.txt", 'TOPSECRET in the root, outside fsdfs_match');
write_file("$na->{root}/m/x.mp3", 'x' x 100);
write_file("$na->{root}/raw/x.mp3", 'raw x');
write_file("$na->{root}/m/keep.mp3", 'keep');
my $real = blob(7, 3000);
write_file("$nb->{root}/m/real.mp3", $real);
write_file("$nb->{root}/m/remote.mp3", 'remote');
fsdfs('scan', 'a', $na->{root});
fsdfs('scan', 'b', $nb->{root});
is(http($na->{port}, 'GET', '/m/remote.mp3')->{status}, 302, 'fixture: a miss on a redirects to b');

# the state that must not change
sub listing {
    my ($n) = @_;
    my @out;
    my @dirs = ($n->{root});
    while (my $d = shift @dirs) {
        opendir my $dh, $d or next;
        for my $e (sort readdir $dh) {
            next if $e eq '.' || $e eq '..';
            my $p = "$d/$e";
            my @st = lstat $p;
            push @out, substr($p, length $n->{root}) . " $st[2] $st[7]";
            push @dirs, $p if -d _;
        }
    }
    return join "\n", @out;
}

sub snapshot {
    my $keys = rcmd('KEYS', 'fsdfs:loc:*') || [];
    my $idx = join "\n", map {
        my $h = rcmd('HGETALL', $_) || [];
        my %h = @$h;
        map { "$_ => $h{$_}" } sort keys %h;
    } sort @$keys;
    return { a => listing($na), b => listing($nb), index => $idx,
             events => rcmd('XLEN', 'fsdfs:events') // 'none',
             outside => slurp("$na->{prefix}/outside.mp3") };
}

sub unchanged {
    my ($before, $what) = @_;
    my $after = snapshot();
    my @diff = grep { $before->{$_} ne $after->{$_} } sort keys %$before;
    ok(!@diff, "$what: nothing changed") or diag(join "\n", map {
        "$_ before:\n$before->{$_}\n$_ after:\n$after->{$_}" } @diff);
}

sub label {
    my ($family, $c) = @_;
    return "$family:$c->{line} $c->{name}";
}

# requests ------------------------------------------------------------------

for my $c (hostile_cases('requests')) {
    my $what = label('requests', $c);
    my $raw = defined $c->{raw} ? hostile_unescape($c->{raw})
            : (defined $c->{head} ? 'HEAD ' : 'GET ')
              . hostile_unescape($c->{get} // $c->{head})
              . " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my $before = snapshot();
    local $TODO = $c->{todo};
    my $r = http_raw($na->{port}, $raw, timeout => 5);
    ok(hostile_status_ok($r->{status}, $c->{status}), "$what: $c->{status}")
        or diag("got $r->{status}: " . substr($r->{raw}, 0, 300));
    unlike($r->{raw}, qr/TOPSECRET/, "$what: nothing outside leaked");
    ok(!($r->{headers}{location} && $c->{status} !~ /302/), "$what: no redirect");
    unchanged($before, $what);
    $count{requests}++;
}
is(http($na->{port}, 'GET', '/m/x.mp3')->{status}, 200, 'requests: the node still serves');

# commands ------------------------------------------------------------------

sub node_epoch { status_json($na)->{node}{epoch} // 0 }

my $epoch = 10;
redis_cli('SET', 'fsdfs:epoch', $epoch);
ok(wait_for(sub { node_epoch() == $epoch }, 5), "a learned epoch $epoch");
my %tok = ('@A' => $ida, '@B' => $idb, '@SIZE' => length $real, '@SUM' => sum64($real));

sub mangle {
    my ($q, $m) = @_;
    for my $op (split ' ', $m) {
        my ($k, $v) = split /=/, $op, 2;
        if ($k eq 'sig') {
            $q =~ s{sig=([0-9a-f]+)}{
                my $s = $1;
                'sig=' . ($v eq 'upper' ? uc $s : $v eq 'short' ? substr($s, 1)
                          : $v eq 'nonhex' ? 'z' . substr($s, 1)
                          : $v eq 'empty' ? ''
                          : ($v eq 'flip' ? (substr($s, 0, 1) eq '0' ? '1' : '0') . substr($s, 1) : $s))
            }e;
        } elsif ($k eq 'del') {
            $q =~ s{(^|&)\Q$v\E=[^&]*}{}; $q =~ s/^&//;
        } elsif ($k eq 'set' || $k eq 'swap') {
            my ($n, $val) = split /:/, $v, 2;
            my $enc = url_encode(hostile_unescape($val));
            $q =~ s{(^|&)\Q$n\E=[^&]*}{$1$n=$enc};
        } elsif ($k eq 'add') {
            my ($n, $val) = split /:/, $v, 2;
            $q .= "&$n=" . url_encode(hostile_unescape($val));
        } elsif ($k eq 'dup') {
            $q .= "&$1" if $q =~ m{(?:^|&)(\Q$v\E=[^&]*)};
        } else {
            die "unknown mangle $op";
        }
    }
    return $q;
}

for my $c (hostile_cases('commands')) {
    my $what = label('commands', $c);
    my $op = $c->{op};
    my $method = $c->{method} // ($op eq 'put' ? 'PUT' : 'POST');
    my @params;
    for my $kv (split ' ', $c->{params} // '') {
        my ($k, $v) = split /=/, $kv, 2;
        $v =~ s/(\@[A-Z]+)/$tok{$1} \/\/ $1/ge;
        $v =~ s/^(\d+)\+(\d+)$/$1 + $2/e;
        push @params, $k, hostile_unescape($v);
    }
    my $ts = $c->{ts} // 'now';
    $ts = $ts eq 'now' ? int time : $ts =~ /^now([+-]\d+)$/ ? int(time) + $1
        : $ts eq '0now' ? '0' . int time : $ts;
    my $ep = $c->{epoch} // 'cur';
    $ep = $ep eq 'cur' ? $epoch : $ep eq 'cur-1' ? $epoch - 1 : $ep;
    my $q = sign_cmd($secret, $method, "/_fsdfs/$op", \@params, ts => $ts, epoch => $ep);
    $q = mangle($q, $c->{mangle}) if $c->{mangle};
    my $before = snapshot();
    if ($c->{replay}) {
        redis_cli('SET', 'fsdfs:epoch', ++$epoch);
        ok(wait_for(sub { node_epoch() == $epoch }, 5), "$what: a learned epoch $epoch");
    }
    my $seen = node_epoch();
    local $TODO = $c->{todo};
    my $r = http_body($na->{port}, $method, "/_fsdfs/$op?$q",
                      hostile_unescape($c->{body} // ''));
    ok(hostile_status_ok($r->{status}, $c->{status}), "$what: $c->{status}")
        or diag("got $r->{status}: " . substr($r->{raw}, 0, 400));
    if (defined $c->{error}) {
        like($r->{json} ? $r->{json}{error} // '' : '', qr/$c->{error}/, "$what: error /$c->{error}/")
            or diag($r->{body});
    }
    unchanged($before, $what);
    is(node_epoch(), $seen, "$what: a's epoch unchanged");
    $count{commands}++;
}
is(slurp("$na->{root}/m/keep.mp3"), 'keep', 'commands: keep.mp3 intact');
ok(!temp_files($na->{root}) && !temp_files($nb->{root}), 'commands: no temp file left');

# nginx_conf ----------------------------------------------------------------

my $mod = build_dir() . '/ngx_http_fsdfs_module.so';
my %sub = ('@NODE@' => 'fsdfs_node a http://127.0.0.1:1;',
           '@REDIS@' => "fsdfs_redis 127.0.0.1:$redis;",
           '@SECRET@' => "fsdfs_secret $secret_file;");
for my $c (hostile_cases('nginx_conf')) {
    my $what = label('nginx_conf', $c);
    my $http = hostile_unescape($c->{http} // '@NODE@ @REDIS@ @SECRET@');
    $http =~ s/(\@[A-Z]+\@)/$sub{$1}/g;
    my $loc = hostile_unescape($c->{loc} // 'fsdfs on;');
    my $cmd = hostile_unescape($c->{cmd} // 'fsdfs_commands;');
    my $conf = <<"CONF";
load_module $mod;
error_log \@PREFIX\@/error.log;
pid \@PREFIX\@/nginx.pid;
events { }
http {
    client_body_temp_path \@PREFIX\@/tmp;
    proxy_temp_path \@PREFIX\@/tmp;
    fastcgi_temp_path \@PREFIX\@/tmp;
    uwsgi_temp_path \@PREFIX\@/tmp;
    scgi_temp_path \@PREFIX\@/tmp;
    $http
    server {
        listen 127.0.0.1:1;
        root \@PREFIX\@/data;
        location / { $loc }
        location /_fsdfs/ { $cmd }
        location \@fsdfs_proxy { internal; proxy_pass \$fsdfs_holder; }
    }
}
CONF
    local $TODO = $c->{todo};
    my ($rc, $out) = nginx_t($conf);
    my $value = hostile_unescape($c->{value});
    is($rc, 1, "$what: nginx -t fails") or diag($out);
    like($out, qr/\[emerg\].*?\Q$c->{directive}\E/s, "$what: names $c->{directive}") or diag($out);
    like($out, qr/\Q$value\E/, "$what: quotes the value") or diag($out);
    $count{nginx_conf}++;
}

# records -------------------------------------------------------------------

my $neg = 60000;
my $i = 0;
for my $c (hostile_cases('records')) {
    my $what = label('records', $c);
    my $path = '/m/rec-' . ++$i . '.mp3';
    (my $rec = $c->{record}) =~ s/\@H/$idb/g;
    $rec =~ s/\@N/$neg/g;
    $rec = hostile_unescape($rec);
    my $key = bucket_of($path);
    rcmd('HSET', $key, $path, $rec);
    my $lines = log_count($na, qr/corrupt record for "\Q$path\E"/);
    my $before = snapshot();
    local $TODO = $c->{todo};
    my $r = http($na->{port}, 'GET', $path);
    is($r->{status}, 404, "$what: GET is 404 (unknown)") or diag(substr($r->{raw}, 0, 300));
    ok(wait_for(sub { log_count($na, qr/corrupt record for "\Q$path\E"/) == $lines + 1 }, 3),
       "$what: one error.log line about it");
    my @all = grep { /corrupt record for "\Q$path\E"/ .. !/\S/ } split /\n/, log_of($na);
    my $out = fsdfs('where', $path);
    my $rc = $? >> 8;
    ok($rc == 4 && $out =~ /corrupt/, "$what: fsdfs where exits 4 saying corrupt")
        or diag("exit $rc: $out");
    unchanged($before, $what);
    rcmd('HDEL', $key, $path);
    $count{records}++;
}
my $j = status_json($na);
cmp_ok($j->{counters}{corrupt_records} // 0, '>=', $count{records}, 'records: counted in the status');
is(http($na->{port}, 'GET', '/m/remote.mp3')->{status}, 302, 'records: good records still work');

my $total = 0;
$total += $_ for values %count;
diag(join(', ', map { "$_ $count{$_}" } sort keys %count) . ", total $total");
cmp_ok($count{$_} // 0, '>=', 15, "at least 15 $_ cases") for qw(requests commands nginx_conf records);

finish();
