"""SecretsManager calls over real HTTP: writes, projects, sync, limits and access rules."""

import datetime
import time

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._errors import ApiError, BWSSDKError, NotFoundError
from ansible_collections.bws.secrets.plugins.module_utils._options import connect

PROD = "b0000000-0000-4000-8000-000000000001"
STAGING = "b0000000-0000-4000-8000-000000000002"


@pytest.fixture(scope="module")
def emu(vectors_seed):
    from control import Emulator

    with Emulator(seed=vectors_seed) as server:
        yield server


@pytest.fixture()
def client(emu):
    return connect({"access_token": emu.info["tokens"]["ci"], "server_url": emu.info["server_url"],
                    "use_state_file": False})


def test_create_update_move_delete(client, emu):
    created = client.create_secret("  NEW_KEY  ", "v1 ✓\nline", "  a note ", PROD)
    assert (created.key, created.value, created.note, created.project_id) == ("NEW_KEY", "v1 ✓\nline", "a note", PROD)
    stored = next(s for s in emu.admin("GET", "/_admin/secrets?ciphertext=1")["secrets"] if s["id"] == created.id)
    seen = str(stored)
    # the server only ever saw ciphertext (a space and a non-ASCII mark: no base64 text holds them)
    assert "v1 \u2713" not in seen and "a note" not in seen and "NEW_KEY" not in seen

    updated = client.update_secret(created.id, "NEW_KEY", "v2", "", [PROD])
    assert (updated.value, updated.note, updated.revision_date >= created.revision_date) == ("v2", "", True)
    assert client.get_secret(created.id).value == "v2"

    with pytest.raises(NotFoundError):  # the machine account can only read Staging
        client.update_secret(created.id, "NEW_KEY", "v2", "", [STAGING])
    with pytest.raises(BWSSDKError, match="a project is required"):
        client.update_secret(created.id, "NEW_KEY", "v2", "", [])

    assert client.delete_secrets([created.id]) == [created.id]
    with pytest.raises(NotFoundError, match=created.id):
        client.get_secret(created.id)


def test_limits_checked_before_sending(client, emu):
    emu.reset()
    for kwargs, fragment in [
        (dict(key=" ", value="v", note=""), "key must not be empty"),
        (dict(key="K" * 501, value="v", note=""), "limit is 500"),
        (dict(key="K", value="", note=""), "must not be empty"),
        (dict(key="K", value="x" * 25001, note=""), "limit is 25000"),
        (dict(key="K", value="v", note="n" * 7001), "limit is 7000"),
    ]:
        with pytest.raises(BWSSDKError, match=fragment):
            client.create_secret(project_id=PROD, **kwargs)
    with pytest.raises(BWSSDKError, match="not a valid UUID"):
        client.create_secret("K", "v", "", "production")
    assert "POST /organizations/{org}/secrets" not in emu.stats()["routes"]


def test_limits_of_the_encrypted_text_checked_before_sending(client, emu):
    """Within the SDK's character limits, non-ASCII text can exceed the server's limits on the
    encrypted strings (key 1000, value 35000, note 10000, project name 1000): said before sending."""
    emu.reset()
    for kwargs, fragment in [
        (dict(key="\u00e9" * 500, value="v", note=""), "the key of secret .* once encrypted; the server's limit is 1000"),
        (dict(key="K", value="\u20ac" * 25000, note=""), "the value of secret 'K' is .* once encrypted; .* limit is 35000"),
        (dict(key="K", value="v", note="\u00e9" * 7000), "the note of secret 'K' is .* once encrypted; .* limit is 10000"),
    ]:
        with pytest.raises(BWSSDKError, match=fragment):
            client.create_secret(project_id=PROD, **kwargs)
    with pytest.raises(BWSSDKError, match="the name of project .* once encrypted; the server's limit is 1000"):
        client.create_project("\u00e9" * 500)
    assert emu.stats()["routes"] == {}
    created = client.create_secret("\u00e9" * 240, "\u20ac" * 8000, "\u00e9" * 2500, PROD)  # just within
    assert client.get_secret(created.id).value == "\u20ac" * 8000
    client.delete_secrets([created.id])


def test_create_in_read_only_project_is_not_found(client):
    with pytest.raises(NotFoundError, match="not shared with this machine account"):
        client.create_secret("K", "v", "", STAGING)


def test_list_and_project_list(client, vectors):
    listed = client.list_secrets()
    visible = set(c["id"] for c in vectors["seeded_secrets"] if c["visible_to_ci"])
    assert visible <= set(s.id for s in listed)
    assert all(s.value is None and not s.has_value for s in listed)
    in_prod = client.list_secrets(project_id=PROD)
    assert set(s.project_id for s in in_prod) == {PROD}
    names = dict((p.id, p.name) for p in client.list_projects())
    assert names[PROD] == "Production" and names[STAGING] == "Staging ✓"
    assert client.get_project(STAGING).name == "Staging ✓"


def test_project_create_rename_delete(client):
    project = client.create_project("  Temp ✨ ")
    assert project.name == "Temp ✨"
    assert client.update_project(project.id, "Renamed").name == "Renamed"
    secret = client.create_secret("IN_TEMP", "v", "", project.id)
    assert client.get_secret(secret.id).project_id == project.id
    assert client.delete_projects([project.id]) == [project.id]
    with pytest.raises(NotFoundError):
        client.get_project(project.id)


def test_sync_reports_changes_after_a_date(client, vectors):
    changed, everything = client.sync()
    assert changed and len(everything) >= 6
    assert all(s.value is not None for s in everything)
    time.sleep(0.05)
    mark = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.05)
    assert client.sync(mark) == (False, None)
    ascii_case = vectors["seeded_secrets"][0]
    client.update_secret(ascii_case["id"], "DB_PASSWORD", "hunter2", "primary database", [PROD])
    changed, again = client.sync(mark)
    assert changed and any(s.id == ascii_case["id"] for s in again)
    with pytest.raises(BWSSDKError, match="timezone-aware"):
        client.sync(datetime.datetime.now())


def test_future_sync_date_is_an_api_error(client):
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    with pytest.raises(ApiError) as info:
        client.sync(future)
    assert info.value.status == 400 and "in the past" in str(info.value)


def _stored(emu, secret_id):
    return next(s for s in emu.admin("GET", "/_admin/secrets?ciphertext=1")["secrets"] if s["id"] == secret_id)


def test_an_update_says_when_the_value_changed(client, emu):
    """valueChanged: the server keeps the old value as a version only when told the value changed."""
    from ansible_collections.bws.secrets.plugins.module_utils._crypto import decrypt_text

    created = client.create_secret("VERSIONED", "first", "", PROD)
    client.update_secret(created.id, "VERSIONED", "first", "a new note only", [PROD])
    assert _stored(emu, created.id)["versions"] == 0
    client.update_secret(created.id, "VERSIONED", "second", "a new note only", [PROD], value_changed=True)
    stored = _stored(emu, created.id)
    assert stored["versions"] == 1
    assert decrypt_text(client.auth.org_enc_key, stored["versionValues"][0], "a version") == "first"
    client.delete_secrets([created.id])


def test_a_404_without_the_apis_error_body_is_a_wrong_url_not_a_missing_secret(emu, vectors):
    """A path the API has no route for gets a bare 404: that is a wrong api_url, never "not found"
    (a module would take a secret for absent without having looked)."""
    server = emu.info["server_url"]
    wrong = connect({"access_token": emu.info["tokens"]["ci"], "api_url": server + "/api/v0",
                     "identity_url": server + "/identity", "use_state_file": False, "retries": 0})
    seeded = vectors["seeded_secrets"][0]["id"]
    for call in (lambda: wrong.get_secret(seeded), lambda: wrong.get_secrets([seeded], missing=[]),
                 lambda: wrong.delete_secrets([seeded])):
        with pytest.raises(ApiError) as info:
            call()
        assert not isinstance(info.value, NotFoundError) and info.value.status == 404
        assert "without the API's error body (the API at %s/api/v0 has" % server in str(info.value)
        assert "api_url" in str(info.value)
    assert any(s["id"] == seeded for s in emu.secrets()["secrets"])  # nothing was deleted


def test_a_listing_without_a_list_of_secrets_is_an_error(emu):
    """A JSON answer with no "secrets" (a proxy's) is no empty organization: a module would create
    a secret that exists."""
    from httpkit import ScriptedServer

    server = emu.info["server_url"]
    with ScriptedServer([(200, {}, {"object": "list"})]) as api:
        odd = connect({"access_token": emu.info["tokens"]["ci"], "api_url": api.url,
                       "identity_url": server + "/identity", "use_state_file": False, "retries": 0})
        with pytest.raises(ApiError, match="list secrets: the server's answer has no list of secrets"):
            odd.list_secrets()
        with pytest.raises(ApiError, match="no list of secrets"):
            odd.list_secrets(PROD)


def test_a_date_no_calendar_holds_is_no_crash(emu):
    """A sync answer dated in the year 10000: this machine's time stands in for the server's."""
    from httpkit import ScriptedServer

    server = emu.info["server_url"]
    with ScriptedServer([(200, {}, {"hasChanges": True, "secrets": {"data": []}})],
                        date="Fri, 31 Dec 9999 23:59:59 -2359") as api:
        odd = connect({"access_token": emu.info["tokens"]["ci"], "api_url": api.url,
                       "identity_url": server + "/identity", "use_state_file": False, "retries": 0})
        before = time.time()
        changed, data, as_of = odd.sync_raw(None)
    assert changed and data == [] and before - 1 <= as_of.timestamp() <= time.time()
