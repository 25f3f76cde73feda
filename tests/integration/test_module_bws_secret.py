"""bws.secrets.bws_secret through real ansible-playbook runs, with request counts from the emulator."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import TARGETS, assert_ok

TARGET = TARGETS / "module_bws_secret"
PROD = "b0000000-0000-4000-8000-000000000001"
STAGING = "b0000000-0000-4000-8000-000000000002"
WRITES = ("POST /organizations/{org}/secrets", "PUT /secrets/{id}", "POST /secrets/delete",
          "POST /organizations/{org}/projects", "PUT /projects/{id}", "POST /projects/delete")

UNICODE_VALUE = "пароль-密码-🔑-ñ-Ω≈ç√ \"quoted\" \\ back"
MULTILINE_VALUE = "-----BEGIN KEY-----\nline two\r\nline three\ttab\n-----END KEY-----\n"
LONG_VALUE = "".join("%05d:abcdefghij-klmnopqrstuvwxyz-ABCDEFGHIJKLMNOP/0123456789+=\n" % i for i in range(160))


@pytest.fixture(scope="module")
def emulator(vectors_seed):
    """This module's own emulator: the tests here write."""
    from control import Emulator

    with Emulator(seed=vectors_seed) as emu:
        yield emu


@pytest.fixture()
def client(emulator):
    """Our own client, to check what the modules stored (its requests are counted: reset after use)."""
    from ansible_collections.bws.secrets.plugins.module_utils._options import connect

    return connect({"access_token": emulator.info["tokens"]["ci"], "server_url": emulator.info["server_url"],
                    "use_state_file": False})


def writes(emulator):
    routes = emulator.stats()["routes"]
    return dict((name, routes[name]) for name in WRITES if routes.get(name))


def versions(emulator, secret_id):
    """How many old values the server kept for the secret (updates sent with valueChanged)."""
    return next(s["versions"] for s in emulator.secrets()["secrets"] if s["id"] == secret_id)


def by_key(client, project_id):
    found = {}
    for listed in client.list_secrets(project_id):
        found.setdefault(listed.key, []).append(listed.id)
    return found


def converge(runner, expected, declared, expect_changed, **extra):
    extra = dict(expected, declared=declared, expect_changed=expect_changed, **extra)
    result = runner.run(TARGET / "converge.yml", extra)
    assert_ok(result)
    return result


def test_create_then_second_run_writes_nothing(runner, expected, emulator, client):
    assert len(LONG_VALUE) == 10240
    declared = [
        {"key": "MOD_ASCII", "value": "plain-ascii-value", "note": "a note", "project": "Production"},
        {"key": "MOD_ÜNÏCÖDÉ_密钥", "value": UNICODE_VALUE, "note": "emoji 🎉 and RTL עברית", "project": PROD},
        {"key": "MOD_MULTILINE", "value": MULTILINE_VALUE, "note": "line1\nline2", "project": "Production"},
        {"key": "MOD_LONG", "value": LONG_VALUE, "project": "Production"},
    ]
    converge(runner, expected, declared, [True] * 4, expect_value_changed=[True] * 4)
    assert writes(emulator) == {"POST /organizations/{org}/secrets": 4}

    emulator.reset()
    converge(runner, expected, declared, [False] * 4, expect_value_changed=[False] * 4)
    assert writes(emulator) == {}
    routes = emulator.stats()["routes"]
    assert "POST /connect/token" not in routes  # the state file from the first run was reused
    # per task: one project list, one list of the project's secrets, one get of the secret
    assert routes == {"GET /organizations/{org}/projects": 4, "GET /projects/{id}/secrets": 4,
                      "GET /secrets/{id}": 4}

    keys = by_key(client, PROD)
    stored = client.get_secrets([keys[d["key"]][0] for d in declared])
    for want, got in zip(declared, stored):
        assert (got.key, got.value, got.note, got.project_id) == (want["key"], want["value"], want.get("note", ""), PROD)


def test_update_value_note_and_key_sends_current_project(runner, expected, emulator, client):
    created = client.create_secret("MOD_UPDATE", "before-value", "before note", PROD)
    emulator.reset()
    converge(runner, expected, [{"key": "MOD_UPDATE", "value": "after-value", "project": "Production"}], [True],
             expect_value_changed=[True])
    assert writes(emulator) == {"PUT /secrets/{id}": 1}
    current = client.get_secret(created.id)
    assert (current.value, current.note, current.project_ids) == ("after-value", "before note", [PROD])
    assert versions(emulator, created.id) == 1  # the server was told the value changed: it kept the old one

    emulator.reset()
    converge(runner, expected, [{"key": "MOD_UPDATE", "note": "  after note  ", "project": "Production"}], [True],
             expect_value_changed=[False])
    assert writes(emulator) == {"PUT /secrets/{id}": 1}
    current = client.get_secret(created.id)
    assert (current.value, current.note, current.project_ids) == ("after-value", "after note", [PROD])
    assert versions(emulator, created.id) == 1  # a note changed: no new version

    emulator.reset()
    converge(runner, expected, [{"id": created.id, "key": "MOD_UPDATE_RENAMED"}], [True])
    assert writes(emulator) == {"PUT /secrets/{id}": 1}
    current = client.get_secret(created.id)
    assert (current.key, current.value, current.project_ids) == ("MOD_UPDATE_RENAMED", "after-value", [PROD])

    emulator.reset()  # the same again by id: nothing to do
    converge(runner, expected, [{"id": created.id, "key": "MOD_UPDATE_RENAMED", "note": "after note",
                                 "value": "after-value"}], [False])
    assert writes(emulator) == {}
    assert emulator.stats()["routes"] == {"GET /secrets/{id}": 1}


def test_check_mode_reports_and_sends_no_write(runner, expected, emulator, client):
    existing = client.create_secret("MOD_CHECK_EXISTING", "old-value", "", PROD)
    emulator.reset()
    declared = [
        {"key": "MOD_CHECK_NEW", "value": "would-be-created", "project": "Production"},
        {"key": "MOD_CHECK_EXISTING", "value": "would-be-updated", "project": "Production"},
        {"key": "MOD_CHECK_EXISTING", "value": "old-value", "project": "Production"},
        {"id": existing.id, "state": "absent"},
        {"key": "MOD_CHECK_ABSENT", "project": "Production", "state": "absent"},
        # a project an earlier task would create: check mode created nothing
        {"key": "MOD_CHECK_IN_A_NEW_PROJECT", "value": "v", "project": "Not Created Yet"},
    ]
    result = converge(runner, expected, declared, [True, True, False, True, False, True],
                      expect_value_changed=[True, True, False, False, False, True], check=True)
    assert writes(emulator) == {}
    assert "project 'Not Created Yet' does not exist: check mode reports" in " ".join(result.stdout.split())
    keys = by_key(client, PROD)
    assert "MOD_CHECK_NEW" not in keys
    assert client.get_secret(existing.id).value == "old-value"


def test_diff_never_shows_a_value_even_at_vvvv(runner, expected, emulator, client):
    old_value, new_value = "old-Secret-Value-9f2c", "new-Secret-Value-7d1e"
    client.create_secret("MOD_DIFF", old_value, "old note", PROD)
    emulator.reset()
    result = runner.run(TARGET / "diff_verbose.yml",
                        dict(expected, diff_key="MOD_DIFF", new_value=new_value, old_note="old note",
                             new_note="new note"), verbosity=4)
    assert_ok(result)
    assert old_value not in result.stdout and new_value not in result.stdout
    assert "-value: (hidden)" in result.stdout and "+value: (hidden, changed)" in result.stdout
    assert '-note: "old note"' in result.stdout and '+note: "new note"' in result.stdout
    assert writes(emulator) == {"PUT /secrets/{id}": 2}  # the check-mode task wrote nothing


def test_move_between_projects_by_id(runner, expected, emulator, client):
    created = client.create_secret("MOD_MOVE", "move-value", "moving", PROD)
    target = client.create_project("Move Target")  # the creator gets write access
    emulator.reset()
    converge(runner, expected, [{"id": created.id, "project": "Move Target"}], [True], expect_value_changed=[False])
    assert writes(emulator) == {"PUT /secrets/{id}": 1}
    moved = client.get_secret(created.id)
    assert (moved.project_ids, moved.key, moved.value, moved.note) == ([target.id], "MOD_MOVE", "move-value", "moving")

    emulator.reset()
    converge(runner, expected, [{"id": created.id, "project": target.id}], [False])
    assert writes(emulator) == {}

    # Without id, a key is looked up in the project given: the same key elsewhere is another secret.
    emulator.reset()
    converge(runner, expected, [{"key": "MOD_MOVE", "value": "move-value", "project": "Production"}], [True])
    assert writes(emulator) == {"POST /organizations/{org}/secrets": 1}
    assert len(by_key(client, PROD)["MOD_MOVE"]) == 1 and by_key(client, target.id)["MOD_MOVE"] == [created.id]


def test_delete_then_absent_is_a_no_op(runner, expected, emulator, client):
    by_name = client.create_secret("MOD_DELETE_BY_KEY", "v1", "", PROD)
    by_id = client.create_secret("MOD_DELETE_BY_ID", "v2", "", PROD)
    emulator.reset()
    declared = [{"key": "MOD_DELETE_BY_KEY", "project": "Production", "state": "absent"},
                {"id": by_id.id, "state": "absent"}]
    converge(runner, expected, declared, [True, True])
    assert writes(emulator) == {"POST /secrets/delete": 2}
    remaining = set(s["id"] for s in emulator.secrets()["secrets"])
    assert by_name.id not in remaining and by_id.id not in remaining

    emulator.reset()
    converge(runner, expected, declared, [False, False])
    assert writes(emulator) == {}

    # a teardown run again after its project was deleted too: nothing left to delete, no error
    emulator.reset()
    converge(runner, expected, [{"key": "MOD_DELETE_BY_KEY", "project": "Torn down", "state": "absent"}], [False])
    converge(runner, expected, [{"key": "MOD_DELETE_BY_KEY", "project": "Torn down", "state": "absent"}], [False],
             check=True)
    assert writes(emulator) == {}


def test_a_wrong_api_url_is_an_error_not_an_absent_secret(runner, expected, emulator, client):
    """A 404 from no route of the API (a wrong api_url, a proxy's page) is no "already absent"."""
    kept = client.create_secret("MOD_WRONG_URL", "v", "", PROD)
    emulator.reset()
    server = emulator.info["server_url"]
    result = runner.run(TARGET / "converge.yml", dict(expected, declared=[{"id": kept.id, "state": "absent"}],
                                                      expect_changed=[False]),
                        env={"BWS_API_URL": server + "/api/v0", "BWS_IDENTITY_URL": server + "/identity"})
    assert result.returncode != 0 and "Traceback" not in result.stdout, result.stdout[-3000:]
    assert "without the API's error body" in result.stdout and "api_url" in result.stdout, result.stdout[-3000:]
    assert writes(emulator) == {} and any(s["id"] == kept.id for s in emulator.secrets()["secrets"])
    client.delete_secrets([kept.id])


def test_on_create_sets_the_value_once(runner, expected, emulator, client):
    existing = client.create_secret("MOD_ON_CREATE_EXISTING", "generated-long-ago", "", PROD)
    emulator.reset()
    declared = [{"key": "MOD_ON_CREATE_EXISTING", "value": "freshly-generated-1", "project": "Production",
                 "update_value": "on_create"},
                {"key": "MOD_ON_CREATE_NEW", "value": "freshly-generated-2", "project": "Production",
                 "update_value": "on_create"}]
    converge(runner, expected, declared, [False, True], expect_value_changed=[False, True])
    assert writes(emulator) == {"POST /organizations/{org}/secrets": 1}
    assert client.get_secret(existing.id).value == "generated-long-ago"

    emulator.reset()  # a "new password" on every run changes nothing
    declared[1]["value"] = "freshly-generated-3"
    converge(runner, expected, declared, [False, False])
    assert writes(emulator) == {}
    new_id = by_key(client, PROD)["MOD_ON_CREATE_NEW"][0]
    assert client.get_secret(new_id).value == "freshly-generated-2"

    emulator.reset()  # a note change still applies, the value stays
    declared[0]["note"] = "rotated by hand only"
    converge(runner, expected, declared[:1], [True], expect_value_changed=[False])
    assert writes(emulator) == {"PUT /secrets/{id}": 1}
    current = client.get_secret(existing.id)
    assert (current.value, current.note) == ("generated-long-ago", "rotated by hand only")


def test_errors_are_clear_and_send_no_write(runner, expected, emulator, client):
    first = client.create_secret("DUPLICATED", "dup-1", "", PROD)
    second = client.create_secret("DUPLICATED", "dup-2", "", PROD)
    emulator.reset()
    result = runner.run(TARGET / "errors.yml", dict(expected, duplicate_ids=[first.id, second.id]))
    assert_ok(result)
    assert "failed=0" in result.stdout and "rescued=13" in result.stdout, result.stdout[-3000:]
    # The read-only project is refused before sending; the update by id is refused by the server;
    # a delete by id whose key and project describe another secret sends nothing.
    assert writes(emulator) == {"PUT /secrets/{id}": 1}

    # With an id, one of the duplicates can be managed.
    emulator.reset()
    converge(runner, expected, [{"id": second.id, "key": "DUPLICATED", "value": "dup-2-new", "project": "Production"}],
             [True])
    assert writes(emulator) == {"PUT /secrets/{id}": 1}
    assert client.get_secret(second.id).value == "dup-2-new" and client.get_secret(first.id).value == "dup-1"


def test_module_defaults_for_the_action_group(runner, expected, emulator):
    info = emulator.info
    result = runner.run(TARGET / "module_defaults.yml",
                        dict(expected, token_from_vars=info["tokens"]["ci"], server_from_vars=info["server_url"],
                             state_from_vars=runner.state_dir),
                        env={"BWS_ACCESS_TOKEN": None, "BWS_SERVER_URL": None, "BWS_STATE_DIR": None})
    assert_ok(result)
    assert writes(emulator) == {"POST /organizations/{org}/secrets": 1}
    assert emulator.stats()["routes"]["POST /connect/token"] == 1  # three modules, one login


def test_missing_libraries_give_a_clear_message(runner, expected, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    result = runner.run(TARGET / "missing_library.yml", dict(expected, bare_python=str(bare / "bin" / "python")))
    assert_ok(result)
    assert "rescued=1" in result.stdout


@pytest.mark.parametrize("module_state_file", [True, False])
def test_a_write_is_seen_at_once_by_lookups_with_cache_ttl(runner, expected, emulator, client, module_state_file):
    """The module's write removes the lookups' sync cache of its token: the next lookup with
    cache_ttl fetches afresh (one sync) instead of answering the old value for 10 minutes; so
    does a module that keeps no state file itself (the lookups' cache is in state_dir all the same)."""
    created = client.create_secret("MOD_CACHED_%s" % module_state_file, "cached-before", "", PROD)
    emulator.reset()
    extra = dict(expected, secret_id=created.id, old_value="cached-before", new_value="cached-after",
                 module_state_file=module_state_file)
    assert_ok(runner.run(TARGET / "cache.yml", extra))
    routes = emulator.stats()["routes"]
    assert routes["GET /organizations/{org}/secrets/sync"] == 2, routes  # fill, and again after the write
    assert writes(emulator) == {"PUT /secrets/{id}": 1}
    assert client.get_secret(created.id).value == "cached-after"


def test_without_a_state_file_a_write_leaves_an_empty_state_dir_alone(runner, expected, emulator, client, tmp_path):
    """use_state_file=false: with nothing of the lookups' in state_dir, the module's write leaves the
    directory as it was and says nothing about it (the cache test above covers the removal)."""
    created = client.create_secret("MOD_NO_STATE", "before", "", PROD)
    emulator.reset()
    state_dir = tmp_path / "untouched"
    state_dir.mkdir(mode=0o700)
    result = runner.run(TARGET / "converge.yml", dict(expected, declared=[{"id": created.id, "value": "after"}],
                                                      expect_changed=[True]),
                        env={"BWS_USE_STATE_FILE": "false", "BWS_STATE_DIR": str(state_dir)})
    assert_ok(result)
    assert "[WARNING]" not in result.stdout, result.stdout[-3000:]
    assert writes(emulator) == {"PUT /secrets/{id}": 1} and list(state_dir.iterdir()) == []
    client.delete_secrets([created.id])


def test_hosts_running_the_same_create_at_once_create_it_once(runner, expected, emulator, client):
    """Six hosts, forks 6, each running the create delegated to localhost, with 150 ms on every
    answer so that their runs overlap: one project and one secret are created, not six."""
    emulator.faults({"latency_ms": 150})
    try:
        result = runner.run(TARGET / "create_on_every_host.yml", dict(race_project="Race ✓"),
                            inventory=runner.hosts_inventory(6), forks=6)
    finally:
        emulator.faults({})
    assert_ok(result)
    assert writes(emulator) == {"POST /organizations/{org}/projects": 1, "POST /organizations/{org}/secrets": 1}
    recap = [line for line in result.stdout.splitlines() if line.startswith("h0")]
    assert len(recap) == 6 and sum(int(line.split("changed=")[1].split()[0]) for line in recap) == 2, recap
    project = [p for p in client.list_projects() if p.name == "Race ✓"]
    assert len(project) == 1
    assert list(by_key(client, project[0].id)) == ["RACE_KEY"] and len(by_key(client, project[0].id)["RACE_KEY"]) == 1
    locks = [name for name in os.listdir(runner.state_dir) if name.endswith(".bws-secrets-create-lock")]
    assert len(locks) == 1 and stat.S_IMODE(os.stat(os.path.join(runner.state_dir, locks[0])).st_mode) == 0o600
