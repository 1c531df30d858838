#!/bin/sh
# What `dockguard plan` costs against a real registry (Debian's docker-registry on
# loopback): a QEMU-like repository (one base image, every other image built FROM it
# through `images.parent`, each copying a helper directory), planned in three states:
#   empty     the registry has none of the content tags (everything is built)
#   present   it has all of them (everything is skipped)
#   fork      it has half; the upstream registry has the rest (copied)
# for IMAGES in $SIZES (default 10 20 40 80), with and without Basic auth (htpasswd -B).
# Prints wall time (median of $RUNS runs), the registry requests and the time spent on
# them, from the plan's own JSON.
#
#   bench/plan.sh [DOCKGUARD]       (Debian: apt-get install docker-registry apache2-utils)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/dockguard}
SIZES=${SIZES:-10 20 40 80}
RUNS=${RUNS:-11}
if [ ! -x "$bin" ]; then
    (cd "$here" && cargo build --release --quiet)
fi
command -v docker-registry >/dev/null || { echo "bench/plan.sh: apt-get install docker-registry" >&2; exit 2; }
command -v htpasswd >/dev/null || { echo "bench/plan.sh: apt-get install apache2-utils" >&2; exit 2; }
work=$(mktemp -d)
# start_registry runs in a command substitution (a subshell): pids go to a file.
cleanup() {
    if [ -f "$work/pids" ]; then
        while read -r p; do kill "$p" 2>/dev/null || true; done < "$work/pids"
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_registry() { # NAME [htpasswd]
    p=$(port)
    dir="$work/reg-$1"
    mkdir -p "$dir"
    auth=""
    if [ "${2:-}" = htpasswd ]; then
        htpasswd -B -b -c "$dir/htpasswd" bench bench-password 2>/dev/null
        auth="auth:
  htpasswd:
    realm: bench
    path: $dir/htpasswd"
    fi
    cat > "$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: 127.0.0.1:$p
$auth
EOF
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    echo "$!" >> "$work/pids"
    for _ in $(seq 200); do
        python3 -c "import urllib.request,sys
try: urllib.request.urlopen('http://127.0.0.1:$p/v2/')
except urllib.error.HTTPError: pass
" 2>/dev/null && break
        sleep 0.05
    done
    echo "$p"
}

generate() { # DIR IMAGES
    git init -q -b master "$1"
    python3 - "$2" <<'PY' | git -C "$1" fast-import --quiet
import sys
images = int(sys.argv[1])
out = sys.stdout
entries = []
def add(path, data):
    out.write(f"blob\nmark :{len(entries) + 1}\ndata {len(data)}\n{data}\n")
    entries.append(path)
add(".dockguard.toml", """[images]
parent = ["qemu/{name}"]

[[images.rule]]
dockerfile = 'tests/docker/dockerfiles/(?P<name>[^/]+)\\.docker'
context = "tests/docker/dockerfiles"
""")
add("tests/docker/dockerfiles/base.docker", "FROM debian:12\nRUN apt-get update\n")
for i in range(images - 1):
    add(f"tests/docker/dockerfiles/img{i}.docker",
        f"FROM qemu/base\nCOPY img{i}.d/ /opt/\nRUN /opt/build.sh\n")
    add(f"tests/docker/dockerfiles/img{i}.d/build.sh", f"echo {i}\n")
out.write("commit refs/heads/master\ncommitter B <b@example.com> 1700000000 +0000\ndata 4\nbase\n")
for m, path in enumerate(entries, 1):
    out.write(f"M 100644 :{m} {path}\n")
out.write("\n")
PY
    git -C "$1" checkout -q master
    git -C "$1" update-ref refs/remotes/origin/master master
}

# Pushes a tiny image under each reference given on stdin (one per line), with raw
# HTTP requests (blob uploads + a schema-2 manifest), as Basic user bench if AUTH=1.
push_refs() {
    cat > "$work/refs"
    python3 - "$work/refs" <<'PY'
import base64, hashlib, json, os, sys, urllib.request
auth = base64.b64encode(b"bench:bench-password").decode() if os.environ.get("AUTH") == "1" else None
def req(method, url, data=None, ctype=None):
    r = urllib.request.Request(url, data=data, method=method)
    if auth: r.add_header("Authorization", "Basic " + auth)
    if ctype: r.add_header("Content-Type", ctype)
    return urllib.request.urlopen(r)
for line in open(sys.argv[1]):
    ref = line.strip()
    if not ref: continue
    host, rest = ref.split("/", 1)
    repo, tag = rest.rsplit(":", 1)
    base = f"http://{host}/v2/{repo}"
    blobs = []
    for data in (b'{"architecture":"amd64","os":"linux"}', ref.encode()):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        loc = req("POST", base + "/blobs/uploads/").headers["Location"]
        if loc.startswith("/"): loc = f"http://{host}{loc}"
        req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data, "application/octet-stream")
        blobs.append((d, len(data)))
    m = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": blobs[0][1], "digest": blobs[0][0]},
         "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": blobs[1][1], "digest": blobs[1][0]}]}
    req("PUT", f"{base}/manifests/{tag}", json.dumps(m).encode(), m["mediaType"])
PY
}

measure() { # LABEL ARGS... ; env: DOCKGUARD env for credentials
    python3 - "$RUNS" "$@" <<'PY'
import json, statistics, subprocess, sys, time
runs, label, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
times, doc = [], None
for _ in range(runs):
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True)
    times.append(time.perf_counter() - t)
    if p.returncode != 0:
        sys.exit(f"{label}: exit {p.returncode}: {p.stderr}")
    doc = json.loads(p.stdout)
c = doc["counts"]
print(f"| {label} | {len(doc['images'])} | {c['build']}/{c['copy']}/{c['skip']} | "
      f"{statistics.median(times) * 1000:.0f} | {doc['registry_requests']} | {doc['registry_seconds'] * 1000:.0f} |")
PY
}

echo "| scenario | images | build/copy/skip | wall (ms, median of $RUNS) | registry requests | in registry requests (ms) |"
echo "|---|---|---|---|---|---|"
for auth in open basic; do
    for n in $SIZES; do
        repo="$work/repo-$auth-$n"
        generate "$repo" "$n"
        if [ "$auth" = basic ]; then
            own=$(start_registry "own-$auth-$n" htpasswd); up=$(start_registry "up-$auth-$n" htpasswd)
            export AUTH=1
            creds="env DOCKER_CONFIG=$work/docker-$n"
            mkdir -p "$work/docker-$n"
            b64=$(printf 'bench:bench-password' | base64)
            printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"},"127.0.0.1:%s":{"auth":"%s"}}}' "$own" "$b64" "$up" "$b64" > "$work/docker-$n/config.json"
        else
            own=$(start_registry "own-$auth-$n"); up=$(start_registry "up-$auth-$n")
            export AUTH=0
            creds="env"
        fi
        plan="$creds $bin -C $repo plan --no-fetch --format json --registry-image 127.0.0.1:$own/qemu --upstream-registry-image 127.0.0.1:$up/qemu"
        # shellcheck disable=SC2086
        measure "$auth, empty" $plan
        refs=$($plan 2>/dev/null | python3 -c 'import json,sys; print("\n".join(i["reference"] for i in json.load(sys.stdin)["images"]))')
        # Half in this project's registry, the other half in upstream's.
        echo "$refs" | awk 'NR % 2 == 0' | push_refs
        echo "$refs" | awk 'NR % 2 == 1' | sed "s/127.0.0.1:$own/127.0.0.1:$up/" | push_refs
        # shellcheck disable=SC2086
        measure "$auth, fork (half upstream)" $plan
        echo "$refs" | awk 'NR % 2 == 1' | push_refs
        # shellcheck disable=SC2086
        measure "$auth, present" $plan
    done
done
