#!/usr/bin/perl
# The signed command endpoint: a command is carried out only with a good
# HMAC over method, path and parameters, a timestamp within 30 s and an
# epoch no lower than the highest the node has seen (from commands and
# from fsdfs:epoch); parameters are checked after that; the source of a
# pull is a node id, never a URL. Every refusal is a JSON answer with a
# precise status and one log line below alert. Directives fail `nginx -t`
# naming the directive and the value.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;

my $redis = start_redis();
fsdfs('init', '--buckets', '256');
my ($secret_file, $secret) = write_secret();
my $cmds = "location /_fsdfs/ { fsdfs_commands; client_max_body_size 0; }";

my $n = start_node(name => 'a', http => "fsdfs_secret $secret_file;",
                   server => $cmds);
ok(wait_for(sub {
    my $j = status_json($n);
    $j && $j->{node}{id} && @{$j->{nodes} // []};
}, 5), 'node registered, node table read');
sleep 1.1;   # every worker's copy of the table is fresh
my $self = node_id('a');

# drop: the simplest command
my $r = cmd($n, $secret, 'drop', [path => '/m/none.mp3']);
is($r->{status}, 200, 'drop of an absent file: 200');
is($r->{headers}{'content-type'}, 'application/json', 'answer is JSON');
is_deeply([@{$r->{json}}{qw(ok op path dropped)}],
          [JSON::PP::true(), 'drop', '/m/none.mp3', JSON::PP::false()],
          'drop: ok, op, path, dropped false') or diag($r->{body});
like($r->{body}, qr/"ms":\d+/, 'drop: ms');

write_file("$n->{root}/m/x.mp3", 'x' x 100);
$r = cmd($n, $secret, 'drop', [path => '/m/x.mp3']);
is($r->{status}, 200, 'drop of a file: 200');
ok($r->{json} && $r->{json}{dropped}, 'drop: dropped true');
ok(!-e "$n->{root}/m/x.mp3", 'drop: the file is gone');

# '+' is a literal plus; UTF-8 percent-encoded
write_file("$n->{root}/m/a+b.mp3", 'plus');
$r = cmd($n, $secret, 'drop', [path => '/m/a+b.mp3']);
ok($r->{json} && $r->{json}{dropped}, "'+' in a path is a plus");
ok(!-e "$n->{root}/m/a+b.mp3", "'+': that file is gone");
my $utf = "/m/\xc3\xa9t\xc3\xa9.mp3";
write_file("$n->{root}$utf", 'utf');
$r = cmd($n, $secret, 'drop', [path => $utf]);
ok($r->{json} && $r->{json}{dropped}, 'UTF-8 path, percent-encoded: dropped');

# signatures
sub refused {
    my ($r, $status, $err, $what) = @_;
    is($r->{status}, $status, "$what: $status");
    ok($r->{json} && !$r->{json}{ok} && ($r->{json}{error} // '') =~ $err,
       "$what: error \"$err\"") or diag($r->{body});
}

write_file("$n->{root}/m/keep.mp3", 'keep');
my $q = sign_cmd($secret, 'POST', '/_fsdfs/drop', [path => '/m/other.mp3']);
(my $tampered = $q) =~ s{other}{keep};
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$tampered"), 403,
        qr/^bad signature$/, 'tampered path');
$q = sign_cmd($secret, 'POST', '/_fsdfs/drop', [path => '/m/keep.mp3'], ts => time - 5);
(my $ts_moved = $q) =~ s{ts=(\d+)}{'ts=' . ($1 + 1)}e;
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$ts_moved"), 403,
        qr/^bad signature$/, 'tampered ts');
$q = sign_cmd($secret, 'POST', '/_fsdfs/pull', [path => '/m/keep.mp3']);
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$q"), 403,
        qr/^bad signature$/, 'signed for another command');
$q = sign_cmd($secret, 'PUT', '/_fsdfs/drop', [path => '/m/keep.mp3']);
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$q"), 403,
        qr/^bad signature$/, 'signed for another method');
refused(cmd($n, 'x' x 48, 'drop', [path => '/m/keep.mp3']), 403,
        qr/^bad signature$/, 'another secret');
$q = sign_cmd($secret, 'POST', '/_fsdfs/drop', [path => '/m/keep.mp3']);
(my $upper = $q) =~ s{sig=(\w+)}{'sig=' . uc $1}e;
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$upper"), 403,
        qr/^bad signature$/, 'uppercase hex signature');
(my $extra = $q) =~ s{&ts=}{&x=1&ts=};
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$extra"), 403,
        qr/^bad signature$/, 'an unsigned extra parameter');
refused(cmd($n, $secret, 'drop', [path => '/m/keep.mp3'], ts => time - 100),
        403, qr/^expired$/, 'ts 100 s old');
refused(cmd($n, $secret, 'drop', [path => '/m/keep.mp3'], ts => time + 100),
        403, qr/^from the future$/, 'ts 100 s ahead');
$r = cmd($n, $secret, 'drop', [path => '/m/none.mp3'], ts => time - 20);
is($r->{status}, 200, 'ts 20 s old: within the window');
refused(http_body($n->{port}, 'POST', '/_fsdfs/drop?path=/m/keep.mp3'), 403,
        qr/^unsigned$/, 'no signature');
$q = sign_cmd($secret, 'POST', '/_fsdfs/drop', [path => '/m/keep.mp3']);
(my $nots = $q) =~ s{ts=\d+&}{};
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$nots"), 400,
        qr/^missing ts$/, 'no ts');
(my $noepoch = $q) =~ s{epoch=\d+&}{};
refused(http_body($n->{port}, 'POST', "/_fsdfs/drop?$noepoch"), 400,
        qr/^missing epoch$/, 'no epoch');
ok(-f "$n->{root}/m/keep.mp3", 'no refused command touched the file');

# epoch fencing
is(cmd($n, $secret, 'drop', [path => '/m/none.mp3'], epoch => 5)->{status}, 200,
   'epoch 5 accepted');
is(status_json($n)->{node}{epoch}, 5, 'the node remembers epoch 5');
refused(cmd($n, $secret, 'drop', [path => '/m/keep.mp3'], epoch => 4), 403,
        qr/^old epoch$/, 'epoch 4 after 5');
is(cmd($n, $secret, 'drop', [path => '/m/none.mp3'], epoch => 5)->{status}, 200,
   'epoch 5 again: accepted');
redis_cli('SET', 'fsdfs:epoch', 9);
ok(wait_for(sub { (status_json($n)->{node}{epoch} // 0) == 9 }, 3),
   'epoch 9 learned from fsdfs:epoch');
refused(cmd($n, $secret, 'drop', [path => '/m/keep.mp3'], epoch => 8), 403,
        qr/^old epoch$/, 'epoch 8 once fsdfs:epoch is 9');
redis_cli('SET', 'fsdfs:epoch', 3);
sleep 1.2;
is(status_json($n)->{node}{epoch}, 9, 'a lower fsdfs:epoch never lowers it');
is(cmd($n, $secret, 'drop', [path => '/m/none.mp3'], epoch => 12)->{status}, 200,
   'epoch 12 accepted');
ok(-f "$n->{root}/m/keep.mp3", 'fenced commands touched nothing');
ok(wait_for(sub { (redis_cli('HGET', "fsdfs:node:$self", 'epoch') // '') eq '12' }, 3),
   'the heartbeat reports epoch 12');
is(redis_cli('HGET', "fsdfs:node:$self", 'pulls'), 0, 'the heartbeat reports 0 pulls running');

# parameters, checked after the signature
refused(cmd($n, $secret, 'drop', [], epoch => 12), 400, qr/^missing path$/,
        'drop without path');
for my $bad ('/m/../keep.mp3', 'm/keep.mp3', '/m//keep.mp3', '/m/a b.mp3',
             "/m/a\nb.mp3", '/m/', "/m/\xff.mp3", '/m/a%2e.mp3') {
    (my $show = $bad) =~ s/([^ -~])/sprintf '\\x%02x', ord $1/ge;
    my $r = cmd($n, $secret, 'drop', [path => $bad], epoch => 12);
    is($r->{status}, 400, "bad path \"$show\": 400");
}
refused(cmd($n, $secret, 'pull', [path => '/m/y.mp3', size => 1, sum => '0' x 16],
            epoch => 12), 400, qr/^missing or bad from/, 'pull without from');
refused(cmd($n, $secret, 'pull', [path => '/m/y.mp3', from => 999, size => 1,
                                  sum => '0' x 16], epoch => 12),
        400, qr/^unknown node id$/, 'pull from an unknown node id');
refused(cmd($n, $secret, 'pull', [path => '/m/y.mp3', from => $self, size => 1,
                                  sum => '0' x 16], epoch => 12),
        400, qr/^from is this node$/, 'pull from itself');
for my $url ('http://127.0.0.1:1/', "127.0.0.1:$n->{port}", '1x', '0', '-1', '01') {
    refused(cmd($n, $secret, 'pull', [path => '/m/y.mp3', from => $url, size => 1,
                                      sum => '0' x 16], epoch => 12),
            400, qr/^missing or bad from/, "pull from \"$url\" refused");
}
refused(cmd($n, $secret, 'pull', [path => '/m/y.mp3', from => 999, size => 'x',
                                  sum => '0' x 16], epoch => 12),
        400, qr/^missing or bad size$/, 'pull: bad size');
for my $sum ('0' x 15, 'A' x 16, 'g' x 16, '0' x 17) {
    refused(cmd($n, $secret, 'pull', [path => '/m/y.mp3', from => 999, size => 1,
                                      sum => $sum], epoch => 12),
            400, qr/^missing or bad sum$/, "pull: bad sum \"$sum\"");
}
$q = sign_cmd($secret, 'POST', '/_fsdfs/drop', [path => '/m/a.mp3', path => '/m/b.mp3'],
              epoch => 12);
is(http_body($n->{port}, 'POST', "/_fsdfs/drop?$q")->{status}, 400,
   'a parameter given twice: 400');

# methods and names
$q = sign_cmd($secret, 'GET', '/_fsdfs/drop', [path => '/m/keep.mp3'], epoch => 12);
$r = http($n->{port}, 'GET', "/_fsdfs/drop?$q");
is($r->{status}, 405, 'GET of drop: 405');
is($r->{headers}{allow}, 'POST', 'Allow: POST');
$r = cmd($n, $secret, 'put', [path => '/m/k.mp3', size => 1, sum => '0' x 16],
         method => 'POST', epoch => 12);
is($r->{status}, 405, 'POST of put: 405');
is($r->{headers}{allow}, 'PUT', 'Allow: PUT');
$r = cmd($n, $secret, 'frob', [path => '/m/keep.mp3'], epoch => 12);
is($r->{status}, 404, 'unknown command: 404');
ok(-f "$n->{root}/m/keep.mp3", 'still there');
is(http($n->{port}, 'GET', '/m/keep.mp3')->{status}, 200,
   'the read path still serves next to the endpoint');

my $j = status_json($n);
cmp_ok($j->{counters}{commands_refused}, '>=', 10, 'refusals counted');
cmp_ok($j->{counters}{drops}, '>=', 3, 'drops counted');

# log: one line per refusal, warn or info, never alert
my $log = log_of($n);
like($log, qr/\[warn\].*fsdfs: drop .*refused: 403 bad signature/,
     'refusal logged at warn');
like($log, qr/\[info\].*fsdfs: pull "\/m\/y.mp3" refused: 400 unknown node id/,
     'bad parameter logged at info');

# directives at nginx -t
my $mod = build_dir() . '/ngx_http_fsdfs_module.so';
my $rport = $redis;
sub conf {
    my ($http, $loc) = @_;
    $loc //= 'fsdfs_commands;';
    return <<"CONF";
load_module $mod;
error_log \@PREFIX\@/error.log;
pid \@PREFIX\@/nginx.pid;
events { }
http {
    fsdfs_node a http://127.0.0.1:1;
    fsdfs_redis 127.0.0.1:$rport;
    $http
    server {
        listen 127.0.0.1:1;
        root \@PREFIX\@/data;
        location / { fsdfs on; }
        location /_fsdfs/ { $loc }
    }
}
CONF
}

my ($rc, $out) = nginx_t(conf("fsdfs_secret $secret_file;"));
is($rc, 0, 'nginx -t: a good command config passes') or diag($out);
($rc, $out) = nginx_t(conf("fsdfs_secret $secret_file; fsdfs_pull_concurrency 8;"
                           . " fsdfs_pull_timeout 5s; fsdfs_thread_pool default;"));
is($rc, 0, 'nginx -t: every command directive') or diag($out);
my $short = tmp() . '/short';
write_file($short, "short\n");
chmod 0600, $short;
my $open = tmp() . '/open';
write_file($open, 'y' x 40);
chmod 0644, $open;
for my $case (
    [ '', undef, qr/"fsdfs_commands" needs "fsdfs_secret"/ ],
    [ 'fsdfs_secret /nonexistent/secret;', undef,
      qr/invalid secret file "\/nonexistent\/secret" in "fsdfs_secret"/ ],
    [ "fsdfs_secret $short;", undef, qr/invalid secret file "\Q$short\E" in "fsdfs_secret"/ ],
    [ "fsdfs_secret $open;", undef, qr/invalid secret file "\Q$open\E" in "fsdfs_secret"/ ],
    [ "fsdfs_secret $secret_file; fsdfs_secret $secret_file;", undef, qr/"fsdfs_secret" directive is duplicate/ ],
    [ "fsdfs_secret $secret_file; fsdfs_pull_concurrency 0;", undef,
      qr/invalid value "0" in "fsdfs_pull_concurrency"/ ],
    [ "fsdfs_secret $secret_file; fsdfs_pull_concurrency many;", undef,
      qr/invalid value "many" in "fsdfs_pull_concurrency"/ ],
    [ "fsdfs_secret $secret_file; fsdfs_pull_timeout soon;", undef,
      qr/invalid time "soon" in "fsdfs_pull_timeout"/ ],
    [ "fsdfs_secret $secret_file; fsdfs_pull_timeout 0;", undef,
      qr/invalid time "0" in "fsdfs_pull_timeout"/ ],
    [ "fsdfs_secret $secret_file; fsdfs_thread_pool nosuch;", undef,
      qr/unknown thread pool "nosuch"/ ],
    [ "fsdfs_secret $secret_file;", 'fsdfs_commands on;',
      qr/invalid number of arguments in "fsdfs_commands"/ ],
) {
    my ($http, $loc, $re) = @$case;
    my ($rc, $out) = nginx_t(conf($http, $loc));
    isnt($rc, 0, "nginx -t fails: $re");
    like($out, $re, "nginx -t says $re");
}

finish();
