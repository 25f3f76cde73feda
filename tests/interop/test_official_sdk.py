# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The official ``bitwarden-sdk`` (Rust core) against the emulator over HTTPS.

This keeps the emulator (and the crypto module it shares with the collection) honest:
a mistake shared by our client and our emulator cannot hide from the official SDK.

Facts this relies on (checked with bitwarden-sdk 2.1.0):
* release builds refuse ``http://``; TLS roots come from ``SSL_CERT_FILE`` and are read
  when ``BitwardenClient(...)`` is constructed (setting it later has no effect; the import
  order does not matter; each client reads it again);
* the Python binding holds the GIL during HTTP calls, so the server runs in its own process;
* ``secrets().sync()`` wants a timezone-aware ``datetime``;
* the SDK does not retry 429 or 5xx answers.
"""

from __future__ import annotations

import base64
import datetime
import json
import pathlib
import sys
import time
import types

import pytest

bitwarden_sdk = pytest.importorskip("bitwarden_sdk")

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "emulator"))

from control import VECTORS_SEED, Emulator  # noqa: E402


def _crypto():
    name = "_bws_module_utils"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(ROOT / "plugins" / "module_utils")]
        sys.modules[name] = pkg
    import importlib

    return importlib.import_module(name + "._crypto")


crypto = _crypto()

VECTORS = json.loads((ROOT / "tests" / "fixtures" / "vectors.json").read_text(encoding="utf-8"))
ORG_ID = VECTORS["organization"]["id"]
ORG_KEY = crypto.SymmetricCryptoKey.from_b64(VECTORS["organization"]["org_key_b64"])
CI_TOKEN = VECTORS["access_token"]["token"]
CI_TOKEN_ID = VECTORS["access_token"]["id"]
PROD = VECTORS["projects"]["Production"]
STAGING = VECTORS["projects"]["Staging ✓"]
SEEDED = {s["id"]: s for s in VECTORS["seeded_secrets"]}
VISIBLE = [s["id"] for s in VECTORS["seeded_secrets"] if s["visible_to_ci"]]
HIDDEN_SECRET = "5e000000-0000-4000-8000-000000000007"
SDK_ERRORS = VECTORS["official_sdk_error_messages"]


@pytest.fixture(scope="module")
def emulator():
    """The vectors world over HTTPS, in its own process (the SDK holds the GIL)."""
    server = Emulator(tls=True, seed=VECTORS_SEED)
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def new_client(emulator, monkeypatch):
    """A factory of official SDK clients that trust the emulator's CA."""
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)  # read at client construction

    def make():
        settings = bitwarden_sdk.ClientSettings(
            api_url=emulator.info["api_url"], identity_url=emulator.info["identity_url"],
            device_type=bitwarden_sdk.DeviceType.SDK, user_agent="bws.secrets-interop-test")
        return bitwarden_sdk.BitwardenClient(settings)

    return make


@pytest.fixture
def client(new_client, tmp_path):
    sdk = new_client()
    result = sdk.auth().login_access_token(CI_TOKEN, str(tmp_path / "state"))
    assert result.success, result.error_message
    return sdk


def ok(response):
    assert response.success, response.error_message
    return response.data


def stored(emulator, secret_id):
    """What the emulator holds for a secret (ciphertext only)."""
    items = {s["id"]: s for s in emulator.secrets(ciphertext=True)["secrets"]}
    return items[secret_id]


def test_login_writes_state_file_and_second_client_reuses_it(emulator, new_client, tmp_path):
    state = tmp_path / CI_TOKEN_ID
    emulator.reset()
    first = new_client()
    assert ok(first.auth().login_access_token(CI_TOKEN, str(state))) is not None
    assert emulator.stats()["logins"] == 1
    # The SDK's state file: one EncString under the token key, holding our JWT and org key.
    raw = state.read_text()
    token_key = crypto.derive_access_token_key(base64.b64decode(VECTORS["access_token"]["key16_b64"]))
    content = json.loads(crypto.decrypt_text(token_key, raw))
    assert content["encryption_key"] == VECTORS["organization"]["org_key_b64"]
    assert content["token"].count(".") == 2
    second = new_client()
    ok(second.auth().login_access_token(CI_TOKEN, str(state)))
    value = ok(second.secrets().get(VISIBLE[0])).value
    assert value == SEEDED[VISIBLE[0]]["plaintext"]["value"]
    stats = emulator.stats()
    assert stats["logins"] == 1 and stats["routes"]["POST /connect/token"] == 1
    assert stats["routes"]["GET /secrets/{id}"] == 1


def test_list_get_and_get_by_ids_return_seeded_plaintexts(client):
    listed = ok(client.secrets().list(ORG_ID)).data
    assert sorted(str(item.id) for item in listed) == sorted(VISIBLE)
    for item in listed:
        assert item.key == SEEDED[str(item.id)]["plaintext"]["key"]
        assert str(item.organization_id) == ORG_ID
    for sid in VISIBLE:
        secret = ok(client.secrets().get(sid))
        assert {"key": secret.key, "value": secret.value, "note": secret.note} == \
            SEEDED[sid]["plaintext"]
        assert str(secret.project_id) == SEEDED[sid]["projectId"]
    many = ok(client.secrets().get_by_ids(VISIBLE)).data
    assert {str(s.id): s.value for s in many} == {
        sid: SEEDED[sid]["plaintext"]["value"] for sid in VISIBLE}


@pytest.mark.parametrize("case", ["get_hidden_project_secret", "get_by_ids_with_hidden",
                                  "create_in_read_only_project", "create_without_project",
                                  "update_without_project_ids", "update_move_to_read_only_project",
                                  "update_read_only_secret", "delete_missing",
                                  "project_get_hidden", "sync_future_date"])
def test_errors_read_exactly_as_against_the_reference_server(client, case):
    secrets = client.secrets()
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    calls = {
        "get_hidden_project_secret": lambda: secrets.get(HIDDEN_SECRET),
        "get_by_ids_with_hidden": lambda: secrets.get_by_ids([VISIBLE[0], HIDDEN_SECRET]),
        "create_in_read_only_project": lambda: secrets.create(ORG_ID, "K", "V", "", [STAGING]),
        "create_without_project": lambda: secrets.create(ORG_ID, "K", "V", "", None),
        "update_without_project_ids": lambda: secrets.update(ORG_ID, VISIBLE[0], "K", "V", "", None),
        "update_move_to_read_only_project":
            lambda: secrets.update(ORG_ID, VISIBLE[0], "K", "V", "", [STAGING]),
        "update_read_only_secret":
            lambda: secrets.update(ORG_ID, "5e000000-0000-4000-8000-000000000006", "K", "V", "",
                                   [STAGING]),
        "delete_missing": lambda: secrets.delete(["5e000000-0000-4000-8000-0000000000ff"]),
        "project_get_hidden": lambda: client.projects().get(VECTORS["projects"]["Hidden"]),
        "sync_future_date": lambda: secrets.sync(ORG_ID, future),
    }
    with pytest.raises(Exception) as caught:
        calls[case]()
    assert str(caught.value) == SDK_ERRORS[case]


def test_bad_secret_rate_limit_and_server_error_messages(emulator, new_client):
    sdk = new_client()
    with pytest.raises(Exception) as caught:
        sdk.auth().login_access_token(CI_TOKEN.replace("Q2xpZW50", "WRONG000"))
    assert str(caught.value) == SDK_ERRORS["bad_client_secret"]
    ok(sdk.auth().login_access_token(CI_TOKEN))
    try:
        emulator.faults({"rate_limit": {"every": 1, "retry_after": 30}})
        with pytest.raises(Exception) as caught:
            sdk.secrets().get(VISIBLE[0])
        assert str(caught.value) == SDK_ERRORS["rate_limited_429"]
        emulator.faults({"fail": [{"route": "GET /secrets/{id}", "status": 500, "count": 1}]})
        with pytest.raises(Exception) as caught:
            sdk.secrets().get(VISIBLE[0])
        assert str(caught.value) == SDK_ERRORS["server_error_500"]
        assert ok(sdk.secrets().get(VISIBLE[0])).value == "hunter2"
    finally:
        emulator.faults({})


def test_create_update_delete_round_trip(client, emulator):
    secrets = client.secrets()
    cases = [("SDK_ÜNÏCÖDÉ_密钥_🔐", "значение 値 🚀 ñ", "nota — \u201cquoted\u201d ✓"),
             ("SDK_MULTILINE", "line1\nline2\r\nline3\ttabbed\n", "multi\nline note")]
    created_ids = []
    for key, value, note in cases:
        created = ok(secrets.create(ORG_ID, key, value, note, [PROD]))
        created_ids.append(str(created.id))
        assert (created.key, created.value, created.note) == (key, value, note)
        assert str(created.project_id) == PROD
        # Stored as the SDK's ciphertext, decrypting with the org key to what it sent.
        held = stored(emulator, str(created.id))
        assert held["projectIds"] == [PROD]
        for field, plain in (("key", key), ("value", value), ("note", note)):
            assert held[field].startswith("2.") and plain not in held[field]
            assert crypto.decrypt_text(ORG_KEY, held[field]) == plain
        fetched = ok(secrets.get(str(created.id)))
        assert (fetched.key, fetched.value, fetched.note) == (key, value, note)

    updated = ok(secrets.update(ORG_ID, created_ids[0], "SDK_RENAMED", "new value ✓",
                                "updated\nnote", [PROD]))
    assert (updated.key, updated.value, updated.note) == ("SDK_RENAMED", "new value ✓",
                                                          "updated\nnote")
    assert updated.revision_date > updated.creation_date
    held = stored(emulator, created_ids[0])
    assert crypto.decrypt_text(ORG_KEY, held["value"]) == "new value ✓"

    before = emulator.secrets()["count"]
    deleted = ok(secrets.delete(created_ids)).data
    assert sorted(str(d.id) for d in deleted) == sorted(created_ids)
    assert all(d.error is None for d in deleted)
    assert emulator.secrets()["count"] == before - 2


def test_sync_has_changes(client):
    secrets = client.secrets()
    first = ok(secrets.sync(ORG_ID, None))
    assert first.has_changes is True
    assert sorted(str(s.id) for s in first.secrets) == sorted(VISIBLE)
    assert {str(s.id): s.value for s in first.secrets}[VISIBLE[0]] == "hunter2"

    time.sleep(0.05)
    mark = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.05)
    quiet = ok(secrets.sync(ORG_ID, mark))
    assert quiet.has_changes is False and not quiet.secrets

    original = SEEDED[VISIBLE[3]]["plaintext"]
    ok(secrets.update(ORG_ID, VISIBLE[3], original["key"], "changed", original["note"], [PROD]))
    try:
        changed = ok(secrets.sync(ORG_ID, mark))
        assert changed.has_changes is True
        assert {str(s.id): s.value for s in changed.secrets}[VISIBLE[3]] == "changed"
    finally:
        ok(secrets.update(ORG_ID, VISIBLE[3], original["key"], original["value"],
                          original["note"], [PROD]))


def test_projects_list_and_create(client, emulator):
    projects = client.projects()
    listed = ok(projects.list(ORG_ID)).data
    assert {str(p.id): p.name for p in listed} == {PROD: "Production", STAGING: "Staging ✓"}
    created = ok(projects.create(ORG_ID, "  New project ✨  "))
    assert created.name == "New project ✨"  # the SDK trims, the server stores what it sent
    held = {p["id"]: p for p in emulator.projects()["projects"]}[str(created.id)]
    assert crypto.decrypt_text(ORG_KEY, held["name"]) == "New project ✨"
    assert held["grants"] == {"ci": "write"}  # the creator gets write access
    assert str(created.id) in {str(p.id) for p in ok(projects.list(ORG_ID)).data}
    # The new project is writable: a secret can be created in it.
    secret = ok(client.secrets().create(ORG_ID, "IN_NEW_PROJECT", "v", None, [str(created.id)]))
    assert str(secret.project_id) == str(created.id)
    renamed = ok(projects.update(ORG_ID, str(created.id), "Renamed"))
    assert renamed.name == "Renamed"
    gone = ok(projects.delete([str(created.id)])).data
    assert [d.error for d in gone] == [None]
