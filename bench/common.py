"""Shared pieces of the benchmark: paths, the seeded world, timing helpers, machine facts.

Everything here is stdlib only, so ``bench/run.py`` can start before the collection is
installed. The world is deterministic (fixed ids, values from a seeded PRNG), which lets
every playbook and micro-benchmark compare what it got with what was seeded.
"""

import collections
import json
import os
import pathlib
import platform
import random
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PLAYBOOKS = BENCH / "playbooks"
WORK = ROOT / ".tmp" / "bench"
sys.path.insert(0, str(ROOT / "tests" / "emulator"))
sys.path.insert(0, str(ROOT / "scripts"))  # collection.py: install, playbook_env

BENCH_PROJECT = "Bench"
FILLER_PROJECT = "Filler"
BIG_PROJECT = "Big"
ACCOUNT = "bench"
# Printable ASCII a secret value typically holds; no "{" so the env baseline never templates.
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/+=@%!#"


class BenchError(RuntimeError):
    """A benchmark run failed or returned a wrong value: the benchmark fails."""


def secret_id(group, index):
    """Deterministic UUIDs: group 1 = Bench, 2 = Filler, 3 = Big."""
    return "be%06d-0000-4000-8000-%012d" % (group, index)


def typical_values(count, seed=6, low=20, high=60):
    """``count`` values of 20-60 characters, the same for a given seed."""
    rng = random.Random(seed)
    return ["".join(rng.choice(_ALPHABET) for _char in range(rng.randint(low, high))) for _value in range(count)]


Row = collections.namedtuple("Row", "id key value")


class World:
    """The seeded organization: ``bench`` secrets used by the plays, filler, an optional big project.

    ``bench``, ``filler`` and ``big`` are lists of ``Row(id, key, value)``.
    """

    def __init__(self, bench=10, filler=40, big=0):
        values = typical_values(bench + filler + big)
        self.bench = [Row(secret_id(1, i), "BENCH_%02d" % i, values[i - 1]) for i in range(1, bench + 1)]
        self.filler = [Row(secret_id(2, i), "FILL_%04d" % i, values[bench + i - 1]) for i in range(1, filler + 1)]
        self.big = [Row(secret_id(3, i), "BIG_%05d" % i, values[bench + filler + i - 1]) for i in range(1, big + 1)]

    @property
    def size(self):
        return len(self.bench) + len(self.filler) + len(self.big)

    def seed(self):
        """The emulator seed (tests/emulator/README.md) for this world."""
        projects = [BENCH_PROJECT] + ([FILLER_PROJECT] if self.filler else []) + ([BIG_PROJECT] if self.big else [])
        secrets = []
        for project, rows in ((BENCH_PROJECT, self.bench), (FILLER_PROJECT, self.filler), (BIG_PROJECT, self.big)):
            secrets += [{"id": row.id, "key": row.key, "value": row.value, "note": "", "project": project}
                        for row in rows]
        return {"projects": [{"name": name} for name in projects],
                "machine_accounts": [{"name": ACCOUNT, "grants": dict((name, "read") for name in projects)}],
                "secrets": secrets}

    def write_seed(self, directory):
        path = pathlib.Path(directory) / ("seed-%d.json" % self.size)
        path.write_text(json.dumps(self.seed()))
        return str(path)


def env_name(index):
    """The environment variable holding bench secret ``index`` (1-based) for the baseline."""
    return "BENCH_V%02d" % index


def median(values):
    return statistics.median(values) if values else float("nan")


class Measure:
    """Wall time and CPU (this process and waited-for children) of a block.

    ``children`` uses RUSAGE_CHILDREN deltas: it counts every descendant reaped inside the
    block (ansible-playbook and its forked workers), and nothing of the still running emulator.
    """

    def __enter__(self):
        self._self0 = time.process_time()
        self._kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall0
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children = (kids.ru_utime - self._kids0.ru_utime) + (kids.ru_stime - self._kids0.ru_stime)
        self.own = time.process_time() - self._self0
        return False


def machine():
    """Facts to reproduce a result: date, CPU, cores, Python, ansible-core, commit."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from ansible.release import __version__ as core
    except ImportError:
        core = "not installed"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "ansible_core": core,
        "platform": platform.platform(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "load": list(os.getloadavg()),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


_STARTED = time.monotonic()


def log(message):
    print("[%4.0fs] %s" % (time.monotonic() - _STARTED, message), file=sys.stderr, flush=True)
