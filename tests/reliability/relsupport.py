"""Helpers of the reliability tests (plain functions; fixtures live in conftest.py)."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORKER = HERE / "client_worker.py"
LOGIN = "POST /connect/token"
GET_BY_IDS = "POST /secrets/get-by-ids"
GET_ONE = "GET /secrets/{id}"
SYNC = "GET /organizations/{org}/secrets/sync"
CREATE = "POST /organizations/{org}/secrets"
PROD = "b0000000-0000-4000-8000-000000000001"
STAGING = "b0000000-0000-4000-8000-000000000002"


def options(emu, state_dir=None, token="ci", **extra):
    """Connection options for our client against ``emu`` (state file only with ``state_dir``)."""
    opts = {"access_token": emu.info["tokens"][token] if token in emu.info["tokens"] else token,
            "server_url": emu.info["server_url"], "state_dir": state_dir,
            "use_state_file": state_dir is not None}
    opts.update(extra)
    return opts


def plain(vectors, name):
    """A seeded secret of the vectors by its short name ("ascii", "unicode"...)."""
    return next(c for c in vectors["seeded_secrets"] if c["name"] == name)


def visible(vectors):
    """The seeded secrets the ci machine account can read."""
    return [c for c in vectors["seeded_secrets"] if c.get("visible_to_ci")]


def routes(emu):
    return emu.stats()["routes"]


def settle():
    """Let a second pass after the last write (the emulator's seed, say) before a sync whose
    successor must say "no changes": the client's sync date is the answer's Date header (whole
    seconds) less the request's time, so a write in the second before a sync is reported again."""
    time.sleep(1.1)


def wait_for(predicate, timeout, interval=0.02):
    """Poll ``predicate`` until true or ``timeout`` seconds (returns its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def start_workers(opts, workers, result_dir, go_file=None, ready_dir=None):
    """Real client processes forked from one fresh interpreter (see ``client_worker.py``).

    ``workers`` is a list of (mode, terms, project): mode "ids" is one get-by-ids, "names"
    goes through the shared sync cache. Read the results with ``workers_result``.
    """
    os.makedirs(result_dir, exist_ok=True)
    job = {"options": opts, "workers": [{"mode": m, "terms": t, "project": p} for m, t, p in workers],
           "result_dir": str(result_dir), "go_file": go_file, "ready_dir": ready_dir,
           "collections": str(ROOT / ".tmp" / "src")}
    return subprocess.Popen([sys.executable, str(WORKER), json.dumps(job)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def workers_result(proc, timeout):
    """The list of per-worker results (``{"values", "logins", "pid"}`` or ``{"error"}``)."""
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert proc.returncode == 0 and lines, "workers failed (rc %s): %s %s" % (
        proc.returncode, out[-2000:], err[-2000:])
    return json.loads(lines[-1])


def stop(proc, ready_dir=None):
    """Kill a launcher and whichever of its workers (pids announced in ``ready_dir``) still run."""
    if ready_dir and os.path.isdir(ready_dir):
        for name in os.listdir(ready_dir):
            try:
                with open("/proc/%s/cmdline" % name, "rb") as handle:
                    mine = b"client_worker.py" in handle.read()
                if mine:
                    os.kill(int(name), 9)
            except (OSError, ValueError):
                pass
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def integration_runner_class():
    """The ``Runner`` of tests/integration/conftest.py (real ansible-playbook runs)."""
    path = ROOT / "tests" / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("bws_integration_harness", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Runner


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
