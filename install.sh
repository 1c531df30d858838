#!/bin/sh
# Installs dockguard, and its pre-push hook in the git repository you run it from.
#
#   cd your-project && path/to/install.sh --from URL|FILE [--sha256 HEX]
#       a release (seconds): the archive dockguard-VERSION-x86_64-unknown-linux-gnu.tar.gz
#       or the bare `dockguard` binary, as a file or an https:// (or file://) URL
#   cd your-project && path/to/dockguard/install.sh
#       no --from: builds from the sources beside this script (cargo, Rust 1.85+ and a C
#       compiler; about 2-3 minutes on 2 cores)
#
# Options:
#   --from URL|FILE  what to install; it runs only after its sha256 matched:
#   --sha256 HEX     the 64 hex digits to match (from the release's SHA256SUMS). Without it
#                    the SHA256SUMS beside the archive (same directory or URL) is used;
#                    that catches a broken download, not a changed release (pin --sha256
#                    for that). A plain http:// URL needs --sha256.
#   --no-hook        the binary only
#   --root DIR       install into DIR/bin (default: $DOCKGUARD_INSTALL_ROOT, else
#                    $CARGO_HOME, else ~/.cargo, whose bin/ rustup puts on PATH)
#   -h, --help       this text
#
# Safe to run again: the binary is replaced with one rename (a kill leaves the old one or
# the new one), and the hook install keeps any hook you had (`dockguard uninstall` restores it).
set -eu

die() { echo "install.sh: $*" >&2; exit 2; }
say() { echo "install.sh: $*"; }

hook=yes from= sha=
root=${DOCKGUARD_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}
while [ $# -gt 0 ]; do
    case $1 in
        --no-hook) hook=no; shift ;;
        --from) from=${2:?--from needs a URL or a file}; shift 2 ;;
        --from=*) from=${1#--from=}; shift ;;
        --sha256) sha=${2:?--sha256 needs 64 hex digits}; shift 2 ;;
        --sha256=*) sha=${1#--sha256=}; shift ;;
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        --root=*) root=${1#--root=}; shift ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
done
[ -z "$sha" ] || [ -n "$from" ] || die "--sha256 checks a --from download; without --from this builds from source"
if [ -n "$sha" ]; then
    sha=$(printf '%s' "$sha" | tr 'A-F' 'a-f')
    printf '%s\n' "$sha" | grep -Eqx '[0-9a-f]{64}' || die "--sha256 takes the 64 hex digits of a sha256, not \"$sha\""
fi
here=$(cd "$(dirname "$0")" && pwd)
bindir="$root/bin"
bin="$bindir/dockguard"
tmp=
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# Copies URL (https://, http://, file://) to FILE.
fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --proto '=https,http,file' --proto-redir '=https' -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        case $1 in file://*) cp "${1#file://}" "$2" ;; *) wget -q -O "$2" "$1" ;; esac
    else
        die "cannot download $1: neither curl nor wget is installed (download it yourself, then --from FILE)"
    fi
}

# The sha256 that SHA256SUMS (file $1) gives for the name $2, if any.
sum_for() {
    awk -v f="$2" '{ n = $2; sub(/^\*/, "", n) } n == f { print $1; exit }' "$1"
}

# Fetches --from into $tmp/download and checks it; sets $new to the binary to install.
from_release() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/dockguard-install.XXXXXX")
    file="$tmp/download"
    name=${from##*/}
    case $from in
        https://*|http://*|file://*)
            case $from in http://*) [ -n "$sha" ] || die "$from is plain http: pass --sha256 HEX (a SHA256SUMS fetched over http proves nothing)" ;; esac
            say "downloading $from"
            fetch "$from" "$file" || die "cannot download $from"
            if [ -z "$sha" ] && fetch "${from%/*}/SHA256SUMS" "$tmp/SHA256SUMS" 2>/dev/null; then
                sha=$(sum_for "$tmp/SHA256SUMS" "$name")
                [ -n "$sha" ] || die "${from%/*}/SHA256SUMS has no line for $name: pass --sha256 HEX"
                say "checking it against ${from%/*}/SHA256SUMS"
            fi ;;
        *://*) die "--from $from: only https://, http:// (with --sha256) and file:// URLs, or a file" ;;
        *)
            [ -f "$from" ] || die "--from $from: no such file"
            cp "$from" "$file"
            sums="$(dirname "$from")/SHA256SUMS"
            if [ -z "$sha" ] && [ -f "$sums" ]; then
                sha=$(sum_for "$sums" "$name")
                [ -n "$sha" ] || die "$sums has no line for $name: pass --sha256 HEX"
                say "checking it against $sums"
            fi ;;
    esac
    [ -n "$sha" ] || die "no checksum for $from: pass --sha256 HEX (its line in the release's SHA256SUMS), or put that SHA256SUMS beside it; nothing is installed unchecked"
    got=$(sha256sum "$file" | cut -d' ' -f1)
    [ "$got" = "$sha" ] || die "$from has sha256 $got, not $sha: not installed (a broken or changed download)"

    # An archive (gzip) holds dockguard at its top or in its one top directory; else it
    # must be the binary itself (ELF).
    magic=$(od -An -tx1 -N4 "$file" | tr -d ' \n')
    case $magic in
        1f8b*)
            mkdir "$tmp/x"
            tar -xzf "$file" -C "$tmp/x" --no-same-owner || die "$from: not a .tar.gz archive"
            new=
            for c in "$tmp/x/dockguard" "$tmp"/x/*/dockguard; do
                if [ -f "$c" ] && [ ! -L "$c" ]; then new=$c; break; fi
            done
            [ -n "$new" ] || die "$from: the archive has no dockguard binary (at its top or in its top directory)" ;;
        7f454c46) new=$file ;;
        *) die "$from is neither a .tar.gz archive nor a Linux binary" ;;
    esac
    chmod 0755 "$new"
    says=$("$new" --version 2>&1) || die "$from does not run here: $says"
    mkdir -p "$bindir"
    # One rename onto the old binary, from a copy in the same directory.
    cp "$new" "$bindir/.dockguard.install.$$"
    chmod 0755 "$bindir/.dockguard.install.$$"
    mv -f "$bindir/.dockguard.install.$$" "$bin"
    say "installed $bin ($says)"
}

from_source() {
    [ -f "$here/Cargo.toml" ] && [ -d "$here/src" ] \
        || die "no --from, and no dockguard sources beside $0 to build: pass --from URL|FILE (a release archive) and --sha256 HEX"
    command -v cargo >/dev/null 2>&1 \
        || die "cargo is not installed (or not on PATH); get Rust from https://rustup.rs, then run $0 again; or install a release: --from URL --sha256 HEX"
    say "building dockguard from source (about 2-3 minutes on 2 cores)..."
    say "(a release installs in seconds: $0 --from URL --sha256 HEX)"
    start=$(date +%s)
    # cargo install copies the binary into $root/bin through a staging directory beside
    # it and a rename, so an interrupted build leaves the old binary.
    cargo install --locked --path "$here" --root "$root" --force
    [ -x "$bin" ] || die "cargo finished but $bin is missing"
    say "installed $bin ($("$bin" --version)), built in $(( $(date +%s) - start ))s"
}

if [ -n "$from" ]; then from_release; else from_source; fi

found=$(command -v dockguard 2>/dev/null || true)
case ":$PATH:" in
    *":$bindir:"*)
        if [ -n "$found" ] && [ "$found" != "$bin" ]; then
            say "but PATH finds $found first; remove that one or reorder PATH"
        else
            say "$bindir is on PATH"
        fi ;;
    *) say "add $bindir to PATH to run dockguard by name (the hook does not need that)" ;;
esac

# The hook goes into the repository we are run from, if any.
if [ "$hook" = yes ]; then
    if git rev-parse --git-dir >/dev/null 2>&1; then
        top=$(git rev-parse --show-toplevel 2>/dev/null || git rev-parse --absolute-git-dir)
        say "protecting $top (the repository you ran this from):"
        "$bin" install
    else
        say "not inside a git repository, so no hook installed; run \`dockguard install\` inside the one to protect"
    fi
fi
