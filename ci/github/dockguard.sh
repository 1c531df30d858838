#!/usr/bin/env bash
# The composite action's step (ci/github/action.yml): get the dockguard binary, then run
# `dockguard ci --provider github` (global mode: one decision) or `dockguard plan
# --provider github` (content mode: per-image content tags, a matrix per build level),
# which write $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY.
# Inputs arrive as environment variables; nothing from the event is interpolated here,
# and nothing from a variable is run: values become single arguments (bash arrays).
set -euf -o pipefail

fail() { echo "::error::dockguard: $*"; exit 2; }

cache="${RUNNER_TOOL_CACHE:-${HOME:-/tmp}/.cache}/dockguard"
sha=${DOCKGUARD_BINARY_SHA256:-}
[[ $sha =~ ^[0-9a-f]{64}$ ]] || sha=""
sha_ok() { printf '%s  %s\n' "$sha" "$1" | sha256sum -c - >/dev/null 2>&1; }
# dockguard runs from a directory this step made: the tool cache outlives the run on a
# self-hosted runner, where any job's steps can write it, so nothing from there runs
# unless it is the pinned file.
bin=$(mktemp -d)
mkdir "$bin/bin"
if command -v dockguard >/dev/null 2>&1; then
    echo "dockguard: using $(command -v dockguard)"
elif [ -n "${DOCKGUARD_BINARY_URL:-}" ]; then
    [ -n "$sha" ] || fail "binary-url needs binary-sha256 (the 64 hex digits of the release's dockguard.sha256): a download is never run unchecked"
    if [ -f "$cache/bin/dockguard" ] && cp "$cache/bin/dockguard" "$bin/bin/dockguard" && sha_ok "$bin/bin/dockguard"; then
        echo "dockguard: using the cached download (its sha256 matches)"
    else
        curl -fsSL --retry 3 -o "$bin/bin/dockguard" "$DOCKGUARD_BINARY_URL"
        sha_ok "$bin/bin/dockguard" || fail "the file from binary-url does not match binary-sha256: not run"
        mkdir -p "$cache/bin"
        cp "$bin/bin/dockguard" "$cache/bin/dockguard.download.$$"
        mv -f "$cache/bin/dockguard.download.$$" "$cache/bin/dockguard"
    fi
    chmod +x "$bin/bin/dockguard"
elif [ -n "${DOCKGUARD_GIT_URL:-}" ]; then
    # Built by this step, every time: no checksum pins a build, so no cached binary can
    # stand in for it. cargo runs outside the workspace, where a rust-toolchain.toml or
    # .cargo/config.toml of the checkout cannot choose what it runs.
    tag=()
    if [ -n "${DOCKGUARD_GIT_TAG:-}" ]; then tag=(--tag "$DOCKGUARD_GIT_TAG"); fi
    (cd "$bin" && cargo install --locked --root "$bin" --git "$DOCKGUARD_GIT_URL" "${tag[@]}" dockguard)
else
    fail "no binary: give the action binary-url + binary-sha256 or git-url, or put dockguard on PATH"
fi
PATH="$bin/bin:$PATH"

case "${DOCKGUARD_ACTION_MODE:-global}" in
global) args=(ci --provider github) ;;
content)
    args=(plan --provider github)
    if [ -n "${INPUT_REGISTRY_IMAGE:-}" ]; then
        args+=(--registry-image "$INPUT_REGISTRY_IMAGE")
    fi
    if [ -n "${INPUT_UPSTREAM_REGISTRY_IMAGE:-}" ]; then
        args+=(--upstream-registry-image "$INPUT_UPSTREAM_REGISTRY_IMAGE")
    fi
    ;;
*) fail "mode must be global or content" ;;
esac
# `dockguard` takes no settings from DOCKGUARD_* variables: the action's inputs become flags.
if [ -n "${INPUT_UPSTREAM_URL:-}" ]; then
    args+=(--upstream-url "$INPUT_UPSTREAM_URL")
fi
if [ -n "${INPUT_UPSTREAM_BRANCH:-}" ]; then
    args+=(--upstream-branch "$INPUT_UPSTREAM_BRANCH")
fi
if [ "${DOCKGUARD_ACTION_STRICT:-false}" = "true" ]; then
    args+=(--strict)
fi
# Extra arguments are the workflow author's, quoted as on a command line (xargs: no
# expansion, no globbing).
extra=()
if [ -n "${DOCKGUARD_ACTION_ARGS:-}" ]; then
    mapfile -t extra < <(printf '%s\n' "$DOCKGUARD_ACTION_ARGS" | xargs printf '%s\n')
fi
exec dockguard "${args[@]}" "${extra[@]}"
