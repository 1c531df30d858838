#!/usr/bin/env bash
# The composite action's step (ci/github/action.yml): get the dockguard binary, then run
# `dockguard ci --provider github`, which writes $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY.
# Inputs arrive as environment variables; nothing from the event is interpolated here.
set -euo pipefail

cache="${RUNNER_TOOL_CACHE:-${HOME:-/tmp}/.cache}/dockguard"
if command -v dockguard >/dev/null 2>&1; then
    echo "dockguard: using $(command -v dockguard)"
elif [ -x "$cache/bin/dockguard" ]; then
    echo "dockguard: using the cached build in $cache"
elif [ -n "${DOCKGUARD_BINARY_URL:-}" ]; then
    mkdir -p "$cache/bin"
    curl -fsSL --retry 3 -o "$cache/bin/dockguard" "$DOCKGUARD_BINARY_URL"
    chmod +x "$cache/bin/dockguard"
elif [ -n "${DOCKGUARD_GIT_URL:-}" ]; then
    tag=()
    if [ -n "${DOCKGUARD_GIT_TAG:-}" ]; then tag=(--tag "$DOCKGUARD_GIT_TAG"); fi
    cargo install --locked --root "$cache" --git "$DOCKGUARD_GIT_URL" "${tag[@]}" dockguard
else
    echo "::error::dockguard: no binary: give the action binary-url or git-url, or put dockguard on PATH"
    exit 2
fi
PATH="$PATH:$cache/bin"

args=(ci --provider github)
# `dockguard ci` takes no settings from DOCKGUARD_* variables (pipeline variables can come
# from whoever pushes): the action's inputs become flags.
if [ -n "${INPUT_UPSTREAM_URL:-}" ]; then
    args+=(--upstream-url "$INPUT_UPSTREAM_URL")
fi
if [ -n "${INPUT_UPSTREAM_BRANCH:-}" ]; then
    args+=(--upstream-branch "$INPUT_UPSTREAM_BRANCH")
fi
if [ "${DOCKGUARD_ACTION_STRICT:-false}" = "true" ]; then
    args+=(--strict)
fi
# Extra arguments are the workflow author's, split on whitespace like a command line.
read -r -a extra <<<"${DOCKGUARD_ACTION_ARGS:-}"
exec dockguard "${args[@]}" "${extra[@]}"
