#!/usr/bin/env bash
# Debian packages of fsdfs, from binaries `make` already built:
#
#   conf.d/deb/build.sh [BUILD]      (what `make deb` runs; BUILD: build/)
#
# libnginx-mod-http-fsdfs  the nginx module, laid out as dh_nginx lays out
#                          Debian's own libnginx-mod-* packages: the .so in
#                          /usr/lib/nginx/modules, its load_module line in
#                          /usr/share/nginx/modules-available, and the
#                          modules-enabled symlink made by the postinst.
#                          It depends on the exact nginx-abi the module was
#                          built against, read from the installed nginx.
# fsdfs                    fsdfsd, the fsdfs CLI, /etc/fsdfs/fsdfsd.conf
#                          (a conffile), the systemd unit, the conf.d/
#                          samples as examples.
#
# No debhelper: a package is a staged tree plus DEBIAN/ (control from the
# template here, md5sums, the maintainer scripts next to this file), built
# by `dpkg-deb --root-owner-group` (no fakeroot). Library dependencies come
# from dpkg-shlibdeps, run in a minimal debian/ tree under BUILD/deb/.
# Output: BUILD/deb/*.deb. Overrides: FSDFS_DEB_VERSION (default: the
# module's version, revision 1), FSDFS_NGINX_ABI (default: the installed
# nginx package's Provides), FSDFS_DEB_MAINTAINER (name <email>; lintian
# wants a real mail host).

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-${BUILD:-build}}
case $build in /*) ;; *) build=$top/$build ;; esac
out=$build/deb
tree=$out/tree

die() { echo "deb: $*" >&2; exit 1; }

for f in ngx_http_fsdfs_module.so fsdfsd fsdfs; do
    [ -x "$build/$f" ] || [ -f "$build/$f" ] \
        || die "no $build/$f: build it first (make BUILD=${build#$top/})"
done
for t in dpkg-deb dpkg-shlibdeps dpkg-query strip gzip md5sum; do
    command -v "$t" >/dev/null || die "$t not found (Debian package dpkg-dev / binutils)"
done

arch=$(dpkg --print-architecture)
maintainer=${FSDFS_DEB_MAINTAINER:-fsdfs maintainers <fsdfs@localhost>}
version=${FSDFS_DEB_VERSION:-}
if [ -z "$version" ]; then
    version=$(sed -n 's/^#define NGX_HTTP_FSDFS_VERSION *"\(.*\)"/\1/p' \
              "$top/ngx_module/ngx_http_fsdfs_module.h")
    [ -n "$version" ] || die "cannot read NGX_HTTP_FSDFS_VERSION"
    version=$version-1
fi

# The module only loads into the nginx whose ABI it was built against;
# Debian's nginx says which one it is in its Provides (nginx-abi-X.Y.Z-N).
abi=${FSDFS_NGINX_ABI:-}
if [ -z "$abi" ]; then
    abi=$(dpkg-query -W -f='${Provides}' nginx 2>/dev/null \
          | tr ',' '\n' | sed -n 's/^ *\(nginx-abi-[^ ]*\).*/\1/p' | head -1)
    [ -n "$abi" ] || die "no nginx-abi in the installed nginx package's Provides (set FSDFS_NGINX_ABI)"
fi

rm -rf "$out"
mkdir -p "$tree/debian"

# dpkg-shlibdeps wants a debian/control naming the packages, and the
# binaries under debian/<package>/
printf 'Source: fsdfs\n\nPackage: fsdfs\nArchitecture: any\n\nPackage: libnginx-mod-http-fsdfs\nArchitecture: any\n' \
    > "$tree/debian/control"

stage() {                      # stage PACKAGE: a fresh tree to fill
    local d=$tree/debian/$1
    mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$1"
    echo "$d"
}

put() {                        # put MODE SRC DST
    install -D -m "$1" "$2" "$3"
}

put_bin() {                    # put_bin SRC DST: stripped, as dh_strip would
    install -D -m 0755 "$1" "$2"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$2"
}

docs() {                       # docs PACKAGE DIR: copyright, changelog
    local d=$2/usr/share/doc/$1
    cat > "$d/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fsdfs
Comment: built from the fsdfs source tree by conf.d/deb/build.sh

Files: *
Copyright: the fsdfs authors
License: see the fsdfs source tree
EOF
    chmod 0644 "$d/copyright"
    printf '%s (%s) unstable; urgency=medium\n\n  * Built from the fsdfs source tree.\n\n -- %s  %s\n' \
        "$1" "$version" "$maintainer" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")" \
        | gzip -9n > "$d/changelog.Debian.gz"
    chmod 0644 "$d/changelog.Debian.gz"
}

shlibs() {                     # shlibs PACKAGE FILE...: the Depends libs
    local pkg=$1 args=() f deps
    shift
    for f in "$@"; do args+=(-e "${f#$tree/}"); done
    # (its warning about the tree layout is noise: the libs come out right)
    deps=$( (cd "$tree" && dpkg-shlibdeps -O "${args[@]}" 2>&1 >&3 \
            | grep -v "installed in their package's directory" >&2; exit 0) 3>&1 \
            | sed -n 's/^shlibs:Depends=//p')
    [ -n "$deps" ] || die "dpkg-shlibdeps found no libraries for $pkg"
    echo "$deps"
}

control() {                    # control PACKAGE DIR DEPENDS
    local d=$2 size
    (cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' \
        | sort -z | xargs -0 md5sum) > "$d/DEBIAN/md5sums"
    size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
    sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" \
        -e "s/@DEPENDS@/$3/" -e "s/@SIZE@/$size/" \
        -e "s|@MAINTAINER@|$maintainer|" \
        "$here/$1/control.in" > "$d/DEBIAN/control"
    for s in postinst prerm postrm conffiles; do
        [ -f "$here/$1/$s" ] || continue
        case $s in
        conffiles) put 0644 "$here/$1/$s" "$d/DEBIAN/$s" ;;
        *)         put 0755 "$here/$1/$s" "$d/DEBIAN/$s" ;;
        esac
    done
    find "$d" -type d -exec chmod 0755 {} +
    dpkg-deb --root-owner-group -Zxz --build "$d" \
        "$out/${1}_${version}_${arch}.deb" >/dev/null
    echo "deb: $out/${1}_${version}_${arch}.deb"
}

# libnginx-mod-http-fsdfs
p=libnginx-mod-http-fsdfs
d=$(stage $p)
put_bin "$build/ngx_http_fsdfs_module.so" "$d/usr/lib/nginx/modules/ngx_http_fsdfs_module.so"
chmod 0644 "$d/usr/lib/nginx/modules/ngx_http_fsdfs_module.so"
mkdir -p "$d/usr/share/nginx/modules-available"
echo 'load_module modules/ngx_http_fsdfs_module.so;' \
    > "$d/usr/share/nginx/modules-available/mod-http-fsdfs.conf"
chmod 0644 "$d/usr/share/nginx/modules-available/mod-http-fsdfs.conf"
put 0644 "$top/conf.d/fsdfs-node.conf" "$d/usr/share/doc/$p/examples/fsdfs-node.conf"
put 0644 "$top/conf.d/nginx.service.d/fsdfs.conf" "$d/usr/share/doc/$p/examples/nginx.service.d/fsdfs.conf"
for f in index.html dashboard.css dashboard.js; do
    put 0644 "$top/conf.d/dashboard/$f" "$d/usr/share/fsdfs/dashboard/$f"
done
docs $p "$d"
deps=$(shlibs $p "$d/usr/lib/nginx/modules/ngx_http_fsdfs_module.so")
control $p "$d" "$abi, $deps"

# fsdfs
p=fsdfs
d=$(stage $p)
put_bin "$build/fsdfsd" "$d/usr/sbin/fsdfsd"
put_bin "$build/fsdfs" "$d/usr/bin/fsdfs"
put 0644 "$top/conf.d/fsdfsd.conf" "$d/etc/fsdfs/fsdfsd.conf"
put 0644 "$top/conf.d/fsdfsd.service" "$d/lib/systemd/system/fsdfsd.service"
for f in redis.conf sentinel.conf fsdfs.logrotate policy/sample_policy.c; do
    put 0644 "$top/conf.d/$f" "$d/usr/share/doc/$p/examples/$f"
done
docs $p "$d"
deps=$(shlibs $p "$d/usr/sbin/fsdfsd" "$d/usr/bin/fsdfs")
control $p "$d" "adduser, $deps"
