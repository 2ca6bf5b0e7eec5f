#!/usr/bin/perl
# `make deb`: conf.d/deb/build.sh packages the binaries of $FSDFS_BUILD.
# Each .deb is read back with dpkg-deb: files at Debian's paths, the
# conffile, the maintainer scripts, Depends (the exact nginx-abi of the
# installed nginx, the shared libraries the binaries need). The systemd
# unit passes `systemd-analyze verify`.
#
# With FSDFS_DEB_INSTALL=1 (a throwaway machine, as root) the packages are
# installed for real: the module is enabled through modules-enabled and
# `nginx -t` loads it; the fsdfs user and /etc/fsdfs (0750) exist; fsdfsd
# -t passes as that user with the shipped conffile; then dpkg -r keeps the
# conffile and disables the module, dpkg --purge leaves nothing, and nginx
# -t still passes. Without it the test says the install was skipped.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use FsdfsTest;
use Test::More;

my $top = "$FindBin::Bin/..";
my $build = build_dir();

for my $tool (qw(dpkg-deb dpkg-shlibdeps nginx)) {
    plan skip_all => "$tool is not installed (make deps installs it)"
        unless grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/sbin";
}
for my $f (qw(ngx_http_fsdfs_module.so fsdfsd fsdfs)) {
    plan skip_all => "no $build/$f (make)" unless -e "$build/$f";
}

sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# build

my ($rc, $out) = run("$top/conf.d/deb/build.sh $build");
is($rc, 0, 'build.sh builds the packages') or diag($out);
my ($mod) = glob("$build/deb/libnginx-mod-http-fsdfs_*.deb");
my ($pkg) = glob("$build/deb/fsdfs_*.deb");
ok($mod && -s $mod, 'libnginx-mod-http-fsdfs .deb') or BAIL_OUT('no module package');
ok($pkg && -s $pkg, 'fsdfs .deb') or BAIL_OUT('no fsdfs package');

sub field { my ($deb, $f) = @_; my $v = `dpkg-deb -f $deb $f`; chomp $v; $v }

sub contents {
    my ($deb) = @_;
    my %c;
    for (split /\n/, `dpkg-deb --contents $deb`) {
        my @w = split ' ', $_;
        my $path = $w[5];
        $path =~ s{^\.}{};
        $c{$path} = { mode => $w[0], owner => $w[1] };
    }
    return \%c;
}

sub control_file {
    my ($deb, $name) = @_;
    return scalar `dpkg-deb --info $deb $name 2>/dev/null`;
}

# the module package

my $abi = `dpkg-query -W -f='\${Provides}' nginx`;
($abi) = $abi =~ /(nginx-abi-[^\s,]+)/;
my $dep = field($mod, 'Depends');
like($dep, qr/(^|, )\Q$abi\E(,|$)/, "module Depends on the installed nginx's $abi");
like($dep, qr/\blibhiredis0\.14\b/, 'module Depends on libhiredis0.14');
like($dep, qr/\blibcurl4\b/, 'module Depends on libcurl4');
like($dep, qr/\blibssl3\b/, 'module Depends on libssl3');
like($dep, qr/\blibxxhash0\b/, 'module Depends on libxxhash0');
is(field($mod, 'Package'), 'libnginx-mod-http-fsdfs', 'module package name');

my $c = contents($mod);
ok($c->{'/usr/lib/nginx/modules/ngx_http_fsdfs_module.so'}, 'the .so in /usr/lib/nginx/modules');
is($c->{'/usr/lib/nginx/modules/ngx_http_fsdfs_module.so'}{owner} // '', 'root/root',
   'owned by root');
ok($c->{'/usr/share/nginx/modules-available/mod-http-fsdfs.conf'},
   'its load_module line in modules-available');
ok(!grep(m{^/etc/nginx}, keys %$c), 'no file under /etc/nginx (the postinst links it)');
ok($c->{"/usr/share/fsdfs/dashboard/$_"}, "the dashboard's $_ in /usr/share/fsdfs/dashboard")
    for qw(index.html dashboard.css dashboard.js);
my $x = `dpkg-deb --fsys-tarfile $mod | tar -xOf - ./usr/share/nginx/modules-available/mod-http-fsdfs.conf`;
is($x, "load_module modules/ngx_http_fsdfs_module.so;\n", 'the load_module line');
like(control_file($mod, 'postinst'),
     qr{ln -sf /usr/share/nginx/modules-available/\$conf "\$link"}, 'postinst links modules-enabled');
like(control_file($mod, 'postinst'), qr/dpkg-trigger --no-await nginx-reload/,
     'postinst triggers an nginx reload');
like(control_file($mod, 'prerm'), qr/\.removed/, 'prerm keeps a .removed link (dh_nginx)');

# the fsdfs package

$dep = field($pkg, 'Depends');
like($dep, qr/\b$_\b/, "fsdfs Depends on $_")
    for qw(adduser libhiredis0\.14 libcurl4 libssl3 libxxhash0 libpcre2-8-0 libc6);
$c = contents($pkg);
for my $f (qw(/usr/sbin/fsdfsd /usr/bin/fsdfs)) {
    like($c->{$f}{mode} // '', qr/^-rwxr-xr-x$/, "$f, mode 0755");
}
ok($c->{'/etc/fsdfs/fsdfsd.conf'}, '/etc/fsdfs/fsdfsd.conf');
ok($c->{'/lib/systemd/system/fsdfsd.service'}, 'the systemd unit');
ok($c->{"/usr/share/doc/fsdfs/examples/$_"}, "example $_")
    for qw(redis.conf sentinel.conf fsdfs.logrotate);
is(control_file($pkg, 'conffiles'), "/etc/fsdfs/fsdfsd.conf\n",
   'fsdfsd.conf is a conffile');
like(control_file($pkg, 'postinst'), qr/adduser --system --group/, 'postinst adds the fsdfs user');
like(control_file($pkg, 'postinst'), qr/chmod 0750 \/etc\/fsdfs/, 'postinst: /etc/fsdfs 0750');

# the unit as systemd reads it (an unknown key is only a warning there)
my $unit = "$top/conf.d/fsdfsd.service";
my $u = slurp($unit);
like($u, qr/^ExecStartPre=\/usr\/sbin\/fsdfsd -t -c \/etc\/fsdfs\/fsdfsd.conf$/m, 'unit tests the config first');
like($u, qr/^$_$/m, "unit: $_")
    for ('Type=simple', 'Restart=on-failure', 'User=fsdfs', 'NoNewPrivileges=yes',
         'PrivateTmp=yes', 'ProtectSystem=strict');
SKIP: {
    skip 'no systemd-analyze', 1 unless -x '/usr/bin/systemd-analyze';
    my $t = tmp() . '/fsdfsd.service';
    (my $copy = $u) =~ s{/usr/sbin/fsdfsd}{$build/fsdfsd}g;
    write_file($t, $copy);
    ($rc, $out) = run("systemd-analyze verify $t");
    ok($rc == 0 && $out !~ /\S/, 'systemd-analyze verify: no complaint') or diag($out);
}

# the real install

sub sys_nginx_t { return run('nginx -t') }

SKIP: {
    skip 'FSDFS_DEB_INSTALL is not 1: not installing the packages into this '
         . 'machine (set it on a throwaway machine, as root)', 1
        unless ($ENV{FSDFS_DEB_INSTALL} // '') eq '1';
    skip 'the install needs root', 1 if $> != 0;
    skip 'the ASan build cannot load into the stock nginx', 1 if $ENV{FSDFS_ASAN};
    skip 'fsdfs is already installed here: not touching it', 1
        if `dpkg-query -W -f='\${Status}' fsdfs libnginx-mod-http-fsdfs 2>/dev/null` =~ /installed/;

    my $link = '/etc/nginx/modules-enabled/50-mod-http-fsdfs.conf';
    ($rc, $out) = sys_nginx_t();
    is($rc, 0, 'nginx -t passes before') or diag($out);

    ($rc, $out) = run("dpkg -i $mod $pkg");
    is($rc, 0, 'dpkg -i both packages') or diag($out);
    is(readlink($link) // '', '/usr/share/nginx/modules-available/mod-http-fsdfs.conf',
       'modules-enabled link made');
    ($rc, $out) = run('nginx -T');
    is($rc, 0, 'nginx -t with the module enabled') or diag($out);
    like($out, qr/^load_module modules\/ngx_http_fsdfs_module\.so;$/m,
         'nginx reads the load_module line');

    # a node config using the module's directives, against the packaged .so
    my $d = tmp() . '/node';
    write_file("$d/secret", 'k' x 48);
    chmod 0600, "$d/secret";
    mkdir "$d/root";
    write_file("$d/nginx.conf", <<"EOF");
load_module /usr/lib/nginx/modules/ngx_http_fsdfs_module.so;
error_log $d/error.log;
pid $d/nginx.pid;
events {}
http {
    fsdfs_node   t http://127.0.0.1:1;
    fsdfs_redis  127.0.0.1:1;
    fsdfs_secret $d/secret;
    server {
        listen 127.0.0.1:1;
        root $d/root;
        location / { fsdfs on; }
    }
}
EOF
    ($rc, $out) = run("nginx -t -p $d -c $d/nginx.conf");
    is($rc, 0, 'nginx -t of a node config with the packaged module') or diag($out);

    my @pw = getpwnam('fsdfs');
    ok(@pw, 'the fsdfs system user exists');
    ok(@pw && $pw[2] < 1000, 'it is a system user');
    my @st = stat('/etc/fsdfs');
    is(sprintf('%04o', $st[2] & 07777), '0750', '/etc/fsdfs is 0750');
    is(scalar getgrgid($st[5]), 'fsdfs', '/etc/fsdfs group fsdfs');

    # the shipped conffile as it stands, with a secret, read as fsdfs
    # fsdfsd wants its secret 0600: owned by fsdfs (nginx reads it as root)
    write_file('/etc/fsdfs/secret', 's' x 48);
    chown $pw[2], $pw[3], '/etc/fsdfs/secret';
    chmod 0600, '/etc/fsdfs/secret';
    ($rc, $out) = run('runuser -u fsdfs -- /usr/sbin/fsdfsd -t -c /etc/fsdfs/fsdfsd.conf');
    is($rc, 0, 'fsdfsd -t as fsdfs with the shipped fsdfsd.conf') or diag($out);
    like($out, qr/config \/etc\/fsdfs\/fsdfsd.conf ok/, 'fsdfsd says the config is ok');
    ($rc, $out) = run('runuser -u nobody -- cat /etc/fsdfs/fsdfsd.conf');
    isnt($rc, 0, 'another user cannot read /etc/fsdfs');
    ($rc, $out) = run('fsdfs --help');
    like($out, qr/usage/i, 'fsdfs is on the PATH');
    unlink '/etc/fsdfs/secret';

    ($rc, $out) = run('dpkg -r fsdfs libnginx-mod-http-fsdfs');
    is($rc, 0, 'dpkg -r both') or diag($out);
    ok(!-e '/usr/sbin/fsdfsd' && !-e '/usr/bin/fsdfs'
       && !-e '/usr/lib/nginx/modules/ngx_http_fsdfs_module.so', 'binaries gone');
    ok(-e '/etc/fsdfs/fsdfsd.conf', 'remove keeps the conffile');
    ok(!-e $link && -l "$link.removed", 'module disabled, .removed link kept');
    ($rc, $out) = sys_nginx_t();
    is($rc, 0, 'nginx -t passes after dpkg -r') or diag($out);

    ($rc, $out) = run('dpkg --purge fsdfs libnginx-mod-http-fsdfs');
    is($rc, 0, 'dpkg --purge both') or diag($out);
    ok(!-e '/etc/fsdfs', 'purge removes /etc/fsdfs');
    ok(!-l $link && !-l "$link.removed", 'purge removes the module links');
    like(`dpkg-query -W -f='\${Status}' fsdfs libnginx-mod-http-fsdfs 2>&1`,
         qr/^(|.*not-installed.*|.*no packages found.*)$/s, 'dpkg knows neither package');
    ($rc, $out) = sys_nginx_t();
    is($rc, 0, 'nginx -t passes after the purge') or diag($out);
}

finish();
