#!/bin/sh
# Reproduces the "unbounded work" numbers of issue #13 (and their fixes): time and peak
# memory of `dockguard check` on hostile repositories, each a branch off master that
# changes one file in an image's context:
#   ignore100k  a 100,000-line .dockerignore
#   dockerfile200m  a 200 MB Dockerfile
#   deep10k     10,000 nested directories
#   copy10k     a Dockerfile with 10,000 COPY lines (answer must be "rebuild")
#   nested50k   one COPY source of 50,000 nested ${a:-…} (run under ulimit -v 4 GiB)
# Usage: bench/limits.sh [DOCKGUARD_BINARY]   (default: target/release/dockguard)
set -eu
bin=${1:-target/release/dockguard}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME="$tmp" \
    GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@b

repo() { # name: a repository with master and origin/master, checked out on `feature`
    d="$tmp/$1"; git init -q -b master "$d"; cd "$d"
}
finish() { # commit what is staged on master, then change img/src.txt on feature
    git add -A; git commit -qm base
    git update-ref refs/remotes/origin/master HEAD
    git checkout -qb feature
    echo changed > img/src.txt; git add -A; git commit -qm change
}
measure() { # name
    cd "$tmp/$1"
    /usr/bin/time -f "%e s %M KB" -o "$tmp/time" "$bin" check --format json >"$tmp/out" 2>"$tmp/err" && code=0 || code=$?
    verdict=$(grep -o '"rebuild": *[a-z]*' "$tmp/out" | head -1 || true)
    reason=$(grep -o '"reasons": *\[[^]]*' "$tmp/out" | head -1 | cut -c1-140 || true)
    printf '%-15s exit %-3s %-22s %-18s %s\n' "$1" "$code" "$(tail -1 "$tmp/time")" "${verdict:-}" "${reason:-$(head -c 120 "$tmp/err")}"
}

repo ignore100k
mkdir img; printf 'FROM scratch\nCOPY . /\n' > img/Dockerfile; echo a > img/src.txt
awk 'BEGIN { print "src.txt"; for (i = 0; i < 100000; i++) printf "**/dir%d/**/file%d.*\n", i, i }' > img/.dockerignore
finish

repo dockerfile200m
mkdir img; echo a > img/src.txt
awk 'BEGIN { print "FROM scratch"; print "COPY src.txt /"; for (i = 0; i < 2500000; i++) printf "RUN echo %070d\n", i }' > img/Dockerfile
finish

repo deep10k
mkdir img; printf 'FROM scratch\nCOPY src.txt /\n' > img/Dockerfile; echo a > img/src.txt
git add -A; git commit -qm base; git update-ref refs/remotes/origin/master HEAD; git checkout -qb feature
# 10,000 nested directories, built bottom-up with mktree (no checkout could hold them)
t=$(printf 'x' | git hash-object -w --stdin); t=$(printf '100644 blob %s\tf\n' "$t" | git mktree)
i=0; while [ $i -lt 10000 ]; do t=$(printf '040000 tree %s\td\n' "$t" | git mktree); i=$((i + 1)); done
root=$(git ls-tree HEAD | { cat; printf '040000 tree %s\tdeep\n' "$t"; } | git mktree)
git update-ref refs/heads/feature "$(git commit-tree "$root" -p HEAD -m deep)"

repo copy10k
mkdir img; echo a > img/src.txt
awk 'BEGIN { print "FROM scratch"; for (i = 0; i < 10000; i++) printf "COPY a/very/long/path/to/some/directory/number/%d/and/its/file-%d.txt /d/\n", i, i; print "COPY src.txt /" }' > img/Dockerfile
finish

repo nested50k
mkdir img; echo a > img/src.txt; printf 'FROM scratch\nCOPY src.txt /\n' > img/Dockerfile
git add -A; git commit -qm base; git update-ref refs/remotes/origin/master HEAD; git checkout -qb feature
awk 'BEGIN { printf "FROM scratch\nARG a\nCOPY "; for (i = 0; i < 50000; i++) printf "${a:-"; printf "x"; for (i = 0; i < 50000; i++) printf "}"; print " /" }' > img/Dockerfile
git add -A; git commit -qm nested

echo "binary: $bin"
for r in ignore100k dockerfile200m deep10k copy10k; do measure $r; done
(ulimit -v 4194304; measure nested50k)
