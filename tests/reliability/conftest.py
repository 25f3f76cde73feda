"""Fixtures of the reliability tests: emulators of their own, the client's options, leak needles.

``tests/conftest.py`` (loaded first) puts the source collection and ``tests/emulator`` on
``sys.path``; this directory is on it too, for ``leakcheck`` and ``relsupport``.
"""

import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import leakcheck  # noqa: E402


@pytest.fixture(scope="session")
def _stopping_emulators():
    """Emulators told to stop (SIGTERM) after their test; reaped once, at the end."""
    stopping = []
    yield stopping
    for emu in stopping:
        emu.cleanup()


@pytest.fixture()
def make_emulator(vectors_seed, _stopping_emulators):
    """Start emulators (vectors world) with extra options; all are stopped after the test
    (without waiting for their shutdown, which takes half a second each)."""
    from control import Emulator

    started = []

    def make(tls=False, extra_args=()):
        emu = Emulator(tls=tls, seed=vectors_seed, extra_args=extra_args)
        emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        if emu.proc is not None and emu.proc.poll() is None:
            emu.proc.terminate()
        _stopping_emulators.append(emu)


@pytest.fixture()
def emu(make_emulator):
    """A fresh emulator (HTTP) for one test: the test may inject faults and write."""
    return make_emulator()


@pytest.fixture()
def needles(vectors):
    """Everything that must never appear in an error message: token parts, keys, values."""
    found = leakcheck.token_needles("ci token", vectors["access_token"]["token"])
    found += leakcheck.key_needles("org key", vectors["organization"]["org_key_b64"])
    for case in vectors["seeded_secrets"]:
        found += leakcheck.value_needles("value of %s" % case["name"], case["plaintext"]["value"])
    return found


@pytest.fixture()
def assert_clean(needles):
    """assert_clean(text, extra_needles=()) fails naming whatever secret ``text`` shows."""

    def check(text, extra=()):
        leaked = leakcheck.find_leaks(str(text), list(needles) + list(extra))
        assert not leaked, "leaked in %r...: %s" % (str(text)[:60], leaked)

    return check


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    """The built and installed collection, for real ansible-playbook runs."""
    sys.path.insert(0, str(HERE.parent.parent / "scripts"))
    import collection

    return collection.install(tmp_path_factory.mktemp("collections"))


os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost,::1")
