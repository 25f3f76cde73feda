"""The shared client against the emulator over real HTTP: login, state, retries, faults, TLS."""

import multiprocessing
import os
import time

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._auth import Auth
from ansible_collections.bws.secrets.plugins.module_utils._errors import (
    ApiError, BWSSDKError, NotFoundError, RateLimitedError, SendRequestError, UnauthorisedTokenError)
from ansible_collections.bws.secrets.plugins.module_utils._http import HttpClient
from ansible_collections.bws.secrets.plugins.module_utils._options import connect
from ansible_collections.bws.secrets.plugins.module_utils._region import Region

LOGIN = "POST /connect/token"
GET_BY_IDS = "POST /secrets/get-by-ids"


def _options(emu, state_dir=None, **extra):
    options = {"access_token": emu.info["tokens"]["ci"], "server_url": emu.info["server_url"],
               "state_dir": state_dir, "use_state_file": state_dir is not None}
    options.update(extra)
    return options


def _plain(vectors, name):
    return next(c for c in vectors["seeded_secrets"] if c["name"] == name)


def test_login_and_get_many(emulator, vectors):
    emulator.reset()
    client = connect(_options(emulator))
    names = ["ascii", "unicode", "multiline", "empty_note", "long_10k", "staging_ro"]
    secrets = client.get_secrets([_plain(vectors, n)["id"] for n in names])
    for secret, name in zip(secrets, names):
        case = _plain(vectors, name)
        assert (secret.key, secret.value, secret.note) == (
            case["plaintext"]["key"], case["plaintext"]["value"], case["plaintext"]["note"])
        assert secret.project_id == case["projectId"]
        assert secret.organization_id == vectors["organization"]["id"]
    assert client.org_id == vectors["organization"]["id"]
    assert emulator.stats()["routes"] == {LOGIN: 1, GET_BY_IDS: 1}


def test_region_prefixes_and_explicit_urls(emulator, vectors):
    info = emulator.info
    client = connect({"access_token": info["tokens"]["ci"], "api_url": info["api_url"],
                      "identity_url": info["identity_url"], "use_state_file": False})
    assert client.get_secret(_plain(vectors, "ascii")["id"]).value == "hunter2"


def test_state_file_is_reused_then_replaced_when_foreign(emulator, vectors, state_dir):
    emulator.reset()
    sid = _plain(vectors, "ascii")["id"]
    connect(_options(emulator, state_dir)).get_secrets([sid])
    connect(_options(emulator, state_dir)).get_secrets([sid])
    assert emulator.stats()["routes"][LOGIN] == 1
    token_id = emulator.info["tokens"]["ci"].split(".")[1]
    path = os.path.join(state_dir, token_id)
    with open(path, "w") as handle:
        handle.write("2.truncated")
    connect(_options(emulator, state_dir)).get_secrets([sid])
    assert emulator.stats()["routes"][LOGIN] == 2
    with open(path) as handle:
        assert handle.read().count("|") == 2


def test_short_lived_jwt_is_renewed(vectors, state_dir):
    from control import Emulator

    with Emulator(seed=str(_seed()), extra_args=["--jwt-lifetime", "4"]) as emu:
        # renewal starts 60 s before expiry, or half-way through a shorter lifetime
        sid = _plain(vectors, "ascii")["id"]
        client = connect(_options(emu, state_dir))
        client.get_secrets([sid])
        connect(_options(emu, state_dir)).get_secrets([sid])
        assert emu.stats()["routes"][LOGIN] == 1
        time.sleep(2.2)
        client.get_secrets([sid])  # the same client renews its bearer token
        connect(_options(emu, state_dir)).get_secrets([sid])  # and the state file it wrote is reused
        assert emu.stats()["routes"][LOGIN] == 2


def _seed():
    from control import VECTORS_SEED

    return VECTORS_SEED


def test_401_triggers_one_fresh_login(fresh_emulator, vectors, state_dir):
    client = connect(_options(fresh_emulator, state_dir))
    sid = _plain(vectors, "ascii")["id"]
    assert client.get_secret(sid).value == "hunter2"
    fresh_emulator.admin("POST", "/_admin/expire-jwts")
    fresh_emulator.reset()
    assert client.get_secret(sid).value == "hunter2"
    routes = fresh_emulator.stats()["routes"]
    assert routes[LOGIN] == 1 and routes["GET /secrets/{id}"] == 2  # 401, login, retry


def test_revoked_token_gives_invalid_client(fresh_emulator, vectors):
    client = connect(_options(fresh_emulator))
    token_id = fresh_emulator.info["tokens"]["ci"].split(".")[1]
    fresh_emulator.admin("POST", "/_admin/revoke", {"token_id": token_id})
    with pytest.raises(UnauthorisedTokenError) as info:
        client.get_secret(_plain(vectors, "ascii")["id"])
    assert "invalid_client" in str(info.value) and "revoked" in str(info.value)


def test_wrong_secret_never_echoed(emulator):
    token = emulator.info["tokens"]["ci"]
    secret = token.split(".", 2)[2].split(":")[0]
    wrong = token.replace(secret, "NotTheRightSecret")
    with pytest.raises(UnauthorisedTokenError) as info:
        connect(_options(emulator, access_token=wrong))
    assert "NotTheRightSecret" not in str(info.value) and secret not in str(info.value)


def test_not_found_names_the_hidden_ids(emulator, vectors):
    client = connect(_options(emulator))
    hidden, ok = _plain(vectors, "hidden")["id"], _plain(vectors, "ascii")["id"]
    with pytest.raises(NotFoundError) as info:
        client.get_secrets([ok, hidden])
    assert hidden in str(info.value) and ok not in str(info.value)
    assert "not shared with this machine account" in str(info.value)


def test_429_is_retried_honouring_retry_after(fresh_emulator, vectors):
    client = connect(_options(fresh_emulator, retries=3))
    fresh_emulator.faults({"rate_limit": {"every": 2, "retry_after": 1}})
    fresh_emulator.reset()
    start = time.monotonic()
    assert client.get_secret(_plain(vectors, "ascii")["id"]).value == "hunter2"
    client.get_secret(_plain(vectors, "ascii")["id"])
    assert time.monotonic() - start >= 1.0  # slept the Retry-After of the one 429
    assert fresh_emulator.stats()["routes"]["GET /secrets/{id}"] == 3


def test_429_beyond_the_bound_says_rate_limited(fresh_emulator, vectors):
    client = connect(_options(fresh_emulator, retries=1))
    fresh_emulator.faults({"rate_limit": {"every": 1, "retry_after": 0}})
    with pytest.raises(RateLimitedError) as info:
        client.get_secret(_plain(vectors, "ascii")["id"])
    assert "rate limited" in str(info.value) and "retries" in str(info.value)


def test_5xx_retried_for_reads_not_for_creates(fresh_emulator, vectors):
    client = connect(_options(fresh_emulator, retries=2))
    fresh_emulator.faults({"fail": [{"route": GET_BY_IDS, "status": 503, "count": 2}]})
    assert client.get_secrets([_plain(vectors, "ascii")["id"]])[0].value == "hunter2"
    before = len(fresh_emulator.admin("GET", "/_admin/secrets")["secrets"])
    fresh_emulator.faults({"fail": [{"route": "POST /organizations/{org}/secrets", "status": 500, "count": 1}]})
    fresh_emulator.reset()
    with pytest.raises(ApiError) as info:
        client.create_secret("NEW", "v", "", _plain(vectors, "ascii")["projectId"])
    assert "server error HTTP 500" in str(info.value)
    assert fresh_emulator.stats()["routes"]["POST /organizations/{org}/secrets"] == 1
    assert len(fresh_emulator.admin("GET", "/_admin/secrets")["secrets"]) == before


def test_non_json_2xx_is_an_error(fresh_emulator, vectors):
    client = connect(_options(fresh_emulator))
    fresh_emulator.faults({"non_json": [{"route": "GET /secrets/{id}", "count": 1}]})
    with pytest.raises(ApiError) as info:
        client.get_secret(_plain(vectors, "ascii")["id"])
    assert "instead of JSON" in str(info.value)


def test_slow_server_times_out(fresh_emulator, vectors):
    client = connect(_options(fresh_emulator, timeout=1, retries=0))
    fresh_emulator.faults({"hang": [{"route": "GET /secrets/{id}", "seconds": 3, "count": 1}]})
    with pytest.raises(SendRequestError) as info:
        client.get_secret(_plain(vectors, "ascii")["id"])
    assert "did not answer within 1 seconds" in str(info.value)


def test_a_trickling_answer_times_out_as_a_whole(fresh_emulator, vectors):
    """``timeout`` bounds the whole answer, not each read: sent 16 bytes at a time over 3 s, no
    read waits 1 s, yet the answer does not come within 1 s. An answer that does arrive in
    time, however many reads it takes, is read whole."""
    client = connect(_options(fresh_emulator, timeout=1, retries=0))
    secret_id = _plain(vectors, "ascii")["id"]
    fresh_emulator.faults({"trickle": [{"route": "GET /secrets/{id}", "seconds": 3, "count": 1}]})
    with pytest.raises(SendRequestError) as info:
        client.get_secret(secret_id)
    assert "did not answer within 1 seconds" in str(info.value)
    client = connect(_options(fresh_emulator, timeout=5, retries=0))
    fresh_emulator.faults({"trickle": [{"route": "GET /secrets/{id}", "seconds": 0.5, "count": 2}]})
    assert client.get_secret(secret_id).value == "hunter2"
    assert client.get_secret(secret_id).value == "hunter2"  # the kept-alive connection, its timeout whole again


def test_connection_refused_and_dns():
    region = Region.self_hosted("http://127.0.0.1:9")
    with pytest.raises(SendRequestError, match="cannot connect to 127.0.0.1:9"):
        Auth.from_token("0.7e000000-0000-4000-8000-000000000001.s:AAECAwQFBgcICQoLDA0ODw==", region,
                        http=HttpClient(timeout=2, retries=0))
    region = Region.self_hosted("https://no-such-host.invalid")
    with pytest.raises(SendRequestError, match="cannot resolve the host name"):
        Auth.from_token("0.7e000000-0000-4000-8000-000000000001.s:AAECAwQFBgcICQoLDA0ODw==", region,
                        http=HttpClient(timeout=2, retries=0))


def test_a_server_url_ending_in_api_gets_advice(emulator):
    """The login's 404 says where to look: server_url is the server's base URL."""
    with pytest.raises(ApiError) as info:
        connect(_options(emulator, server_url=emulator.info["server_url"] + "/api", retries=0))
    message = str(info.value)
    assert message.startswith("login to %s/api/identity failed with HTTP 404" % emulator.info["server_url"]), message
    assert message.endswith("is server_url the server's base URL (without /api or /identity), or identity_url right?")


def test_unwritable_state_dir_warns_once_and_goes_on(emulator, vectors, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    warnings = []
    client = connect(_options(emulator, str(blocker / "state")), warn=warnings.append)
    assert client.get_secret(_plain(vectors, "ascii")["id"]).value == "hunter2"
    assert len(warnings) == 1 and "continuing without a state file" in warnings[0]


def test_tls_with_ca_path_and_refused_without(vectors, tmp_path):
    from control import Emulator

    with Emulator(tls=True, seed=str(_seed())) as emu:
        ok = connect(_options(emu, ca_path=emu.info["ca_file"]))
        assert ok.get_secret(_plain(vectors, "ascii")["id"]).value == "hunter2"
        with pytest.raises(SendRequestError) as info:
            connect(_options(emu))
        assert "TLS verification failed" in str(info.value) and "ca_path" in str(info.value)
        insecure = connect(_options(emu, validate_certs=False))
        assert insecure.get_secret(_plain(vectors, "ascii")["id"]).value == "hunter2"


def _worker(options, sid, queue):
    try:
        queue.put(connect(options).get_secrets([sid])[0].value)
    except BWSSDKError as exc:  # pragma: no cover - reported to the parent
        queue.put("error: %s" % exc)


def test_processes_starting_together_log_in_once(fresh_emulator, vectors, state_dir):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    options = _options(fresh_emulator, state_dir)
    sid = _plain(vectors, "ascii")["id"]
    procs = [ctx.Process(target=_worker, args=(options, sid, queue)) for _unused in range(8)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _unused in procs]
    for proc in procs:
        proc.join(30)
    assert results == ["hunter2"] * 8
    routes = fresh_emulator.stats()["routes"]
    assert routes[LOGIN] == 1 and routes[GET_BY_IDS] == 8
    assert os.listdir(state_dir) == [fresh_emulator.info["tokens"]["ci"].split(".")[1]]
