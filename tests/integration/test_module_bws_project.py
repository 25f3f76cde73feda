"""bws.secrets.bws_project through real ansible-playbook runs, with request counts from the emulator."""

import json

import pytest

from conftest import TARGETS, assert_ok

TARGET = TARGETS / "module_bws_project"
WRITES = ("POST /organizations/{org}/projects", "PUT /projects/{id}", "POST /projects/delete",
          "POST /organizations/{org}/secrets", "PUT /secrets/{id}", "POST /secrets/delete")


@pytest.fixture(scope="module")
def emulator(vectors_seed):
    """This module's own emulator: the tests here write."""
    from control import Emulator

    with Emulator(seed=vectors_seed) as emu:
        yield emu


def writes(emulator):
    routes = emulator.stats()["routes"]
    return dict((name, routes[name]) for name in WRITES if routes.get(name))


def projects(emulator):
    """{id: grants} of every project the emulator holds (names are encrypted there)."""
    return dict((p["id"], p["grants"]) for p in emulator.projects()["projects"])


def declare(runner, expected, expect_changed, **extra):
    result_file = runner.workdir / "result.json"
    if result_file.exists():
        result_file.unlink()
    result = runner.run(TARGET / "project.yml", dict(expected, expect_changed=expect_changed,
                                                     result_file=str(result_file), **extra))
    assert_ok(result)
    return json.loads(result_file.read_text())


def test_create_noop_rename_delete(runner, expected, emulator):
    before = set(projects(emulator))
    preview = declare(runner, expected, True, project_name="Lifecycle ✨", check=True)
    assert preview["project"]["id"] is None and writes(emulator) == {}
    assert set(projects(emulator)) == before

    created = declare(runner, expected, True, project_name="  Lifecycle ✨  ")
    assert writes(emulator) == {"POST /organizations/{org}/projects": 1}
    pid = created["id"]
    assert set(projects(emulator)) == before | {pid}
    assert projects(emulator)[pid] == {"ci": "write"}
    assert created["project"]["name"] == "Lifecycle ✨"

    emulator.reset()
    again = declare(runner, expected, False, project_name="Lifecycle ✨")
    assert again["id"] == pid and writes(emulator) == {}
    assert emulator.stats()["routes"] == {"GET /organizations/{org}/projects": 1}

    emulator.reset()
    declare(runner, expected, True, project_id=pid, project_name="Lifecycle renamed", check=True)
    assert writes(emulator) == {}
    renamed = declare(runner, expected, True, project_id=pid, project_name="Lifecycle renamed")
    assert writes(emulator) == {"PUT /projects/{id}": 1}
    assert renamed["id"] == pid and renamed["project"]["name"] == "Lifecycle renamed"
    assert renamed["diff"]["before"] != renamed["diff"]["after"] and "Lifecycle renamed" in renamed["diff"]["after"]

    emulator.reset()
    declare(runner, expected, False, project_id=pid, project_name="Lifecycle renamed")
    declare(runner, expected, False, project_id=pid)
    assert writes(emulator) == {}

    emulator.reset()
    declare(runner, expected, True, project_name="Lifecycle renamed", project_state="absent", check=True)
    assert writes(emulator) == {} and pid in projects(emulator)
    deleted = declare(runner, expected, True, project_name="Lifecycle renamed", project_state="absent")
    assert writes(emulator) == {"POST /projects/delete": 1}
    assert pid not in projects(emulator)
    assert not deleted.get("warnings")

    emulator.reset()
    declare(runner, expected, False, project_name="Lifecycle renamed", project_state="absent")
    declare(runner, expected, False, project_id=pid, project_state="absent")
    assert writes(emulator) == {}


def test_deleting_a_project_that_holds_secrets_warns_they_stay_in_no_project(runner, expected, emulator):
    from ansible_collections.bws.secrets.plugins.module_utils._options import connect

    client = connect({"access_token": emulator.info["tokens"]["ci"], "server_url": emulator.info["server_url"],
                      "use_state_file": False})
    pid = client.create_project("Doomed").id
    sids = [client.create_secret("LEFT_%d" % n, "left-value-%d" % n, "", pid).id for n in range(2)]
    emulator.reset()
    preview = declare(runner, expected, True, project_id=pid, project_state="absent", check=True)
    assert writes(emulator) == {} and pid in projects(emulator)
    deleted = declare(runner, expected, True, project_id=pid, project_state="absent")
    assert writes(emulator) == {"POST /projects/delete": 1}
    for result in (preview, deleted):
        assert len(result["warnings"]) == 1, result["warnings"]
        assert "'Doomed' holds 2 secret(s)" in result["warnings"][0] and "in no project" in result["warnings"][0]
        assert "left-value" not in json.dumps(result)
    assert not set(sids) & set(s.id for s in client.list_secrets())


def test_errors_are_clear_and_send_no_write(runner, expected, emulator):
    from ansible_collections.bws.secrets.plugins.module_utils._options import connect

    client = connect({"access_token": emulator.info["tokens"]["ci"], "server_url": emulator.info["server_url"],
                      "use_state_file": False})
    twins = [client.create_project("Twin").id, client.create_project("Twin").id]
    emulator.reset()
    result = runner.run(TARGET / "errors.yml", dict(expected, twin_ids=twins))
    assert_ok(result)
    assert "failed=0" in result.stdout and "rescued=6" in result.stdout, result.stdout[-3000:]
    assert writes(emulator) == {}
    assert sorted(p.name for p in client.list_projects()).count("Staging ✓") == 1
