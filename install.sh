#!/bin/sh
# Builds dockguard, installs the binary where PATH finds it, and (inside a git repository)
# installs the pre-push hook there. Safe to run again.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v cargo >/dev/null 2>&1; then
    echo "install.sh: cargo is not installed; get Rust from https://rustup.rs and run ./install.sh again" >&2
    exit 2
fi

root=${DOCKGUARD_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}
echo "install.sh: building and installing dockguard into $root/bin"
cargo install --locked --quiet --path "$here" --root "$root" --force
bin="$root/bin/dockguard"

case ":$PATH:" in
    *":$root/bin:"*) echo "install.sh: installed $bin" ;;
    *) echo "install.sh: installed $bin (add $root/bin to PATH to run it by name)" ;;
esac

# Install the hook into the repository we are run from, when there is one and the
# binary knows how (the `install` subcommand).
if git rev-parse --git-dir >/dev/null 2>&1 && "$bin" install --help >/dev/null 2>&1; then
    "$bin" install
fi
