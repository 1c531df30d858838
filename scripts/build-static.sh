#!/bin/sh
# Builds dockguard as one fully static Linux x86_64 executable, for CI jobs whose image may
# be Alpine (musl), Debian, UBI or `FROM scratch`: no dynamic loader, no shared libraries.
#
#   scripts/build-static.sh [--profile release|dev] [--out DIR]
#
# How: the x86_64-unknown-linux-gnu target with `-C target-feature=+crt-static` (glibc's
# static libc.a; rustc then links a static-pie executable). zlib is built from the source
# that the pinned libz-sys crate carries (LIBZ_SYS_STATIC=1) and libgit2 from libgit2-sys's
# bundled 1.9 source (pkg-config is not asked for a system libgit2), so the result depends
# on Cargo.lock and the toolchain, not on which -dev packages this machine has. Paths of
# this checkout and of $CARGO_HOME are remapped, so the bytes do not depend on where the
# checkout lives. The toolchain is whatever `rustc` is on PATH (printed below): the same
# rustc and Cargo.lock give the same sha256.
#
# Name resolution: glibc's `files` and `dns` services are compiled into libc.a (glibc 2.34+),
# so /etc/hosts and /etc/resolv.conf work without any shared library (the tests prove it in
# an empty chroot). Other /etc/nsswitch.conf services (myhostname, mdns, resolve, sss, ldap)
# would be dlopen'ed and are skipped when absent; see README, "A static binary for CI jobs".
#
# Output: DIR/dockguard and DIR/dockguard.sha256 (default DIR: target/static-dist for
# release, target/static-dist-dev for dev). The build itself goes to target/static, apart
# from the normal target/ so the two builds never invalidate each other.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

profile=release
out=
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile=${2:?--profile needs a value}; shift 2 ;;
        --profile=*) profile=${1#--profile=}; shift ;;
        --out) out=${2:?--out needs a value}; shift 2 ;;
        --out=*) out=${1#--out=}; shift ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "build-static.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$profile" in
    release) dir=release; out=${out:-target/static-dist} ;;
    # dev: the quick build the tests use (minutes less than release on 2 cores); no
    # debuginfo, which would make it 65 MB instead of ~20.
    dev) dir=debug; out=${out:-target/static-dist-dev}; CARGO_PROFILE_DEV_DEBUG=false; export CARGO_PROFILE_DEV_DEBUG ;;
    *) echo "build-static.sh: --profile is release or dev, not $profile" >&2; exit 2 ;;
esac

target=x86_64-unknown-linux-gnu
if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "build-static.sh: builds on Linux x86_64 only (this is $(uname -sm))" >&2
    exit 2
fi
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$target" ]; then
    echo "build-static.sh: the Rust toolchain has no $target target (rustup target add $target)" >&2
    exit 2
fi

cargo_home=${CARGO_HOME:-$HOME/.cargo}
prefix_map="-ffile-prefix-map=$root=/dockguard -ffile-prefix-map=$cargo_home=/cargo"
# RUSTFLAGS with an explicit --target apply to the target only, not to build scripts and
# proc macros (which must stay dynamic host programs).
RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$root=/dockguard --remap-path-prefix=$cargo_home=/cargo"
# The C parts (libgit2, zlib) through the cc crate: the same path remapping (libgit2
# embeds __FILE__ in assertions).
CFLAGS_x86_64_unknown_linux_gnu="$prefix_map"
LIBZ_SYS_STATIC=1
LIBGIT2_NO_PKG_CONFIG=1
export RUSTFLAGS CFLAGS_x86_64_unknown_linux_gnu LIBZ_SYS_STATIC LIBGIT2_NO_PKG_CONFIG

echo "build-static.sh: $(rustc -V), profile $profile, target $target (+crt-static)" >&2
cargo build --locked --profile "$profile" --target "$target" --target-dir target/static --bin dockguard

bin="target/static/$target/$dir/dockguard"
# Refuse a binary that still needs a loader or a shared library (readelf is binutils; ldd
# is glibc's and says "not a dynamic executable" or, for static-pie, "statically linked").
if command -v readelf >/dev/null 2>&1; then
    if readelf -lW "$bin" | grep -q 'INTERP' || readelf -dW "$bin" | grep -q '(NEEDED)'; then
        echo "build-static.sh: $bin is not static:" >&2
        readelf -lW "$bin" | grep INTERP >&2 || true
        readelf -dW "$bin" | grep NEEDED >&2 || true
        exit 1
    fi
fi
if command -v ldd >/dev/null 2>&1 && ldd "$bin" 2>&1 | grep -q '=>'; then
    echo "build-static.sh: ldd lists shared libraries for $bin:" >&2
    ldd "$bin" >&2
    exit 1
fi

mkdir -p "$out"
cp "$bin" "$out/dockguard.tmp"
mv "$out/dockguard.tmp" "$out/dockguard"
(cd "$out" && sha256sum dockguard > dockguard.sha256)
echo "build-static.sh: $out/dockguard: $(wc -c < "$out/dockguard") bytes, $("$out/dockguard" --version)" >&2
cat "$out/dockguard.sha256"
