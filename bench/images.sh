#!/bin/sh
# What images cost on the hook's path. Generates a repository like a big QEMU tree
# (IMAGES dockerfiles, all but one built FROM the base through `images.parent`, each
# copying a helper directory; FILES other files in 500 directories) with four branches
# off master, and times `dockguard check` on them (and `images`, `tag`) with hyperfine
# (Debian: `apt-get install hyperfine`):
#   same-tree  an empty commit: the tree equals the merge-base's (the no-change path)
#   code       one source file changed (images are worked out, none is affected)
#   leaf       one dockerfile changed (one image affected)
#   base       the base dockerfile changed (every image affected)
#
#   bench/images.sh [DOCKGUARD] [BASELINE_DOCKGUARD]
#
# DOCKGUARD defaults to target/release/dockguard (built if missing). BASELINE, if given,
# is a build without image support; it is timed on a copy of the repository without
# `.dockguard.toml` (which it would reject), next to DOCKGUARD on the same copy.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/dockguard}
baseline=${2:-}
IMAGES=${IMAGES:-100}
FILES=${FILES:-10000}
if [ ! -x "$bin" ]; then
    (cd "$here" && cargo build --release --quiet)
fi
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
bin=$(abs "$bin")
[ -z "$baseline" ] || baseline=$(abs "$baseline")
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

generate() { # DIR WITH_CONFIG
    git init -q -b master "$1"
    python3 - "$IMAGES" "$FILES" "$2" <<'PY' | git -C "$1" fast-import --quiet
import sys
images, files, with_config = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "yes"
out = sys.stdout
entries = []
def add(path, data):
    # ASCII only, so characters are bytes.
    out.write(f"blob\nmark :{len(entries) + 1}\ndata {len(data)}\n{data}\n")
    entries.append(path)
if with_config:
    add(".dockguard.toml", """[images]
parent = ["qemu/{name}"]

[[images.rule]]
dockerfile = 'tests/docker/dockerfiles/(?P<name>[^/]+)\\.docker'
inputs = ["tests/docker/dockerfiles/{name}.d/**"]
""")
add("tests/docker/dockerfiles/base.docker", "FROM debian:12\nRUN apt-get update\n")
for i in range(images - 1):
    add(f"tests/docker/dockerfiles/img{i}.docker",
        f"FROM qemu/base\nCOPY img{i}.d/ /opt/\nRUN /opt/build.sh\n")
    add(f"tests/docker/dockerfiles/img{i}.d/build.sh", f"echo {i}\n")
for j in range(files):
    add(f"src/d{j % 500}/f{j}.c", f"int f{j};\n")
out.write("commit refs/heads/master\ncommitter B <b@example.com> 1700000000 +0000\ndata 4\nbase\n")
for m, path in enumerate(entries, 1):
    out.write(f"M 100644 :{m} {path}\n")
out.write("\n")
PY
    (
        cd "$1"
        git checkout -q master
        git update-ref refs/remotes/origin/master master
        git config user.name b
        git config user.email b@example.com
        git checkout -q -b same-tree master
        git commit -q --allow-empty -m "same tree"
        for spec in "code src/d7/f7.c" "leaf tests/docker/dockerfiles/img3.docker" \
            "base tests/docker/dockerfiles/base.docker"; do
            set -- $spec
            git checkout -q -b "$1" master
            echo "# changed" >> "$2"
            git commit -q -am "$1"
        done
        git checkout -q master
    )
}

run() { # COMMAND...
    hyperfine --warmup 3 --min-runs 20 -N --style basic --export-markdown "$work/md" "$@" >/dev/null
    cat "$work/md"
    echo
}

generate "$work/repo" yes
echo "repository: $IMAGES dockerfiles ($((IMAGES - 1)) FROM the base), $((IMAGES - 1)) helper files, $FILES other files"
cd "$work/repo"
run "$bin check same-tree" "$bin check code" "$bin check leaf" "$bin check base"
run "$bin images" "$bin images --affected --format names leaf" "$bin tag --image img42"
if [ -n "$baseline" ]; then
    generate "$work/plain" no
    cd "$work/plain"
    echo "without .dockguard.toml, against the baseline build:"
    run "$baseline check same-tree" "$bin check same-tree" "$baseline check code" \
        "$bin check code" "$baseline check base" "$bin check base"
fi
