"""bws.secrets.bws_project_info through real ansible-playbook runs."""

import pytest

from conftest import TARGETS, assert_ok

TARGET = TARGETS / "module_bws_project_info"


@pytest.fixture(scope="module")
def emulator(vectors_seed):
    """This module's own emulator."""
    from control import Emulator

    with Emulator(seed=vectors_seed) as emu:
        yield emu


def test_lists_visible_projects_one_request_per_call(runner, expected, emulator, vectors):
    visible = dict((name, pid) for name, pid in vectors["projects"].items() if name != "Hidden")
    result = runner.run(TARGET / "list.yml", dict(expected, expected_names=list(visible),
                                                  expected_ids=list(visible.values())))
    assert_ok(result)
    routes = emulator.stats()["routes"]
    routes.pop("POST /connect/token", None)
    assert routes == {"GET /organizations/{org}/projects": 3}


def test_reader_sees_only_its_project(runner, expected, emulator, vectors):
    staging = vectors["projects"]["Staging ✓"]
    result = runner.run(TARGET / "list.yml", dict(expected, expected_names=["Staging ✓"], expected_ids=[staging]),
                        env={"BWS_ACCESS_TOKEN": emulator.info["tokens"]["reader"]})
    assert_ok(result)
