#!/usr/bin/env python3
"""What `dockguard gc` frees on QEMU's real history (docs/src/gc.md).

    python3 bench/gc_qemu.py --dockguard target/release/dockguard --qemu PATH [--since 2025-02-01] [--history 50]

A scratch clone of PATH (a QEMU clone; only read) gets the QEMU-like `.dockguard.toml`
of the book's "Adopting the content-tag mode" (docs/src/examples.md) (untracked: gc reads a commit's rules, else
the work tree's). For every first-parent commit of master since --since, the content tag
of every image is computed (`dockguard images --format json REV`): that is what a
content-mode pipeline per push to master leaves in the registry. A real `docker-registry`
(deletes enabled) gets one tiny image per distinct tag, `created` at its commit's date;
then `dockguard gc --remote upstream --history N --grace 0` runs, first as a dry run,
then with --delete, and the tags before and after are counted with raw HTTP.
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOML = """[images]
parent = ["qemu/{name}", "$CI_REGISTRY_IMAGE/qemu/{name}"]

[[images.rule]]
dockerfile = 'tests/docker/dockerfiles/(?P<name>[^/]+)\\.docker'
context = "."
inputs = ["tests/docker/dockerfiles/{name}.d/**"]
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def put_image(base, repo, tag, layer, created):
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": created,
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    descs = []
    for blob in (config, layer):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        st, h, _ = request("POST", f"{base}/v2/{repo}/blobs/uploads/")
        assert st == 202, st
        loc = h["Location"]
        loc = base + loc if loc.startswith("/") else loc
        sep = "&" if "?" in loc else "?"
        st, _, _ = request("PUT", f"{loc}{sep}digest={digest}", blob, {"Content-Type": "application/octet-stream"})
        assert st == 201, st
        descs.append((digest, len(blob)))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": descs[0][1], "digest": descs[0][0]},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": descs[1][1], "digest": descs[1][0]}]}).encode()
    st, _, _ = request("PUT", f"{base}/v2/{repo}/manifests/{tag}", manifest,
                       {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
    assert st == 201, st


def count_tags(base, repos):
    n = 0
    for repo in repos:
        st, _, body = request("GET", f"{base}/v2/{repo}/tags/list?n=100000")
        if st == 200:
            n += len(json.loads(body).get("tags") or [])
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dockguard", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--since", default="2025-02-01")
    ap.add_argument("--history", type=int, default=50)
    a = ap.parse_args()
    dg = os.path.abspath(a.dockguard)
    tmp = tempfile.mkdtemp(prefix="dockguard-gc-qemu-")
    try:
        clone = os.path.join(tmp, "qemu")
        run(["git", "clone", "-q", "--single-branch", "--branch", "master", "-o", "upstream", a.qemu, clone])
        with open(os.path.join(clone, ".dockguard.toml"), "w") as f:
            f.write(TOML)
        commits = run(["git", "rev-list", "--first-parent", f"--since={a.since}", "--format=%H %cI", "--no-commit-header", "HEAD"], cwd=clone).split("\n")
        commits = [c.split() for c in commits if c.strip()]
        pushed = {}  # (repository, tag) -> created
        started = time.time()
        for oid, date in commits:
            out = json.loads(run([dg, "images", "--format", "json", oid], cwd=clone))
            for img in out["images"]:
                pushed.setdefault((img["name"], img["content_tag"]), date)
        tags_seconds = time.time() - started
        reg_dir = os.path.join(tmp, "registry")
        os.makedirs(reg_dir)
        port = free_port()
        cfg = os.path.join(reg_dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {reg_dir}/storage\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
        reg = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if request("GET", base + "/v2/")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            for (name, tag), date in pushed.items():
                put_image(base, f"qemu/{name}", tag, f"{name} {tag}".encode(), date)
            repos = sorted({f"qemu/{n}" for n, _ in pushed})
            before = count_tags(base, repos)
            gc = [dg, "gc", "--registry-image", base + "/qemu", "--remote", "upstream",
                  "--history", str(a.history), "--grace", "0", "--format", "json"]
            started = time.time()
            dry = json.loads(run(gc, cwd=clone))
            dry_seconds = time.time() - started
            started = time.time()
            done = json.loads(run(gc + ["--delete"], cwd=clone))
            delete_seconds = time.time() - started
            after = count_tags(base, repos)
        finally:
            reg.kill()
            reg.wait()
        print(f"QEMU master, {len(commits)} first-parent commits since {a.since} ({commits[-1][1][:10]} .. {commits[0][1][:10]}), {len(repos)} images")
        print(f"content tags pushed (one pipeline per master commit): {before} (computed in {tags_seconds:.0f} s)")
        print(f"gc --history {a.history} --grace 0 (live: the remote's branches and tags, {dry['live_commits']} live commits): "
              f"{dry['counts']['kept']} kept, {dry['counts']['garbage']} garbage; dry run {dry_seconds:.1f} s, "
              f"--delete {delete_seconds:.1f} s, {done['registry_requests']} requests")
        print(f"tags after: {after}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
