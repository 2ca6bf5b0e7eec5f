#!/usr/bin/perl
# A graceful stop (SIGQUIT, as `nginx -s quit` and a package upgrade send)
# answers what is in flight. nginx lets a quitting worker go once only
# cancelable timers are left; requests waiting on Redis or on a thread
# task hold none of their own, so the module keeps a non-cancelable timer
# for them (bench/soak.sh found a put left unanswered, "[alert] open
# socket left in connection").
#
# Redis is frozen (SIGSTOP: the port stays open, nothing answers), then:
#   a  a signed PUT waits for its HSETNX; the node gets SIGQUIT; Redis
#      thaws: the put is answered 201 and the file is indexed;
#   b  a GET of a path the node lacks waits for its HGET; SIGQUIT; thaw:
#      it is answered (404: unknown path), not dropped.
# Neither node logs an alert, and both exit.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use FsdfsTest;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

need_cluster();
my $redis = start_redis();
fsdfs('init', '--buckets', '64', '--replicas', '2');
# a lookup waits for the thaw rather than timing out
my @n = map { start_node(name => $_, commands => 1, workers => 1, redis_opts => ' timeout=10s') } qw(a b);
ok(nodes_up(10, @n), 'a and b up');
(my $secret = slurp(secret_file())) =~ s/\n//;

sub counter { (status_json($_[0]) // {})->{counters}{$_[1]} // 0 }

# Sends $req to $node with Redis frozen, SIGQUITs the node once the
# request is in ($counter, which it bumps, went up), thaws Redis once the
# node has shut its port, and returns the answer's head.
sub quit_during {
    my ($node, $req, $counter) = @_;
    my $before = counter($node, $counter);
    freeze_redis();
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$node->{port}", Timeout => 5)
        or die "connect: $!";
    print $s $req;
    ok(wait_for(sub { counter($node, $counter) > $before }, 10),
       "$node->{name}: the request is in ($counter)");
    my ($master) = slurp("$node->{prefix}/nginx.pid") =~ /(\d+)/;
    kill 'QUIT', $master;
    ok(wait_for(sub { !FsdfsTest::port_open($node->{port}) }, 10),
       "$node->{name}: quitting, its port shut");
    thaw_redis();
    my $head = '';
    while (defined(my $l = <$s>)) { $head .= $l; last if $l eq "\r\n" }
    ok(wait_for(sub { !kill 0, $master }, 15), "$node->{name}: the master exits after SIGQUIT");
    $node->{up} = 0;
    my @alerts = grep { /\[alert\]/ } split /\n/, log_of($node);
    is("@alerts", '', "$node->{name}: no alert in the log");
    return $head;
}

my $body = blob(1, 5000);
my $q = sign_cmd($secret, 'PUT', '/_fsdfs/put',
                 [path => '/q/put.mp3', size => length $body, sum => sum64($body)]);
my $head = quit_during($n[0], "PUT /_fsdfs/put?$q HTTP/1.1\r\nHost: x\r\n"
                              . 'Content-Length: ' . length($body) . "\r\n\r\n$body", 'commands');
like($head, qr{^HTTP/1\.1 201}, 'a: the put waiting on Redis is answered 201')
    or diag("answer: '$head'");
ok(defined record_of('/q/put.mp3'), 'a: the file is indexed');

$head = quit_during($n[1], "GET /q/none.mp3 HTTP/1.1\r\nHost: x\r\n\r\n", 'cache_misses');
like($head, qr{^HTTP/1\.1 404}, 'b: the miss waiting on Redis is answered 404')
    or diag("answer: '$head'");

finish();
