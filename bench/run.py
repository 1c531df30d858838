#!/usr/bin/env python3
"""Time dockguard against the shell pipeline a user would write by hand, interleaved.

    bench/run.py --dockguard target/release/dockguard --repo small=/path --repo large=/path
                 [--runs 21] [--out bench/RESULTS.md]
    bench/run.py --dockguard target/release/dockguard --qemu /path/to/a/qemu/clone
                 [--runs 15] [--out bench/RESULTS.md]

With --qemu, the scenarios come from QEMU's real history (fixed commit ids, see
QEMU_IDS) and are set up in a scratch clone in a temporary directory (objects hardlinked
when on the same file system); the given clone is only read. Each mode writes its own
section of the results file and leaves the other one alone.

For every repository, first without a commit-graph, then with the one `git commit-graph
write --reachable` writes (generation v2, git's default), every scenario runs each command
once per round, rounds interleaved (so drift hits all commands alike), after one warm-up
round. Reported: median wall time per command, the ratio dockguard/shell pipeline, and
dockguard's peak RSS (from wait4). Repositories come from bench/gen.py.
"""

import argparse
import json
import os
import re
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


TIME = "/usr/bin/time"


def peak_rss_kib(argv, cwd, env, stdin_path):
    """Peak RSS (KiB) of one run, through GNU time (see `measure`)."""
    out = os.path.join(env["HOME"], "time.out")
    run_once([TIME, "-f", "%M", "-o", out, *argv], cwd, env, stdin_path)
    with open(out) as f:
        return int(f.read().split()[-1])


def measure(repo, cmds, env, runs, rss_runs=3):
    """Median wall time per command over interleaved rounds, and its peak RSS.

    A child's ru_maxrss counts the memory of the process it was forked (or vforked) from,
    before it exec'd: measured from this Python process, every command would seem to need
    at least Python's own peak. So the peak is taken from separate runs under GNU time (a
    process of ~2 MB), and the timed runs stay free of its overhead.
    """
    times = {k: [] for k in cmds}
    rss = {k: 0 for k in cmds}
    for rnd in range(runs + 1):
        for label, (argv, stdin) in cmds.items():
            dt, peak = run_once(argv, repo, env, stdin)
            if rnd > 0:  # round 0 warms the page cache
                times[label].append(dt)
                rss[label] = max(rss[label], peak)
    if os.access(TIME, os.X_OK):
        for label, (argv, stdin) in cmds.items():
            rss[label] = max(peak_rss_kib(argv, repo, env, stdin) for _ in range(rss_runs))
    else:
        print(f"warning: no {TIME} (Debian: apt-get install time); peak RSS includes "
              "Python's", file=sys.stderr)
    return {k: statistics.median(v) for k, v in times.items()}, rss


def fmt_ms(s):
    return f"{s * 1000:.1f}" if s < 10 else f"{s * 1000:.0f}"


# QEMU's history: the fixed commits the scenarios are made of (issue 11).
QEMU_IDS = {
    # A real contributor branch (52 commits, two dockerfiles among the changed paths),
    # judged against master just before it was merged.
    "near_tip": "c8b2b7fed9850356f5d88bc7da2f1cefe57289bf",
    "near_upstream": "aadac5b3d9fdce28030495f80fc76a4336e97328^1",
    # Master years later (the pbo-linaro/qemu-ci mirror's master): 43k upstream commits
    # since the near branch's merge-base.
    "old_upstream": "75fdca413da5202c4f9d6cd6783179d899cc433a",
}
# The blob the code-only commit changes (a C file in every tree involved).
QEMU_CODE_PATH = "util/cutils.c"
QEMU_PUSH_URL = "https://gitlab.example.invalid/contributor/qemu.git"


def git_out(repo, env, *args, input=None):
    return subprocess.run(["git", "-C", repo, *args], env=env, check=True, capture_output=True,
                          input=input).stdout


def qemu_setup(src, tmp, env, nrefs):
    """A scratch clone of `src` with the scenario refs; returns (path, facts)."""
    for key, spec in QEMU_IDS.items():
        if subprocess.run(["git", "-C", src, "rev-parse", "--verify", "--quiet",
                           f"{spec}^{{commit}}"], env=env, capture_output=True).returncode:
            sys.exit(f"{src} lacks commit {spec} ({key}); clone the mirror that has them: "
                     "git clone --single-branch --branch master -o upstream "
                     "https://github.com/pbo-linaro/qemu-ci")
    scratch = os.path.join(tmp, "qemu")
    # --local hardlinks the objects (git never rewrites a pack in place), so the user's
    # clone is only read; everything the benchmark writes goes to the scratch clone.
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", "--local", "--no-tags",
                    src, scratch], env=env, check=True)
    refs = git_out(scratch, env, "for-each-ref", "--format=delete %(refname)").decode()
    git_out(scratch, env, "update-ref", "--no-deref", "--stdin", input=refs.encode())
    git_out(scratch, env, "remote", "remove", "origin")
    git_out(scratch, env, "remote", "add", "upstream", "https://gitlab.com/qemu-project/qemu.git")
    git_out(scratch, env, "remote", "add", "origin", QEMU_PUSH_URL)
    ids = {k: git_out(scratch, env, "rev-parse", f"{v}^{{commit}}").decode().strip()
           for k, v in QEMU_IDS.items()}
    base = git_out(scratch, env, "merge-base", ids["near_tip"], ids["near_upstream"]).decode().strip()
    ids["base"] = base

    def ctime(oid):
        return int(git_out(scratch, env, "log", "-1", "--format=%ct", oid))

    def blob(spec):
        return git_out(scratch, env, "cat-file", "blob", spec)

    # The synthetic commits, with fast-import (fixed dates: the same ids on every run).
    out = []

    def commit(ref, parent, path, data, msg):
        t = ctime(parent) + 60
        out.append(f"commit {ref}\ncommitter Bench <bench@example.com> {t} +0000\n"
                   f"data {len(msg)}\n{msg}\nfrom {parent}\nM 100644 inline {path}\n"
                   f"data {len(data)}\n".encode() + data + b"\n")

    # code-only: one C file changed on top of the near branch's merge-base. The old
    # scenario is the same commit judged against the far upstream.
    commit("refs/heads/code-only", base, QEMU_CODE_PATH,
           blob(f"{base}:{QEMU_CODE_PATH}") + b"/* dockguard benchmark */\n", "code-only change")
    # The 1000-ref push: one commit per ref, each changing one C file, on top of one of
    # the 50 first-parent commits below the near upstream.
    bases = git_out(scratch, env, "rev-list", "--first-parent", "-n", "50",
                    ids["near_upstream"]).decode().split()
    cfiles = sorted(p for p in git_out(scratch, env, "ls-tree", "-r", "--name-only",
                                       ids["near_upstream"]).decode().splitlines()
                    if p.endswith(".c"))
    for r in range(nrefs):
        path = cfiles[(r * 7919) % len(cfiles)]
        upstream_text = blob(f"{ids['near_upstream']}:{path}")
        commit(f"refs/heads/many/{r:04d}", bases[r % len(bases)], path,
               upstream_text + f"/* ref {r} */\n".encode(), f"many {r}")
    out.append(b"done\n")
    subprocess.run(["git", "-C", scratch, "fast-import", "--quiet", "--done"], env=env,
                   input=b"".join(out), check=True)
    git_out(scratch, env, "update-ref", "refs/heads/near", ids["near_tip"])
    git_out(scratch, env, "update-ref", "refs/remotes/upstream/master", ids["old_upstream"])
    git_out(scratch, env, "checkout", "--quiet", "near")
    ids["code_only"] = git_out(scratch, env, "rev-parse", "refs/heads/code-only").decode().strip()
    return scratch, ids


def qemu_facts(repo, env, tip, upstream):
    """What a scenario is: commits in the range, changed paths, dockerfiles among them,
    upstream commits since the merge-base."""
    mb = git_out(repo, env, "merge-base", tip, upstream).decode().strip()
    paths = git_out(repo, env, "diff", "--name-only", "-M", mb, tip).decode().splitlines()
    docker = sum(1 for p in paths if re.search(DOCKER_RE, p))
    ahead = int(git_out(repo, env, "rev-list", "--count", f"{mb}..{tip}"))
    behind = int(git_out(repo, env, "rev-list", "--count", f"{mb}..{upstream}"))
    return {"paths": len(paths), "dockerfiles": docker, "commits": ahead, "behind": behind}


def qemu_scenarios(repo, env, tmp, dockguard, ids):
    """(name, description, upstream oid, expected rebuild, {label: (argv, stdin)})"""
    hook = [dockguard, "hook", "pre-push", "origin", QEMU_PUSH_URL]
    shell_one = ("mb=$(git merge-base \"$1\" refs/remotes/upstream/master) && "
                 "git diff --name-only -M \"$mb\" \"$1\" | grep -qE '" + DOCKER_RE + "'; true")
    out = []
    for name, ref, tip, upstream, rebuild in (
        ("near", "refs/heads/near", ids["near_tip"], ids["near_upstream"], True),
        ("code-only", "refs/heads/code-only", ids["code_only"], ids["near_upstream"], False),
        ("old", "refs/heads/code-only", ids["code_only"], ids["old_upstream"], False),
    ):
        f = qemu_facts(repo, env, tip, upstream)
        desc = (f"{f['commits']} commit{'s' if f['commits'] != 1 else ''}, {f['paths']} "
                f"path{'s' if f['paths'] != 1 else ''} ({f['dockerfiles']} dockerfile"
                f"{'s' if f['dockerfiles'] != 1 else ''}), {f['behind']} upstream commits since "
                f"the merge-base; {'rebuild' if rebuild else 'no rebuild'}")
        stdin = os.path.join(tmp, f"{name}.stdin")
        with open(stdin, "w") as fh:
            fh.write(f"{ref} {tip} {ref} {ZERO}\n")
        out.append((name, desc, upstream, rebuild, {
            "dockguard check": ([dockguard, "check", tip], None),
            "dockguard hook": (hook, stdin),
            "shell pipeline": (["sh", "-c", shell_one, "sh", tip], None),
            "git merge-base": (["git", "merge-base", tip, "refs/remotes/upstream/master"], None),
        }))
    refs = [r.split() for r in git_out(repo, env, "for-each-ref",
                                       "--format=%(refname) %(objectname)",
                                       "refs/heads/many/").decode().splitlines()]
    stdin = os.path.join(tmp, "many.stdin")
    with open(stdin, "w") as fh:
        for name, oid in refs:
            fh.write(f"{name} {oid} {name} {ZERO}\n")
    shell_many = "for b in \"$@\"; do " + shell_one.replace("\"$1\"", "\"$b\"") + "; done"
    names = [n for n, _ in refs]
    out.append((f"{len(refs)} refs", f"a push of {len(refs)} branches, one C file changed on "
                f"each, 0-49 upstream commits since their merge-bases; no rebuild",
                ids["near_upstream"], False, {
                    "dockguard check": ([dockguard, "check", *names], None),
                    "dockguard hook": (hook, stdin),
                    "shell pipeline": (["sh", "-c", shell_many, "sh", *names], None),
                }))
    return out


def verify_answer(repo, env, cmds, rebuild, name):
    """The verdict must be the expected one (a faster wrong answer is no result)."""
    argv, _ = cmds["dockguard check"]
    res = subprocess.run([*argv[:2], "--format", "json", *argv[2:]], cwd=repo, env=env,
                         capture_output=True, check=True)
    got = json.loads(res.stdout)["rebuild"]
    if got != rebuild:
        sys.exit(f"{name}: dockguard says rebuild={got}, expected {rebuild}")


def qemu_main(a, dockguard):
    tmp = tempfile.mkdtemp(prefix="dockguard-qemu-", dir=a.tmp)
    try:
        env = env_for(tmp)
        repo, ids = qemu_setup(os.path.abspath(a.qemu), tmp, env, a.refs)
        ncommits = git_out(repo, env, "rev-list", "--count", ids["old_upstream"]).decode().strip()
        rows = []
        for graph in ("none", "v2"):
            subprocess.run(["rm", "-rf", os.path.join(repo, ".git/objects/info/commit-graph"),
                            os.path.join(repo, ".git/objects/info/commit-graphs")], check=True)
            if graph == "v2":
                # As a user's would be after fetching upstream: it covers upstream's tip.
                git_out(repo, env, "update-ref", "refs/remotes/upstream/master",
                        ids["old_upstream"])
                git_out(repo, env, "commit-graph", "write", "--reachable")
            for name, desc, upstream, rebuild, cmds in qemu_scenarios(repo, env, tmp, dockguard, ids):
                git_out(repo, env, "update-ref", "refs/remotes/upstream/master", upstream)
                verify_answer(repo, env, cmds, rebuild, name)
                runs = a.many_runs if "refs" in name else a.runs
                med, rss = measure(repo, cmds, env, runs)
                heap = None
                if a.heap and "refs" not in name:
                    argv, stdin = cmds["dockguard hook"]
                    heap = heap_peak_mb(argv, repo, env, stdin)
                rows.append((name, desc, graph, med, rss, heap))
                shown = "  ".join(f"{k}={fmt_ms(v)}ms" for k, v in med.items())
                print(f"qemu graph={graph:4} {name:10} {shown}", flush=True)
        labels = ["dockguard check", "dockguard hook", "shell pipeline", "git merge-base"]
        lines = [
            "| scenario | commit-graph | " + " | ".join(f"{l} (ms)" for l in labels)
            + " | check/shell | hook/shell | check peak RSS (MB) | hook peak RSS (MB)"
            " | shell peak RSS (MB) | hook heap peak (MB) |",
            "|" + "---|" * (len(labels) + 8),
        ]
        for name, desc, graph, med, rss, heap in rows:
            cells = [fmt_ms(med[l]) if l in med else "–" for l in labels]
            shell = med["shell pipeline"]
            ratio = lambda l: f"{med[l] / shell:.2f}"
            mb = lambda l: f"{rss[l] / 1024:.1f}"
            heap_s = f"{heap:.1f}" if heap is not None else "–"
            lines.append(f"| {name} | {graph} | " + " | ".join(cells)
                         + f" | {ratio('dockguard check')} | {ratio('dockguard hook')}"
                         + f" | {mb('dockguard check')} | {mb('dockguard hook')}"
                         + f" | {mb('shell pipeline')} | {heap_s} |")
        seen = {}
        for name, desc, *_ in rows:
            seen.setdefault(name, desc)
        legend = "\n".join(f"- *{n}*: {d}." for n, d in seen.items())
        body = (f"QEMU master ({ncommits} commits), scenarios from fixed commit ids "
                f"(`bench/qemu.sh`, ids in `bench/run.py`). Medians of {a.runs} interleaved "
                f"rounds ({a.many_runs} for the {a.refs}-ref push) after one warm-up round; "
                f"{os.cpu_count()} cores; `v2` is the commit-graph `git commit-graph write "
                f"--reachable` writes (generation v2). Shell pipeline: `git merge-base` + "
                f"`git diff --name-only -M` + `grep -E` for dockerfile names (a loop over the "
                f"refs for the multi-ref push). Peak RSS is the largest of 3 runs under GNU time (for the "
                f"shell pipeline: its largest process); heap peak is valgrind massif's for one "
                f"hook run.\n\n{legend}\n\n" + "\n".join(lines) + "\n")
        write_section(a.out, "qemu", "QEMU's real history (bench/qemu.sh)", body)
        print(body)
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


def write_section(path, key, title, body):
    """Replaces (or appends) one marked section of the results file."""
    begin, end = f"<!-- begin {key} -->", f"<!-- end {key} -->"
    block = f"{begin}\n## {title}\n\n{body}{end}\n"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "<!-- written by bench/run.py (bench/bench.sh, bench/qemu.sh); do not edit -->\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--dockguard", required=True)
    ap.add_argument("--repo", action="append", help="LABEL=PATH (generated by bench/gen.py)")
    ap.add_argument("--qemu", help="a clone of QEMU (instead of --repo)")
    ap.add_argument("--runs", type=int, help="rounds (default 21, 15 with --qemu)")
    ap.add_argument("--many-runs", type=int,
                    help="rounds for the 1000-ref scenario (default 3, 15 with --qemu)")
    ap.add_argument("--refs", type=int, default=1000, help="refs of the multi-ref push (--qemu)")
    ap.add_argument("--no-heap", dest="heap", action="store_false", help="skip valgrind massif")
    ap.add_argument("--tmp", help="where the scratch clone goes (--qemu; default $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch clone (--qemu)")
    ap.add_argument("--out", default="bench/RESULTS.md")
    a = ap.parse_args()
    if bool(a.repo) == bool(a.qemu):
        ap.error("give either --repo (one or more) or --qemu")
    dockguard = os.path.abspath(a.dockguard)
    if a.qemu:
        a.runs = a.runs or 15
        a.many_runs = a.many_runs or 15
        return qemu_main(a, dockguard)
    a.runs = a.runs or 21
    a.many_runs = a.many_runs or 3
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
                heap = heap_peak_mb(argv, path, env, stdin) if a.heap else None
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
    body = (f"Medians of {a.runs} interleaved rounds ({a.many_runs} for the 1000-ref push), "
            f"after one warm-up round; {os.cpu_count()} cores. Peak RSS is wait4's ru_maxrss "
            f"(it counts mapped page-cache pages of packs and indexes, which this kernel maps "
            f"in large folios); heap peak is valgrind massif's, for one run.\n\n" + table)
    write_section(a.out, "synthetic", "Generated repositories (bench/bench.sh)", body)
    print(table)


if __name__ == "__main__":
    main()
