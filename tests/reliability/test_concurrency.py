"""Many real processes, one state directory: one login, right values, never a torn file.

Every client here is a separate interpreter (``client_worker.py``) or a real ansible-playbook
run; the emulator counts what reached it. While the processes run, a sampler thread reads
every file of the state directory in a loop and checks that each one decrypts under the
token key (or is a ``.bws-tmp-*`` temp file): a partial write would fail its MAC.
"""

import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._cache import CACHE_VERSION, SecretsCache, cache_path, discard
from ansible_collections.bws.secrets.plugins.module_utils._crypto import decrypt_text, encrypt_text
from ansible_collections.bws.secrets.plugins.module_utils._errors import StateFileError
from ansible_collections.bws.secrets.plugins.module_utils._options import connect
from ansible_collections.bws.secrets.plugins.module_utils._state import STATE_VERSION
from ansible_collections.bws.secrets.plugins.module_utils._task_answers import ANSWER_INFIX
from ansible_collections.bws.secrets.plugins.module_utils._token import ClientToken

from relsupport import (GET_BY_IDS, LOGIN, PROD, ROOT, SYNC, integration_runner_class, options, plain, routes,
                        settle, start_workers, stop, visible, wait_for, workers_result)

CACHE_SUFFIX = ".bws-secrets-cache"
TMP_PREFIX = ".bws-tmp-"
PLAYBOOKS = os.path.join(os.path.dirname(__file__), "playbooks")


class DirSampler(threading.Thread):
    """Reads every file of ``directory`` in a loop (bounded in count and time) and records
    anything that is not a complete file of ours: wrong name, wrong mode, or content that
    does not decrypt under the token key to the expected document."""

    def __init__(self, directory, token, org_key_b64, max_samples=50000, max_seconds=90.0):
        super().__init__(daemon=True)
        self.directory = directory
        self.token = token
        self.org_key_b64 = org_key_b64
        self.max_samples = max_samples
        self.max_seconds = max_seconds
        self.stop_event = threading.Event()
        self.problems = []
        self.samples = 0
        self.seen = {"state": 0, "cache": 0, "tmp": 0}

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self.stop_event.is_set() and self.samples < self.max_samples and time.monotonic() < deadline:
            self.sample()
            time.sleep(0.0005)

    def sample(self):
        self.samples += 1
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        mode = None
        try:
            mode = stat.S_IMODE(os.stat(self.directory).st_mode)
        except FileNotFoundError:
            return
        if mode != 0o700:
            self.problem("state directory has mode %o" % mode)
        for name in names:
            self.check(name)

    def check(self, name):
        path = os.path.join(self.directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return  # renamed or removed since listdir: fine
        except OSError as exc:
            self.problem("%s: cannot open (%s)" % (name, exc))
            return
        try:
            info = os.fstat(fd)
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = handle.read()
        finally:
            os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            self.problem("%s is not a regular file" % name)
            return
        if stat.S_IMODE(info.st_mode) != 0o600:
            self.problem("%s has mode %o" % (name, stat.S_IMODE(info.st_mode)))
        if name.startswith(TMP_PREFIX):
            self.seen["tmp"] += 1
            return
        token_id = self.token.access_token_id
        if name == token_id:
            self.check_doc(name, data, ("version", "token", "encryption_key"), "state", STATE_VERSION)
        elif name == token_id + CACHE_SUFFIX:
            self.check_doc(name, data, ("version", "api_url", "org_id", "synced_at", "fetched_at", "secrets", "keys"),
                           "cache", CACHE_VERSION)
        else:
            self.problem("unexpected file %s" % name)

    def check_doc(self, name, data, fields, kind, version):
        try:
            doc = json.loads(decrypt_text(self.token.encryption_key, data.decode("ascii")))
        except Exception as exc:  # any failure is a torn, partial or foreign file
            self.problem("%s (%d bytes) does not decrypt: %s" % (name, len(data), type(exc).__name__))
            return
        if not isinstance(doc, dict) or sorted(doc) != sorted(fields) or doc.get("version") != version:
            self.problem("%s holds an unexpected document" % name)
            return
        if kind == "state" and doc["encryption_key"] != self.org_key_b64:
            self.problem("%s holds a wrong org key" % name)
        if kind == "cache" and (not doc["secrets"] or len(doc["keys"]) != len(doc["secrets"])):
            self.problem("%s holds no secrets, or not a key name for each" % name)
        self.seen[kind] += 1

    def problem(self, text):
        if len(self.problems) < 50:
            self.problems.append(text)

    def stop(self):
        self.stop_event.set()
        self.join(10)


def _expected(vectors, names):
    return [plain(vectors, n)["plaintext"]["value"] for n in names]


def _jobs(vectors):
    """Two kinds of worker: (mode, terms, project, expected values).

    "ids": every visible secret in one get-by-ids; "names": five key names of Production
    through the shared sync cache (so the cache file is written under contention too)."""
    ids = [c["name"] for c in visible(vectors)]
    by_id = ("ids", [plain(vectors, n)["id"] for n in ids], None, _expected(vectors, ids))
    prod_names = ["ascii", "multiline", "long_10k", "unicode", "empty_note"]
    by_name = ("names", [plain(vectors, n)["plaintext"]["key"] for n in prod_names], "Production",
               _expected(vectors, prod_names))
    return by_id, by_name


def _launch(emu, vectors, state_dir, tmp_path, count, label):
    """``count`` workers (ids and names alternating) that wait for the go file."""
    jobs = _jobs(vectors)
    ready, go = tmp_path / (label + "-ready"), str(tmp_path / (label + "-go"))
    ready.mkdir()
    workers = [jobs[i % 2][:3] for i in range(count)]
    proc = start_workers(options(emu, state_dir), workers, tmp_path / (label + "-results"),
                         go_file=go, ready_dir=str(ready))
    return proc, str(ready), go, [jobs[i % 2][3] for i in range(count)]


def _final_listing_is_clean(state_dir, token, with_cache=True, answers=0):
    """Only the state file, the cache and ``answers`` shared answers (each decrypting under the
    token key) are left: no temp file, no lock file, nothing else."""
    want = {token.access_token_id} | ({token.access_token_id + CACHE_SUFFIX} if with_cache else set())
    names = set(os.listdir(state_dir))
    shared = set(n for n in names if n.startswith(token.access_token_id + ANSWER_INFIX))
    assert names - shared == want and len(shared) == answers
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
    for name in want | shared:
        assert stat.S_IMODE(os.lstat(os.path.join(state_dir, name)).st_mode) == 0o600
    for name in shared:
        with open(os.path.join(state_dir, name)) as handle:
            assert json.loads(decrypt_text(token.encryption_key, handle.read()))["answer"]["secrets"]


def test_32_processes_one_empty_state_dir(emu, vectors, tmp_path):
    """32 processes start together on a state dir that does not exist yet: exactly one login,
    every process gets its values, and no file in the directory is ever incomplete."""
    token = ClientToken.from_str(vectors["access_token"]["token"])
    state_dir = str(tmp_path / "state")
    # the one login takes 0.4 s, so the other 31 processes pile up on the lock meanwhile
    emu.faults({"hang": [{"route": LOGIN, "seconds": 0.4, "count": 1}]})
    emu.reset()
    sampler = DirSampler(state_dir, token, vectors["organization"]["org_key_b64"])
    proc, ready, go, wanted = _launch(emu, vectors, state_dir, tmp_path, 32, "all")
    try:
        assert wait_for(lambda: len(os.listdir(ready)) == 32, 60), "workers did not start"
        assert not os.path.exists(state_dir)
        sampler.start()
        open(go, "w").close()
        results = workers_result(proc, 120)
    finally:
        sampler.stop()
        stop(proc, ready)
    assert len(set(r["pid"] for r in results)) == 32
    for result, want in zip(results, wanted):
        assert result.get("values") == want, result.get("error")
    assert sum(result["logins"] for result in results) == 1
    stats = emu.stats()
    assert stats["routes"][LOGIN] == 1 and stats["logins"] == 1
    assert stats["routes"][GET_BY_IDS] == 16 and stats["routes"][SYNC] == 16
    assert sampler.problems == []
    assert sampler.samples >= 20 and sampler.seen["state"] >= 1 and sampler.seen["cache"] >= 1, \
        (sampler.samples, sampler.seen)
    _final_listing_is_clean(state_dir, token)


def test_sampler_catches_a_torn_write(vectors, tmp_path):
    """The sampler above is able to fail: a writer that writes in place (no temp file, no
    rename) is caught with a file that does not decrypt."""
    token = ClientToken.from_str(vectors["access_token"]["token"])
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    os.chmod(state_dir, 0o700)
    doc = json.dumps({"version": 1, "token": "a.b.c", "encryption_key": vectors["organization"]["org_key_b64"]})
    data = encrypt_text(token.encryption_key, doc).encode()
    path = state_dir / token.access_token_id
    sampler = DirSampler(str(state_dir), token, vectors["organization"]["org_key_b64"], max_seconds=10)
    sampler.start()
    try:
        for dummy in range(40):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, data[:len(data) // 2])
            time.sleep(0.01)
            os.write(fd, data[len(data) // 2:])
            os.close(fd)
            if sampler.problems:
                break
    finally:
        sampler.stop()
    assert any("does not decrypt" in p for p in sampler.problems), sampler.problems


def test_killed_lock_holder_does_not_block_the_others(emu, vectors, tmp_path):
    """A process killed (SIGKILL) while it holds the lock, in the middle of its login, does not
    block the others: they wait while it lives, then one of them logs in and all succeed."""
    token = ClientToken.from_str(vectors["access_token"]["token"])
    state_dir = str(tmp_path / "state")
    emu.faults({"hang": [{"route": LOGIN, "seconds": 30, "count": 1}]})
    emu.reset()
    holder_ready = tmp_path / "holder-ready"
    holder_ready.mkdir()
    holder = start_workers(options(emu, state_dir), [_jobs(vectors)[0][:3]], tmp_path / "holder-results",
                           ready_dir=str(holder_ready))
    proc = ready = None
    try:
        assert wait_for(lambda: routes(emu).get(LOGIN), 30), "the holder never reached its login"
        (holder_pid,) = [int(name) for name in os.listdir(holder_ready)]
        proc, ready, go, wanted = _launch(emu, vectors, state_dir, tmp_path, 8, "others")
        assert wait_for(lambda: len(os.listdir(ready)) == 8, 60)
        open(go, "w").close()
        time.sleep(1.0)
        assert not os.listdir(tmp_path / "others-results")  # all 8 wait for the holder's lock
        os.kill(holder_pid, signal.SIGKILL)
        results = workers_result(proc, 60)
        assert "crashed" in workers_result(holder, 10)[0]["error"]  # it really died
    finally:
        stop(holder, str(holder_ready))
        if proc is not None:
            stop(proc, ready)
    for result, want in zip(results, wanted):
        assert result.get("values") == want, result.get("error")
    assert sum(r["logins"] for r in results) == 1
    assert routes(emu)[LOGIN] == 2  # the killed holder's (still hanging on the server) + one
    _final_listing_is_clean(state_dir, token)


@pytest.mark.parametrize("share", [True, False])
def test_fifty_hosts_forks_25_log_in_once(emu, vectors, collections_path, tmp_path, share):
    """A play over 50 hosts with forks 25, by id and by name: one login for the whole play.
    Sharing answers, each task asks once; not sharing, every host asks, 25 at a time."""
    runner = integration_runner_class()(collections_path, emu, tmp_path)
    inventory = runner.hosts_inventory(50)
    extra = {"ids": [plain(vectors, n)["id"] for n in ("ascii", "unicode")],
             "want": _expected(vectors, ["ascii", "unicode"]),
             "want_tls": plain(vectors, "multiline")["plaintext"]["value"]}
    emu.reset()
    result = runner.run(os.path.join(PLAYBOOKS, "many_hosts.yml"), extra, forks=25, inventory=inventory,
                        env={"BWS_SHARE_ACROSS_HOSTS": str(share).lower()})
    assert result.returncode == 0, result.stdout[-4000:]
    recap = [line for line in result.stdout.splitlines() if line.startswith("h0")]
    assert len(recap) == 50 and all("ok=3" in line and "failed=0" in line for line in recap), recap[:3]
    stats = emu.stats()
    assert stats["routes"][LOGIN] == 1 and stats["logins"] == 1
    assert stats["routes"][GET_BY_IDS] == (1 if share else 50)
    if share:
        assert stats["routes"][SYNC] == 1
    else:
        assert stats["routes"][SYNC] <= 50
    token = ClientToken.from_str(vectors["access_token"]["token"])
    _final_listing_is_clean(runner.state_dir, token, answers=2 if share else 0)


_KILLED_WRITER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.bws.secrets.plugins.module_utils import _state
from ansible_collections.bws.secrets.plugins.module_utils._token import ClientToken

state_dir, token, ready = sys.argv[2], sys.argv[3], sys.argv[4]
key = ClientToken.from_str(token).encryption_key

def stuck_replace(src, dst):  # the temp file is written and synced: die before the rename
    open(ready, "w").close()
    time.sleep(60)

_state.os.replace = stuck_replace
state = _state.StateFile(os.path.join(state_dir, ClientToken.from_str(token).access_token_id), key)
with state.locked():
    state.save("a.b.c", "QUFBQQ==")
"""


def test_temp_file_of_a_writer_killed_mid_write_is_removed(emu, vectors, tmp_path):
    token = ClientToken.from_str(vectors["access_token"]["token"])
    state_dir = str(tmp_path / "state")
    ready = str(tmp_path / "ready")
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(ROOT / ".tmp" / "src"), state_dir,
                               vectors["access_token"]["token"], ready])
    try:
        assert wait_for(lambda: os.path.exists(ready), 30), "the writer never reached its rename"
        assert [n for n in os.listdir(state_dir) if n.startswith(TMP_PREFIX)]  # its temp file is there
        writer.kill()
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait()
    connect(options(emu, state_dir)).get_secrets([plain(vectors, "ascii")["id"]])  # a later run, same dir
    _final_listing_is_clean(state_dir, token, with_cache=False)


_READER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.bws.secrets.plugins.module_utils._cache import SecretsCache, cache_path
from ansible_collections.bws.secrets.plugins.module_utils._options import connect
from ansible_collections.bws.secrets.plugins.module_utils._resolve import find_secrets

options, secret_id, key = json.loads(sys.stdin.read()), sys.argv[2], sys.argv[3]  # the token: never in argv
client = connect(options)
by_id = client.get_secrets([secret_id])[0].value
source = SecretsCache(client, cache_path(client.auth.state_file)).secrets()
by_name = find_secrets(client, [key], source=source)[0].value
print(json.dumps([by_id, by_name]))
"""

_LOCK_HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(120)
"""


def test_reads_never_wait_for_the_lock(emu, vectors, tmp_path):
    """The lock serializes logins and writes only: while another process holds it, a run with a
    valid state file reads by id, and a warm cache (ttl 0) answers a key name after one sync.
    (Before, each of them queued for the lock: forks waited on each other's sync request.)"""
    state_dir = str(tmp_path / "state")
    warm = connect(options(emu, state_dir))
    settle()  # the warm-up sync below must postdate the seed for the reader's sync to say "no changes"
    SecretsCache(warm, cache_path(warm.auth.state_file)).secrets()
    warm.http.close()
    secret = plain(vectors, "ascii")
    locked = str(tmp_path / "locked")
    holder = subprocess.Popen([sys.executable, "-c", _LOCK_HOLDER, state_dir, locked])
    try:
        assert wait_for(lambda: os.path.exists(locked), 30), "the lock holder never took the lock"
        emu.reset()
        out = subprocess.run([sys.executable, "-c", _READER, str(ROOT / ".tmp" / "src"), secret["id"], "DB_PASSWORD"],
                             input=json.dumps(options(emu, state_dir)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, timeout=60, check=False)
    finally:
        holder.kill()
        holder.wait()
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == [secret["plaintext"]["value"]] * 2
    assert routes(emu) == {GET_BY_IDS: 1, SYNC: 1}  # no login, no full fetch


def test_a_write_discards_the_cache_only_under_the_lock(emu, tmp_path):
    """A module's write removes the sync cache under the directory lock, so never in the middle
    of a lookup that is filling it: while another process holds the lock it waits (and here,
    with a short timeout, gives up and leaves the file); once the lock is free it removes it."""
    state_dir = str(tmp_path / "state")
    client = connect(options(emu, state_dir))
    SecretsCache(client, cache_path(client.auth.state_file)).secrets()
    client.http.close()
    cache = cache_path(client.auth.state_file)
    assert os.path.exists(cache)
    locked = str(tmp_path / "locked")
    holder = subprocess.Popen([sys.executable, "-c", _LOCK_HOLDER, state_dir, locked])
    try:
        assert wait_for(lambda: os.path.exists(locked), 30), "the lock holder never took the lock"
        with pytest.raises(StateFileError):
            discard(client.auth.state_file, lock_timeout=0.5)
        assert os.path.exists(cache)
    finally:
        holder.kill()
        holder.wait()
    discard(client.auth.state_file)
    assert not os.path.exists(cache) and os.path.exists(client.auth.state_file)
    discard(client.auth.state_file)  # nothing to remove: nothing to do


def _fill_cache(opts, everything, result):
    client = connect(opts)
    result.put(len(SecretsCache(client, cache_path(client.auth.state_file), ttl=300).secrets(everything)))


@pytest.mark.parametrize("everything", [False, True], ids=["first fill", "fetch of everything"])
def test_a_discard_during_a_fetch_with_no_cache_removes_what_the_fetch_saved(emu, tmp_path, everything):
    """With no cache yet, a lookup (another process) fills it holding the directory lock; so
    does one that fetches every secret afresh (a name its cache lacked) and finds no cache file,
    which leaves it nothing to tell a discard by. A module's write that discards the cache
    meanwhile finds no file; it still waits for the lock, and removes what the fetch saved,
    which may predate the write."""
    state_dir = str(tmp_path / "state")
    client = connect(options(emu, state_dir))
    client.auth.bearer_token  # logged in (the state directory exists): the filler only syncs
    cache = cache_path(client.auth.state_file)
    assert not os.path.exists(cache)
    emu.faults({"latency_ms": 1500})
    emu.reset()
    ctx = multiprocessing.get_context("fork")
    result = ctx.Queue()
    filler = ctx.Process(target=_fill_cache, args=(options(emu, state_dir), everything, result))
    filler.start()
    try:
        assert wait_for(lambda: routes(emu).get(SYNC), 10), "the sync request never arrived"
        assert not os.path.exists(cache)
        discard(client.auth.state_file)  # as a module does after its write
    finally:
        filler.join(30)
        emu.faults({})
    assert filler.exitcode == 0 and result.get(timeout=5) > 0  # the fetch served its lookup...
    assert not os.path.exists(cache)  # ...and the discard, which waited for it, removed what it saved


def test_a_cache_fetched_across_a_discard_is_not_saved(emu, tmp_path):
    """A lookup with ttl 0 reads the cache and asks the sync endpoint without the lock. If a
    module's write discards the cache while that answer is on its way, what the lookup fetched
    may predate the write: it is used, but not saved over the discard."""
    state_dir = str(tmp_path / "state")
    client = connect(options(emu, state_dir))
    cache = cache_path(client.auth.state_file)
    SecretsCache(client, cache).secrets()
    connect(options(emu)).create_secret("FETCHED_ACROSS", "v", "", PROD)  # so the next sync brings data
    emu.faults({"latency_ms": 1500})
    emu.reset()  # the counters: the sync below is counted when it arrives, answered 1.5 s later
    got = []
    reader = threading.Thread(target=lambda: got.append(SecretsCache(client, cache).secrets()))
    reader.start()
    try:
        assert wait_for(lambda: routes(emu).get(SYNC), 10), "the sync request never arrived"
        discard(client.auth.state_file)  # as a module does after its write
    finally:
        reader.join(30)
        emu.faults({})
    assert "FETCHED_ACROSS" in [s.key for s in got[0]]  # the answer served the lookup...
    assert not os.path.exists(cache)  # ...but did not recreate the cache the write discarded
    assert len(SecretsCache(client, cache).secrets()) == len(got[0]) and os.path.exists(cache)  # refilled
