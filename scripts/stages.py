"""`make test`: every check of the collection, as stages run in parallel, with one summary line each.

usage: python scripts/stages.py [-j JOBS] [--only STAGE[,STAGE...]] [--list]
Run with .venv's Python (made by `make venv`). Stages wait for the environments they need,
which are made (or found up to date) by scripts/bootstrap.sh from PyPI. Each stage's output
goes to .tmp/stages/<stage>.log and is printed when the stage ends; the exit code is non-zero
when any stage fails. Pytest stages' closing lines are added up on the last line.
"""

import argparse
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import collection  # scripts/: the link to the sources

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOGS = ROOT / ".tmp" / "stages"
PYTEST = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-ra"]
# ansible-core x Python for the extra unit + integration runs (the main run is .venv: 2.19 / 3.11)
MATRIX = (("2.16", "3.11"), ("2.21", "3.13"))
VERSIONED_TESTS = ["tests/unit", "tests/client", "tests/integration", "tests/interop"]
NOISE = re.compile(r"^(WARNING: Location '.*' is ignored|\s*Downloading |Collecting |Processing /|\s*━|Looking in "
                   r"|Using cached pip|Requirement already|  Using cached|Installing collected|Successfully installed"
                   r"|Installing requirements for Python)")


def venv_python(name):
    return str(ROOT / name / "bin" / "python")


class Stage:
    def __init__(self, name, cmd, needs=(), env=None, cwd=ROOT, timeout=1800, pytest=False, setup=False):
        self.name, self.cmd, self.needs, self.env, self.cwd = name, cmd, tuple(needs), env or {}, cwd
        self.timeout, self.pytest, self.setup = timeout, pytest, setup
        self.proc = self.log = self.started = None
        self.seconds = 0.0
        self.status = "WAIT"
        self.counts = {}


def tool_bin():
    """A PATH entry holding only the shellcheck binary of .venv-tools (for ansible-test's shellcheck test)."""
    path = LOGS / "bin"
    path.mkdir(parents=True, exist_ok=True)
    link = path / "shellcheck"
    if not link.is_symlink():
        link.symlink_to(ROOT / ".venv-tools" / "bin" / "shellcheck")
    return str(path)


def stages():
    here = sys.executable
    bootstrap = str(ROOT / "scripts" / "bootstrap.sh")
    collections, source = collection.source_link()
    path = os.environ.get("PATH", "")
    found = [
        Stage("venv-tools", [bootstrap, ".venv-tools", "3.11", "-r", "scripts/requirements/tools.txt"], setup=True),
        Stage("venv-lint", [bootstrap, ".venv-lint", "3.11", "-r", "scripts/requirements/lint.txt"], setup=True),
        Stage("pytest-2.19-py3.11", [here] + PYTEST + ["--basetemp", str(LOGS / "tmp-main"), "tests"], pytest=True),
    ]
    for core, python in MATRIX:
        venv = ".venv-%s-py%s" % (core, python)
        major, minor = core.split(".")
        spec = "ansible-core>=%s,<%s.%d" % (core, major, int(minor) + 1)
        found.append(Stage("venv-%s-py%s" % (core, python), [bootstrap, venv, python, spec], setup=True))
        found.append(Stage("tests-%s-py%s" % (core, python),
                           [venv_python(venv)] + PYTEST + ["--basetemp", str(LOGS / ("tmp-" + core))] + VERSIONED_TESTS,
                           needs=["venv-%s-py%s" % (core, python)], pytest=True))
    found += [
        Stage("sanity", [here, "scripts/sanity.py"], needs=["venv-tools"],
              env={"PATH": "%s:%s" % (LOGS / "bin", path)}),
        Stage("compile-py3.9-3.13", [here, "scripts/compile_check.py"]),
        Stage("tarball", [here, "scripts/check_tarball.py"]),
        Stage("ansible-lint", [str(ROOT / ".venv-lint" / "bin" / "ansible-lint"), "--offline", "--profile", "production",
                               "--nocolor", "docs/examples/"], needs=["venv-lint"],
              env={"ANSIBLE_COLLECTIONS_PATH": str(collections), "NO_COLOR": "1",
                   "PATH": "%s:%s" % (ROOT / ".venv-lint" / "bin", path)}),
        Stage("plugin-docs", ["bash", "-c", 'set -e; "$TOOLS/python" scripts/plugin_docs.py check; cd "$SOURCE"; '
                              '"$TOOLS/antsibull-docs" lint-collection-docs --plugin-docs --skip-rstcheck . '
                              '&& echo "docs: antsibull-docs lint-collection-docs --plugin-docs: no findings"'],
              needs=["venv-tools"],
              env={"TOOLS": str(ROOT / ".venv-tools" / "bin"), "SOURCE": str(source),
                   "ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                   "PATH": "%s:%s" % (ROOT / ".venv-tools" / "bin", path)}),
        Stage("changelog", [venv_python(".venv-tools"), "scripts/changelog.py", "check"], needs=["venv-tools"]),
        Stage("ee-builder", [venv_python(".venv-tools"), "scripts/check_ee.py"], needs=["venv-tools"]),
    ]
    return found


# the order in which ready stages start: the long ones first, so the two slots end together
PRIORITY = ["pytest-2.19-py3.11", "venv-tools", "venv-2.16-py3.11", "venv-2.21-py3.13", "tests-2.16-py3.11",
            "tests-2.21-py3.13", "sanity", "compile-py3.9-3.13", "venv-lint", "ansible-lint", "tarball",
            "plugin-docs", "changelog", "ee-builder"]


def pytest_counts(text):
    lines = [line for line in text.splitlines() if re.search(r"\b(passed|failed|error|errors|skipped|no tests ran)\b", line)
             and re.search(r" in [0-9.]+s", line)]
    counts = {}
    if lines:
        for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)", lines[-1]):
            word = "error" if word.startswith("error") else word
            counts[word] = counts.get(word, 0) + int(number)
    return counts


def start(stage):
    LOGS.mkdir(parents=True, exist_ok=True)
    if stage.name == "sanity":
        tool_bin()
    stage.log = open(LOGS / ("%s.log" % stage.name), "w", encoding="utf-8")  # pylint: disable=consider-using-with
    env = dict(os.environ, PYTHONUNBUFFERED="1", **stage.env)
    stage.started = time.time()
    stage.status = "RUN"
    print("stage %-20s started" % stage.name, flush=True)
    stage.proc = subprocess.Popen(stage.cmd, cwd=str(stage.cwd), env=env, stdout=stage.log,  # pylint: disable=consider-using-with
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def stop(stage):
    """End a stage's process group (only ever one this script started)."""
    if stage.proc is not None and stage.proc.poll() is None:
        try:
            os.killpg(stage.proc.pid, signal.SIGTERM)
            stage.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(stage.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def finish(stage, code):
    stage.seconds = time.time() - stage.started
    stage.log.close()
    text = (LOGS / ("%s.log" % stage.name)).read_text(encoding="utf-8", errors="replace")
    if stage.pytest:
        stage.counts = pytest_counts(text)
        if code == 0 and not stage.counts.get("passed"):
            code = 1  # a pytest stage that ran no test has not checked anything
            text += "\nstages.py: this pytest run passed no test\n"
    stage.status = "PASS" if code == 0 else "FAIL"
    shown = [line for line in text.splitlines() if not NOISE.match(line)]
    print("\n----- %s: %s (%.1fs; exit %s; full log .tmp/stages/%s.log) -----"
          % (stage.name, stage.status, stage.seconds, code, stage.name))
    print("\n".join(shown).rstrip())
    print("----- end of %s -----\n" % stage.name, flush=True)


def schedule(selected, jobs):
    pending = {s.name: s for s in selected}
    running = []
    done = {}
    while pending or running:
        for stage in list(running):
            code = stage.proc.poll()
            if code is None and time.time() - stage.started > stage.timeout:
                stop(stage)
                code = "timeout after %ds" % stage.timeout
            if code is not None:
                running.remove(stage)
                finish(stage, code)
                done[stage.name] = stage
        for name in sorted(pending, key=lambda n: PRIORITY.index(n) if n in PRIORITY else len(PRIORITY)):
            stage = pending[name]
            if any(need in done and done[need].status != "PASS" for need in stage.needs):
                stage.status = "FAIL"
                print("stage %-20s skipped: a stage it needs failed" % name, flush=True)
                done[name] = pending.pop(name)
                continue
            if len(running) < jobs and all(need in done for need in stage.needs):
                start(stage)
                running.append(pending.pop(name))
        time.sleep(0.5)
    return done


def with_needs(names, everything):
    by_name = {s.name: s for s in everything}
    wanted = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in by_name:
            raise SystemExit("unknown stage %r; stages: %s" % (name, ", ".join(by_name)))
        if name not in wanted:
            wanted.add(name)
            todo += list(by_name[name].needs)
    return [s for s in everything if s.name in wanted]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("JOBS", "2")))
    parser.add_argument("--only", default="")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    everything = stages()
    if args.list:
        print("\n".join(s.name for s in everything))
        return 0
    selected = with_needs([n for n in args.only.split(",") if n], everything) if args.only else everything
    began = time.time()
    print("make test: %d stages, %d at a time (logs in .tmp/stages/)" % (len(selected), max(1, args.jobs)), flush=True)
    try:
        done = schedule(selected, max(1, args.jobs))
    except KeyboardInterrupt:
        for stage in selected:
            stop(stage)
        raise
    print("===== summary =====")
    for stage in selected:
        result = done[stage.name]
        extra = ""
        if result.counts:
            extra = "  (%s)" % ", ".join("%d %s" % (n, w) for w, n in sorted(result.counts.items()))
        print("%-22s %-4s %8.1fs%s" % (stage.name, result.status, result.seconds, extra))
    failed = [s.name for s in selected if done[s.name].status != "PASS"]
    totals = {}
    for stage in selected:
        for word, number in done[stage.name].counts.items():
            totals[word] = totals.get(word, 0) + number
    names = " (%s)" % ", ".join(failed) if failed else ""
    print("stages: %d passed, %d failed%s in %.0fs"
          % (len(selected) - len(failed), len(failed), names, time.time() - began))
    if totals:
        failures = totals.get("failed", 0) + totals.get("error", 0)
        line = "pytest: %d passed, %d failed" % (totals.get("passed", 0), failures)
        if totals.get("skipped"):
            line += ", %d skipped" % totals["skipped"]
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
