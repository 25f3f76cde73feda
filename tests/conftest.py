"""Shared pytest setup: import the collection from this source tree, vectors, the emulator."""

import json
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TMP = ROOT / ".tmp"


def _source_collection_path():
    """An ``ansible_collections/bws/secrets`` symlink to this tree, so imports use the source."""
    base = TMP / "src"
    link = base / "ansible_collections" / "bws" / "secrets"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    return str(base)


sys.path.insert(0, _source_collection_path())
sys.path.insert(0, str(ROOT / "tests" / "emulator"))


@pytest.fixture(scope="session")
def vectors():
    with open(ROOT / "tests" / "fixtures" / "vectors.json", encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="session")
def vectors_seed():
    return str(ROOT / "tests" / "emulator" / "seeds" / "vectors.json")


@pytest.fixture(scope="session")
def emulator(vectors_seed):
    """One emulator (HTTP, vectors world) for the session; tests reset counters themselves."""
    from control import Emulator

    emu = Emulator(seed=vectors_seed)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture()
def fresh_emulator(vectors_seed):
    """An emulator of the test's own, for tests that change server state or inject faults."""
    from control import Emulator

    emu = Emulator(seed=vectors_seed)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture()
def state_dir(tmp_path):
    path = tmp_path / "state"
    return str(path)


def pytest_report_header(config):
    return "bws.secrets source: %s (python %s)" % (ROOT, sys.version.split()[0])


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
