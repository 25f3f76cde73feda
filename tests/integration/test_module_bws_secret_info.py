"""bws.secrets.bws_secret_info through real ansible-playbook runs, with request counts from the emulator."""

import pytest

from conftest import TARGETS, assert_ok

TARGET = TARGETS / "module_bws_secret_info"
VISIBLE = ["ascii", "unicode", "multiline", "empty_note", "long_10k", "staging_ro"]


@pytest.fixture(scope="module")
def emulator(vectors_seed):
    """This module's own emulator (read-only tests, but kept apart from the writers)."""
    from control import Emulator

    with Emulator(seed=vectors_seed) as emu:
        yield emu


def test_reads_by_ids_keys_and_project(runner, expected, emulator):
    result = runner.run(TARGET / "read.yml", expected)
    assert_ok(result)
    assert "failed=0" in result.stdout and "rescued=4" in result.stdout, result.stdout[-3000:]
    routes = emulator.stats()["routes"]
    assert not any(name.startswith(("PUT", "POST /organizations", "POST /projects", "POST /secrets/delete"))
                   for name in routes), routes
    for name in VISIBLE:  # values never shown: every task that returns them has no_log
        value = expected["secrets"][name]["value"]
        if len(value) > 3:
            assert value not in result.stdout, name


@pytest.mark.parametrize("case", ["ids", "keys_in_named_project", "project_by_id", "keys_anywhere", "everything",
                                  "empty_ids", "empty_keys_in_named_project"])
def test_request_counts(runner, expected, emulator, case):
    s = expected["secrets"]
    prod = s["ascii"]["project_id"]
    cases = {
        "ids": (dict(ids=[s["ascii"]["id"], s["unicode"]["id"], s["staging_ro"]["id"]]),
                ["ascii", "unicode", "staging_ro"],
                {"POST /secrets/get-by-ids": 1}),
        "keys_in_named_project": (dict(keys=[s["ascii"]["key"], s["multiline"]["key"]], project="Production"),
                                  ["ascii", "multiline"],
                                  {"GET /organizations/{org}/projects": 1, "GET /projects/{id}/secrets": 1,
                                   "POST /secrets/get-by-ids": 1}),
        "project_by_id": (dict(project=prod), ["ascii", "unicode", "multiline", "empty_note", "long_10k"],
                          {"GET /organizations/{org}/projects": 1, "GET /projects/{id}/secrets": 1,
                           "POST /secrets/get-by-ids": 1}),
        "keys_anywhere": (dict(keys=[s["staging_ro"]["key"], s["empty_note"]["key"]]), ["staging_ro", "empty_note"],
                          {"GET /organizations/{org}/secrets": 1, "POST /secrets/get-by-ids": 1}),
        "everything": (dict(), VISIBLE, {"GET /organizations/{org}/secrets": 1, "POST /secrets/get-by-ids": 1}),
        # an empty list (a filter computed empty) matches nothing: it does not read every secret
        "empty_ids": (dict(ids=[]), [], {}),
        "empty_keys_in_named_project": (dict(keys=[], project="Production"), [],
                                        {"GET /organizations/{org}/projects": 1}),
    }
    args, names, routes = cases[case]
    extra = dict(expected, expected_ids=[s[n]["id"] for n in names], expected_values=[s[n]["value"] for n in names],
                 **args)
    assert_ok(runner.run(TARGET / "count.yml", extra))
    got = emulator.stats()["routes"]
    got.pop("POST /connect/token", None)
    assert got == routes


def test_connection_options_fall_back_to_the_same_environment_as_the_lookups(runner, expected, emulator):
    """Every connection option of the modules falls back to the variable the lookups read; here
    BWS_USE_STATE_FILE=false: each run logs in, and no state file is written."""
    import os

    import yaml
    from ansible.module_utils.basic import env_fallback
    from ansible_collections.bws.secrets.plugins.doc_fragments.connection import ModuleDocFragment
    from ansible_collections.bws.secrets.plugins.module_utils._options import module_argspec

    plugins = yaml.safe_load(ModuleDocFragment.PLUGINS)["options"]
    for name, entry in module_argspec(env_fallback).items():
        assert entry.get("fallback") == (env_fallback, [plugins[name]["env"][0]["name"]]), name

    s = expected["secrets"]
    extra = dict(expected, ids=[s["ascii"]["id"]], expected_ids=[s["ascii"]["id"]],
                 expected_values=[s["ascii"]["value"]])
    for _unused in range(2):
        assert_ok(runner.run(TARGET / "count.yml", extra, env={"BWS_USE_STATE_FILE": "false"}))
    assert emulator.stats()["logins"] == 2
    assert not os.path.exists(runner.state_dir) or os.listdir(runner.state_dir) == []
