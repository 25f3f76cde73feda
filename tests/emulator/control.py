# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop the emulator from tests and benchmarks (stdlib only).

    with Emulator(tls=True, seed=VECTORS_SEED) as emu:
        emu.info["api_url"], emu.info["access_token"], emu.info["ca_file"]
        emu.faults({"rate_limit": {"every": 3, "retry_after": 1}})
        emu.stats()["routes"]["POST /secrets/get-by-ids"]

The server runs in its own process (``bws_emulator.py --port 0 --exit-with-parent``); its
stderr goes to a log file (``emu.log_text()``), never to a pipe nobody reads.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
EMULATOR = HERE / "bws_emulator.py"
VECTORS_SEED = HERE / "seeds" / "vectors.json"


class EmulatorError(RuntimeError):
    """The emulator did not start, or an admin call failed."""


class Emulator:
    """A context manager around one emulator subprocess."""

    def __init__(self, *, tls=False, seed=None, extra_args=(), python=sys.executable, env=None,
                 start_timeout=20.0):
        self.tls = tls
        self.seed = seed
        self.extra_args = tuple(extra_args)
        self.python = python
        self.env = env
        self.start_timeout = start_timeout
        self.info = None
        self.proc = None
        self._log_dir = None
        self._log_file = None
        self._opener = None

    # -- lifecycle --------------------------------------------------------------------

    def command(self):
        cmd = [self.python, str(EMULATOR), "--port", "0", "--exit-with-parent"]
        if self.tls:
            cmd.append("--tls")
        if self.seed:
            cmd += ["--seed", str(self.seed)]
        return cmd + list(self.extra_args)

    def start(self):
        """Spawn the server, wait for its JSON line (``start_timeout`` s) and return it."""
        if self.proc is not None:
            raise EmulatorError("already started")
        self._log_dir = tempfile.mkdtemp(prefix="bws-emulator-log-")
        self._log_file = open(os.path.join(self._log_dir, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._log_file, env=self.env, close_fds=True)
        line = self._first_line()
        try:
            self.info = json.loads(line)
        except ValueError:
            self.stop()
            raise EmulatorError("emulator printed something that is not JSON") from None
        self._opener = self._make_opener()
        return self.info

    def _first_line(self):
        lines = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()),
                         daemon=True).start()
        try:
            line = lines.get(timeout=self.start_timeout)
        except queue.Empty:
            line = b""
        if not line.strip():
            log = self.log_text()
            self.stop()
            raise EmulatorError("emulator did not start within %.0f s:\n%s"
                                % (self.start_timeout, log[-4000:]))
        return line.decode("utf-8")

    def stop(self):
        """Terminate the server and reap it (no zombie); safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout:
                proc.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def cleanup(self):
        """Stop and remove the log directory."""
        self.stop()
        if self._log_dir:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def log_text(self):
        """What the emulator wrote to stderr so far."""
        if not self._log_dir:
            return ""
        try:
            with open(os.path.join(self._log_dir, "stderr.log"), "rb") as handle:
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- convenience ------------------------------------------------------------------

    @property
    def server_url(self):
        return self.info["server_url"]

    @property
    def ca_file(self):
        return self.info.get("ca_file")

    def ssl_context(self):
        """An SSLContext trusting the emulator's CA (None without TLS)."""
        if not self.ca_file:
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    def _make_opener(self):
        handlers = [urllib.request.ProxyHandler({})]  # never send loopback calls via a proxy
        if self.ca_file:
            handlers.append(urllib.request.HTTPSHandler(context=self.ssl_context()))
        return urllib.request.build_opener(*handlers)

    # -- admin API --------------------------------------------------------------------

    def admin(self, method, path, body=None):
        """Call ``/_admin/<path>`` and return the decoded JSON answer."""
        if self.info is None:
            raise EmulatorError("not started")
        if not path.startswith("/"):
            path = "/_admin/" + path
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.server_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with self._opener.open(request, timeout=30) as answer:
                return json.loads(answer.read().decode("utf-8") or "null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise EmulatorError("admin %s %s -> %d %s" % (method, path, exc.code, detail)) from None

    def stats(self):
        return self.admin("GET", "stats")

    def reset(self):
        return self.admin("POST", "reset")

    def faults(self, cfg):
        """Replace the fault-injection config (``{}`` clears it)."""
        return self.admin("POST", "faults", cfg)

    def revoke(self, token_id):
        return self.admin("POST", "revoke", {"token_id": token_id})

    def unrevoke(self, token_id):
        return self.admin("POST", "unrevoke", {"token_id": token_id})

    def expire_jwts(self, token_id=None):
        return self.admin("POST", "expire-jwts", {"token_id": token_id} if token_id else {})

    def secrets(self, ciphertext=False):
        return self.admin("GET", "/_admin/secrets" + ("?ciphertext=1" if ciphertext else ""))

    def projects(self):
        return self.admin("GET", "projects")
