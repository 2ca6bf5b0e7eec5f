#!/usr/bin/perl
# Metrics: the status endpoint's figures move with traffic (a local hit, a
# redirect, a pull through a signed command: in on the puller, out on the
# source), every node of the table carries its fill from its heartbeat,
# and the cluster's figures (fsdfs:stats, fsdfs:kn, set here by hand as
# fsdfsd would) show up within a tick or two on any node. The Prometheus
# text is checked by a strict parser of the exposition format written
# below (and by promtool when it happens to be installed).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use JSON::PP;

# --- a strict parser of the Prometheus text exposition format (0.0.4) ---
#
# Returns (families, errors): families{name} = {type, help, samples =>
# [[metric name, {labels}, value], ...]}. On top of the format's rules it
# holds our own: every name is fsdfs_*, every family has HELP and TYPE
# before its samples, no blank lines or free comments, counters end in
# _total and are not negative.
sub parse_prometheus {
    my ($text) = @_;
    my (%fam, @err, %seen_series, %done, $current);
    my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
    push @err, 'text does not end with a newline' unless $text =~ /\n\z/;
    (my $body = $text) =~ s/\n\z//;
    my $ln = 0;
    for my $line (split /\n/, $body, -1) {
        $ln++;
        my $where = "line $ln: '$line'";
        if ($line eq '') { push @err, "$where: blank line"; next }
        if ($line =~ /^#/) {
            my ($kind, $name, $rest) = $line =~ /^# (HELP|TYPE) ($name_re) (.*)$/
                or do { push @err, "$where: not a HELP or TYPE line"; next };
            push @err, "$where: name outside fsdfs_" unless $name =~ /^fsdfs_/;
            my $f = $fam{$name} //= { samples => [] };
            push @err, "$where: $kind after samples of $name" if @{$f->{samples}};
            if ($kind eq 'HELP') {
                push @err, "$where: second HELP" if defined $f->{help};
                (my $bare = $rest) =~ s/\\[\\n]//g;
                push @err, "$where: bad escape in HELP" if $bare =~ /\\/;
                ($f->{help} = $rest) =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
            } else {
                push @err, "$where: second TYPE" if defined $f->{type};
                push @err, "$where: unknown type" unless $rest =~ /^(counter|gauge|histogram|summary|untyped)$/;
                push @err, "$where: counter not named _total" if $rest eq 'counter' && $name !~ /_total$/;
                $f->{type} = $rest;
            }
            if (defined $current && $current ne $name) { $done{$current} = 1 }
            push @err, "$where: family $name seen before" if $done{$name};
            $current = $name;
            next;
        }
        my ($name, $lbl, $value, $ts) = $line =~ /^($name_re)(\{.*\})? (\S+)(?: (-?\d+))?$/
            or do { push @err, "$where: not a sample"; next };
        my %labels;
        if (defined $lbl) {
            my $s = substr $lbl, 1, -1;
            while (length $s) {
                $s =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"//
                    or do { push @err, "$where: bad label set"; last };
                my ($k, $v) = ($1, $2);
                push @err, "$where: reserved label $k" if $k =~ /^__/;
                push @err, "$where: label $k twice" if exists $labels{$k};
                $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
                $labels{$k} = $v;
                last unless length $s;
                $s =~ s/^,// or do { push @err, "$where: labels not comma-separated"; last };
                push @err, "$where: trailing comma" unless length $s;
            }
        }
        push @err, "$where: bad value" unless $value =~ /^(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|[-+]Inf)$/;
        my $family = $name;
        if (!$fam{$family}) {
            ($family = $name) =~ s/_(?:sum|count|bucket)$//;
        }
        my $f = $fam{$family};
        if (!$f || !defined $f->{type} || !defined $f->{help}) {
            push @err, "$where: sample without HELP and TYPE";
            $f = $fam{$family} //= { samples => [] };
        }
        if (defined $current && $current ne $family) {
            $done{$current} = 1;
            push @err, "$where: samples of $family not together" if $done{$family};
        }
        $current = $family;
        my $series = $name . '{' . join(',', map { "$_=$labels{$_}" } sort keys %labels) . '}';
        push @err, "$where: series twice" if $seen_series{$series}++;
        push @err, "$where: negative counter" if ($f->{type} // '') eq 'counter' && $value =~ /^-/;
        push @{$f->{samples}}, [$name, \%labels, $value];
    }
    return (\%fam, \@err);
}

# the value of one series: metric name and labels that must all match
sub sample {
    my ($fam, $name, %want) = @_;
    my $family = $name;
    $family =~ s/_(?:sum|count|bucket)$// unless $fam->{$name};
    for my $s (@{($fam->{$family} // {})->{samples} // []}) {
        next unless $s->[0] eq $name;
        next if grep { ($s->[1]{$_} // "\0") ne $want{$_} } keys %want;
        return $s->[2];
    }
    return undef;
}

# the parser refuses what it should
{
    my @badtexts = (
        "fsdfs_x_total 1\n",                                                     # no TYPE
        "# HELP fsdfs_x x\n# TYPE fsdfs_x counter\nfsdfs_x 1\n",                 # counter without _total
        "# HELP fsdfs_x x\n# TYPE fsdfs_x gauge\nfsdfs_x{a=\"b} 1\n",            # unterminated label
        "# HELP fsdfs_x x\n# TYPE fsdfs_x gauge\nfsdfs_x{a=\"\\q\"} 1\n",        # bad escape
        "# HELP fsdfs_x x\n# TYPE fsdfs_x gauge\nfsdfs_x 1\nfsdfs_x 2\n",        # series twice
        "# HELP fsdfs_x x\n# TYPE fsdfs_x gauge\nfsdfs_x one\n",                 # bad value
        "# HELP fsdfs_x x\n# TYPE fsdfs_x gauge\nfsdfs_x 1",                     # no final newline
        "# HELP fsdfs_a a\n# TYPE fsdfs_a gauge\nfsdfs_a{k=\"1\"} 1\n# HELP fsdfs_b b\n"
          . "# TYPE fsdfs_b gauge\nfsdfs_b 1\nfsdfs_a{k=\"2\"} 1\n",             # family split
        "# HELP fsdfs_x x\n# TYPE fsdfs_x gauge\nfsdfs_x{a=\"1\",} 1\n",         # trailing comma
    );
    my $refused = grep { @{(parse_prometheus($_))[1]} } @badtexts;
    is($refused, scalar @badtexts, 'the parser refuses each broken sample text');
    my ($f, $e) = parse_prometheus("# HELP fsdfs_x x \\\\ y\n# TYPE fsdfs_x gauge\n"
                                   . "fsdfs_x{a=\"q\\\"\\\\\\n\",b=\"\"} -1.5e3\n");
    ok(!@$e && sample($f, 'fsdfs_x', a => "q\"\\\n", b => '') == -1500,
       'the parser reads a good one, escapes decoded') or diag(explain $e);
}

my $redis = start_redis();
my ($secret_file, $secret) = write_secret();
my $cmds = "location /_fsdfs/ { fsdfs_commands; client_max_body_size 0; }";
my $a = start_node(name => 'alpha', server => $cmds,
                   http => "fsdfs_secret $secret_file; fsdfs_quota 10m;");
my $b = start_node(name => 'beta', server => $cmds,
                   http => "fsdfs_secret $secret_file; fsdfs_quota 20m;");
write_file("$a->{root}/m/local.mp3", 'l' x 1000);
write_file("$b->{root}/m/remote.mp3", 'remote');
my $data = join '', map { chr(($_ * 13) % 256) } 1 .. 50_000;
write_file("$b->{root}/m/pulled.mp3", $data);
ok(wait_for(sub { node_id('alpha') && node_id('beta') }, 5), 'both registered');
fsdfs('init');
fsdfs('scan', 'beta', $b->{root});
my ($aid, $bid) = (node_id('alpha'), node_id('beta'));
ok(wait_for(sub { http($a->{port}, 'GET', '/m/remote.mp3')->{status} == 302 }, 5),
   'alpha redirects to beta');
sleep 1.1;    # every worker has the node table (commands answer 503 before)

my $a0 = status_json($a);
my $b0 = status_json($b);
ok($a0 && $b0, 'both statuses parse');
for my $k (qw(local redirects proxied cache_hits cache_stale cache_misses
              redis_requests redis_errors redis_timeouts redis_usec
              pulls_done pulls_failed pulls_bytes pulls_out pulls_out_bytes
              drops puts puts_bytes)) {
    ok(defined $a0->{counters}{$k}, "json counters: $k");
}
ok(exists $a0->{ratios}{cache_hit} && exists $a0->{ratios}{redis_ms}, 'json: ratios');
for my $k (qw(used free files quota)) { ok(defined $a0->{disk}{$k}, "json disk: $k") }
is($a0->{cluster}{stats}, undef, 'json: no cluster figures before fsdfsd publishes any');

# traffic: one local hit, one redirect, one pull from beta onto alpha
is(http($a->{port}, 'GET', '/m/local.mp3')->{status}, 200, 'local hit');
is(http($a->{port}, 'GET', '/m/remote.mp3')->{status}, 302, 'redirect');
my $r = cmd($a, $secret, 'pull', [path => '/m/pulled.mp3', from => $bid,
                                  size => length $data, sum => sum64($data)]);
is($r->{status}, 200, 'signed pull: 200') or diag($r->{body});

my $a1 = status_json($a);
my $b1 = status_json($b);
my %da = map { $_ => $a1->{counters}{$_} - $a0->{counters}{$_} } keys %{$a1->{counters}};
my %db = map { $_ => $b1->{counters}{$_} - $b0->{counters}{$_} } keys %{$b1->{counters}};
is($da{local}, 1, 'alpha: local +1');
is($da{redirects}, 1, 'alpha: redirects +1');
is($da{pulls_done}, 1, 'alpha: pulls in +1');
is($da{pulls_bytes}, length $data, 'alpha: pulled bytes');
is($da{pulls_failed}, 0, 'alpha: no pull failed');
is($db{pulls_out}, 1, 'beta: pulls out +1');
is($db{pulls_out_bytes}, length $data, 'beta: bytes pulled from it');
cmp_ok($a1->{counters}{cache_hits} + $a1->{counters}{cache_misses}, '>=', 1, 'alpha: lookups counted');
ok(defined $a1->{ratios}{cache_hit} && $a1->{ratios}{cache_hit} >= 0
   && $a1->{ratios}{cache_hit} <= 1, "alpha: cache hit ratio $a1->{ratios}{cache_hit}");
cmp_ok($a1->{disk}{used}, '>=', length $data, 'alpha: disk used counts the pulled copy');

# the node table carries each node's name and fill from its heartbeat
ok(wait_for(sub {
    my $j = status_json($b) or return 0;
    my ($na) = grep { $_->{id} == $aid } @{$j->{nodes}};
    $na && $na->{used} >= length $data;
}, 5), "beta's table: alpha's used includes the pull");
my $bj = status_json($b);
my %byid = map { $_->{id} => $_ } @{$bj->{nodes}};
is($byid{$aid}{name}, 'alpha', 'node table: name');
is($byid{$aid}{quota}, 10 * 1024 * 1024, 'node table: quota');
is($byid{$bid}{quota}, 20 * 1024 * 1024, 'node table: quota of the other');
cmp_ok($byid{$aid}{files}, '>=', 1, 'node table: files');
ok(exists $byid{$aid}{pulls}, 'node table: pulls');
ok($byid{$bid}{self} && !$byid{$aid}{self}, 'node table: self marked');
ok($byid{$aid}{alive}, 'node table: alive');

# the cluster's figures, as fsdfsd would publish them; a node reads the
# two hashes with two commands, so both are waited for
my $now_ms = int(time * 1000);
redis_cli('HSET', 'fsdfs:kn', -1 => 3, 0 => 7, 1 => 2, -2 => 1);
redis_cli('HSET', 'fsdfs:stats', files => 12, bytes => 345678, copy_bytes => 700000,
          min_kn => -1, under => 3, lost => 1, pulls_inflight => 2, pulls_done => 40,
          pulls_failed => 1, drops_done => 5, drops_failed => 0, plan_usec => 1500,
          master => "m\"1\\", epoch => 7, updated => $now_ms, nodes_live => 2);
for my $n ($a, $b) {
    ok(wait_for(sub {
        my $j = status_json($n);
        $j && $j->{cluster}{stats} && keys %{$j->{cluster}{kn} // {}} == 4;
    }, 8), "$n->{name}: cluster figures read");
}
my $c = status_json($b)->{cluster};
is_deeply([@{$c->{stats}}{qw(files bytes min_kn under lost pulls_inflight epoch master updated)}],
          [12, 345678, -1, 3, 1, 2, 7, "m\"1\\", $now_ms], 'json: cluster stats')
    or diag(explain $c);
is_deeply($c->{kn}, { -2 => 1, -1 => 3, 0 => 7, 1 => 2 }, 'json: K-N histogram');
# read every second; a slow machine may be late a second or two
cmp_ok($c->{age}, '<=', 4, 'json: figures fresh');

# Prometheus
$r = http($a->{port}, 'GET', '/_fsdfs/status?format=prometheus');
is($r->{status}, 200, 'prometheus: 200');
like($r->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4}, 'prometheus: content type');
my ($fam, $err) = parse_prometheus($r->{body});
is(scalar @$err, 0, 'prometheus: strictly valid') or diag(join "\n", @$err[0 .. ($#$err > 20 ? 20 : $#$err)]);
my $aj = status_json($a);
for my $k (qw(local redirects proxied cache_hits cache_misses redis_requests
              redis_errors redis_timeouts pulls_done pulls_failed pulls_bytes
              pulls_out pulls_out_bytes)) {
    my $v = sample($fam, "fsdfs_${k}_total", node => 'alpha');
    ok(defined $v && $v <= $aj->{counters}{$k} && $v >= $a1->{counters}{$k},
       "prometheus fsdfs_${k}_total agrees with JSON") or diag("$k: ", $v // 'missing');
}
is(($fam->{fsdfs_local_total} // {})->{type}, 'counter', 'local hits: a counter');
my $secs = sample($fam, 'fsdfs_redis_request_seconds_total', node => 'alpha');
ok(defined $secs && abs($secs - $aj->{counters}{redis_usec} / 1e6) < 1,
   "redis latency in seconds: $secs");
like($r->{body}, qr/^fsdfs_redis_request_seconds_total\{node="alpha"\} \d+\.\d{6}$/m,
     'redis latency: fractional seconds');
is(sample($fam, 'fsdfs_disk_quota_bytes', node => 'alpha'), 10 * 1024 * 1024, 'disk quota gauge');
ok(defined sample($fam, "fsdfs_disk_$_", node => 'alpha'), "disk $_ gauge")
    for qw(used_bytes free_bytes files);
is(sample($fam, 'fsdfs_peer_alive', node => 'alpha', peer => $bid), 1, 'peer alive');
is(sample($fam, 'fsdfs_peer_quota_bytes', node => 'alpha', peer => $bid), 20 * 1024 * 1024,
   'peer quota');
is(sample($fam, 'fsdfs_cluster_files'), 12, 'cluster files');
is(sample($fam, 'fsdfs_cluster_bytes'), 345678, 'cluster bytes');
is(sample($fam, 'fsdfs_cluster_min_kn'), -1, 'cluster min_kn');
is(sample($fam, 'fsdfs_cluster_under'), 3, 'cluster under');
is(sample($fam, 'fsdfs_cluster_lost'), 1, 'cluster lost');
is(sample($fam, 'fsdfs_cluster_pulls_inflight'), 2, 'cluster pulls in flight');
is(sample($fam, 'fsdfs_cluster_pulls_done_total'), 40, 'cluster pulls done: a counter');
is(sample($fam, 'fsdfs_cluster_epoch'), 7, 'cluster epoch');
cmp_ok(sample($fam, 'fsdfs_cluster_plan_seconds'), '==', 0.0015, 'plan time in seconds');
ok(abs(sample($fam, 'fsdfs_cluster_updated_timestamp_seconds') - $now_ms / 1000) < 0.001,
   'updated as a unix timestamp');
is(sample($fam, 'fsdfs_cluster_master_info', master => "m\"1\\"), 1, 'master, label escaped');
like($r->{body}, qr/^fsdfs_cluster_kn_files\{kn="-1"\} 3$/m, 'fsdfs_cluster_kn_files{kn="-1"} 3');
is_deeply({ map { $_->[1]{kn} => $_->[2] } @{$fam->{fsdfs_cluster_kn_files}{samples}} },
          { -2 => 1, -1 => 3, 0 => 7, 1 => 2 }, 'prometheus: the whole histogram');
is_deeply([map { $_->[1]{kn} } @{$fam->{fsdfs_cluster_kn_files}{samples}}], [-2, -1, 0, 1],
          'histogram in K-N order');

SKIP: {
    my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};
    skip 'promtool not installed (Debian: prometheus; optional)', 1 unless $promtool;
    my $f = tmp() . '/metrics.txt';
    write_file($f, $r->{body});
    my $out = `$promtool check metrics < $f 2>&1`;
    is($?, 0, 'promtool check metrics') or diag($out);
}

# the master goes away: its figures go with it
redis_cli('DEL', 'fsdfs:stats', 'fsdfs:kn');
ok(wait_for(sub { my $j = status_json($a); $j && !$j->{cluster}{stats} && !%{$j->{cluster}{kn}} }, 8),
   'json: figures gone when the keys are');
($fam, $err) = parse_prometheus(http($a->{port}, 'GET', '/_fsdfs/status?format=prometheus')->{body});
ok(!@$err && !$fam->{fsdfs_cluster_files} && !$fam->{fsdfs_cluster_kn_files},
   'prometheus: no cluster series, still valid') or diag(join "\n", @$err);

finish();
