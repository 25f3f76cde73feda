"""In-process micro-benchmarks of the client (the installed collection's module_utils).

* decrypt: EncString decrypt throughput on one core (typical 20-60 character values);
* login: a fresh login, and a connect that reuses the state file;
* sync: every secret of a 5,000-secret organization fetched and decrypted (keys and values);
* by name: one key name resolved in that organization, connect to value, with the warm
  cache, a cold one, a TTL, and without the cache.

Each case repeats and reports medians: wall time (the emulator's share included) and this
process's CPU time (the client's share). Every result is compared with the seeded values.
"""

import cProfile
import os
import shutil
import sys
import tempfile
import time

from common import BIG_PROJECT, BenchError, log, median, typical_values
from worker_costs import _top_functions


class Client:
    """The client modules of the installed collection, imported as plain Python packages."""

    def __init__(self, collections):
        if collections not in sys.path:
            sys.path.insert(0, collections)
        base = "ansible_collections.bws.secrets.plugins.module_utils."
        mods = {}
        for name in ("_crypto", "_options", "_cache", "_resolve"):
            mods[name] = __import__(base + name, fromlist=["_"])
        self.crypto = mods["_crypto"]
        self.connect = mods["_options"].connect
        self.SecretsCache = mods["_cache"].SecretsCache
        self.cache_path = mods["_cache"].cache_path
        self.find_secrets = mods["_resolve"].find_secrets


def timed(func, rounds):
    """[(wall, cpu, result)] of ``rounds`` calls."""
    out = []
    for _round in range(rounds):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = func()
        out.append((time.perf_counter() - wall0, time.process_time() - cpu0, result))
    return out


def _summary(samples, **extra):
    row = {"wall_ms": median([s[0] for s in samples]) * 1000, "cpu_ms": median([s[1] for s in samples]) * 1000,
           "rounds": len(samples)}
    row.update(extra)
    return row


def bench_decrypt(client, count=2000, rounds=7):
    crypto = client.crypto
    key = crypto.SymmetricCryptoKey.from_bytes(os.urandom(64))
    values = typical_values(count, seed=7)
    encrypted = [crypto.encrypt_text(key, value) for value in values]
    samples = timed(lambda: [crypto.decrypt_text(key, enc) for enc in encrypted], rounds)
    for sample in samples:
        if sample[2] != values:
            raise BenchError("decrypt returned wrong values")
    cpu = median([s[1] for s in samples])
    return {"count": count, "rounds": rounds, "per_second": count / cpu, "us_each": cpu / count * 1e6}


def _options(emu, **extra):
    options = {"access_token": emu.info["tokens"]["bench"], "server_url": emu.info["server_url"]}
    options.update(extra)
    return options


def bench_login(client, emu, rounds=15):
    org = emu.info["organization_id"]

    state = tempfile.mkdtemp(prefix="bench-login-")

    def login(**options):
        c = client.connect(_options(emu, **options))
        c.http.close()
        return c.org_id

    try:
        fresh = timed(lambda: login(use_state_file=False), rounds)
        login(state_dir=state)
        reuse = timed(lambda: login(state_dir=state), rounds)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    if any(s[2] != org for s in fresh + reuse):
        raise BenchError("login returned the wrong organization")
    return {"fresh": _summary(fresh), "state_reuse": _summary(reuse)}


def bench_sync(client, emu, world, rounds=5):
    expected = dict((row.id, row.value) for row in world.bench + world.filler + world.big)
    if len(expected) != world.size:
        raise BenchError("the world has duplicate ids")
    c = client.connect(_options(emu, use_state_file=False))

    def sync():
        changed, secrets = c.sync()
        return dict((s.id, s.value) for s in secrets)

    def fetch():
        return c.sync_raw()[1]

    samples = timed(sync, rounds)
    raw = timed(fetch, rounds)
    org_key = c.auth.org_enc_key
    secret_class = type(c.sync()[1][0])
    data = raw[0][2]
    decrypt = timed(lambda: dict((s.id, s.value) for s in (secret_class.from_api(r, org_key) for r in data)), rounds)
    c.http.close()
    for sample in samples + decrypt:
        if sample[2] != expected:
            raise BenchError("the sync returned wrong values (%d secrets)" % len(sample[2]))
    return {"secrets": len(expected), "end_to_end": _summary(samples), "fetch": _summary(raw),
            "decrypt": _summary(decrypt)}


BY_ID_TTL = "for comparison, by id: cache_ttl=60, warm (no request)"  # no target: not a key name


def bench_by_name(client, emu, world, rounds=5):
    sid, key, value = world.big[len(world.big) // 2]
    state = tempfile.mkdtemp(prefix="bench-names-")
    results = {}

    def lookup(cache, ttl=0, term=key):
        c = client.connect(_options(emu, state_dir=state))
        source = client.SecretsCache(c, client.cache_path(c.auth.state_file), ttl=ttl).secrets() if cache else None
        found = client.find_secrets(c, [term], project=BIG_PROJECT, source=source)
        c.http.close()
        return found[0].id, found[0].value

    def cold():
        shutil.rmtree(state, ignore_errors=True)
        return lookup(True)

    try:
        results["cache, cold (login + full sync)"] = timed(cold, rounds)
        lookup(True)
        results["cache, warm (sync: no changes)"] = timed(lambda: lookup(True), rounds)
        profiler = cProfile.Profile()
        profiler.runcall(lookup, True)
        results["cache_ttl=60, warm (no request)"] = timed(lambda: lookup(True, ttl=60), rounds)
        results["cache=false (one full sync, kept nowhere)"] = timed(lambda: lookup(False), rounds)
        results[BY_ID_TTL] = timed(lambda: lookup(True, ttl=60, term=sid), rounds)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    out = {}
    for name, samples in results.items():
        if any(s[2] != (sid, value) for s in samples):
            raise BenchError("lookup by name %s returned a wrong secret (%s)" % (key, name))
        out[name] = _summary(samples)
    top = [row for row in _top_functions(profiler)["cum"] if "bws/secrets/" in row["where"]][:12]
    return {"secrets": world.size, "key": key, "cases": out, "profile_warm": top}


def run_all(collections, emu, big_emu, big_world, quick=False):
    client = Client(collections)
    rounds = 3 if quick else 5
    log("micro: decrypt")
    out = {"decrypt": bench_decrypt(client, rounds=rounds + 2)}
    log("micro: login")
    out["login"] = bench_login(client, emu, rounds=rounds * 3)
    log("micro: sync of %d secrets" % len(big_world.big))
    out["sync"] = bench_sync(client, big_emu, big_world, rounds=rounds)
    log("micro: key name in %d secrets" % len(big_world.big))
    out["by_name"] = bench_by_name(client, big_emu, big_world, rounds=rounds)
    return out
