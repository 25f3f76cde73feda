"""share_across_hosts: the hosts of a task share one answer from the server, through real
ansible-playbook runs of the installed collection (forked workers, real flocks and files)."""

import json
import os
import stat
import uuid

from ansible_collections.bws.secrets.plugins.plugin_utils._worker import _freeze_is_cheap
from conftest import TARGETS, assert_ok

TARGET = TARGETS / "lookup_bws_secret"
NAMES = TARGETS / "lookup_bws_secret_names"
GET = "POST /secrets/get-by-ids"
SYNC = "GET /organizations/{org}/secrets/sync"
LOGIN = "POST /connect/token"
LIST = "GET /organizations/{org}/secrets"  # after a 404 on get-by-ids, to name the missing ids
OWN = ["ascii", "unicode", "multiline", "empty_note", "long_10k", "staging_ro"]
INFIX = ".bws-secrets-task-"


def _extra(expected, hosts):
    secrets = expected["secrets"]
    return dict(expected, missing_id=str(uuid.UUID(int=12345)),
                own_ids=dict((host, secrets[name]["id"]) for host, name in zip(hosts, OWN)),
                own_values=dict((host, secrets[name]["value"]) for host, name in zip(hosts, OWN)))


def _answer_files(runner):
    if not os.path.isdir(runner.state_dir):
        return []
    return [os.path.join(runner.state_dir, n) for n in os.listdir(runner.state_dir) if INFIX in n]


def test_each_task_asks_once_for_all_its_hosts(runner, expected, emulator):
    """Six hosts, forks 3, four tasks: the same two ids (twice, in two tasks), an id of each
    host's own, and a missing id. One request per task, except the one where every host asks
    its own question; the missing id fails on every host after one request (and the list that
    names it)."""
    inventory = runner.hosts_inventory(6)
    hosts = ["h%03d" % n for n in range(1, 7)]
    result = runner.run(TARGET / "shared.yml", _extra(expected, hosts), forks=3, inventory=inventory)
    assert_ok(result)
    assert "rescued=1" in result.stdout and "failed=0" in result.stdout
    assert emulator.stats()["routes"] == {LOGIN: 1, GET: 1 + 1 + 6 + 1, LIST: 1}

    files = _answer_files(runner)
    assert len(files) == 1 + 1 + 6 + 1  # one per task and question, encrypted, 0600
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            text = handle.read()
        assert text.startswith("2.") and expected["secrets"]["ascii"]["value"] not in text

    # a write through the token removes them all
    assert_ok(runner.run(TARGET / "shared_write.yml", expected))
    assert _answer_files(runner) == []


def test_without_sharing_every_host_asks(runner, expected, emulator):
    inventory = runner.hosts_inventory(6)
    hosts = ["h%03d" % n for n in range(1, 7)]
    result = runner.run(TARGET / "shared.yml", _extra(expected, hosts), forks=3, inventory=inventory,
                        env={"BWS_SHARE_ACROSS_HOSTS": "false"})
    assert_ok(result)
    assert emulator.stats()["routes"] == {LOGIN: 1, GET: 4 * 6, LIST: 6}
    assert _answer_files(runner) == []

    emulator.reset()  # cache=false keeps nothing on disk, answers included
    result = runner.run(TARGET / "shared.yml", _extra(expected, hosts), forks=3, inventory=inventory,
                        env={"BWS_CACHE": "false"})
    assert_ok(result)
    assert emulator.stats()["routes"][GET] == 4 * 6
    assert _answer_files(runner) == []


def test_names_one_sync_per_task(runner, expected, emulator):
    """Ten hosts look up five names: one login, one full sync to fill the cache, nothing more."""
    secrets = expected["secrets"]
    extra = dict(expected, prod_api_url=secrets["ascii"]["value"], expect_db_password=secrets["ascii"]["value"])
    playbook = runner.workdir / "names.yml"
    playbook.write_text((NAMES / "count.yml").read_text().replace("'API_URL',", "").replace(
        "got[4] == prod_api_url", "got | length == 4"))
    result = runner.run(playbook, extra, forks=5, inventory=runner.hosts_inventory(10))
    assert_ok(result)
    assert emulator.stats()["routes"] == {LOGIN: 1, SYNC: 1}


def test_each_batch_of_a_serial_play_asks_again(runner, expected, emulator):
    """serial: 3 over six hosts runs the task twice, in two batches: two requests. A batch of
    one host has no one to share with: one request per host, and no answer file."""
    inventory = runner.hosts_inventory(6)
    assert_ok(runner.run(TARGET / "shared_serial.yml", dict(expected, batch_size=3), forks=3, inventory=inventory))
    assert emulator.stats()["routes"] == {LOGIN: 1, GET: 2}
    assert len(_answer_files(runner)) == 2

    for path in _answer_files(runner):
        os.unlink(path)
    emulator.reset()
    assert_ok(runner.run(TARGET / "shared_serial.yml", dict(expected, batch_size=1), forks=3, inventory=inventory))
    assert emulator.stats()["routes"] == {GET: 6}
    assert _answer_files(runner) == []


def test_a_worker_that_reads_an_answer_loads_no_client(runner, expected, emulator, tmp_path):
    """Four hosts: the worker that asks loads the client and the HTTP modules; the three that read
    its answer load neither, only the token, the state file and the answer. In every worker the
    lookup leaves what the worker inherited out of the garbage collector's reach (frozen)."""
    out = tmp_path / "probes"
    out.mkdir()
    assert_ok(runner.run(TARGET / "shared_probe.yml", dict(expected, out=str(out)), forks=4,
                         inventory=runner.hosts_inventory(4)))
    assert emulator.stats()["routes"] == {LOGIN: 1, GET: 1}
    seen = [json.loads(p.read_text()) for p in sorted(out.iterdir())]
    for probe in seen:  # objects frozen before our lookup and after it (none where freezing is not cheap)
        frozen = probe["frozen"][1] - probe["frozen"][0]
        assert frozen > 1000 if _freeze_is_cheap() else frozen == 0, probe["frozen"]
    asked = [s for s in seen if "_http" in s["modules"]]
    read = [s for s in seen if "_http" not in s["modules"]]
    assert len(asked) == 1 and asked[0]["http"]["http.client"], seen
    assert "_cache" not in asked[0]["modules"], asked  # by id, without cache_ttl: the sync cache is not used
    assert len(read) == 3, seen
    for probe in read:
        assert not probe["http"]["http.client"], probe  # ssl: loaded by Ansible itself on 2.16
        assert not {"_http", "_api", "_auth", "_options", "_cache", "_resolve"} & set(probe["modules"]), probe
        assert {"_task_answers", "_state", "_token", "_crypto"} <= set(probe["modules"]), probe


def test_strategy_free_hosts_share_within_the_answers_age(runner, expected, emulator):
    """With strategy free the hosts reach the task up to two seconds apart: still one request,
    as the answer is younger than MAX_AGE."""
    result = runner.run(TARGET / "shared_free.yml", expected, forks=3, inventory=runner.hosts_inventory(6))
    assert_ok(result)
    assert "failed=0" in result.stdout
    assert emulator.stats()["routes"] == {LOGIN: 1, GET: 1}


def test_a_failure_is_shared_too(runner, expected, emulator):
    """Six hosts, forks 3, the server hanging on get-by-ids: one host asks and times out, and
    the others fail with its message at once, instead of each asking (and waiting) in turn."""
    emulator.faults({"hang": [{"route": GET, "seconds": 3, "count": -1}]})
    try:
        result = runner.run(TARGET / "shared_failure.yml", expected, forks=3, inventory=runner.hosts_inventory(6))
    finally:
        emulator.faults({})
    assert_ok(result)
    assert result.stdout.count("...ignoring") == 6, result.stdout[-3000:]
    assert emulator.stats()["routes"] == {LOGIN: 1, GET: 1}
