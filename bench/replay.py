#!/usr/bin/env python3
"""Replays real merges of a GitLab project (QEMU) through `dockguard check` and grades
every verdict against what the project's own CI builds.

For each first-parent merge M of the default branch (oldest first): upstream := M^1,
branch := M^2, and `dockguard check --format json M^2` is run in a scratch clone whose
`refs/remotes/upstream/master` is M^1, with zero configuration.

The grade does not use dockguard's code. Which images CI builds comes from
gitlab-ci-local's `--preview` (GitLab's own resolution of includes, extends, !reference
and variables, as gitlab-ci-local implements it) run on the CI files of the commit; each
resolved job's `docker build` / `podman build` / `buildah bud` lines are read here, with
the job's variables, into (dockerfile, context, build args, target). What an image reads
is its dockerfile, the `.dockerignore` files a builder may read, and the context paths its
COPY/ADD instructions name (BuildKit's parser, PyPI `dockerfile`, split the dockerfile),
plus the same for every image of the repository it is built FROM. A merge *needs* a
rebuild when the branch changed (merge-base .. M^2) any path some CI-built image reads at
the merge-base or at M^2, or when the builds themselves differ (an image added, removed,
or built with other arguments).

Reported: merges replayed; merges that need a rebuild; dockerfile changes missed (needs a
rebuild, dockguard says no: goal 0); needless rebuilds (dockguard says rebuild although
nothing any CI-built image reads changed: goal 0); with examples of each.

  bench/replay.py --dockguard BIN --clone QEMU-CLONE [--since 2023-03-01] [--limit N]
                  [--out FILE] [--gitlab-ci-local BIN] [--oracle BIN-OF-dockerfile_oracle]

Needs: git, gitlab-ci-local (4.70.1, in ./.tools after ./test.sh), the `dockerfile`
package (in ./.tools/venv after ./test.sh).
"""
import argparse
import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ZERO = "0" * 40
BUILDERS = [("docker", "build"), ("docker", "buildx", "build"), ("docker", "image", "build"),
            ("podman", "build"), ("buildah", "bud"), ("buildah", "build")]
VALUE_FLAGS = {"-f", "--file", "-t", "--tag", "--build-arg", "--target", "--cache-from",
               "--cache-to", "--platform", "--label", "--network", "--iidfile", "--progress",
               "--secret", "--ssh", "--output", "-o", "--build-context", "--add-host",
               "--ulimit", "--shm-size", "-m", "--memory", "--builder", "--metadata-file"}


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e["GIT_CONFIG_NOSYSTEM"] = "1"
    e["GIT_CONFIG_GLOBAL"] = "/dev/null"
    e.pop("DOCKGUARD_SKIP", None)
    return e


def git(repo, *args, check=True):
    out = subprocess.run(["git", "-C", repo, *args], capture_output=True, env=env())
    if check and out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr.decode(errors='replace')}")
    return out.stdout.decode(errors="surrogateescape")


class Ungraded(Exception):
    """A merge the grader cannot judge (said why)."""


class Oracle:
    """What the project's CI builds at a commit, and what each build reads."""

    def __init__(self, repo, gcl, df_oracle, work):
        self.repo, self.gcl, self.df_oracle, self.work = repo, gcl, df_oracle, work
        self.builds_cache = {}
        self.parse_cache = {}
        self.tree_cache = {}
        self.preview_seconds = 0.0
        self.previews = 0

    # --- builds, through gitlab-ci-local --preview --------------------------------
    def ci_key(self, commit):
        parts = []
        for p in (".gitlab-ci.yml", ".gitlab-ci.d"):
            parts.append(git(self.repo, "rev-parse", "--verify", "-q", f"{commit}:{p}",
                             check=False).strip())
        return "/".join(parts)

    def builds(self, commit):
        key = self.ci_key(commit)
        if key not in self.builds_cache:
            self.builds_cache[key] = self._builds(commit)
        return self.builds_cache[key]

    def _builds(self, commit):
        d = tempfile.mkdtemp(dir=self.work)
        try:
            paths = [p for p in (".gitlab-ci.yml", ".gitlab-ci.d")
                     if git(self.repo, "rev-parse", "--verify", "-q", f"{commit}:{p}",
                            check=False).strip()]
            if not paths:
                return None
            arch = subprocess.run(["git", "-C", self.repo, "archive", commit, *paths],
                                  capture_output=True, check=True, env=env()).stdout
            subprocess.run(["tar", "-x", "-C", d], input=arch, check=True)
            drop_needs(d)
            for args in (["init", "-q"], ["remote", "add", "origin",
                                          "https://gitlab.com/qemu-project/qemu.git"],
                         ["add", "-A"],
                         ["-c", "user.email=r@e", "-c", "user.name=r", "commit", "-qm", "x"],
                         ["update-ref", "refs/remotes/origin/master", "HEAD"],
                         ["symbolic-ref", "refs/remotes/origin/HEAD",
                          "refs/remotes/origin/master"]):
                subprocess.run(["git", "-C", d, *args], check=True, capture_output=True,
                               env=env())
            t = time.monotonic()
            # To a file, not a pipe: node exits before a large write to a pipe is flushed
            # (the preview was cut at ~64 KB).
            with open(os.path.join(d, "preview.out"), "wb") as fh:
                out = subprocess.run([self.gcl, "--preview"], cwd=d, stdout=fh,
                                     stderr=subprocess.PIPE, env={**env(), "HOME": d})
            with open(os.path.join(d, "preview.out"), "rb") as fh:
                out.stdout = fh.read()
            self.preview_seconds += time.monotonic() - t
            self.previews += 1
            if out.returncode != 0:
                return {"error": out.stderr.decode(errors="replace")[-500:]}
            try:
                return jobs_builds(out.stdout.decode())
            except Exception as e:  # noqa: BLE001 (reported as not graded)
                keep = os.path.join(tempfile.gettempdir(), f"replay-preview-{commit[:10]}.yml")
                with open(keep, "wb") as fh:
                    fh.write(out.stdout)
                return {"error": f"preview does not parse ({e}); kept in {keep}"}
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # --- what a build reads ----------------------------------------------------------
    def files(self, commit):
        if commit not in self.tree_cache:
            if len(self.tree_cache) > 8:
                self.tree_cache.clear()
            names = git(self.repo, "ls-tree", "-r", "-z", "--name-only", commit).split("\0")
            self.tree_cache[commit] = [n for n in names if n]
        return self.tree_cache[commit]

    def instructions(self, commit, path):
        oid = git(self.repo, "rev-parse", "--verify", "-q", f"{commit}:{path}",
                  check=False).strip()
        if not oid:
            return None
        if oid not in self.parse_cache:
            text = subprocess.run(["git", "-C", self.repo, "cat-file", "blob", oid],
                                  capture_output=True, env=env()).stdout
            f = os.path.join(self.work, "df")
            with open(f, "wb") as fh:
                fh.write(text)
            out = subprocess.run([*shlex.split(self.df_oracle), f], capture_output=True)
            lines = out.stdout.decode().splitlines()
            parsed = json.loads(lines[0]) if lines else {}
            if parsed.get("instructions") is None:
                raise Ungraded(f"BuildKit's parser cannot read {path} at {commit[:10]}: "
                               f"{parsed.get('error') or out.stderr.decode()[-200:]}")
            self.parse_cache[oid] = parsed["instructions"]
        return self.parse_cache[oid]

    def reads(self, commit, build, builds, seen=None):
        """The repository paths (and path prefixes, ending in /) a build reads."""
        seen = seen or set()
        dockerfile, context = build["dockerfile"], build["context"]
        if dockerfile in seen:
            return set()
        seen.add(dockerfile)
        ctx = "" if context in ("", ".") else context.rstrip("/") + "/"
        out = {dockerfile, dockerfile + ".dockerignore", ctx + ".dockerignore"}
        inst = self.instructions(commit, dockerfile)
        if inst is None:
            return out
        for i in inst:
            if i["cmd"] in ("copy", "add") and not any(
                    f.startswith("--from") for f in i["flags"]):
                for src in i["value"][:-1]:
                    if re.match(r"^[a-z]+://", src) or src.startswith("git@"):
                        continue
                    src = src.lstrip("/")
                    if src in ("", "."):
                        out.add(ctx)  # the whole context
                        continue
                    pat = ctx + src.rstrip("/")
                    if any(c in pat for c in "*?[$"):
                        pat = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "*", pat)
                        for f in self.files(commit):
                            if fnmatch.fnmatch(f, pat) or fnmatch.fnmatch(f, pat + "/*"):
                                out.add(f)
                    else:
                        out.add(pat)
                        out.add(pat + "/")
            if i["cmd"] == "from":
                ref = i["value"][0]
                m = re.search(r"qemu/([A-Za-z0-9._-]+?)(?::[A-Za-z0-9._-]+)?$", ref)
                if m:
                    parent = [b for b in builds if b["dockerfile"].endswith(
                        f"/{m.group(1)}.docker")]
                    for p in parent:
                        out |= self.reads(commit, p, builds, seen)
        return out


def drop_needs(d):
    """Removes every `needs:` key (with what is under it) from the CI files: gitlab-ci-local
    4.70.1 crashes on the map form QEMU used until 2023 (`needs: job: x`), and `needs`
    decides no build."""
    for root, _, files in os.walk(d):
        for f in files:
            if not f.endswith((".yml", ".yaml")):
                continue
            p = os.path.join(root, f)
            with open(p, encoding="utf-8", errors="surrogateescape") as fh:
                lines = fh.read().split("\n")
            out, skip = [], None
            for line in lines:
                if skip is not None:
                    ind = len(line) - len(line.lstrip())
                    if not line.strip() or ind > skip or (
                            ind == skip and line.lstrip().startswith("- ")):
                        continue
                    skip = None
                m = re.match(r"^(\s*)needs:", line)
                if m:
                    skip = len(m.group(1))
                    continue
                out.append(line)
            with open(p, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write("\n".join(out))


def jobs_builds(preview):
    """(job, dockerfile, context, args, target) of every job that may run."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    doc = yaml.load(preview, Loader=Loader) or {}
    out = []
    for name, job in doc.items():
        if not isinstance(job, dict) or name.startswith(".") or name in (
                "variables", "include", "stages", "workflow", "default", "spec"):
            continue
        if job.get("when") == "never":
            continue
        rules = job.get("rules")
        if isinstance(rules, list) and rules and all(
                isinstance(r, dict) and r.get("when") == "never" for r in rules):
            continue
        variables = {**(doc.get("variables") or {}), **(job.get("variables") or {})}
        variables = {k: (v.get("value") if isinstance(v, dict) else v)
                     for k, v in variables.items()}
        variables["CI_PROJECT_DIR"] = "."
        lines = []
        for key in ("before_script", "script"):
            v = job.get(key) or []
            lines += v if isinstance(v, list) else [v]
        # The lines run in one shell: assignments carry over.
        for line in lines:
            if isinstance(line, str):
                for b in build_lines(line, variables):
                    out.append({"job": name, **b})
    out.sort(key=lambda b: (b["dockerfile"], b["job"]))
    return out


UNSET = "\0"


def expand(text, variables):
    """`$V`, `${V}`, `${V:-default}`, `${V-default}` as a shell expands them; an unset
    variable is empty, and marked with UNSET (its value may come from the project's
    settings)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "'" :
            j = text.find("'", i + 1)
            j = len(text) if j < 0 else j
            out.append(text[i:j + 1])
            i = j + 1
            continue
        if c != "$":
            out.append(c)
            i += 1
            continue
        m = re.match(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)?([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
                     text[i:])
        if not m:
            out.append(c)
            i += 1
            continue
        name = m.group(1) or m.group(4)
        value = variables.get(name)
        if m.group(2):
            if value is None or (m.group(2) == ":-" and value == ""):
                value = expand(m.group(3), variables)
        if value is None:
            value = UNSET
        out.append(str(value))
        i += m.end()
    return "".join(out)


def build_lines(line, variables):
    """The builds a script line runs; `variables` takes its assignments."""
    out = []
    for cmd in re.split(r"&&|\|\||;|\n", line):
        try:
            raw = shlex.split(cmd)
        except ValueError:
            continue
        if raw and raw[0] == "export":
            raw = raw[1:]
        if raw and all(re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w) for w in raw):
            for w in raw:
                k, v = w.split("=", 1)
                variables[k] = expand(v, variables).replace(UNSET, "")
            continue
        try:
            words = shlex.split(expand(cmd, variables))
        except ValueError:
            continue
        for b in BUILDERS:
            if tuple(words[:len(b)]) == b:
                rest = words[len(b):]
                break
        else:
            continue
        rest = [w for w in rest if w != UNSET]
        f, target, args, pos, i = None, None, [], [], 0
        while i < len(rest):
            w = rest[i]
            if w in ("-f", "--file"):
                f = rest[i + 1] if i + 1 < len(rest) else None
                i += 2
            elif w.startswith("--file="):
                f = w.split("=", 1)[1]
                i += 1
            elif w == "--target":
                target = rest[i + 1] if i + 1 < len(rest) else None
                i += 2
            elif w == "--build-arg":
                args.append(rest[i + 1] if i + 1 < len(rest) else "")
                i += 2
            elif w in VALUE_FLAGS:
                i += 2
            elif w.startswith("-"):
                i += 1
            else:
                pos.append(w)
                i += 1
        context = pos[-1] if pos else None
        if context is None:
            continue
        unknown = UNSET in (f or "") or UNSET in context
        context = "" if context in (".", "./") else os.path.normpath(context)
        f = os.path.normpath(f) if f else (context + "/" if context else "") + "Dockerfile"
        out.append({"dockerfile": f, "context": context, "args": sorted(args),
                    "target": target, "unknown": unknown})
    return out


def touches(changed, reads):
    """The changed paths a build reads ("" or "dir/" in `reads`: everything below)."""
    prefixes = [r for r in reads if r == "" or r.endswith("/")]
    exact = {r for r in reads if r and not r.endswith("/")}
    return [p for p in changed if p in exact or any(p.startswith(x) for x in prefixes)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dockguard", required=True)
    ap.add_argument("--clone", required=True)
    ap.add_argument("--since", default="2023-03-01")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--gitlab-ci-local", default="gitlab-ci-local")
    ap.add_argument("--oracle", default="dockerfile-oracle",
                    help="the command that prints BuildKit's parse of a dockerfile "
                         "(tests/tools/dockerfile_oracle.py)")
    ap.add_argument("--branch", default="master")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dockguard-replay-")
    try:
        repo = os.path.join(work, "repo")
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", "-o", "upstream",
                        "--single-branch", "--branch", a.branch, a.clone, repo], check=True,
                       env=env())
        merges = git(repo, "rev-list", "--first-parent", "--merges", "--reverse",
                     f"--since={a.since}", f"upstream/{a.branch}").split()
        if a.limit:
            merges = merges[-a.limit:]
        oracle = Oracle(repo, a.gitlab_ci_local, a.oracle, work)
        home = os.path.join(work, "home")
        os.makedirs(home)
        rows, t_check = [], []
        for n, m in enumerate(merges):
            parents = git(repo, "rev-list", "--parents", "-n1", m).split()[1:]
            p1, p2 = parents[0], parents[1]
            git(repo, "update-ref", f"refs/remotes/upstream/{a.branch}", p1)
            git(repo, "symbolic-ref", "refs/remotes/upstream/HEAD",
                f"refs/remotes/upstream/{a.branch}")
            bases = git(repo, "merge-base", "--all", p1, p2).split()
            t = time.monotonic()
            run = subprocess.run([a.dockguard, "-C", repo, "check", "--format", "json", p2],
                                 capture_output=True, env={**env(), "HOME": home})
            t_check.append(time.monotonic() - t)
            try:
                verdict = json.loads(run.stdout)
                said = bool(verdict["rebuild"])
                images = [i["name"] for tv in verdict["targets"] for i in tv.get("images") or []]
            except (ValueError, KeyError):
                said, images = None, []
                err = run.stderr.decode(errors="replace").strip().splitlines()
                print(f"replay: {m[:10]}: dockguard exited {run.returncode}: "
                      f"{err[0] if err else ''}", file=sys.stderr)
            b_tip = oracle.builds(p2)
            if not isinstance(b_tip, list):
                rows.append({"merge": m, "said": said, "need": None,
                             "why": [f"no CI builds at M^2: {b_tip}"], "images": images})
                continue
            try:
                need, why = grade(oracle, repo, bases, p2, b_tip)
            except Ungraded as e:
                rows.append({"merge": m, "said": said, "need": None, "why": [str(e)],
                             "images": images})
                continue
            rows.append({"merge": m, "said": said, "need": need, "why": sorted(set(why)),
                         "images": images})
            if (n + 1) % 100 == 0:
                print(f"replay: {n + 1}/{len(merges)}", file=sys.stderr)
        report(a, rows, t_check, oracle)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grade(oracle, repo, bases, p2, b_tip):
    """Whether the branch p2 needs a rebuild against its merge-bases, and why."""
    if not bases:
        return True, ["no merge-base"]
    need, why = False, []
    key = lambda bs: sorted((x["dockerfile"], x["context"], tuple(x["args"]),  # noqa: E731
                             x["target"] or "") for x in bs)
    for b in bases:
        b_base = oracle.builds(b)
        if isinstance(b_base, list) and key(b_base) != key(b_tip):
            added = set(key(b_tip)) - set(key(b_base))
            removed = set(key(b_base)) - set(key(b_tip))
            if added:
                need = True
                why.append(f"builds added/changed: {sorted(x[0] for x in added)}")
            elif removed:
                why.append("builds removed (no rebuild needed): "
                           f"{sorted(x[0] for x in removed)}")
        changed = [c for c in git(repo, "diff", "--no-renames", "--name-only", b, p2)
                   .split("\n") if c]
        for commit, builds in ((b, b_base), (p2, b_tip)):
            if not isinstance(builds, list):
                continue
            for build in builds:
                if build["unknown"]:
                    why.append(f"unresolved build in job {build['job']}")
                    continue
                hit = touches(changed, oracle.reads(commit, build, builds))
                if hit:
                    need = True
                    why.append(f"{build['dockerfile']} reads {hit[0]}")
    return need, why


def report(a, rows, t_check, oracle):
    graded = [r for r in rows if r["need"] is not None and r["said"] is not None]
    missed = [r for r in graded if r["need"] and not r["said"]]
    needless = [r for r in graded if r["said"] and not r["need"]]
    needed = [r for r in graded if r["need"]]
    said = [r for r in graded if r["said"]]
    t_check.sort()
    med = t_check[len(t_check) // 2] if t_check else 0
    lines = [
        f"Replay of {len(rows)} merges of `{a.branch}` since {a.since} "
        f"(upstream := M^1, branch := M^2), zero configuration:",
        "",
        "| | merges |",
        "|---|---|",
        f"| replayed (graded) | {len(rows)} ({len(graded)}) |",
        f"| need a rebuild (CI-built image input or build changed) | {len(needed)} |",
        f"| dockguard: rebuild | {len(said)} |",
        f"| **dockerfile changes missed** (goal 0) | **{len(missed)}** |",
        f"| **needless rebuilds** (goal 0) | **{len(needless)}** |",
        "",
        f"`dockguard check` median {med * 1000:.1f} ms per merge; "
        f"{oracle.previews} distinct CI definitions resolved by gitlab-ci-local.",
    ]
    for title, rs in (("Missed", missed), ("Needless", needless)):
        if rs:
            lines += ["", f"{title} (first 10):"]
            for r in rs[:10]:
                lines.append(f"- {r['merge'][:10]}: needs: {'; '.join(r['why'][:3]) or '-'}; "
                             f"dockguard: {', '.join(r['images'][:5]) or '-'}")
    ungraded = [r for r in rows if r["need"] is None or r["said"] is None]
    if ungraded:
        lines += ["", f"Not graded: {len(ungraded)} (e.g. {ungraded[0]})"]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
