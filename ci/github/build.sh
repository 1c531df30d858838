#!/usr/bin/env bash
# One entry of `dockguard plan`'s matrix (ci/github/build/action.yml): build the image
# on this run's own parents, with the cache pulled first, and push its content tag; or
# copy it from upstream's registry with `dockguard copy` (the pinned binary: this job
# runs on a fresh runner, see ci/github/install.sh). Everything arrives in environment
# variables (the workflow maps `matrix.*` to them); nothing is interpolated into a
# command line, and nothing from a variable is run.
set -euf -o pipefail

fail() { echo "::error::dockguard: $*"; exit 2; }
case "${DOCKGUARD_DOCKER:-docker}" in
docker | podman) docker=${DOCKGUARD_DOCKER:-docker} ;;
*) fail "docker must be docker or podman" ;;
esac
: "${DOCKGUARD_ACTION:?}" "${DOCKGUARD_IMAGE_REF:?}"

declare -A logged_in=()
# Logs in to the registry of reference $1 once: GITHUB_TOKEN for ghcr.io, else
# DOCKGUARD_REGISTRY_USER / DOCKGUARD_REGISTRY_PASSWORD for that host if given.
login() {
    local host=${1%%/*}
    [[ $host == *.* || $host == *:* || $host == localhost ]] || return 0
    [ -z "${logged_in[$host]:-}" ] || return 0
    if [ "$host" = ghcr.io ] && [ -n "${GITHUB_TOKEN:-}" ]; then
        printf '%s' "$GITHUB_TOKEN" | "$docker" login -u "${GITHUB_ACTOR:-x-access-token}" --password-stdin ghcr.io
    elif [ -n "${DOCKGUARD_REGISTRY_USER:-}" ] && [ -n "${DOCKGUARD_REGISTRY_PASSWORD:-}" ]; then
        printf '%s' "$DOCKGUARD_REGISTRY_PASSWORD" | "$docker" login -u "$DOCKGUARD_REGISTRY_USER" --password-stdin "$host"
    fi
    logged_in[$host]=1
}

if [ "$DOCKGUARD_ACTION" = copy ]; then
    : "${DOCKGUARD_COPY_FROM:?}"
    # `dockguard copy` reads docker's config.json for both registries: log in first.
    login "$DOCKGUARD_COPY_FROM"
    login "$DOCKGUARD_IMAGE_REF"
    # shellcheck source=ci/github/install.sh
    . "${BASH_SOURCE[0]%/*}/install.sh"
    dockguard_install
    echo "dockguard: copying $DOCKGUARD_COPY_FROM to $DOCKGUARD_IMAGE_REF (the same content, built upstream)"
    exec dockguard copy "$DOCKGUARD_COPY_FROM" "$DOCKGUARD_IMAGE_REF"
fi
[ "$DOCKGUARD_ACTION" = build ] || fail "action must be build or copy"
: "${DOCKGUARD_DOCKERFILE:?}" "${DOCKGUARD_CONTEXT:?}"

# This run's parents, under the names the dockerfile's FROM lines use.
while read -r written reference; do
    [ -n "$written" ] || continue
    [[ $written != *@* ]] || { echo "::warning::FROM $written pins a digest: the build uses that, not this run's parent $reference"; continue; }
    login "$reference"
    "$docker" pull -q "$reference" >/dev/null || fail "cannot pull the parent image $reference"
    "$docker" tag "$reference" "$written"
    echo "dockguard: FROM $written is $reference"
done <<<"${DOCKGUARD_PARENT_LINES:-}"

repo=${DOCKGUARD_IMAGE_REF%:*}
up=${DOCKGUARD_UPSTREAM_REF:-}
cmd=(build -t "$DOCKGUARD_IMAGE_REF" -f "$DOCKGUARD_DOCKERFILE")
login "$DOCKGUARD_IMAGE_REF"
# Build cache, as available: the same content upstream, upstream's and this project's
# default-branch build (`:latest`). The legacy builder never pulls a cache image itself.
# A requested rebuild uses none: its point is to run every step again (a package
# mirror's updates), which a cached `RUN apt-get install` layer would skip.
caches=("$up" "${up:+${up%:*}:latest}" "$repo:latest")
case "${DOCKGUARD_REBUILD:-}" in
"" | 0 | false | no | off) ;;
*)
    echo "dockguard: a rebuild was requested: no build cache (--no-cache)"
    caches=()
    cmd+=(--no-cache)
    ;;
esac
for c in "${caches[@]}"; do
    [ -n "$c" ] || continue
    login "$c"
    if "$docker" pull -q "$c" >/dev/null 2>&1; then
        echo "dockguard: build cache: $c"
        cmd+=(--cache-from "$c")
    fi
done
# Extra build arguments (the workflow's build-args input), quoted as on a command line.
if [ -n "${DOCKGUARD_BUILD_ARGS:-}" ]; then
    mapfile -t words < <(printf '%s\n' "$DOCKGUARD_BUILD_ARGS" | xargs printf '%s\n')
    value=no
    for w in "${words[@]}"; do
        if [ "$value" = no ]; then
            case "$w" in
            --build-arg | --label | --target | --platform | --network | --add-host) value=yes ;;
            --build-arg=* | --label=* | --target=* | --platform=* | --network=* | --add-host=* | --no-cache) ;;
            *) fail "build-args: '$w' is not one of --build-arg, --label, --target, --platform, --network, --add-host, --no-cache" ;;
            esac
        else
            value=no
        fi
        cmd+=("$w")
    done
    [ "$value" = no ] || fail "build-args ends with an option that needs a value"
fi
cmd+=(--build-arg BUILDKIT_INLINE_CACHE=1 "$DOCKGUARD_CONTEXT")
echo "dockguard: $docker ${cmd[*]}"
"$docker" "${cmd[@]}"
"$docker" push "$DOCKGUARD_IMAGE_REF"
# On the default branch `:latest` follows it: a build cache, never what a job runs on.
if [ -n "${DOCKGUARD_DEFAULT_BRANCH:-}" ] && [ "${GITHUB_REF:-}" = "refs/heads/$DOCKGUARD_DEFAULT_BRANCH" ]; then
    "$docker" tag "$DOCKGUARD_IMAGE_REF" "$repo:latest"
    "$docker" push "$repo:latest"
fi
