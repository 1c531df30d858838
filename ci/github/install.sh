# Sourced by every step of dockguard's actions that runs `dockguard` (ci/github/dockguard.sh,
# ci/github/build.sh): each job starts on a fresh runner where nothing of an earlier job
# is on PATH, so each step gets the pinned binary itself: the dockguard already on PATH
# (a job image that has it), else the download checked against binary-sha256, else a
# build from git-url at git-tag. Inputs: DOCKGUARD_BINARY_URL, DOCKGUARD_BINARY_SHA256,
# DOCKGUARD_GIT_URL, DOCKGUARD_GIT_TAG. Needs `fail` defined by the caller.

dockguard_install() {
    local cache sha bin
    cache="${RUNNER_TOOL_CACHE:-${HOME:-/tmp}/.cache}/dockguard"
    sha=${DOCKGUARD_BINARY_SHA256:-}
    [[ $sha =~ ^[0-9a-f]{64}$ ]] || sha=""
    # dockguard runs from a directory this step made: the tool cache outlives the run on
    # a self-hosted runner, where any job's steps can write it, so nothing from there
    # runs unless it is the pinned file.
    if command -v dockguard >/dev/null 2>&1; then
        echo "dockguard: using $(command -v dockguard)"
        return 0
    fi
    bin=$(mktemp -d)
    mkdir "$bin/bin"
    if [ -n "${DOCKGUARD_BINARY_URL:-}" ]; then
        [ -n "$sha" ] || fail "binary-url needs binary-sha256 (the 64 hex digits of the release's dockguard.sha256): a download is never run unchecked"
        if [ -f "$cache/bin/dockguard" ] && cp "$cache/bin/dockguard" "$bin/bin/dockguard" && dockguard_sha_ok "$sha" "$bin/bin/dockguard"; then
            echo "dockguard: using the cached download (its sha256 matches)"
        else
            curl -fsSL --retry 3 -o "$bin/bin/dockguard" "$DOCKGUARD_BINARY_URL"
            dockguard_sha_ok "$sha" "$bin/bin/dockguard" || fail "the file from binary-url does not match binary-sha256: not run"
            mkdir -p "$cache/bin"
            cp "$bin/bin/dockguard" "$cache/bin/dockguard.download.$$"
            mv -f "$cache/bin/dockguard.download.$$" "$cache/bin/dockguard"
        fi
        chmod +x "$bin/bin/dockguard"
    elif [ -n "${DOCKGUARD_GIT_URL:-}" ]; then
        # Built by this step, every time: no checksum pins a build, so no cached binary
        # can stand in for it. cargo runs outside the workspace, where a
        # rust-toolchain.toml or .cargo/config.toml of the checkout cannot choose what
        # it runs.
        local tag=()
        if [ -n "${DOCKGUARD_GIT_TAG:-}" ]; then tag=(--tag "$DOCKGUARD_GIT_TAG"); fi
        (cd "$bin" && cargo install --locked --root "$bin" --git "$DOCKGUARD_GIT_URL" "${tag[@]}" dockguard)
    else
        fail "no binary: give the action binary-url + binary-sha256 or git-url, or put dockguard on PATH"
    fi
    PATH="$bin/bin:$PATH"
}

dockguard_sha_ok() { printf '%s  %s\n' "$1" "$2" | sha256sum -c - >/dev/null 2>&1; }
