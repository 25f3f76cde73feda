"""Names to ids against the emulator over real HTTP: what is an id, and project names that
are empty, hidden or held by several projects."""

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._errors import AmbiguousError, ApiError, NotFoundError
from ansible_collections.bws.secrets.plugins.module_utils._options import connect
from ansible_collections.bws.secrets.plugins.module_utils._resolve import find_secrets, is_uuid, secrets_dict

PROD = "b0000000-0000-4000-8000-000000000001"
HIDDEN = "b0000000-0000-4000-8000-000000000003"


@pytest.fixture()
def client(fresh_emulator):
    return connect({"access_token": fresh_emulator.info["tokens"]["ci"],
                    "server_url": fresh_emulator.info["server_url"], "use_state_file": False})


@pytest.mark.parametrize("text, expected", [
    ("5e000000-0000-4000-8000-000000000001", True),
    ("5E000000-0000-4000-8000-00000000000A", True),
    ("5e000000000040008000000000000001", False),  # uuid.UUID() reads these; the server never writes them
    ("{5e000000-0000-4000-8000-000000000001}", False),
    ("urn:uuid:5e000000-0000-4000-8000-000000000001", False),
    ("5e000000-0000-4000-8000-000000000001x", False),
    ("DB_PASSWORD", False),
])
def test_only_the_servers_form_of_an_id_is_an_id(text, expected):
    assert is_uuid(text) is expected


def test_a_key_of_32_hex_digits_is_found_by_name(client):
    key = "0123456789abcdef0123456789abcdef"
    created = client.create_secret(key, "hex-named", "", PROD)
    found = find_secrets(client, [key])
    assert [(s.id, s.value) for s in found] == [(created.id, "hex-named")]


def test_two_projects_of_one_name_are_ambiguous_not_merged(client):
    other = client.create_project("Production")  # a second project of that name
    client.create_secret("ONLY_IN_THE_SECOND", "second", "", other.id)
    with pytest.raises(AmbiguousError, match="project name 'Production' matches 2 projects.*use the project id"):
        find_secrets(client, ["ONLY_IN_THE_SECOND"], project="Production")
    with pytest.raises(AmbiguousError, match="matches 2 projects"):
        secrets_dict(client, projects=["Production"])
    assert find_secrets(client, ["ONLY_IN_THE_SECOND"], project=other.id)[0].value == "second"
    assert list(secrets_dict(client, projects=[other.id])) == ["ONLY_IN_THE_SECOND"]


@pytest.mark.parametrize("project", [HIDDEN, "11111111-1111-4111-8111-111111111111"])
def test_a_project_not_shared_or_missing_is_an_error_not_an_empty_answer(client, project):
    with pytest.raises(NotFoundError, match="project %s: not found or not shared with this machine account" % project):
        secrets_dict(client, projects=[project])
    with pytest.raises(NotFoundError, match="project %s: not found or not shared" % project):
        find_secrets(client, ["DB_PASSWORD"], project=project, missing=[])
    with pytest.raises(NotFoundError, match=r"project 'Nowhere': not found or not shared .*\(visible: 'Production'"):
        find_secrets(client, ["DB_PASSWORD"], project="Nowhere", missing=[])


def test_an_empty_project_is_an_empty_answer(client, fresh_emulator):
    """A project the machine account can read that holds no secret yet (just created, say): no
    secret in it, by name or by id, costing one request more (the project list) than a project
    that holds some."""
    empty = client.create_project("Empty")
    for ref in ("Empty", empty.id):
        fresh_emulator.reset()
        assert secrets_dict(client, projects=[ref]) == {}
        missing = []
        assert find_secrets(client, ["DB_PASSWORD"], project=ref, missing=missing) == [None]
        assert missing == ["DB_PASSWORD"]
        with pytest.raises(NotFoundError, match="secret key 'DB_PASSWORD': not found in project %r" % ref):
            find_secrets(client, ["DB_PASSWORD"], project=ref)
        assert fresh_emulator.stats()["routes"] == {"GET /organizations/{org}/secrets/sync": 3,
                                                    "GET /organizations/{org}/projects": 3}
    fresh_emulator.reset()
    assert list(secrets_dict(client, projects=["Production"])) and fresh_emulator.stats()["routes"] == {
        "GET /organizations/{org}/secrets/sync": 1}  # a project some secret is in: no project list


def test_server_dates_sort_in_time_order_whatever_their_trailing_zeros():
    from ansible_collections.bws.secrets.plugins.module_utils._resolve import date_order

    dates = ["2026-11-28T00:26:51.7683714Z", "2026-11-28T00:26:51.76Z", "2026-11-28T00:26:51Z",
             "2026-11-28T00:26:51.8Z", "2026-11-28T00:26:50.9999999Z"]
    assert sorted(dates) != sorted(dates, key=date_order)  # as strings, 51.76 sorts after 51.7683714
    assert sorted(dates, key=date_order) == [
        "2026-11-28T00:26:50.9999999Z", "2026-11-28T00:26:51Z", "2026-11-28T00:26:51.76Z",
        "2026-11-28T00:26:51.7683714Z", "2026-11-28T00:26:51.8Z"]
    assert date_order(None) == "" and date_order("not a date") == "not a date"


def test_misses_recorded_instead_of_raised_when_asked(client, fresh_emulator):
    ascii_id, nowhere = "5e000000-0000-4000-8000-000000000001", "11111111-1111-4111-8111-111111111111"
    fresh_emulator.reset()
    missing = []
    got = find_secrets(client, [ascii_id, nowhere, ascii_id], missing=missing)
    assert [s and s.value for s in got] == ["hunter2", None, "hunter2"] and missing == [nowhere]
    routes = fresh_emulator.stats()["routes"]  # the server refuses the whole get-by-ids for one miss
    assert routes == {"POST /secrets/get-by-ids": 2, "GET /organizations/{org}/secrets": 1}
    missing = []
    got = find_secrets(client, ["NO_SUCH_KEY", "DB_PASSWORD", nowhere], missing=missing)
    assert [s and s.value for s in got] == [None, "hunter2", None] and missing == ["NO_SUCH_KEY", nowhere]
    with pytest.raises(NotFoundError, match="NO_SUCH_KEY"):
        find_secrets(client, ["NO_SUCH_KEY", "DB_PASSWORD"])
    with pytest.raises(NotFoundError, match="project 'Nowhere'"):  # a project not found is an error still
        find_secrets(client, ["DB_PASSWORD"], project="Nowhere", missing=[])


def test_misses_are_counted_only_when_the_list_that_names_them_worked(client, fresh_emulator):
    """After get-by-ids' 404, the list of readable secrets names the misses; if that list fails,
    its error is raised, never every id taken for a miss (a secret that exists would be None)."""
    ascii_id, nowhere = "5e000000-0000-4000-8000-000000000001", "11111111-1111-4111-8111-111111111111"
    fresh_emulator.faults({"fail": [{"route": "GET /organizations/{org}/secrets", "status": 500, "count": -1}]})
    try:
        with pytest.raises(ApiError, match="server error HTTP 500"):
            client.get_secrets([ascii_id, nowhere], missing=[])
        with pytest.raises(NotFoundError, match=ascii_id):  # without ``missing``: every id named, as before
            client.get_secrets([ascii_id, nowhere])
    finally:
        fresh_emulator.faults({})


def test_every_duplicated_key_and_every_holder_is_named_at_once(client):
    """One error lists each key held twice or more, with all its holders, so that one fix does;
    a key matched in several projects names the ids to choose from."""
    made = [client.create_secret(key, "v", "", PROD) for key in ("TWICE_A", "TWICE_A", "TWICE_A", "TWICE_B", "TWICE_B")]
    with pytest.raises(AmbiguousError) as info:
        secrets_dict(client, projects=[PROD], patterns=["TWICE_*"])
    message = str(info.value)
    assert "key 'TWICE_A' is held by several secrets" in message and "key 'TWICE_B'" in message
    assert all(secret.id in message for secret in made)
    assert secrets_dict(client, projects=[PROD], patterns=["TWICE_A"], on_duplicate="last")["TWICE_A"].id == made[2].id
    assert secrets_dict(client, projects=[PROD], patterns=["TWICE_A"], on_duplicate="first")["TWICE_A"].id == made[0].id
    with pytest.raises(AmbiguousError) as info:
        find_secrets(client, ["TWICE_B"])
    assert made[3].id in str(info.value) and made[4].id in str(info.value)
