#!/usr/bin/perl
# How a new master settles a journal entry "pull <node> <path>" by the answer
# to the pull it sends again at takeover (sidecar/repl.c, repl_settle_pulled
# and repl_says_absent). Only an answer the node gives after looking at its
# own disk settles the entry; any other answer says nothing about that disk
# (the last master's pull may still be running there), so the entry stays.
#
# Node a (real fsdfs) holds every /j/ file, N=1. Node f is a plain nginx
# whose /_fsdfs/pull answers a status chosen by the path; g is a socket that
# accepts and never answers; h is a closed port. The test registers f, g
# and h in Redis as nodes do (announcing no room, so the planner never
# sends them a pull of its own) and keeps their alive keys fresh, writes one
# journal entry per path by hand, then starts fsdfsd with pull_timeout 1s.
#
# Proves: 200: f becomes a holder and the entry goes; 404 (our JSON), 409,
# 502, 507: the entry goes, f is not a holder and is never asked again;
# 429, 503, 403 (bad signature), 500, 404 (not our JSON), no answer in time,
# connection refused: the entry stays, f is not a holder, and the pull is
# sent again at a later reading. Once f answers 200, those left on f settle:
# f holds them, the entries go. 403 "old epoch" keeps its entry too; fsdfsd
# steps down, leads again and sends it again.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '64', '--replicas', '1');
my $na = start_node(name => 'a', commands => 1);
ok(nodes_up(10, $na), 'a up');

# f's answer per file: [status, body, outcome as fsdfsd logs it, entry kept?]
my %ans = (
    have     => [200, '{"ok":true,"op":"pull"}', 'ok', 0],
    lacks    => [404, '{"ok":false,"op":"pull","error":"source lacks it"}', 'source lacks the file', 0],
    sum      => [409, '{"ok":false,"error":"checksum mismatch"}', 'checksum mismatch', 0],
    srcfail  => [502, '{"ok":false,"error":"source failed"}', 'source failed', 0],
    full     => [507, '{"ok":false,"error":"no space"}', 'no space', 0],
    busy     => [429, '{"ok":false,"error":"too many pulls"}', 'node busy', 1],
    notready => [503, '{"ok":false,"error":"not ready"}', 'node busy', 1],
    badsig   => [403, '{"ok":false,"error":"bad signature"}', 'denied (signature or clock)', 1],
    broken   => [500, '{"ok":false,"error":"internal"}', 'node error', 1],
    nocmd    => [404, '<html>not found</html>', 'refused', 1],
);
my @gone = grep { !$ans{$_}[3] && $_ ne 'have' } sort keys %ans;
my @kept = grep { $ans{$_}[3] } sort keys %ans;

# f: the file `allok` switches every answer but "old epoch" to 200
my $fport = free_port();
my $fp = tmp() . '/node-f';
my $switch = "$fp/allok";
my $ifs = join '', map {
    "            if (\$arg_path ~ \"/$_\\.mp3\$\") { return $ans{$_}[0] '$ans{$_}[1]'; }\n"
} sort keys %ans;
my $fconf = <<"CONF";
daemon on;
master_process on;
worker_processes 1;
error_log $fp/error.log info;
pid $fp/nginx.pid;
events { worker_connections 256; }
http {
    log_format cmd '\$uri \$arg_path \$arg_from';
    server {
        listen 127.0.0.1:$fport;
        access_log $fp/cmd.log cmd;
        location = /_fsdfs/pull {
            if (\$arg_path ~ "/fenced\\.mp3\$") { return 403 '{"ok":false,"error":"old epoch"}'; }
            if (-f $switch) { return 200 '{"ok":true,"op":"pull"}'; }
$ifs            return 500 '{"ok":false,"error":"unexpected path"}';
        }
        location /_fsdfs/ { return 200 '{"ok":true}'; }
    }
}
CONF
my $nf = start_node(name => 'f', port => $fport, conf => $fconf);
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64)
    or die "listen: $!";
my %url = (f => $nf->{url}, g => 'http://127.0.0.1:' . $silent->sockport,
           h => 'http://127.0.0.1:' . free_port());

# registered as nodes register (INCR node_seq, fsdfs:nodes, the node hash);
# quota 0 and free 0: no room, never a target of the planner
my %id = (a => node_id('a'));
for my $n (qw(f g h)) {
    $id{$n} = rcmd('INCR', 'fsdfs:node_seq');
    rcmd('HSET', 'fsdfs:nodes', $n, $id{$n});
    rcmd('HSET', "fsdfs:node:$id{$n}", name => $n, url => $url{$n}, state => 'active',
         quota => 0, used => 0, free => 0, files => 0, load => 0, conns => 0, pulls => 0,
         epoch => 0, ts => int(time * 1000));
}

# their heartbeat: alive keys (TTL 3 s) refreshed every 0.5 s, on a
# connection of its own; _exit, so the harness's END stays the parent's
my $ppid = $$;
my $beat = fork() // die "fork: $!";
if (!$beat) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$redis") or _exit(1);
    while (getppid() == $ppid) {
        for my $id (@id{qw(f g h)}) {
            for my $c (['SET', "fsdfs:alive:$id", 1, 'PX', 3000],
                       ['HSET', "fsdfs:node:$id", 'ts', int(time * 1000)]) {
                print $s '*' . @$c . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @$c;
                defined(<$s>) or _exit(1);
            }
        }
        sleep 0.5;
    }
    _exit(0);
}
ok(wait_for(sub { !grep { !rcmd('EXISTS', "fsdfs:alive:$id{$_}") } qw(f g h) }, 5),
   'f, g and h registered and alive');

my %files;
for my $name (sort(keys %ans), qw(silent closed fenced)) {
    $files{$name} = "/j/$name.mp3";
    my $out = put_file($files{$name}, blob(length($name) * 7 + ord($name), 3000), '--node', 'a');
    is($? >> 8, 0, "put $files{$name} on a") or diag($out);
}

my %entry = map { $_ => "pull $id{f} $files{$_}" } keys %ans;
$entry{silent} = "pull $id{g} $files{silent}";
$entry{closed} = "pull $id{h} $files{closed}";
rcmd('HSET', 'fsdfs:inflight', $entry{$_}, "src=$id{a} epoch=1 ts=" . int(time * 1000))
    for sort keys %entry;

my $m;   # the fsdfsd
sub journal { my $h = rcmd('HGETALL', 'fsdfs:inflight') // []; return {@$h} }
# lines "journal: "<entry>": pull <outcome> (<status>), <then>"
sub said {
    my ($name, $outcome, $then) = @_;
    my @l = fsdfsd_log($m) =~ /journal: "\Q$entry{$name}\E": pull \Q$outcome\E \(\d+\), \Q$then\E$/mg;
    return scalar @l;
}
# f's pulls of a path, as its access log has them: "<from id>" each
sub asked {
    my ($name) = @_;
    return map { m{^/_fsdfs/pull \S*/\Q$name\E\.mp3 (\d+)$} ? $1 : () } split /\n/, slurp("$fp/cmd.log");
}
sub holds { my ($name, $n) = @_; return scalar grep { $_ == $id{$n} } holders($files{$name}) }

$m = start_fsdfsd(pull_timeout => '1s');
my $n = keys %entry;
ok(wait_for(sub { fsdfsd_log($m) =~ /journal: $n entries left by the last master/ }, 15),
   "fsdfsd leads and reads the $n entries") or diag(fsdfsd_tail($m));

# --- each answer ---------------------------------------------------------
ok(wait_for(sub { !exists journal()->{$entry{have}} && holds('have', 'f') }, 15),
   '200: f is a holder of have.mp3, its entry is gone') or diag(explain(journal()), fsdfsd_tail($m, 40));
like(fsdfsd_log($m), qr/journal: "\Q$entry{have}\E": settled, $id{f} holds it/, '200: logged as settled');
for my $k (@gone) {
    ok(wait_for(sub { !exists journal()->{$entry{$k}} && said($k, $ans{$k}[2], 'no copy there') }, 15),
       "$ans{$k}[0] ($ans{$k}[2]): the entry is gone, logged \"no copy there\"")
        or diag(explain(journal()), fsdfsd_tail($m, 40));
    ok(!holds($k, 'f'), "$ans{$k}[0]: f is not a holder of $files{$k}");
}
# kept: answered twice, i.e. read again and sent again, the entry still there
my %why = (map({ $_ => [$ans{$_}[2], "$ans{$_}[0] ($ans{$_}[2])"] } @kept),
           silent => ['timeout', 'no answer in time'], closed => ['unreachable', 'connection refused']);
for my $k (@kept, qw(silent closed)) {
    ok(wait_for(sub { said($k, $why{$k}[0], 'left for later') >= 2 }, 25),
       "$why{$k}[1]: left for later, then sent again") or diag(explain(journal()), fsdfsd_tail($m, 40));
    ok(exists journal()->{$entry{$k}}, "$why{$k}[1]: the entry is still there");
    ok(!holds($k, $k eq 'silent' ? 'g' : $k eq 'closed' ? 'h' : 'f'), "$why{$k}[1]: no holder added");
}
my @from = map { asked($_) } sort keys %ans;
ok(!grep({ !asked($_) } keys %ans) && !grep({ $_ != $id{a} } @from),
   'f was asked for every path, a named as the source') or diag("sources: @from");

# --- f answers 200 now: what was left settles at a later reading ----------
write_file($switch, '');
ok(wait_for(sub { my $j = journal(); !grep { exists $j->{$entry{$_}} || !holds($_, 'f') } @kept }, 20),
   'f answers 200: every entry left on f settles, f holds each file')
    or diag(explain(journal()), fsdfsd_tail($m, 40));
my $log = fsdfsd_log($m);
is(scalar(grep { $log !~ /journal: "\Q$entry{$_}\E": settled, $id{f} holds it/ } @kept), 0,
   'each logged as settled by f');
my $j = journal();
ok(exists $j->{$entry{silent}} && exists $j->{$entry{closed}}, 'g and h still answer nothing: their entries stay')
    or diag(explain($j));
is(join(' ', map { scalar(my @a = asked($_)) } @gone), join(' ', map { 1 } @gone),
   'an entry settled as absent was never sent again (f would answer 200 now)');
is(join(' ', holders($files{have})), join(' ', sort { $a <=> $b } @id{qw(a f)}), 'have.mp3: held by a and f');
unlike(slurp("$fp/cmd.log"), qr{^/_fsdfs/drop}m, 'no copy of f was dropped');

# --- 403 "old epoch": the entry stays, fsdfsd steps down and leads again -----
# last, as every takeover ends the same way from now on. The entry is read
# at the next reading: h's, left each time, has the journal read every second
my $leads = () = fsdfsd_log($m) =~ /leading, epoch \d+/g;
$entry{fenced} = "pull $id{f} $files{fenced}";
rcmd('HSET', 'fsdfs:inflight', $entry{fenced}, "src=$id{a} epoch=1 ts=" . int(time * 1000));
ok(wait_for(sub { said('fenced', 'fenced (old epoch)', 'left for later') >= 2 }, 25),
   '403 old epoch: left for later, sent again by a later leader') or diag(fsdfsd_tail($m, 40));
$log = fsdfsd_log($m);
like($log, qr/a node knows a newer epoch than \d+: stepping down/, 'fsdfsd stepped down on it');
cmp_ok(scalar(() = $log =~ /leading, epoch \d+/g), '>', $leads, 'and led again');
ok(exists journal()->{$entry{fenced}}, '403 old epoch: the entry is still there');
ok(!holds('fenced', 'f'), '403 old epoch: no holder added');

kill 'TERM', $beat;
waitpid($beat, 0);
finish();
