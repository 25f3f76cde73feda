# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator over real HTTP(S): login, auth, access rules, shapes, sync, faults, TLS."""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import os
import pathlib
import re
import signal
import ssl
import subprocess
import sys
import time
import types
import urllib.parse
import uuid

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from control import EMULATOR, VECTORS_SEED, Emulator  # noqa: E402


def _module_utils():
    name = "_bws_module_utils"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(HERE.parent.parent / "plugins" / "module_utils")]
        sys.modules[name] = pkg
    import importlib

    return importlib.import_module(name + "._crypto")


crypto = _module_utils()
jwt = pytest.importorskip("jwt")

VECTORS = json.loads((HERE.parent / "fixtures" / "vectors.json").read_text(encoding="utf-8"))
ORG_ID = VECTORS["organization"]["id"]
ORG_KEY = crypto.SymmetricCryptoKey.from_b64(VECTORS["organization"]["org_key_b64"])
PROJECTS = VECTORS["projects"]
PROD, STAGING, HIDDEN = PROJECTS["Production"], PROJECTS["Staging ✓"], PROJECTS["Hidden"]
SEEDED = {s["id"]: s for s in VECTORS["seeded_secrets"]}
VISIBLE_TO_CI = [s["id"] for s in VECTORS["seeded_secrets"] if s["visible_to_ci"]]
NOT_FOUND_BODY = VECTORS["error_bodies"]["404"]
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,6}[1-9])?Z$")  # trailing zeros dropped, as .NET writes them


# --------------------------------------------------------------------------- helpers


class Http:
    """A tiny HTTP(S) client on http.client: statuses are returned, never raised."""

    def __init__(self, info, ssl_context=None):
        self.info = info
        parts = urllib.parse.urlsplit(info["server_url"])
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.ssl_context = ssl_context
        self.conn = None

    def _connection(self):
        if self.conn is None:
            if self.scheme == "https":
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=30,
                                                        context=self.ssl_context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def raw(self, method, path, body=None, headers=None):
        """-> (status, headers dict (lower-case names), body bytes). Keeps the connection."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def login_raw(self, token, prefix="/identity"):
        _unused, tid, rest = token.split(".", 2)
        client_secret = rest.rpartition(":")[0]
        form = urllib.parse.urlencode({"scope": "api.secrets", "client_id": tid,
                                       "client_secret": client_secret,
                                       "grant_type": "client_credentials"})
        return self.raw("POST", prefix + "/connect/token", form.encode(), {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Accept": "application/json", "Device-Type": "21"})

    def login(self, token):
        status, _unused, data = self.login_raw(token)
        assert status == 200, data
        return json.loads(data)["access_token"]

    def api(self, method, path, body=None, bearer=None, prefix="/api"):
        """-> (status, decoded JSON or None, headers)."""
        headers = {"Device-Type": "21"}
        if bearer:
            headers["Authorization"] = "Bearer " + bearer
        status, hdrs, data = self.raw(method, prefix + path, body, headers)
        decoded = None
        if data and hdrs.get("content-type", "").startswith("application/json"):
            decoded = json.loads(data)
        return status, decoded, hdrs


def _when(date):
    """A date of the server's (trailing zeros of the fraction dropped) as a comparable value:
    (seconds part, fraction padded to 7 digits)."""
    whole, _dot, fraction = date.rstrip("Z").partition(".")
    return whole, fraction.ljust(7, "0")


def dec(text):
    return crypto.decrypt_text(ORG_KEY, text)


def enc(text):
    return crypto.encrypt_text(ORG_KEY, text)


def secret_body(key, value, note="", project_ids=None):
    body = {"key": enc(key), "value": enc(value), "note": enc(note)}
    if project_ids is not None:
        body["projectIds"] = project_ids
    return body


def start(**kwargs):
    emu = Emulator(**kwargs)
    emu.start()
    return emu


@pytest.fixture(scope="module")
def emu():
    """A shared plain-HTTP emulator with the vectors world (tests must not break it)."""
    server = start(seed=VECTORS_SEED)
    yield server
    server.cleanup()


@pytest.fixture
def fresh():
    """A private emulator for tests that change the world or the fault config."""
    server = start(seed=VECTORS_SEED)
    yield server
    server.cleanup()


@pytest.fixture
def web(emu):
    client = Http(emu.info)
    yield client
    client.close()


@pytest.fixture(scope="module")
def ci_jwt(emu):
    client = Http(emu.info)
    try:
        return client.login(emu.info["tokens"]["ci"])
    finally:
        client.close()


def ci_session(server):
    client = Http(server.info, server.ssl_context())
    return client, client.login(server.info["tokens"]["ci"])


# --------------------------------------------------------------------------- startup


def test_startup_line_describes_the_world(emu):
    info = emu.info
    assert re.match(r"^http://127\.0\.0\.1:\d+$", info["server_url"])
    assert info["api_url"] == info["server_url"] + "/api"
    assert info["identity_url"] == info["server_url"] + "/identity"
    assert info["organization_id"] == ORG_ID
    assert "ca_file" not in info
    assert set(info["tokens"]) == {"default", "ci", "reader"}
    assert info["tokens"]["ci"] == VECTORS["access_token"]["token"]
    assert info["access_token"] == info["tokens"]["default"]
    assert re.match(r"^0\.[0-9a-f-]{36}\.[^.:]+:[A-Za-z0-9+/]+=*$", info["access_token"])
    assert uuid.UUID(info["project_id"]) and info["pid"] == emu.proc.pid


def test_builtin_world_without_seed():
    server = start()
    try:
        client = Http(server.info)
        bearer = client.login(server.info["access_token"])
        status, body, _unused = client.api("GET", "/projects/%s" % server.info["project_id"], bearer=bearer)
        assert status == 200 and body["write"] is True
        assert body["organizationId"] == server.info["organization_id"] != ORG_ID
        status, created, _unused = client.api(
            "POST", "/organizations/%s/secrets" % server.info["organization_id"],
            {"key": "2.AAAAAAAAAAAAAAAAAAAAAA==|AAAAAAAAAAAAAAAAAAAAAA==|"
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
             "value": "2.AAAAAAAAAAAAAAAAAAAAAA==|AAAAAAAAAAAAAAAAAAAAAA==|"
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
             "note": "2.AAAAAAAAAAAAAAAAAAAAAA==|AAAAAAAAAAAAAAAAAAAAAA==|"
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
             "projectIds": [server.info["project_id"]]}, bearer=bearer)
        assert status == 200, created
        client.close()
    finally:
        server.cleanup()


def test_refuses_non_loopback_host():
    proc = subprocess.run([sys.executable, str(EMULATOR), "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert b"non-loopback" in proc.stderr


def test_bad_seed_is_refused(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"secrets": [{"key": "K", "value": "V", "project": "Nope"}]}))
    proc = subprocess.run([sys.executable, str(EMULATOR), "--seed", str(seed)],
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"unknown project" in proc.stderr


def test_sigterm_exits_cleanly_and_removes_temp_dir():
    server = start(tls=True)
    ca_dir = pathlib.Path(server.ca_file).parent
    assert ca_dir.is_dir()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=15) == 0
    assert not ca_dir.exists()
    server.cleanup()


def test_seed_with_generated_token_fields(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "projects": [{"name": "P"}],
        "machine_accounts": [{"name": "bot", "tokens": [
            {"id": "7e000000-0000-4000-8000-0000000000aa", "client_secret": "s3cret",
             "key_b64": base64.b64encode(b"k" * 16).decode()}], "grants": {"P": "read"}}],
        "secrets": [{"key": "A", "value": "B", "project": "P"}],
    }))
    server = start(seed=seed)
    try:
        token = server.info["tokens"]["bot"]
        assert token == "0.7e000000-0000-4000-8000-0000000000aa.s3cret:" + base64.b64encode(
            b"k" * 16).decode()
        client = Http(server.info)
        bearer = client.login(token)
        status, body, _unused = client.api("GET", "/organizations/%s/secrets"
                                           % server.info["organization_id"], bearer=bearer)
        assert status == 200 and len(body["secrets"]) == 1
        assert body["secrets"][0]["write"] is False
        client.close()
    finally:
        server.cleanup()


# --------------------------------------------------------------------------- identity


def test_login_returns_jwt_and_wrapped_org_key(web):
    status, headers, data = web.login_raw(VECTORS["access_token"]["token"])
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    body = json.loads(data)
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "encrypted_payload"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (3600, "Bearer", "api.secrets")
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    expected = VECTORS["identity"]["jwt_claims"]
    assert set(claims) == set(expected)
    assert claims["client_id"] == expected["client_id"]
    assert claims["sub"] == expected["sub"]
    assert claims["organization"] == ORG_ID
    assert claims["type"] == "ServiceAccount" and claims["scope"] == ["api.secrets"]
    assert claims["exp"] - claims["iat"] == 3600
    token_key = crypto.derive_access_token_key(base64.b64decode(VECTORS["access_token"]["key16_b64"]))
    payload = json.loads(crypto.decrypt_text(token_key, body["encrypted_payload"]))
    assert payload == {"encryptionKey": VECTORS["organization"]["org_key_b64"]}


@pytest.mark.parametrize("mutate", ["secret", "id"])
def test_login_invalid_client(web, mutate):
    token = VECTORS["access_token"]["token"]
    if mutate == "secret":
        token = token.replace("Q2xpZW50", "WRONG000")
    else:
        token = token.replace("7e000000-0000-4000-8000-000000000001",
                              "7e000000-0000-4000-8000-0000000000ff")
    status, _unused, data = web.login_raw(token)
    assert status == 400 and json.loads(data) == {"error": "invalid_client"}


def test_login_wrong_grant_type(web):
    status, _unused, data = web.raw("POST", "/identity/connect/token", (
        "scope=api.secrets&client_id=%s&client_secret=%s&grant_type=password" % (
            VECTORS["access_token"]["id"], VECTORS["access_token"]["client_secret"])).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and json.loads(data) == {"error": "unsupported_grant_type"}


# --------------------------------------------------------------------------- 401


def test_missing_or_bad_bearer_is_401(web, ci_jwt):
    path = "/secrets/%s" % VISIBLE_TO_CI[0]
    assert web.api("GET", path)[0] == 401
    assert web.api("GET", path, bearer="not-a-jwt")[0] == 401
    forged = jwt.encode(jwt.decode(ci_jwt, options={"verify_signature": False}), "another-signing-key-of-32-bytes!",
                        algorithm="HS256")
    assert web.api("GET", path, bearer=forged)[0] == 401
    status, _unused, headers = web.api("GET", path, bearer=ci_jwt)
    assert status == 200 and headers["content-length"]


def test_expired_jwt_is_401():
    # JWT times are whole seconds: a 2 s lifetime lasts between 1 and 2 s.
    server = start(seed=VECTORS_SEED, extra_args=["--jwt-lifetime", "2"])
    try:
        client, bearer = ci_session(server)
        path = "/secrets/%s" % VISIBLE_TO_CI[0]
        assert client.api("GET", path, bearer=bearer)[0] == 200
        time.sleep(3.1)
        assert client.api("GET", path, bearer=bearer)[0] == 401
        client.close()
    finally:
        server.cleanup()


def test_revoke_unrevoke_and_expire_jwts(fresh):
    client, bearer = ci_session(fresh)
    path = "/secrets/%s" % VISIBLE_TO_CI[0]
    token_id = VECTORS["access_token"]["id"]
    assert fresh.revoke(token_id)["revoked"] is True
    assert client.api("GET", path, bearer=bearer)[0] == 401
    status, _unused, data = client.login_raw(fresh.info["tokens"]["ci"])
    assert status == 400 and json.loads(data) == {"error": "invalid_client"}
    fresh.unrevoke(token_id)
    assert client.api("GET", path, bearer=bearer)[0] == 401  # old JWTs stay dead
    bearer = client.login(fresh.info["tokens"]["ci"])
    assert client.api("GET", path, bearer=bearer)[0] == 200
    assert fresh.expire_jwts()["jwts_expired"] >= 1
    assert client.api("GET", path, bearer=bearer)[0] == 401
    client.close()


# --------------------------------------------------------------------------- reads & access


def test_get_secret_shape_and_plaintexts(web, ci_jwt):
    for sid in VISIBLE_TO_CI:
        status, body, headers = web.api("GET", "/secrets/%s" % sid, bearer=ci_jwt)
        assert status == 200
        assert body["object"] == "secret" and body["id"] == sid
        assert body["organizationId"] == ORG_ID
        expected = SEEDED[sid]
        assert body["projects"][0]["id"] == expected["projectId"]
        assert body["read"] is True
        assert body["write"] is (expected["projectId"] == PROD)
        for field in ("key", "value", "note"):
            assert dec(body[field]) == expected["plaintext"][field]
        assert DATE_RE.match(body["creationDate"]) and DATE_RE.match(body["revisionDate"])


def test_plus_is_escaped_in_json(web, ci_jwt):
    status, raw_headers, data = web.raw("GET", "/api/secrets/%s" % VISIBLE_TO_CI[0],
                                        headers={"Authorization": "Bearer " + ci_jwt})
    assert status == 200
    assert b"+" not in data
    assert raw_headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("sid", ["5e000000-0000-4000-8000-000000000007",  # hidden project
                                 "5e000000-0000-4000-8000-000000000008",  # no project
                                 "5e000000-0000-4000-8000-0000000000ff",  # missing
                                 "not-a-uuid"])
def test_invisible_secret_is_404_with_vectors_body(web, ci_jwt, sid):
    status, body, _unused = web.api("GET", "/secrets/%s" % sid, bearer=ci_jwt)
    assert status == 404 and body == NOT_FOUND_BODY


def test_hidden_project_is_404_and_its_secrets_an_empty_list(web, ci_jwt):
    assert web.api("GET", "/projects/%s" % HIDDEN, bearer=ci_jwt)[:2] == (404, NOT_FOUND_BODY)
    status, body, _unused = web.api("GET", "/projects/%s/secrets" % HIDDEN, bearer=ci_jwt)
    assert (status, body["secrets"], body["projects"]) == (200, [], [])  # as SecretsController
    missing = "/projects/%s/secrets" % uuid.uuid4()
    assert web.api("GET", missing, bearer=ci_jwt)[:2] == (404, NOT_FOUND_BODY)


def test_get_by_ids(web, ci_jwt):
    status, body, _unused = web.api("POST", "/secrets/get-by-ids", {"ids": VISIBLE_TO_CI}, bearer=ci_jwt)
    assert status == 200 and body["object"] == "list"
    assert [s["id"] for s in body["data"]] == VISIBLE_TO_CI
    assert all(s["object"] == "baseSecret" and "read" not in s for s in body["data"])
    for item in body["data"]:
        assert dec(item["value"]) == SEEDED[item["id"]]["plaintext"]["value"]


@pytest.mark.parametrize("extra", ["5e000000-0000-4000-8000-000000000007",
                                   "5e000000-0000-4000-8000-0000000000ff"])
def test_get_by_ids_404_if_any_id_is_unreadable(web, ci_jwt, extra):
    status, body, _unused = web.api("POST", "/secrets/get-by-ids", {"ids": VISIBLE_TO_CI + [extra]},
                                    bearer=ci_jwt)
    assert status == 404 and body == NOT_FOUND_BODY


def test_list_secrets_shape(web, ci_jwt):
    status, body, _unused = web.api("GET", "/organizations/%s/secrets" % ORG_ID, bearer=ci_jwt)
    assert status == 200 and body["object"] == "SecretsWithProjectsList"
    assert [s["id"] for s in body["secrets"]] == VISIBLE_TO_CI
    assert all("value" not in s and "note" not in s for s in body["secrets"])
    assert {p["id"] for p in body["projects"]} == {PROD, STAGING}
    assert {dec(p["name"]) for p in body["projects"]} == {"Production", "Staging ✓"}
    keys = {dec(s["key"]) for s in body["secrets"]}
    assert keys == {SEEDED[sid]["plaintext"]["key"] for sid in VISIBLE_TO_CI}
    other_org = "/organizations/%s/secrets" % uuid.uuid4()
    assert web.api("GET", other_org, bearer=ci_jwt)[0] == 404


def test_project_secrets_and_projects_list(web, ci_jwt):
    status, body, _unused = web.api("GET", "/projects/%s/secrets" % STAGING, bearer=ci_jwt)
    assert status == 200
    assert [s["id"] for s in body["secrets"]] == ["5e000000-0000-4000-8000-000000000006"]
    assert body["secrets"][0]["write"] is False
    status, body, _unused = web.api("GET", "/organizations/%s/projects" % ORG_ID, bearer=ci_jwt)
    assert status == 200 and body["object"] == "list"
    flags = {p["id"]: (p["read"], p["write"]) for p in body["data"]}
    assert flags == {PROD: (True, True), STAGING: (True, False)}


def test_reader_sees_only_staging(emu):
    client = Http(emu.info)
    bearer = client.login(emu.info["tokens"]["reader"])
    assert client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0], bearer=bearer)[0] == 404
    status, body, _unused = client.api("GET", "/secrets/5e000000-0000-4000-8000-000000000006",
                                       bearer=bearer)
    assert status == 200 and dec(body["value"]) == "https://staging.example"
    status, _unused, _unused = client.api("POST", "/organizations/%s/secrets" % ORG_ID,
                                          secret_body("K", "V", project_ids=[STAGING]), bearer=bearer)
    assert status == 404
    client.close()


# --------------------------------------------------------------------------- writes


def test_create_rules(web, ci_jwt):
    path = "/organizations/%s/secrets" % ORG_ID
    for pids in (None, [], [STAGING], [HIDDEN], [str(uuid.uuid4())]):
        status, body, _unused = web.api("POST", path, secret_body("K", "V", project_ids=pids),
                                        bearer=ci_jwt)
        assert (status, body) == (404, NOT_FOUND_BODY), pids
    assert web.api("POST", path, secret_body("K", "V", project_ids=[PROD, STAGING]),
                   bearer=ci_jwt)[0] == 400


def test_update_rules(fresh):
    client, bearer = ci_session(fresh)
    sid = VISIBLE_TO_CI[0]
    path = "/secrets/%s" % sid
    for pids in (None, [], [STAGING], [HIDDEN]):
        status, body, _unused = client.api("PUT", path, secret_body("K", "V", project_ids=pids),
                                           bearer=bearer)
        assert (status, body) == (404, NOT_FOUND_BODY), pids
    staging_secret = "/secrets/5e000000-0000-4000-8000-000000000006"
    assert client.api("PUT", staging_secret, secret_body("K", "V", project_ids=[PROD]),
                      bearer=bearer)[0] == 404
    status, body, _unused = client.api("PUT", path, secret_body("NEW", "new ✓", "n", [PROD]),
                                       bearer=bearer)
    assert status == 200 and dec(body["key"]) == "NEW" and dec(body["value"]) == "new ✓"
    assert _when(body["creationDate"]) < _when(body["revisionDate"])
    client.close()


def test_validation_errors(web, ci_jwt):
    path = "/organizations/%s/secrets" % ORG_ID
    bad_key = dict(secret_body("K", "V", project_ids=[PROD]), key="plain text key")
    status, body, _unused = web.api("POST", path, bad_key, bearer=ci_jwt)
    assert status == 400 and body == VECTORS["error_bodies"]["400_validation"]
    for field in ("note", "value"):
        bad = dict(secret_body("K", "V", project_ids=[PROD]), **{field: "1.abc|def"})
        status, body, _unused = web.api("POST", path, bad, bearer=ci_jwt)
        assert status == 400 and list(body["validationErrors"]) == [field.capitalize()]
    status, body, _unused = web.api("POST", "/organizations/%s/projects" % ORG_ID, {"name": "plain"},
                                    bearer=ci_jwt)
    assert status == 400 and list(body["validationErrors"]) == ["Name"]
    status, body, _unused = web.api("POST", "/secrets/get-by-ids", {"ids": ["x"]}, bearer=ci_jwt)
    assert status == 400


def test_encrypted_value_size_limit(fresh):
    client, bearer = ci_session(fresh)
    path = "/organizations/%s/secrets" % ORG_ID
    # 26,000 plaintext bytes -> EncString of about 34,7xx chars: accepted.
    ok = secret_body("BIG", "x" * 26000, project_ids=[PROD])
    assert len(ok["value"]) <= 35000
    assert client.api("POST", path, ok, bearer=bearer)[0] == 200
    big = secret_body("BIG", "x" * 26300, project_ids=[PROD])
    assert len(big["value"]) > 35000
    status, body, _unused = client.api("POST", path, big, bearer=bearer)
    assert status == 400 and "Value" in body["validationErrors"]
    client.close()


def test_created_secret_is_stored_as_sent_ciphertext(fresh):
    client, bearer = ci_session(fresh)
    sent = secret_body("NEW_KEY", "línea 1\nlínea 2 🚀\n", "nota", [PROD])
    status, body, _unused = client.api("POST", "/organizations/%s/secrets" % ORG_ID, sent, bearer=bearer)
    assert status == 200 and body["object"] == "secret" and body["write"] is True
    stored = {s["id"]: s for s in fresh.secrets(ciphertext=True)["secrets"]}[body["id"]]
    assert stored["projectIds"] == [PROD]
    for field in ("key", "value", "note"):
        assert stored[field] == sent[field]  # byte-for-byte what the client sent
    assert dec(stored["value"]) == "línea 1\nlínea 2 🚀\n"
    # Seeded plaintext is held only as ciphertext under the org key.
    for item in fresh.secrets(ciphertext=True)["secrets"]:
        if item["id"] in SEEDED:
            assert item["value"] != SEEDED[item["id"]]["plaintext"]["value"]
            assert dec(item["value"]) == SEEDED[item["id"]]["plaintext"]["value"]
    client.close()


def test_delete_secrets(fresh):
    client, bearer = ci_session(fresh)
    path = "/organizations/%s/secrets" % ORG_ID
    ids = [client.api("POST", path, secret_body("D%d" % i, "v", project_ids=[PROD]),
                      bearer=bearer)[1]["id"] for i in range(2)]
    count = fresh.secrets()["count"]
    missing = str(uuid.uuid4())
    status, body, _unused = client.api("POST", "/secrets/delete", [missing], bearer=bearer)
    assert (status, body) == (404, NOT_FOUND_BODY)
    staging_secret = "5e000000-0000-4000-8000-000000000006"
    # one id that does not exist: 404, and nothing deleted (BulkDeleteAsync counts what it found)
    status, body, _unused = client.api("POST", "/secrets/delete", ids + [missing], bearer=bearer)
    assert (status, body) == (404, NOT_FOUND_BODY) and fresh.secrets()["count"] == count
    status, body, _unused = client.api("POST", "/secrets/delete", ids + [staging_secret], bearer=bearer)
    assert status == 200 and body["object"] == "list"
    errors = {item["id"]: item["error"] for item in body["data"]}
    assert errors == {ids[0]: None, ids[1]: None, staging_secret: "access denied"}
    assert all(item["object"] == "BulkDeleteResponseModel" for item in body["data"])
    assert fresh.secrets()["count"] == count - 2
    client.close()


def test_encrypted_lengths_beyond_the_request_models_are_400(fresh):
    client, bearer = ci_session(fresh)
    path = "/organizations/%s/secrets" % ORG_ID
    for field, text in (("key", "\u00e9" * 500), ("note", "\u00e9" * 7000)):
        body = secret_body("K", "v", project_ids=[PROD])
        body[field] = enc(text)
        status, answer, _unused = client.api("POST", path, body, bearer=bearer)
        assert status == 400 and list(answer["validationErrors"]) == [field.capitalize()], field
    status, answer, _unused = client.api("POST", "/organizations/%s/projects" % ORG_ID, {"name": enc("\u00e9" * 500)},
                                         bearer=bearer)
    assert status == 400 and list(answer["validationErrors"]) == ["Name"]
    client.close()


def test_projects_create_update_delete(fresh):
    client, bearer = ci_session(fresh)
    status, project, _unused = client.api("POST", "/organizations/%s/projects" % ORG_ID,
                                          {"name": enc("New project ✨")}, bearer=bearer)
    assert status == 200 and project["object"] == "project" and project["write"] is True
    assert dec(project["name"]) == "New project ✨"
    pid = project["id"]
    status, secret, _unused = client.api("POST", "/organizations/%s/secrets" % ORG_ID,
                                         secret_body("IN_NEW", "v", project_ids=[pid]), bearer=bearer)
    assert status == 200
    status, renamed, _unused = client.api("PUT", "/projects/%s" % pid, {"name": enc("Renamed")},
                                          bearer=bearer)
    assert status == 200 and dec(renamed["name"]) == "Renamed"
    assert _when(renamed["revisionDate"]) > _when(renamed["creationDate"])
    assert client.api("PUT", "/projects/%s" % STAGING, {"name": enc("x")}, bearer=bearer)[0] == 404
    status, body, _unused = client.api("POST", "/projects/delete", [pid, STAGING], bearer=bearer)
    assert status == 200
    assert {i["id"]: i["error"] for i in body["data"]} == {pid: None, STAGING: "access denied"}
    # The secret survives, unassigned, and so becomes invisible to the machine account.
    assert client.api("GET", "/secrets/%s" % secret["id"], bearer=bearer)[0] == 404
    stored = {s["id"]: s for s in fresh.secrets()["secrets"]}
    assert stored[secret["id"]]["projectIds"] == []
    status, body, _unused = client.api("POST", "/projects/delete", [HIDDEN], bearer=bearer)
    assert status == 200 and body["data"][0]["error"] == "access denied"  # it exists: not shared
    assert client.api("POST", "/projects/delete", [HIDDEN, str(uuid.uuid4())], bearer=bearer)[:2] == (
        404, NOT_FOUND_BODY)
    client.close()


def test_write_dates_strictly_increase(fresh):
    client, bearer = ci_session(fresh)
    dates = []
    for i in range(5):
        status, body, _unused = client.api("PUT", "/secrets/%s" % VISIBLE_TO_CI[0],
                                           secret_body("K%d" % i, "v", project_ids=[PROD]),
                                           bearer=bearer)
        assert status == 200 and DATE_RE.match(body["revisionDate"])
        dates.append(body["revisionDate"])
    assert dates == sorted(dates, key=_when) and len(set(map(_when, dates))) == len(dates)
    client.close()


# --------------------------------------------------------------------------- sync


def _now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%06d+00:00" % (
        int(time.time() * 1e6) % 1000000)


def _sync(client, bearer, since=None):
    path = "/organizations/%s/secrets/sync" % ORG_ID
    if since is not None:
        path += "?" + urllib.parse.urlencode({"lastSyncedDate": since})
    return client.api("GET", path, bearer=bearer)


def test_sync_has_changes_logic(fresh):
    client, bearer = ci_session(fresh)
    reader = Http(fresh.info)
    reader_bearer = reader.login(fresh.info["tokens"]["reader"])

    status, body, _unused = _sync(client, bearer)
    assert status == 200 and body["object"] == "secretsSync" and body["hasChanges"] is True
    assert [s["id"] for s in body["secrets"]["data"]] == VISIBLE_TO_CI
    assert all(s["object"] == "baseSecret" for s in body["secrets"]["data"])

    time.sleep(0.01)
    mark = _now_iso()
    time.sleep(0.01)
    assert _sync(client, bearer, mark)[1] == {"object": "secretsSync", "hasChanges": False,
                                              "secrets": None}
    # An update in Production: visible to ci, not to reader.
    client.api("PUT", "/secrets/%s" % VISIBLE_TO_CI[0],
               secret_body("K", "changed", project_ids=[PROD]), bearer=bearer)
    status, body, _unused = _sync(client, bearer, mark)
    assert body["hasChanges"] is True and len(body["secrets"]["data"]) == len(VISIBLE_TO_CI)
    assert _sync(reader, reader_bearer, mark)[1]["hasChanges"] is False

    for change in ("create", "delete"):
        time.sleep(0.01)
        mark = _now_iso()
        time.sleep(0.01)
        assert _sync(client, bearer, mark)[1]["hasChanges"] is False
        if change == "create":
            created = client.api("POST", "/organizations/%s/secrets" % ORG_ID,
                                 secret_body("C", "v", project_ids=[PROD]), bearer=bearer)[1]
        else:
            client.api("POST", "/secrets/delete", [created["id"]], bearer=bearer)
        assert _sync(client, bearer, mark)[1]["hasChanges"] is True, change
    client.close()
    reader.close()


def test_sync_since_a_revision_date_itself_has_changes(fresh):
    """SecretsSyncQuery: hasChanges when lastSyncedDate <= the machine account's revision date."""
    client, bearer = ci_session(fresh)
    created = client.api("POST", "/organizations/%s/secrets" % ORG_ID,
                         secret_body("AT_THE_MARK", "v", project_ids=[PROD]), bearer=bearer)[1]
    assert _sync(client, bearer, created["revisionDate"])[1]["hasChanges"] is True
    client.close()


def test_a_project_rename_is_not_a_sync_change_its_delete_is(fresh):
    client, bearer = ci_session(fresh)
    project = client.api("POST", "/organizations/%s/projects" % ORG_ID, {"name": enc("Before")}, bearer=bearer)[1]
    client.api("POST", "/organizations/%s/secrets" % ORG_ID, secret_body("IN_IT", "v", project_ids=[project["id"]]),
               bearer=bearer)
    time.sleep(0.01)
    mark = _now_iso()
    time.sleep(0.01)
    status, _unused, _unused = client.api("PUT", "/projects/%s" % project["id"], {"name": enc("After")}, bearer=bearer)
    assert status == 200 and _sync(client, bearer, mark)[1]["hasChanges"] is False
    client.api("POST", "/projects/delete", [project["id"]], bearer=bearer)
    assert _sync(client, bearer, mark)[1]["hasChanges"] is True
    client.close()


def test_clock_offset_moves_dates_jwts_and_the_date_header(fresh):
    """A server clock 10 minutes ahead of this machine's (dates only ever increase, so a clock
    put back is for ``--clock-offset`` at start)."""
    client, bearer = ci_session(fresh)
    fresh.admin("POST", "clock", {"offset_seconds": 600})
    try:
        local_now = time.time()
        fresh_bearer = client.login(fresh.info["tokens"]["ci"])
        claims = json.loads(base64.urlsafe_b64decode(fresh_bearer.split(".")[1] + "=="))
        assert 590 < claims["iat"] - local_now < 610
        created = client.api("POST", "/organizations/%s/secrets" % ORG_ID,
                             secret_body("SKEWED", "v", project_ids=[PROD]), bearer=fresh_bearer)[1]
        assert _when(created["revisionDate"]) > _when(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(local_now + 590)))
        ahead = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(local_now + 300))
        assert _sync(client, fresh_bearer, ahead)[0] == 200  # this machine's future, the server's past
        status, _unused, headers = client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0], bearer=fresh_bearer)
        assert status == 200  # the JWT is checked on the server's clock too
        assert 589 < email.utils.parsedate_to_datetime(headers["date"]).timestamp() - local_now < 611
    finally:
        fresh.admin("POST", "clock", {"offset_seconds": 0})
    client.close()


def test_sync_date_errors(web, ci_jwt):
    future = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(time.time() + 3600))
    status, body, _unused = _sync(web, ci_jwt, future)
    assert status == 400
    assert body == dict(NOT_FOUND_BODY, message="Last synced date must be in the past.")
    assert _sync(web, ci_jwt, "yesterday")[0] == 400
    # A '+' that is not URL-encoded becomes a space, as on the real server: 400.
    path = "/organizations/%s/secrets/sync?lastSyncedDate=2020-01-01T00:00:00+00:00" % ORG_ID
    assert web.api("GET", path, bearer=ci_jwt)[0] == 400
    for ok in ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00.1234567Z", "2020-01-01T02:00:00+02:00"):
        status, body, _unused = _sync(web, ci_jwt, ok)
        assert status == 200 and body["hasChanges"] is True, ok


# --------------------------------------------------------------------------- prefixes & counters


def test_prefixes(fresh):
    client = Http(fresh.info)
    for prefix in ("/identity", ""):
        status, _unused, _unused = client.login_raw(fresh.info["tokens"]["ci"], prefix=prefix)
        assert status == 200, prefix
    assert client.login_raw(fresh.info["tokens"]["ci"], prefix="/api")[0] == 404
    bearer = client.login(fresh.info["tokens"]["ci"])
    path = "/secrets/%s" % VISIBLE_TO_CI[0]
    assert client.api("GET", path, bearer=bearer, prefix="/api")[0] == 200
    assert client.api("GET", path, bearer=bearer, prefix="")[0] == 200
    assert client.api("GET", path, bearer=bearer, prefix="/identity")[0] == 404
    client.close()


def test_counters(fresh):
    client, bearer = ci_session(fresh)
    fresh.reset()
    assert fresh.stats() == {"routes": {}, "statuses": {}, "total": 0, "logins": 0}
    client.login(fresh.info["tokens"]["ci"])
    client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0], bearer=bearer, prefix="/api")
    client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[1], bearer=bearer, prefix="")
    client.api("GET", "/secrets/5e000000-0000-4000-8000-000000000007", bearer=bearer)
    client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0])  # 401
    client.api("POST", "/secrets/get-by-ids", {"ids": VISIBLE_TO_CI}, bearer=bearer)
    client.api("GET", "/nowhere", bearer=bearer)
    fresh.secrets()  # admin calls are not counted
    stats = fresh.stats()
    assert stats["routes"] == {"POST /connect/token": 1, "GET /secrets/{id}": 4,
                               "POST /secrets/get-by-ids": 1, "GET (unmatched)": 1}
    assert stats["total"] == 7 and stats["logins"] == 1
    assert stats["statuses"] == {"200": 4, "404": 2, "401": 1}
    client.close()


def test_keep_alive_reuses_one_connection(web, ci_jwt):
    web.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0], bearer=ci_jwt)
    sock = web.conn.sock
    for sid in VISIBLE_TO_CI:
        assert web.api("GET", "/secrets/%s" % sid, bearer=ci_jwt)[0] == 200
    assert web.conn.sock is sock


# --------------------------------------------------------------------------- faults


def test_rate_limit_every_n(fresh):
    client, bearer = ci_session(fresh)
    fresh.faults({"rate_limit": {"every": 3, "retry_after": 7}})
    path = "/secrets/%s" % VISIBLE_TO_CI[0]
    statuses = [client.api("GET", path, bearer=bearer) for _unused in range(6)]
    assert [s[0] for s in statuses] == [200, 200, 429, 200, 200, 429]
    _unused, body, headers = statuses[2]
    assert headers["retry-after"] == "7"
    assert body == dict(VECTORS["error_bodies"]["429"]["body"],
                        message="Slow down! Too many requests. Try again in 7s.")
    fresh.faults({})
    assert all(client.api("GET", path, bearer=bearer)[0] == 200 for _unused in range(4))
    client.close()


def test_rate_limit_token_bucket(fresh):
    client, bearer = ci_session(fresh)
    fresh.faults({"rate_limit": {"rps": 2, "retry_after": 1}})
    path = "/secrets/%s" % VISIBLE_TO_CI[0]
    burst = [client.api("GET", path, bearer=bearer)[0] for _unused in range(6)]
    assert burst[:2] == [200, 200] and burst.count(429) >= 3
    time.sleep(1.1)
    assert client.api("GET", path, bearer=bearer)[0] == 200
    client.close()


def test_fail_non_json_reset_and_hang(fresh):
    client, bearer = ci_session(fresh)
    route = "POST /secrets/get-by-ids"
    body = {"ids": VISIBLE_TO_CI[:1]}
    fresh.faults({"fail": [{"route": route, "status": 500, "count": 2},
                           {"route": "GET /secrets/{id}", "status": 503, "count": 1}]})
    first = client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)
    assert first[0] == 500 and first[1]["message"] == "An unhandled server error has occurred."
    assert client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)[0] == 500
    assert client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)[0] == 200
    status, headers, _unused = client.raw("GET", "/api/secrets/%s" % VISIBLE_TO_CI[0],
                                          headers={"Authorization": "Bearer " + bearer})
    assert status == 503 and headers["content-type"].startswith("text/html")

    fresh.faults({"non_json": [{"route": route, "count": 1}]})
    status, headers, _unused = client.raw("POST", "/api/secrets/get-by-ids", json.dumps(body).encode(),
                                          {"Authorization": "Bearer " + bearer})
    assert status == 200 and headers["content-type"].startswith("text/html")

    fresh.faults({"reset": [{"route": route, "count": 1}]})
    with pytest.raises((OSError, http.client.HTTPException)):
        client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)
    assert client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)[0] == 200

    fresh.faults({"hang": [{"route": "*", "seconds": 0.6, "count": 1}], "latency_ms": 100})
    began = time.monotonic()
    assert client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)[0] == 200
    assert time.monotonic() - began >= 0.7
    began = time.monotonic()
    assert client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)[0] == 200
    assert 0.1 <= time.monotonic() - began < 0.6
    fresh.faults({"trickle": [{"route": route, "seconds": 0.5, "count": 1}]})
    began = time.monotonic()
    status, answer = client.api("POST", "/secrets/get-by-ids", body, bearer=bearer)[:2]
    assert status == 200 and answer["data"][0]["id"] == VISIBLE_TO_CI[0]
    assert time.monotonic() - began >= 0.45
    stats = fresh.stats()
    assert stats["statuses"]["500"] == 2 and stats["statuses"]["503"] == 1
    with pytest.raises(Exception):
        fresh.faults({"bogus": 1})
    client.close()


def test_cli_rate_limit_flags():
    server = start(seed=VECTORS_SEED, extra_args=["--rate-limit-every", "2", "--retry-after", "3"])
    try:
        client = Http(server.info)
        first = client.login_raw(server.info["tokens"]["ci"])
        second = client.login_raw(server.info["tokens"]["ci"])
        assert first[0] == 200 and second[0] == 429 and second[1]["retry-after"] == "3"
        client.close()
    finally:
        server.cleanup()


# --------------------------------------------------------------------------- TLS & logging


def test_tls_mode():
    server = start(tls=True, seed=VECTORS_SEED)
    try:
        assert server.info["server_url"].startswith("https://127.0.0.1:")
        ca_file = server.info["ca_file"]
        assert os.path.isfile(ca_file)
        from cryptography import x509

        certs = pathlib.Path(ca_file).parent / "server.pem"
        cert = x509.load_pem_x509_certificate(certs.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in san.get_values_for_type(x509.DNSName)
        assert "127.0.0.1" in [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        for host in ("127.0.0.1", "localhost"):
            client = Http(dict(server.info, server_url=server.info["server_url"].replace(
                "127.0.0.1", host)), server.ssl_context())
            bearer = client.login(server.info["tokens"]["ci"])
            assert client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0], bearer=bearer)[0] == 200
            client.close()
        # Without the CA, verification fails; plain HTTP to the TLS port gets no answer.
        with pytest.raises(ssl.SSLError):
            Http(server.info, ssl.create_default_context()).raw("GET", "/_admin/stats")
        port = int(server.info["server_url"].rsplit(":", 1)[1])
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with pytest.raises((OSError, http.client.HTTPException)):
            plain.request("GET", "/_admin/stats")
            plain.getresponse().read()
        plain.close()
        assert server.stats()["logins"] == 2  # admin over TLS works too
    finally:
        server.cleanup()


def test_state_dir_keeps_and_reuses_ca(tmp_path):
    first = start(tls=True, extra_args=["--state-dir", str(tmp_path)])
    ca_pem = pathlib.Path(first.ca_file).read_bytes()
    first.cleanup()
    assert (tmp_path / "ca.pem").exists()
    assert oct((tmp_path / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    second = start(tls=True, extra_args=["--state-dir", str(tmp_path)])
    try:
        assert pathlib.Path(second.ca_file).read_bytes() == ca_pem
        assert second.stats()["total"] == 0
    finally:
        second.cleanup()


def test_logs_never_show_credentials():
    server = start(seed=VECTORS_SEED, extra_args=["-vv"])
    try:
        client = Http(server.info)
        status, _unused, data = client.login_raw(server.info["tokens"]["ci"])
        bearer = json.loads(data)["access_token"]
        payload = json.loads(data)["encrypted_payload"]
        client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0], bearer=bearer)
        client.api("GET", "/secrets/%s" % VISIBLE_TO_CI[0], bearer="garbage")
        client.close()
    finally:
        server.stop()
    log = server.log_text()
    server.cleanup()
    assert "GET /api/secrets/" in log  # requests are logged...
    for secret_text in (VECTORS["access_token"]["client_secret"], VECTORS["access_token"]["key16_b64"],
                        bearer, bearer.split(".")[1], payload,
                        VECTORS["organization"]["org_key_b64"], server.info["access_token"]):
        assert secret_text not in log  # ...credentials are not


@pytest.mark.skipif(not hasattr(sys, "stdlib_module_names"), reason="Python 3.10+")
def test_emulator_needs_only_stdlib_cryptography_and_pyjwt():
    source = EMULATOR.read_text(encoding="utf-8")
    imported = set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", source, re.M))
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"jwt", "cryptography"}
