#!/usr/bin/env python3
"""Time dockguard against the shell pipeline a user would write by hand, interleaved.

    bench/run.py --dockguard target/release/dockguard --repo small=/path --repo large=/path
                 [--runs 21] [--out bench/RESULTS.md]

For every repository, first without a commit-graph, then with the one `git commit-graph
write --reachable` writes (generation v2, git's default), every scenario runs each command
once per round, rounds interleaved (so drift hits all commands alike), after one warm-up
round. Reported: median wall time per command, the ratio dockguard/shell pipeline, and
dockguard's peak RSS (from wait4). Repositories come from bench/gen.py.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DOCKER_RE = r"(^|/)(Dockerfile(\.[^/]*)?|Containerfile(\.[^/]*)?|[^/]*\.(Dockerfile|dockerfile|docker))$"
PATHSPECS = ["*Dockerfile", "*Dockerfile.*", "*.dockerfile", "*Containerfile", "*Containerfile.*", "*.docker"]
ZERO = "0" * 40


def env_for(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DOCKGUARD_"))}
    env.update(HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               NO_COLOR="1", DOCKGUARD_POLICY="warn")
    return env


def run_once(cmd, cwd, env, stdin_path):
    """Wall seconds and peak RSS (KiB) of one run."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=stdin,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read()
    p.stderr.close()
    if stdin_path:
        stdin.close()
    if p.returncode not in (0, 1):
        sys.exit(f"command failed ({p.returncode}): {cmd}\n{err.decode(errors='replace')}")
    return dt, ru.ru_maxrss


def rev(repo, env, spec):
    return subprocess.run(["git", "-C", repo, "rev-parse", spec], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def has_hook(dockguard, env):
    return subprocess.run([dockguard, "hook", "--help"], env=env,
                          capture_output=True).returncode == 0


def scenarios(repo, env, tmp, dockguard, hook):
    """(name, {command label: (argv, stdin file)})"""
    out = []
    shell_one = ("mb=$(git merge-base \"$1\" refs/remotes/origin/master) && "
                 "git diff --name-only \"$mb\" \"$1\" | grep -qE '" + DOCKER_RE + "'; true")
    quiet_one = ("mb=$(git merge-base \"$1\" refs/remotes/origin/master) && "
                 "git diff --quiet \"$mb\" \"$1\" -- " + " ".join(f"'{p}'" for p in PATHSPECS) + "; true")
    for branch in ("near", "near-clean", "old", "long"):
        oid = rev(repo, env, f"refs/heads/{branch}")
        stdin = os.path.join(tmp, f"{branch}.stdin")
        with open(stdin, "w") as f:
            f.write(f"refs/heads/{branch} {oid} refs/heads/{branch} {ZERO}\n")
        cmds = {
            "dockguard check": ([dockguard, "check", branch], None),
            "shell pipeline": (["sh", "-c", shell_one, "sh", branch], None),
            "git merge-base + diff --quiet": (["sh", "-c", quiet_one, "sh", branch], None),
            "git merge-base": (["git", "merge-base", branch, "refs/remotes/origin/master"], None),
        }
        if hook:
            cmds["dockguard hook"] = ([dockguard, "hook", "pre-push", "origin",
                                       "https://example.invalid/bench.git"], stdin)
        out.append((branch, cmds))
    refs = subprocess.run(["git", "-C", repo, "for-each-ref", "--format=%(refname) %(objectname)",
                           "refs/heads/many/"], env=env, check=True, capture_output=True,
                          text=True).stdout.split("\n")
    refs = [r.split() for r in refs if r]
    stdin = os.path.join(tmp, "many.stdin")
    with open(stdin, "w") as f:
        for name, oid in refs:
            f.write(f"{name} {oid} {name} {ZERO}\n")
    names = [n for n, _ in refs]
    shell_many = "for b in \"$@\"; do " + shell_one.replace("\"$1\"", "\"$b\"") + "; done"
    quiet_many = "for b in \"$@\"; do " + quiet_one.replace("\"$1\"", "\"$b\"") + "; done"
    cmds = {
        "dockguard check": ([dockguard, "check", *names], None),
        "shell pipeline": (["sh", "-c", shell_many, "sh", *names], None),
        "git merge-base + diff --quiet": (["sh", "-c", quiet_many, "sh", *names], None),
    }
    if hook:
        cmds["dockguard hook"] = ([dockguard, "hook", "pre-push", "origin",
                                   "https://example.invalid/bench.git"], stdin)
    out.append((f"{len(refs)} refs", cmds))
    return out


def heap_peak_mb(argv, repo, env, stdin):
    """Peak heap of one run, from valgrind's massif (None without valgrind)."""
    if not shutil.which("valgrind"):
        return None
    out = os.path.join(tempfile.mkdtemp(prefix="massif-"), "out")
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as f:
        subprocess.run(["valgrind", "--tool=massif", "--stacks=no", f"--massif-out-file={out}", *argv],
                       cwd=repo, env=env, stdin=f, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    peak = cur = 0
    with open(out) as f:
        for line in f:
            if line.startswith("mem_heap_B="):
                cur = int(line.split("=")[1])
            if line.startswith("mem_heap_extra_B="):
                peak = max(peak, cur + int(line.split("=")[1]))
    return peak / (1 << 20)


def measure(repo, cmds, env, runs):
    times = {k: [] for k in cmds}
    rss = {k: 0 for k in cmds}
    for rnd in range(runs + 1):
        for label, (argv, stdin) in cmds.items():
            dt, peak = run_once(argv, repo, env, stdin)
            if rnd > 0:  # round 0 warms the page cache
                times[label].append(dt)
                rss[label] = max(rss[label], peak)
    return {k: statistics.median(v) for k, v in times.items()}, rss


def fmt_ms(s):
    return f"{s * 1000:.1f}" if s < 10 else f"{s * 1000:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--dockguard", required=True)
    ap.add_argument("--repo", action="append", required=True, help="LABEL=PATH")
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--many-runs", type=int, default=3, help="rounds for the 1000-ref scenario")
    ap.add_argument("--out", default="bench/RESULTS.md")
    a = ap.parse_args()
    dockguard = os.path.abspath(a.dockguard)
    tmp = tempfile.mkdtemp(prefix="dockguard-bench-")
    env = env_for(tmp)
    hook = has_hook(dockguard, env)
    labels = ["dockguard check", "dockguard hook", "shell pipeline",
              "git merge-base + diff --quiet", "git merge-base"]
    rows = []
    for spec in a.repo:
        label, path = spec.split("=", 1)
        ncommits = subprocess.run(["git", "-C", path, "rev-list", "--count", "--all"], env=env,
                                  check=True, capture_output=True, text=True).stdout.strip()
        for graph in ("none", "v2"):
            graph_file = os.path.join(path, ".git/objects/info/commit-graph")
            chain_dir = os.path.join(path, ".git/objects/info/commit-graphs")
            subprocess.run(["rm", "-rf", graph_file, chain_dir], check=True)
            if graph == "v2":
                subprocess.run(["git", "-C", path, "commit-graph", "write", "--reachable"],
                               env=env, check=True)
            for name, cmds in scenarios(path, env, tmp, dockguard, hook):
                runs = a.many_runs if "refs" in name else a.runs
                med, rss = measure(path, cmds, env, runs)
                argv, stdin = cmds.get("dockguard hook", cmds["dockguard check"])
                heap = heap_peak_mb(argv, path, env, stdin)
                rows.append((f"{label} ({ncommits} commits)", graph, name, med, rss, heap))
                shown = "  ".join(f"{k}={fmt_ms(v)}ms" for k, v in med.items())
                print(f"{label:6} graph={graph:4} {name:10} {shown}", flush=True)
    lines = [
        "| repository | commit-graph | scenario | " + " | ".join(f"{l} (ms)" for l in labels)
        + " | check/shell | hook/shell | dockguard peak RSS (MB) | shell peak RSS (MB) | dockguard heap peak (MB) |",
        "|" + "---|" * (len(labels) + 8),
    ]
    for repo_label, graph, name, med, rss, heap in rows:
        cells = [fmt_ms(med[l]) if l in med else "–" for l in labels]
        shell = med["shell pipeline"]
        ratio = lambda l: f"{med[l] / shell:.2f}" if l in med else "–"
        peak = max(rss.get("dockguard check", 0), rss.get("dockguard hook", 0)) / 1024
        shell_peak = rss.get("shell pipeline", 0) / 1024
        heap_s = f"{heap:.1f}" if heap is not None else "–"
        lines.append(f"| {repo_label} | {graph} | {name} | " + " | ".join(cells)
                     + f" | {ratio('dockguard check')} | {ratio('dockguard hook')} | {peak:.1f}"
                     + f" | {shell_peak:.1f} | {heap_s} |")
    table = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write("<!-- written by bench/run.py; do not edit -->\n")
        f.write(f"Medians of {a.runs} interleaved rounds ({a.many_runs} for the 1000-ref push), "
                f"after one warm-up round; {os.cpu_count()} cores. Peak RSS is wait4's ru_maxrss "
                f"(it counts mapped page-cache pages of packs and indexes, which this kernel maps "
                f"in large folios); heap peak is valgrind massif's, for one run.\n\n")
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
