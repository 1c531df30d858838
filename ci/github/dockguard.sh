#!/usr/bin/env bash
# The composite action's step (ci/github/action.yml): get the dockguard binary
# (ci/github/install.sh), then run `dockguard ci --provider github` (global mode: one
# decision) or `dockguard plan --provider github` (content mode: per-image content tags,
# a matrix per build level), which write $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY.
# Inputs arrive as environment variables; nothing from the event is interpolated here,
# and nothing from a variable is run: values become single arguments (bash arrays).
set -euf -o pipefail

fail() { echo "::error::dockguard: $*"; exit 2; }

# shellcheck source=ci/github/install.sh
. "${BASH_SOURCE[0]%/*}/install.sh"
dockguard_install

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

# Credentials for a registry other than ghcr.io (which GITHUB_TOKEN covers): dockguard
# reads docker's config.json, so log in to a private copy of it, used by this step only
# (a self-hosted runner's own ~/.docker is left as it was).
if [ -n "${INPUT_REGISTRY_USER:-}${INPUT_REGISTRY_PASSWORD:-}" ]; then
    [ -n "${INPUT_REGISTRY_USER:-}" ] && [ -n "${INPUT_REGISTRY_PASSWORD:-}" ] ||
        fail "registry-user and registry-password go together"
    [ "${DOCKGUARD_ACTION_MODE:-global}" = content ] && [ -n "${INPUT_REGISTRY_IMAGE:-}" ] ||
        fail "registry-user is for mode: content with registry-image (the registry it logs in to)"
    host=${INPUT_REGISTRY_IMAGE%%/*}
    [[ $host =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || fail "registry-image: '$host' is not a registry host"
    command -v docker >/dev/null 2>&1 ||
        fail "registry-user needs docker on the runner: \`docker login\` writes the credentials dockguard reads"
    config=$(mktemp -d)
    old_config="${DOCKER_CONFIG:-${HOME:-/nonexistent}/.docker}/config.json"
    if [ -f "$old_config" ]; then cp "$old_config" "$config/config.json"; fi
    printf '%s' "$INPUT_REGISTRY_PASSWORD" |
        DOCKER_CONFIG=$config docker login -u "$INPUT_REGISTRY_USER" --password-stdin "$host" >/dev/null ||
        fail "docker login $host failed with registry-user's credentials"
    export DOCKER_CONFIG=$config
fi

# The plan's levels beyond the action's declared outputs (matrix-level-0 ..
# matrix-level-$((max_levels - 1))) would reach no job: say so instead of leaving
# images unbuilt.
max_levels=4
status=0
dockguard "${args[@]}" "${extra[@]}" || status=$?
if [ "$status" = 0 ] && [ -n "${GITHUB_OUTPUT:-}" ] && [ -f "$GITHUB_OUTPUT" ]; then
    levels=$(sed -n 's/^levels=\([0-9]*\)$/\1/p' "$GITHUB_OUTPUT" | tail -n 1)
    if [ -n "$levels" ] && [ "$levels" -gt "$max_levels" ]; then
        fail "the plan has $levels build levels (an image built on an image built on ...); this action has outputs, and its example workflow jobs, for $max_levels (matrix-level-0 .. matrix-level-$((max_levels - 1))): images deeper than that would never be built; make the image tree at most $max_levels levels deep"
    fi
fi
exit "$status"
