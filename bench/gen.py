#!/usr/bin/env python3
"""Generate a large, reproducible benchmark repository with git fast-import.

    bench/gen.py DIR [--commits 200000] [--files 50000] [--dockerfiles 100]

Layout: FILES files in a balanced three-level tree (dNN/dNN/fNNNN.c), DOCKERFILES of them
dockerfiles (half `<dir>/Dockerfile`, half `tests/docker/dockerfiles/<name>.docker`), and
a linear master of COMMITS commits each editing one file (every 2000th edits a dockerfile:
master changes its own images too). Branches (the benchmark scenarios):

  near        60 commits behind master's tip, 52 commits, 68 changed files, 1 dockerfile
  near-clean  the same without the dockerfile change
  old         branched COMMITS/2 commits back (100k upstream commits since, at 200k)
  long        a branch of 5000 commits (1 dockerfile change early on)
  many/NNNN   1000 branches of one commit each near master (the 1000-ref push)

Everything is derived from a fixed seed: the same arguments give the same object ids.
"""

import argparse
import os
import random
import subprocess
import sys

EPOCH = 1_600_000_000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("dir")
    ap.add_argument("--commits", type=int, default=200_000)
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--dockerfiles", type=int, default=100)
    ap.add_argument("--refs", type=int, default=1000)
    a = ap.parse_args()

    rng = random.Random(42)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
    subprocess.run(["git", "init", "-q", "-b", "master", a.dir], check=True, env=env)

    # Balanced tree: ~sqrt-ish fan-out on two directory levels.
    fan = max(2, round((a.files / 32) ** 0.5))
    files = [f"d{i % fan:02d}/d{(i // fan) % fan:02d}/f{i:05d}.c" for i in range(a.files)]
    docker = []
    for k in range(a.dockerfiles):
        if k % 2 == 0:
            docker.append(f"d{k % fan:02d}/d{(k * 7) % fan:02d}/img{k:03d}/Dockerfile")
        else:
            docker.append(f"tests/docker/dockerfiles/image{k:03d}.docker")
    plain = files

    out = []
    w = out.append
    mark = [0]

    def commit(ref, t, msg, edits, parent=None):
        mark[0] += 1
        w(f"commit {ref}\nmark :{mark[0]}\n")
        w(f"committer Bench <bench@example.com> {t} +0000\n")
        m = msg.encode()
        w(f"data {len(m)}\n{msg}\n")
        if parent is not None:
            w(f"from :{parent}\n")
        for path, content in edits:
            c = content.encode()
            w(f"M 100644 inline {path}\ndata {len(c)}\n{content}\n")
        return mark[0]

    def flush(proc):
        proc.stdin.write("".join(out).encode())
        out.clear()

    fi = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=a.dir, stdin=subprocess.PIPE, env=env,
    )
    t = EPOCH
    init = [(p, f"/* {p} */\n") for p in plain]
    init += [(p, f"FROM debian:12\n# {p}\n") for p in docker]
    master = [commit("refs/heads/master", t, "initial import", init)]
    flush(fi)
    for i in range(1, a.commits):
        t += 60
        if i % 2000 == 0:
            p = docker[rng.randrange(len(docker))]
            edit = (p, f"FROM debian:12\n# {p} master rev {i}\n")
        else:
            p = plain[rng.randrange(len(plain))]
            edit = (p, f"/* {p} rev {i} */\n")
        master.append(commit("refs/heads/master", t, f"master {i}", [edit], master[-1]))
        if i % 5000 == 0:
            flush(fi)
    flush(fi)

    def branch(name, base_idx, n, touch_docker_at, nfiles_per_commit=1, start_t=None):
        bt = start_t or (EPOCH + base_idx * 60 + 30)
        parent = master[base_idx]
        for j in range(n):
            bt += 60
            edits = []
            for _ in range(nfiles_per_commit):
                p = plain[rng.randrange(len(plain))]
                edits.append((p, f"/* {p} {name} {j} */\n"))
            if j == touch_docker_at:
                p = docker[rng.randrange(len(docker))]
                edits.append((p, f"FROM debian:13\n# {p} {name}\n"))
            parent = commit(f"refs/heads/{name}", bt, f"{name} {j}", edits, parent)
        return parent

    tip = len(master) - 1
    # 52 commits, 68 changed files: 16 commits touch 2 files.
    for name, dock in (("near", 10), ("near-clean", -1)):
        bt = EPOCH + (tip - 60) * 60 + 30
        parent = master[tip - 60]
        for j in range(52):
            bt += 60
            edits = [(plain[rng.randrange(len(plain))], f"/* {name} {j} */\n")]
            if j < 16:
                edits.append((plain[rng.randrange(len(plain))], f"/* {name} {j} b */\n"))
            if j == dock:
                p = docker[rng.randrange(len(docker))]
                edits.append((p, f"FROM debian:13\n# {p} {name}\n"))
            parent = commit(f"refs/heads/{name}", bt, f"{name} {j}", edits, parent)
    flush(fi)
    branch("old", tip // 2, 20, 5)
    flush(fi)
    branch("long", max(0, tip - 100), 5000, 3)
    flush(fi)
    for r in range(a.refs):
        base = tip - (r % 50)
        commit(f"refs/heads/many/{r:04d}", EPOCH + base * 60 + 45, f"many {r}",
               [(plain[rng.randrange(len(plain))], f"/* many {r} */\n")], master[base])
    w("done\n")
    flush(fi)
    fi.stdin.close()
    if fi.wait() != 0:
        sys.exit("git fast-import failed")

    def git(*args):
        subprocess.run(["git", "-C", a.dir, *args], check=True, env=env)

    # A clone-like setup: origin/master tracks master, HEAD on `near`.
    git("remote", "add", "origin", "https://example.invalid/bench.git")
    git("update-ref", "refs/remotes/origin/master", "refs/heads/master")
    git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/master")
    git("symbolic-ref", "HEAD", "refs/heads/near")
    git("read-tree", "HEAD")  # index only; the work tree is never needed
    print(f"{a.dir}: {a.commits} master commits, {a.files + a.dockerfiles} files, "
          f"{a.dockerfiles} dockerfiles, {a.refs} extra refs")


if __name__ == "__main__":
    main()
