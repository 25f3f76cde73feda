"""Key names, project scoping, the bws_secrets dict, and the shared sync cache, through
real ansible-playbook runs of the installed collection against an emulator of their own."""

import os
import time

import pytest

from conftest import TARGETS, Runner, assert_ok

NAMES = TARGETS / "lookup_bws_secret_names"
DICT = TARGETS / "lookup_bws_secrets"
PROD_API_URL = "https://prod.example.com/api"
SYNC = "GET /organizations/{org}/secrets/sync"
LOGIN = "POST /connect/token"


@pytest.fixture(scope="module")
def world(vectors_seed):
    """An emulator where API_URL exists in Production and in Staging ✓."""
    from control import Emulator
    from ansible_collections.bws.secrets.plugins.module_utils._options import connect

    with Emulator(seed=vectors_seed) as emu:
        client = connect({"access_token": emu.info["tokens"]["ci"], "server_url": emu.info["server_url"],
                          "use_state_file": False})
        created = client.create_secret("API_URL", PROD_API_URL, "prod", "b0000000-0000-4000-8000-000000000001")
        emu.created_id = created.id
        emu.client = client
        yield emu


@pytest.fixture()
def nrunner(collections_path, world, tmp_path):
    world.reset()
    return Runner(collections_path, world, tmp_path)


@pytest.fixture()
def extra(expected):
    return dict(expected, prod_api_url=PROD_API_URL, expect_db_password=expected["secrets"]["ascii"]["value"])


def _routes(emu):
    return emu.stats()["routes"]


def test_names_mixed_ambiguous_unknown_and_projects(nrunner, extra):
    result = nrunner.run(NAMES / "names.yml", extra)
    assert_ok(result)
    assert "rescued=3" in result.stdout and "failed=0" in result.stdout


def test_a_project_renamed_elsewhere_is_found_under_its_new_name(nrunner, extra, world):
    """The sync endpoint does not report a project renamed (in the web vault, say): the cache
    still holds the old name in each secret. A project name that none of them holds is then
    looked up in the project list, before it is an error."""
    prod = "b0000000-0000-4000-8000-000000000001"
    time.sleep(2.1)  # no write within the margin of the sync below (the next one would repeat it)
    assert_ok(nrunner.run(NAMES / "by_project_name.yml", dict(extra, project_name="Production")))
    world.client.update_project(prod, "Production (renamed)")  # not through our modules: no discard
    try:
        world.reset()
        result = nrunner.run(NAMES / "by_project_name.yml", dict(extra, project_name="Production (renamed)"))
        routes = _routes(world)
    finally:
        world.client.update_project(prod, "Production")
    assert_ok(result)
    assert routes == {SYNC: 1, "GET /organizations/{org}/projects": 1}  # "no changes", then the projects


@pytest.mark.parametrize("cache", ["true", "false"])
def test_on_missing_gives_none_in_place_of_a_miss(nrunner, extra, cache):
    result = nrunner.run(NAMES / "on_missing.yml", extra, env={"BWS_CACHE": cache})
    assert_ok(result)
    assert "rescued=2" in result.stdout and "failed=0" in result.stdout
    shown = " ".join(result.stdout.split())  # warnings are wrapped on some ansible-core versions
    assert "no secret the machine account can read matches 'NO_SUCH_KEY' (on_missing=warn" in shown
    assert shown.count("on_missing=warn") == 1  # the secret that exists gives no warning


@pytest.mark.parametrize("cache", ["true", "false"])
def test_an_empty_project_is_no_error(nrunner, extra, cache):
    result = nrunner.run(NAMES / "empty_project.yml", extra, env={"BWS_CACHE": cache})
    assert_ok(result)
    assert "rescued=2" in result.stdout and "failed=0" in result.stdout, result.stdout[-3000:]


def _cache_files(runner):
    return [name for name in os.listdir(runner.state_dir) if name.endswith(".bws-secrets-cache")]


def test_names_without_cache_cost_one_sync_kept_nowhere(nrunner, extra, world):
    """Five names, project by name, cache=false: one full sync holds names and values alike."""
    result = nrunner.run(NAMES / "count.yml", extra, env={"BWS_CACHE": "false"})
    assert_ok(result)
    assert _routes(world) == {LOGIN: 1, SYNC: 1}
    assert _cache_files(nrunner) == []


def test_bws_secrets_dict_and_environment(nrunner, extra):
    result = nrunner.run(DICT / "dict.yml", extra)
    assert_ok(result)
    assert "rescued=2" in result.stdout and "failed=0" in result.stdout


def test_bws_secrets_keys_that_are_shell_code_never_reach_the_shell(nrunner, extra, world, tmp_path):
    """Anyone who can write to a project can name a secret with shell code; used as a task's
    environment, the lookup refuses it (or leaves it out), and the code never runs."""
    marker = tmp_path / "injected"
    prod = "b0000000-0000-4000-8000-000000000001"
    evil = world.client.create_secret("INJ_X=1 $(touch %s) INJ_Y" % marker, "v", "", prod)
    fine = world.client.create_secret("INJ_OK", "fine", "", prod)
    try:
        result = nrunner.run(DICT / "environment_names.yml", extra)
    finally:
        world.client.delete_secrets([evil.id, fine.id])
    assert_ok(result)
    assert "rescued=1" in result.stdout and "failed=0" in result.stdout
    assert not marker.exists()


def test_bws_secrets_variables_that_run_code_never_reach_a_host(nrunner, extra, world, tmp_path):
    """A secret named BASH_ENV in a project used whole as a task's environment: bash would run the
    script its value names on every host. The lookup refuses it (or leaves it out), not names
    that merely look alike (LD_SDK_KEY, ENV), and takes it when asked for by its exact name."""
    marker = tmp_path / "ran"
    script = tmp_path / "hostile.sh"
    script.write_text("touch %s\n" % marker)
    project = world.client.create_project("Env-Hostile")
    made = [world.client.create_secret(key, value, "", project.id) for key, value in (
        ("BASH_ENV", str(script)), ("INJ_OK", "fine"), ("LD_SDK_KEY", "sdk-key"), ("ENV", "production"))]
    try:
        result = nrunner.run(DICT / "environment_runs_code.yml", dict(extra, hostile_project="Env-Hostile"))
    finally:
        world.client.delete_secrets([secret.id for secret in made])
        world.client.delete_projects([project.id])
    assert_ok(result)
    assert "rescued=1" in result.stdout and "failed=0" in result.stdout
    assert not marker.exists()


def test_bws_secrets_without_cache(nrunner, extra, world):
    """Each evaluation of the dict lookup is one full sync, whatever the projects and keys."""
    assert_ok(nrunner.run(DICT / "dict.yml", extra, env={"BWS_CACHE": "false"}))
    routes = _routes(world)
    assert set(routes) == {LOGIN, SYNC}
    assert routes[LOGIN] == 1
    assert _cache_files(nrunner) == []


def test_fifty_hosts_forks_ten(nrunner, extra, world):
    """50 hosts x 5 names, forks 10: one login and one full fetch for the whole play (the hosts
    share the answer); not sharing, at most one sync per host."""
    inventory = nrunner.hosts_inventory(50)
    result = nrunner.run(NAMES / "count.yml", extra, forks=10, inventory=inventory)
    assert_ok(result)
    assert "ok=2" in result.stdout
    assert _routes(world) == {LOGIN: 1, SYNC: 1}

    world.reset()
    result = nrunner.run(NAMES / "count.yml", extra, forks=10, inventory=inventory,
                         env={"BWS_SHARE_ACROSS_HOSTS": "false"})
    assert_ok(result)
    routes = _routes(world)
    assert set(routes) == {SYNC} and routes[SYNC] <= 50

    world.reset()
    result = nrunner.run(NAMES / "count.yml", extra, forks=10, inventory=inventory, env={"BWS_CACHE_TTL": "60"})
    assert_ok(result)
    assert sum(_routes(world).values()) <= 3


def _cache_file(runner, emu, name="ci"):
    token_id = emu.info["tokens"][name].split(".")[1]
    return os.path.join(runner.state_dir, token_id + ".bws-secrets-cache")


def test_cache_hit_then_invalidated_by_a_change(nrunner, extra, world, expected):
    assert_ok(nrunner.run(NAMES / "count.yml", extra))
    cache = _cache_file(nrunner, world)
    assert os.stat(cache).st_mode & 0o777 == 0o600
    with open(cache) as handle:
        text = handle.read()
    assert text.startswith("2.") and "hunter2" not in text and "DB_PASSWORD" not in text

    world.reset()
    assert_ok(nrunner.run(NAMES / "count.yml", extra))
    assert _routes(world) == {SYNC: 1}  # hit: one cheap sync, no login, no list, no get

    world.reset()
    assert_ok(nrunner.run(NAMES / "count.yml", extra, env={"BWS_CACHE_TTL": "60"}))
    assert _routes(world) == {}  # within the TTL: nothing at all

    # a change made between two runs is seen by the next run
    db = expected["secrets"]["ascii"]
    world.client.update_secret(db["id"], "DB_PASSWORD", "rotated-value", db["note"], [db["project_id"]])
    try:
        assert_ok(nrunner.run(NAMES / "count.yml", dict(extra, expect_db_password="rotated-value")))
        result = nrunner.run(NAMES / "count.yml", extra)
        assert result.returncode != 0  # the old value is gone: proves the cache was not served stale
    finally:
        world.client.update_secret(db["id"], "DB_PASSWORD", db["value"], db["note"], [db["project_id"]])


def test_corrupt_or_foreign_cache_is_replaced(nrunner, extra, world):
    assert_ok(nrunner.run(NAMES / "count.yml", extra))
    cache = _cache_file(nrunner, world)
    with open(cache, "w") as handle:
        handle.write("2.corrupt|garbage|here")
    world.reset()
    assert_ok(nrunner.run(NAMES / "count.yml", extra))
    assert _routes(world) == {SYNC: 1}
    with open(cache) as handle:
        assert handle.read().count("|") == 2

    # a cache written by another token (here: the reader's), under our file name
    reader_state = nrunner.workdir / "reader-state"
    from ansible_collections.bws.secrets.plugins.module_utils._cache import SecretsCache, cache_path
    from ansible_collections.bws.secrets.plugins.module_utils._options import connect

    reader = connect({"access_token": world.info["tokens"]["reader"], "server_url": world.info["server_url"],
                      "state_dir": str(reader_state)})
    SecretsCache(reader, cache_path(reader.auth.state_file)).secrets()
    os.replace(cache_path(reader.auth.state_file), cache)
    world.reset()
    assert_ok(nrunner.run(NAMES / "count.yml", extra))  # Production values, which the reader cannot see
    assert _routes(world) == {SYNC: 1}


def test_cache_ttl_confirms_a_miss_before_it_is_an_error(nrunner, extra, world):
    """A cache answering within cache_ttl may predate a secret: a name or id it lacks is checked
    with one sync (which brings the new secret) before it is an error; a name that exists
    nowhere still fails, after that one sync."""
    prod = "b0000000-0000-4000-8000-000000000001"
    assert_ok(nrunner.run(NAMES / "fresh.yml", dict(extra, term="DB_PASSWORD", want=extra["expect_db_password"])))
    created = [world.client.create_secret("FRESH_BY_NAME", "fresh-name-value", "", prod).id]
    try:
        world.reset()
        assert_ok(nrunner.run(NAMES / "fresh.yml", dict(extra, term="FRESH_BY_NAME", want="fresh-name-value")))
        assert _routes(world) == {SYNC: 1}
        created.append(world.client.create_secret("FRESH_BY_ID", "fresh-id-value", "", prod).id)
        world.reset()
        assert_ok(nrunner.run(NAMES / "fresh.yml", dict(extra, term=created[1], want="fresh-id-value")))
        assert _routes(world) == {SYNC: 1}
        world.reset()  # the cache, confirmed just now, has both: no request
        assert_ok(nrunner.run(NAMES / "fresh.yml", dict(extra, term="FRESH_BY_NAME", want="fresh-name-value")))
        assert _routes(world) == {}
        world.reset()
        result = nrunner.run(NAMES / "missing.yml", dict(extra, term="NOWHERE_TO_BE_FOUND"))
        assert_ok(result)
        assert "rescued=1" in result.stdout and "failed=0" in result.stdout
        assert _routes(world) == {SYNC: 1}
    finally:
        world.client.delete_secrets(created)
