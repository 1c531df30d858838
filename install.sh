#!/bin/sh
# Builds dockguard, installs the binary where PATH finds it, and (inside a git repository)
# installs the pre-push hook there. Safe to run again.
#
#   /path/to/dockguard/install.sh            from inside the repository to protect
#   /path/to/dockguard/install.sh --no-hook  binary only
#
# DOCKGUARD_INSTALL_ROOT chooses the install root (binary in $root/bin); default
# $CARGO_HOME (~/.cargo), whose bin/ rustup puts on PATH.
set -eu

hook=yes
for arg in "$@"; do
    case $arg in
        --no-hook) hook=no ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v cargo >/dev/null 2>&1; then
    echo "install.sh: cargo is not installed (or not on PATH); get Rust from https://rustup.rs, then run ./install.sh again" >&2
    exit 2
fi

root=${DOCKGUARD_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}
echo "install.sh: building dockguard (cargo install --locked) into $root/bin"
cargo install --locked --quiet --path "$here" --root "$root" --force
bin="$root/bin/dockguard"
if [ ! -x "$bin" ]; then
    echo "install.sh: cargo finished but $bin is missing" >&2
    exit 2
fi

found=$(command -v dockguard 2>/dev/null || true)
case ":$PATH:" in
    *":$root/bin:"*)
        if [ -n "$found" ] && [ "$found" != "$bin" ]; then
            echo "install.sh: installed $bin, but PATH finds $found first; remove that one or reorder PATH"
        else
            echo "install.sh: installed $bin (on PATH)"
        fi ;;
    *) echo "install.sh: installed $bin; add $root/bin to PATH to run it by name (the hook does not need that)" ;;
esac

# The hook goes into the repository we are run from, if any.
if [ "$hook" = yes ]; then
    if git rev-parse --git-dir >/dev/null 2>&1; then
        "$bin" install
    else
        echo "install.sh: not inside a git repository, so no hook installed; run \`dockguard install\` inside one"
    fi
fi
