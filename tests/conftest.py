"""Shared pytest setup: import the collection from this source tree, vectors, the emulator."""

import json
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TMP = ROOT / ".tmp"


sys.path.insert(0, str(ROOT / "scripts"))
import collection  # noqa: E402  (scripts/: the ansible_collections/bws/secrets link to this tree)

sys.path.insert(0, str(collection.source_link()[0]))
sys.path.insert(0, str(ROOT / "tests" / "emulator"))

from control import Emulator  # noqa: E402  (tests/emulator, just put on sys.path)


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
    with Emulator(seed=vectors_seed) as emu:
        yield emu


@pytest.fixture()
def fresh_emulator(vectors_seed):
    """An emulator of the test's own, for tests that change server state or inject faults."""
    with Emulator(seed=vectors_seed) as emu:
        yield emu


@pytest.fixture()
def untrusted_ca(tmp_path):
    """A CA certificate (PEM path) that did not sign the emulator's certificate."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the emulator CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "untrusted-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.fixture()
def state_dir(tmp_path):
    path = tmp_path / "state"
    return str(path)


def pytest_report_header(config):
    return "bws.secrets source: %s (python %s)" % (ROOT, sys.version.split()[0])


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
