"""Faults injected by the emulator: each one gives a clear, specific error or a correct recovery.

Every test has an emulator of its own (``emu``) and checks what reached the server through
``/_admin/stats`` and ``/_admin/secrets``. Error messages are also checked for leaks.
"""

import time
import uuid

import pytest

from ansible_collections.bws.secrets.plugins.module_utils import _http
from ansible_collections.bws.secrets.plugins.module_utils._crypto import SymmetricCryptoKey, decrypt_text
from ansible_collections.bws.secrets.plugins.module_utils._errors import (
    ApiError, NotFoundError, RateLimitedError, SendRequestError, UnauthorisedTokenError)
from ansible_collections.bws.secrets.plugins.module_utils._http import MAX_RETRY_AFTER
from ansible_collections.bws.secrets.plugins.module_utils._options import connect

from relsupport import CREATE, GET_BY_IDS, GET_ONE, LOGIN, PROD, free_port, options, plain, routes, wait_for

PROJECT_CREATE = "POST /organizations/{org}/projects"


class SleepRecorder:
    """Stands in for ``_http._sleep``, the one way the client waits between tries: records
    every sleep, really sleeps the short ones (so wall time is real) and skips the long ones."""

    def __init__(self, sleep_up_to=5.0):
        self.calls = []
        self.sleep_up_to = sleep_up_to

    def __call__(self, seconds):
        self.calls.append(seconds)
        if seconds <= self.sleep_up_to:
            time.sleep(seconds)


@pytest.fixture()
def sleeps(monkeypatch):
    recorder = SleepRecorder()
    monkeypatch.setattr(_http, "_sleep", recorder)
    return recorder


def _keys_of_all_secrets(emu, vectors):
    """Decrypted keys of every secret the server stores (counted through the admin API)."""
    org_key = SymmetricCryptoKey.from_b64(vectors["organization"]["org_key_b64"])
    return [decrypt_text(org_key, s["key"]) for s in emu.secrets(ciphertext=True)["secrets"]]


# --- 429 --------------------------------------------------------------------------------

def test_429_on_a_share_of_requests_every_value_right_waits_honour_retry_after(emu, vectors, sleeps):
    client = connect(options(emu, retries=3))
    names = ["ascii", "unicode", "multiline", "long_10k", "staging_ro", "empty_note"]
    emu.faults({"rate_limit": {"every": 2, "retry_after": 1}})  # every other request: 429, Retry-After: 1
    emu.reset()
    start = time.monotonic()
    for i, name in enumerate(names):
        case = plain(vectors, name)
        if i % 2:
            got = client.get_secret(case["id"]).value
        else:
            got = client.get_secrets([case["id"], plain(vectors, "ascii")["id"]])[0].value
        assert got == case["plaintext"]["value"]
    elapsed = time.monotonic() - start
    stats = emu.stats()
    limited = stats["statuses"].get("429", 0)
    assert limited >= len(names) - 1  # a real share of the requests was refused
    assert sleeps.calls == [1] * limited  # one wait per 429, exactly the Retry-After asked for
    assert elapsed >= limited * 1.0  # and really waited
    assert stats["total"] == len(names) + limited  # each refused request retried once, nothing more


@pytest.mark.parametrize("retries", [0, 2])
def test_429_beyond_the_bound_says_rate_limited_and_how_to_tune(emu, vectors, sleeps, retries, assert_clean):
    client = connect(options(emu, retries=retries))
    emu.faults({"rate_limit": {"every": 1, "retry_after": 1}})
    emu.reset()
    with pytest.raises(RateLimitedError) as info:
        client.get_secret(plain(vectors, "ascii")["id"])
    message = str(info.value)
    assert "rate limited" in message and "429" in message
    assert "after %d retries" % retries in message and "'retries'" in message  # what to tune
    assert routes(emu) == {GET_ONE: retries + 1}  # the bound is exact
    assert sleeps.calls == [1] * retries
    assert_clean(message)


def test_a_huge_retry_after_is_capped(emu, vectors, sleeps):
    client = connect(options(emu, retries=1))
    emu.faults({"rate_limit": {"every": 1, "retry_after": 100000}})
    with pytest.raises(RateLimitedError):
        client.get_secret(plain(vectors, "ascii")["id"])
    assert sleeps.calls == [MAX_RETRY_AFTER]  # one retry, waited the cap instead of 28 hours


# --- 5xx and resets ---------------------------------------------------------------------

@pytest.mark.parametrize("fault, route", [
    ({"fail": [{"route": GET_BY_IDS, "status": 503, "count": 2}]}, GET_BY_IDS),  # HTML body, like a proxy
    ({"fail": [{"route": GET_BY_IDS, "status": 500, "count": 2}]}, GET_BY_IDS),  # the API's JSON error
    ({"fail": [{"route": GET_BY_IDS, "status": 502, "count": 1}],
      "reset": [{"route": GET_BY_IDS, "count": 1}]}, GET_BY_IDS),
    ({"reset": [{"route": GET_ONE, "count": 2}]}, GET_ONE),
])
def test_reads_are_retried_after_5xx_and_resets(emu, vectors, fault, route, sleeps):
    client = connect(options(emu, retries=2))
    emu.faults(fault)
    emu.reset()
    case = plain(vectors, "unicode")
    if route == GET_ONE:
        assert client.get_secret(case["id"]).value == case["plaintext"]["value"]
    else:
        assert client.get_secrets([case["id"]])[0].value == case["plaintext"]["value"]
    assert routes(emu) == {route: 3}
    assert sleeps.calls == [0.5, 1.0]  # the exponential backoff between the tries


def test_login_is_retried_after_a_reset(emu, vectors):
    emu.faults({"reset": [{"route": LOGIN, "count": 1}]})
    client = connect(options(emu, retries=1))
    assert client.get_secret(plain(vectors, "ascii")["id"]).value == "hunter2"
    assert routes(emu)[LOGIN] == 2 and emu.stats()["logins"] == 1


@pytest.mark.parametrize("fault, error, words", [
    ({"fail": [{"route": GET_ONE, "status": 503, "count": -1}]}, ApiError, "server error HTTP 503 (after 1 retries)"),
    ({"reset": [{"route": GET_ONE, "count": -1}]}, SendRequestError, "get secret"),
])
def test_reads_beyond_the_bound_fail_clearly(emu, vectors, fault, error, words, assert_clean):
    client = connect(options(emu, retries=1))
    emu.faults(fault)
    emu.reset()
    sid = plain(vectors, "ascii")["id"]
    with pytest.raises(error) as info:
        client.get_secret(sid)
    assert words in str(info.value) and sid in str(info.value)
    assert routes(emu) == {GET_ONE: 2}
    assert_clean(str(info.value))


CREATE_FAULTS = [
    ("500", {"fail": [{"route": CREATE, "status": 500, "count": 1}]}, ApiError, "server error HTTP 500", 0),
    ("503 html", {"fail": [{"route": CREATE, "status": 503, "count": 1}]}, ApiError, "server error HTTP 503", 0),
    ("reset", {"reset": [{"route": CREATE, "count": 1}]}, SendRequestError, "create secret", 0),
    # the server acts after the client gave up: the secret exists once, never twice
    ("slow", {"hang": [{"route": CREATE, "seconds": 2, "count": 1}]}, SendRequestError,
     "did not answer within 1 seconds", 1),
]


@pytest.mark.parametrize("label, fault, error, words, created", CREATE_FAULTS, ids=[c[0] for c in CREATE_FAULTS])
def test_a_create_is_never_sent_twice(emu, vectors, label, fault, error, words, created, assert_clean):
    client = connect(options(emu, retries=3, timeout=1))
    key = "RELIABILITY_%s" % uuid.uuid4().hex[:8].upper()
    before = len(_keys_of_all_secrets(emu, vectors))
    emu.faults(fault)
    emu.reset()
    with pytest.raises(error) as info:
        client.create_secret(key, "created-once-" + label, "", PROD)
    assert words in str(info.value)
    assert routes(emu)[CREATE] == 1  # sent once, never retried
    if created:  # wait (bounded) for the slow server to finish what it was asked
        wait_for(lambda: len(_keys_of_all_secrets(emu, vectors)) > before, 10)
        time.sleep(0.3)
    keys = _keys_of_all_secrets(emu, vectors)
    assert keys.count(key) == created and len(keys) == before + created
    assert_clean(str(info.value), [("the value", "created-once-" + label)])


def test_a_429_on_create_is_retried_and_creates_once(emu, vectors):
    client = connect(options(emu, retries=3))
    key = "RELIABILITY_429_%s" % uuid.uuid4().hex[:8].upper()
    emu.faults({"rate_limit": {"every": 2, "retry_after": 1}})
    emu.reset()
    client.get_secret(plain(vectors, "ascii")["id"])  # request 1 passes; the create is request 2: 429
    created = client.create_secret(key, "v", "", PROD)
    assert routes(emu)[CREATE] == 2  # the 429 did nothing on the server, so the retry is safe
    assert _keys_of_all_secrets(emu, vectors).count(key) == 1
    assert client.get_secret(created.id).key == key


def test_a_project_create_is_never_sent_twice(emu, vectors):
    client = connect(options(emu, retries=3))
    before = len(emu.projects()["projects"])
    emu.faults({"fail": [{"route": PROJECT_CREATE, "status": 502, "count": 1}]})
    emu.reset()
    with pytest.raises(ApiError, match=r"server error HTTP 502; try again later"):  # a create is never retried
        client.create_project("Reliability")
    assert routes(emu) == {PROJECT_CREATE: 1}
    assert len(emu.projects()["projects"]) == before


DELETE = "POST /secrets/delete"
LOST_DELETE_ANSWERS = [
    ("504 after deleting", {"fail": [{"route": DELETE, "status": 504, "after": True}]}),
    ("reset after deleting", {"reset": [{"route": DELETE, "after": True}]}),
]


@pytest.mark.parametrize("label, fault", LOST_DELETE_ANSWERS, ids=[c[0] for c in LOST_DELETE_ANSWERS])
def test_a_delete_whose_answer_was_lost_is_done_when_the_retry_finds_it_gone(emu, vectors, sleeps, label, fault):
    client = connect(options(emu, retries=2))
    created = client.create_secret("RELIABILITY_DELETE_%s" % uuid.uuid4().hex[:8].upper(), "v", "", PROD)
    emu.faults(fault)
    emu.reset()
    assert client.delete_secrets([created.id]) == [created.id]  # not "not found": it was this call
    # the try the server acted on, the retry that found it gone, and a list that confirms it
    assert routes(emu) == {DELETE: 2, "GET /organizations/{org}/secrets": 1}
    assert created.id not in [s["id"] for s in emu.secrets()["secrets"]]


def test_a_retried_delete_of_which_one_id_is_gone_says_nothing_was_deleted(emu, vectors, sleeps):
    """The server deletes nothing when one id is missing: a 404 to a retry after a 503 that did
    nothing is not "done" while the others are still there."""
    client = connect(options(emu, retries=2))
    kept = client.create_secret("RELIABILITY_KEPT_%s" % uuid.uuid4().hex[:8].upper(), "v", "", PROD)
    gone = client.create_secret("RELIABILITY_GONE_%s" % uuid.uuid4().hex[:8].upper(), "v", "", PROD)
    client.delete_secrets([gone.id])
    emu.faults({"fail": [{"route": DELETE, "status": 503}]})  # before serving: nothing done
    with pytest.raises(ApiError, match="%s not found .* nothing was deleted \\(%s still there\\)" % (gone.id, kept.id)):
        client.delete_secrets([kept.id, gone.id])
    assert kept.id in [s["id"] for s in emu.secrets()["secrets"]]


def test_a_delete_of_what_is_gone_on_the_first_try_is_still_not_found(emu, vectors):
    client = connect(options(emu, retries=2))
    created = client.create_secret("RELIABILITY_DELETE_%s" % uuid.uuid4().hex[:8].upper(), "v", "", PROD)
    assert client.delete_secrets([created.id]) == [created.id]
    emu.reset()
    with pytest.raises(NotFoundError, match=created.id):  # no retry: the 404 is the server's own answer
        client.delete_secrets([created.id])
    assert routes(emu) == {DELETE: 1}


# --- timeouts, unreachable servers, DNS, TLS, non-JSON -----------------------------------

def test_slow_server_beyond_timeout(emu, vectors, assert_clean):
    client = connect(options(emu, retries=1, timeout=1))
    emu.faults({"hang": [{"route": GET_ONE, "seconds": 3, "count": -1}]})
    emu.reset()
    start = time.monotonic()
    with pytest.raises(SendRequestError) as info:
        client.get_secret(plain(vectors, "ascii")["id"])
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert "did not answer within 1 seconds (each of 2 tries); raise 'timeout'" in message
    assert routes(emu) == {GET_ONE: 2}  # a read: retried once, then given up
    assert 2.0 <= elapsed < 8.0  # two timeouts, a short backoff, no more
    assert_clean(message)


def test_slow_identity_beyond_timeout(emu):
    emu.faults({"hang": [{"route": LOGIN, "seconds": 3, "count": -1}]})
    start = time.monotonic()
    with pytest.raises(SendRequestError) as info:
        connect(options(emu, retries=0, timeout=1))
    assert str(info.value).startswith("login to %s" % emu.info["identity_url"])
    assert "did not answer within 1 seconds; raise 'timeout'" in str(info.value)  # one try only
    assert time.monotonic() - start < 3.0


def test_identity_down(emu, vectors, assert_clean):
    port = free_port()
    identity = "http://127.0.0.1:%d/identity" % port
    start = time.monotonic()
    with pytest.raises(SendRequestError) as info:
        connect(options(emu, server_url=None, api_url=emu.info["api_url"], identity_url=identity, retries=1))
    message = str(info.value)
    assert message.startswith("login to %s: cannot connect to 127.0.0.1:%d" % (identity, port)), message
    assert time.monotonic() - start < 5.0
    assert routes(emu) == {}
    assert_clean(message)


def test_identity_answering_503(emu, assert_clean):
    emu.faults({"fail": [{"route": LOGIN, "status": 503, "count": -1}]})
    with pytest.raises(ApiError) as info:
        connect(options(emu, retries=1))
    assert "login to %s failed with HTTP 503" % emu.info["identity_url"] in str(info.value)
    assert routes(emu) == {LOGIN: 2}
    assert_clean(str(info.value))


def test_dns_failure(vectors):
    start = time.monotonic()
    with pytest.raises(SendRequestError) as info:
        connect({"access_token": vectors["access_token"]["token"], "server_url": "https://bws-reliability.invalid",
                 "use_state_file": False, "retries": 1, "timeout": 5})
    assert "cannot resolve the host name bws-reliability.invalid" in str(info.value)
    assert time.monotonic() - start < 15.0


def test_tls_wrong_ca_and_default_verification(make_emulator, vectors, untrusted_ca, monkeypatch, assert_clean):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    emu = make_emulator(tls=True)
    for extra in ({"ca_path": untrusted_ca}, {}):  # a wrong CA, then the default trust store
        with pytest.raises(SendRequestError) as info:
            connect(options(emu, retries=2, **extra))
        message = str(info.value)
        assert "TLS verification failed for 127.0.0.1" in message and "ca_path" in message
        assert_clean(message)
    assert routes(emu) == {}  # nothing was ever sent without a verified certificate
    good = connect(options(emu, ca_path=emu.ca_file))
    assert good.get_secret(plain(vectors, "ascii")["id"]).value == "hunter2"


@pytest.mark.parametrize("route", [GET_ONE, LOGIN])
def test_non_json_2xx_is_a_clear_error(emu, vectors, route, assert_clean):
    client = None if route == LOGIN else connect(options(emu))
    emu.faults({"non_json": [{"route": route, "count": 1}]})
    emu.reset()
    with pytest.raises(ApiError) as info:
        if client is None:
            connect(options(emu))
        else:
            client.get_secret(plain(vectors, "ascii")["id"])
    message = str(info.value)
    assert "answered HTTP 200 with text/html" in message and "instead of JSON" in message
    assert "proxy or captive portal" in message
    assert routes(emu) == {route: 1}  # a 2xx is an answer: not retried
    assert_clean(message)


# --- 401 in the middle of a run -----------------------------------------------------------

def test_token_revoked_mid_run_then_reissued(emu, vectors, state_dir, assert_clean):
    token_id = vectors["access_token"]["id"]
    sid = plain(vectors, "ascii")["id"]
    client = connect(options(emu, state_dir))
    assert client.get_secret(sid).value == "hunter2"

    emu.revoke(token_id)
    emu.reset()
    with pytest.raises(UnauthorisedTokenError) as info:
        client.get_secret(sid)
    message = str(info.value)
    assert message.startswith("login to %s failed: invalid_client: wrong token, revoked" % emu.info["identity_url"])
    assert token_id in message
    assert routes(emu) == {GET_ONE: 1, LOGIN: 1}  # the 401, then one login attempt, refused
    assert_clean(message)

    emu.unrevoke(token_id)
    emu.reset()
    assert client.get_secret(sid).value == "hunter2"  # the same client recovers
    assert emu.stats()["logins"] == 1
    emu.reset()
    assert connect(options(emu, state_dir)).get_secret(sid).value == "hunter2"
    assert routes(emu) == {GET_ONE: 1}  # and the next process reuses what it stored


def test_jwts_expired_mid_run_two_clients_log_in_once(emu, vectors, state_dir):
    sid = plain(vectors, "unicode")["id"]
    want = plain(vectors, "unicode")["plaintext"]["value"]
    first, second = connect(options(emu, state_dir)), connect(options(emu, state_dir))
    assert first.get_secret(sid).value == want and second.get_secret(sid).value == want
    emu.expire_jwts()
    emu.reset()
    assert first.get_secret(sid).value == want
    assert second.get_secret(sid).value == want  # adopts the JWT the first one stored
    stats = emu.stats()
    assert stats["routes"] == {GET_ONE: 4, LOGIN: 1} and stats["logins"] == 1
    assert stats["statuses"].get("401") == 2


# --- what a dropped connection is called ---------------------------------------------------

def test_a_dropped_connection_is_not_called_cannot_connect(emu, vectors):
    client = connect(options(emu, retries=1))
    emu.faults({"reset": [{"route": GET_ONE, "count": -1}]})
    with pytest.raises(SendRequestError) as info:
        client.get_secret(plain(vectors, "ascii")["id"])
    message = str(info.value)
    assert "cannot connect" not in message
    assert any(word in message for word in ("reset", "closed", "dropped")), message


@pytest.mark.parametrize("fault", [{"reset": [{"route": CREATE, "count": 1}]},
                                   {"hang": [{"route": CREATE, "seconds": 2, "count": 1}]}],
                         ids=["reset", "slow"])
def test_a_failed_create_says_it_was_not_retried(emu, vectors, fault):
    client = connect(options(emu, retries=3, timeout=1))
    emu.faults(fault)
    with pytest.raises(SendRequestError) as info:
        client.create_secret("RELIABILITY_UNSURE", "v", "", PROD)
    message = str(info.value)
    assert "not retried" in message and "may have been" in message, message


def test_a_fractional_retry_after_is_still_retried(emu, vectors, sleeps):
    client = connect(options(emu, retries=2))
    emu.faults({"rate_limit": {"every": 2, "retry_after": 0.5}})
    client.get_secret(plain(vectors, "ascii")["id"])  # request 1 passes, request 2 gets the 429
    assert client.get_secret(plain(vectors, "ascii")["id"]).value == "hunter2"
    assert sleeps.calls and sleeps.calls[0] >= 0.5
