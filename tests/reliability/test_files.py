"""The state and cache files on disk: modes, loose files, symlinks, and whose content is trusted.

Real client runs against an emulator, on real files. The state file is
``<state_dir>/<token id>``, the cache ``<state_dir>/<token id>.bws-secrets-cache``.
"""

import json
import os
import stat

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._cache import CACHE_VERSION, SecretsCache, cache_path
from ansible_collections.bws.secrets.plugins.module_utils._crypto import (
    EncString, SymmetricCryptoKey, decrypt_text, encrypt_text)
from ansible_collections.bws.secrets.plugins.module_utils._options import connect
from ansible_collections.bws.secrets.plugins.module_utils._resolve import find_secrets
from ansible_collections.bws.secrets.plugins.module_utils._state import STATE_VERSION
from ansible_collections.bws.secrets.plugins.module_utils._token import ClientToken

from leakcheck import login_org_key
from relsupport import LOGIN, SYNC, options, plain, routes, settle

VERSIONS = {"state": STATE_VERSION, "cache": CACHE_VERSION}
READER_TOKEN = "0.7e000000-0000-4000-8000-000000000002.UmVhZGVyU2VjcmV0Rm9yVGVzdHMwMg:EBESExQVFhcYGRobHB0eHw=="


@pytest.fixture()
def token(vectors):
    return ClientToken.from_str(vectors["access_token"]["token"])


def _paths(state_dir, token):
    state = os.path.join(state_dir, token.access_token_id)
    return state, cache_path(state)


def _by_id(emu, state_dir, vectors):
    """One lookup by id (state file only); returns the value."""
    return connect(options(emu, state_dir)).get_secrets([plain(vectors, "ascii")["id"]])[0].value


def _by_name(emu, state_dir):
    """One lookup by key name through the sync cache; returns the value."""
    client = connect(options(emu, state_dir))
    source = SecretsCache(client, cache_path(client.auth.state_file)).secrets()
    return find_secrets(client, ["DB_PASSWORD"], project="Production", source=source)[0].value


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def _decrypts(path, token):
    with open(path) as handle:
        return json.loads(decrypt_text(token.encryption_key, handle.read()))


def test_created_0700_and_0600_even_with_a_permissive_umask(emu, tmp_path, token):
    state_dir = str(tmp_path / "home" / ".config" / "bws" / "state")
    old = os.umask(0)
    try:
        assert _by_name(emu, state_dir) == "hunter2"
    finally:
        os.umask(old)
    state, cache = _paths(state_dir, token)
    assert _mode(state_dir) == 0o700
    assert _mode(state) == 0o600 and _mode(cache) == 0o600
    assert sorted(os.listdir(state_dir)) == sorted([os.path.basename(state), os.path.basename(cache)])
    jwt_token = _decrypts(state, token)["token"]
    for path in (state, cache):
        with open(path) as handle:
            text = handle.read()
        # no value and no JWT (nor its claims segment) in clear; a bare "eyJ" may occur in ciphertext by chance
        assert text.startswith("2.") and "hunter2" not in text
        assert jwt_token not in text and jwt_token.split(".")[1] not in text


LOOSE = [
    # (which file, how it is found, mode, is it reused)
    ("state", "valid", 0o644, True),
    ("state", "valid", 0o666, True),
    ("state", "foreign", 0o644, False),
    ("state", "corrupt", 0o666, False),
    ("cache", "valid", 0o644, True),
    ("cache", "foreign", 0o640, False),
    ("cache", "corrupt", 0o604, False),
]


@pytest.mark.parametrize("which, how, mode, reused", LOOSE, ids=["%s-%s-%o" % c[:3] for c in LOOSE])
def test_loose_files_are_tightened_or_rewritten(emu, vectors, state_dir, token, which, how, mode, reused):
    """As the official SDK and ``bws`` leave them (default umask): never left readable."""
    assert _by_name(emu, state_dir) == "hunter2"  # writes both files
    state, cache = _paths(state_dir, token)
    path = state if which == "state" else cache
    if how == "foreign":
        other = ClientToken.from_str(READER_TOKEN).encryption_key
        with open(path, "w") as handle:
            handle.write(encrypt_text(other, json.dumps({"version": 1, "token": "x.y.z", "encryption_key": "QQ=="})))
    elif how == "corrupt":
        with open(path, "w") as handle:
            handle.write("2.partial|garbage")
    os.chmod(path, mode)
    emu.reset()
    assert _by_name(emu, state_dir) == "hunter2"
    assert _mode(path) == 0o600
    assert _decrypts(path, token)["version"] == VERSIONS[which]  # ours, readable under our key
    logins = routes(emu).get(LOGIN, 0)
    assert logins == (0 if which == "cache" or reused else 1)
    if which == "cache":
        assert routes(emu)[SYNC] == 1


@pytest.mark.parametrize("which", ["state", "cache"])
@pytest.mark.parametrize("target", ["victim", "dangling"])
def test_writes_never_follow_a_symlink(emu, vectors, tmp_path, token, which, target):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    state, cache = _paths(str(state_dir), token)
    path = state if which == "state" else cache
    victim = tmp_path / "victim"
    if target == "victim":
        victim.write_text("precious, not ours")
        os.chmod(victim, 0o644)
    os.symlink(str(victim), path)
    assert _by_name(emu, str(state_dir)) == "hunter2"
    if target == "victim":
        assert victim.read_text() == "precious, not ours" and _mode(str(victim)) == 0o644
    else:
        assert not victim.exists()  # not created through the dangling link
    assert not os.path.islink(path) and _mode(path) == 0o600
    assert _decrypts(path, token)["version"] == VERSIONS[which]
    assert [n for n in os.listdir(state_dir) if n.startswith(".bws-tmp-")] == []


def test_a_symlink_to_a_valid_state_file_is_not_trusted(emu, vectors, tmp_path, token):
    """Content reached through a symlink is never read, even if it would decrypt."""
    elsewhere = tmp_path / "elsewhere"
    assert _by_id(emu, str(elsewhere), vectors) == "hunter2"
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    os.symlink(os.path.join(str(elsewhere), token.access_token_id), os.path.join(str(state_dir), token.access_token_id))
    emu.reset()
    assert _by_id(emu, str(state_dir), vectors) == "hunter2"
    assert routes(emu).get(LOGIN) == 1


def _flip_mac(path):
    with open(path) as handle:
        enc = EncString.parse(handle.read())
    mac = bytearray(enc.mac)
    mac[0] ^= 1
    with open(path, "w") as handle:
        handle.write(str(EncString(enc.iv, enc.data, bytes(mac))))


def test_state_trusted_only_after_its_mac_verifies_under_our_key(emu, vectors, state_dir, token):
    """A state file planted under another token's key (a JWT and an org key of the attacker's
    choosing), or ours with one bit changed, is never used: the client logs in instead."""
    state = _paths(state_dir, token)[0]
    os.makedirs(state_dir, mode=0o700)
    reader_org_key, reader_jwt = login_org_key(emu.info["identity_url"], READER_TOKEN)
    planted = {"version": 1, "token": reader_jwt, "encryption_key": SymmetricCryptoKey.from_bytes(bytes(64)).to_b64()}
    with open(state, "w") as handle:
        handle.write(encrypt_text(ClientToken.from_str(READER_TOKEN).encryption_key, json.dumps(planted)))
    emu.reset()
    assert _by_id(emu, state_dir, vectors) == "hunter2"
    assert routes(emu)[LOGIN] == 1
    assert _decrypts(state, token)["token"] != reader_jwt

    _flip_mac(state)
    emu.reset()
    assert _by_id(emu, state_dir, vectors) == "hunter2"
    assert routes(emu)[LOGIN] == 1


def test_cache_trusted_only_after_its_mac_verifies_under_our_key(emu, vectors, state_dir, token):
    """A cache planted under another token's key, whose DB_PASSWORD says "planted", is never
    served; nor is ours with one bit changed: the client fetches everything again."""
    assert _by_name(emu, state_dir) == "hunter2"
    cache = _paths(state_dir, token)[1]
    doc = _decrypts(cache, token)
    org_key = SymmetricCryptoKey.from_b64(vectors["organization"]["org_key_b64"])
    for secret in doc["secrets"]:
        if decrypt_text(org_key, secret["key"]) == "DB_PASSWORD":
            secret["value"] = encrypt_text(org_key, "planted-value")
    doc["fetched_at"] = doc["fetched_at"] + 10 ** 6  # and "fresh" for any cache_ttl
    with open(cache, "w") as handle:
        handle.write(encrypt_text(ClientToken.from_str(READER_TOKEN).encryption_key, json.dumps(doc)))
    emu.reset()
    assert _by_name(emu, state_dir) == "hunter2"
    assert routes(emu) == {SYNC: 1}  # one full sync: the planted file was ignored
    assert _decrypts(cache, token)["fetched_at"] < doc["fetched_at"]

    _flip_mac(cache)
    emu.reset()
    assert _by_name(emu, state_dir) == "hunter2"
    assert routes(emu) == {SYNC: 1}


def test_the_cache_keeps_the_key_names_so_a_name_lookup_decrypts_only_what_it_returns(
        emu, vectors, state_dir, token, monkeypatch):
    """The cache stores each secret's key name, decrypted once when the cache is filled, inside
    its own encrypted file: a lookup by name from it decrypts the value it returns, not every key."""
    from ansible_collections.bws.secrets.plugins.module_utils import _models

    settle()  # so that the second sync says "no changes" (see settle)
    assert _by_name(emu, state_dir) == "hunter2"
    doc = _decrypts(_paths(state_dir, token)[1], token)
    org_key = SymmetricCryptoKey.from_b64(vectors["organization"]["org_key_b64"])
    assert doc["version"] == CACHE_VERSION == 3 and len(doc["secrets"]) > 5
    assert doc["keys"] == [decrypt_text(org_key, secret["key"]) for secret in doc["secrets"]]

    calls = []

    def counting(key, enc, what=None):
        calls.append(what)
        return decrypt_text(key, enc, what)

    monkeypatch.setattr(_models, "decrypt_text", counting)
    emu.reset()
    assert _by_name(emu, state_dir) == "hunter2"
    assert routes(emu) == {SYNC: 1}  # the sync says nothing changed
    assert calls == ["the value of secret %s" % plain(vectors, "ascii")["id"]]


@pytest.mark.parametrize("change", ["no keys (version 1)", "a sync date on this machine's clock (version 2)",
                                    "one key too few", "a key that is not text"])
def test_a_cache_whose_key_names_do_not_fit_its_secrets_is_fetched_again(emu, vectors, state_dir, token, change):
    assert _by_name(emu, state_dir) == "hunter2"
    cache = _paths(state_dir, token)[1]
    doc = _decrypts(cache, token)
    if change == "no keys (version 1)":
        doc["version"] = 1
        del doc["keys"]
    elif change.endswith("(version 2)"):
        doc["version"] = 2
    elif change == "one key too few":
        doc["keys"].pop()
    else:
        doc["keys"][0] = {"planted": True}
    with open(cache, "w") as handle:
        handle.write(encrypt_text(token.encryption_key, json.dumps(doc)))
    emu.reset()
    assert _by_name(emu, state_dir) == "hunter2"
    assert routes(emu) == {SYNC: 1}  # one full sync (the answer holds every secret)
    again = _decrypts(cache, token)
    assert again["version"] == CACHE_VERSION and len(again["keys"]) == len(again["secrets"])


def test_a_key_that_does_not_decrypt_is_named_only_when_a_lookup_needs_it(vectors):
    """Filling the cache never fails on one bad secret: its key name is left out (None), a
    lookup by id still works, and only a lookup that must read that key reports it."""
    from ansible_collections.bws.secrets.plugins.module_utils._cache import _key_names
    from ansible_collections.bws.secrets.plugins.module_utils._errors import CryptoError
    from ansible_collections.bws.secrets.plugins.module_utils._models import Secret

    org_key = SymmetricCryptoKey.from_b64(vectors["organization"]["org_key_b64"])
    good = {"id": "11111111-1111-4111-8111-111111111111", "key": encrypt_text(org_key, "GOOD"),
            "value": encrypt_text(org_key, "v")}
    other = SymmetricCryptoKey.from_bytes(bytes(range(64)))
    bad = {"id": "22222222-2222-4222-8222-222222222222", "key": encrypt_text(other, "BAD"),
           "value": encrypt_text(org_key, "w")}
    assert _key_names([good, bad, "not an object"], org_key) == ["GOOD", None, None]
    secret = Secret.from_api(bad, org_key, None)
    assert secret.value == "w"
    with pytest.raises(CryptoError, match="the key of secret 22222222"):
        secret.key


@pytest.mark.parametrize("kind", ["read-only", "a file"])
def test_a_state_file_in_a_directory_that_cannot_be_written_is_not_used(emu, vectors, tmp_path, monkeypatch, kind):
    """A state file that could never be renewed is not used: one holding a JWT the server now
    rejects would otherwise cost every lookup a refused request before its login, forever. Each
    lookup logs in by itself, with a warning naming the directory (a read-only mount is played
    by os.access, since the tests may run as root, whom permissions do not stop)."""
    state_dir = str(tmp_path / "state")
    value = plain(vectors, "ascii")["plaintext"]["value"]
    assert _by_id(emu, state_dir, vectors) == value  # a state file is written
    emu.expire_jwts()  # its JWT still looks valid here, but the server refuses it now
    if kind == "read-only":
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if os.path.abspath(path) == state_dir
                            else real_access(path, mode, **kw))
        where = state_dir
    else:
        where = str(tmp_path / "afile")
        with open(where, "w") as handle:
            handle.write("not a directory")
    emu.reset()
    warnings = []
    for _run in range(2):
        opts = options(emu, where if kind == "a file" else state_dir)
        client = connect(opts, warn=warnings.append)
        assert client.get_secrets([plain(vectors, "ascii")["id"]])[0].value == value
    stats = emu.stats()
    assert stats["routes"] == {LOGIN: 2, "POST /secrets/get-by-ids": 2} and "401" not in stats["statuses"]
    reason = "is not writable" if kind == "read-only" else "is not a directory"
    assert len(warnings) == 2 and all(reason in w and "logs in by itself" in w for w in warnings), warnings
