"""The HTTP layer (``_http.py`` on ``http.client``) over real loopback connections: keep-alive,
servers that close idle connections, proxies from the environment, CA bundle variables,
Retry-After as an HTTP date, redirects, retries, and what the module imports.

The servers are small threads of ``httpkit.py``, or the emulator where the whole client runs.
"""

import base64
import email.utils
import json
import os
import subprocess
import sys
import ssl
import time

import pytest

from ansible_collections.bws.secrets.plugins.module_utils import _http
from ansible_collections.bws.secrets.plugins.module_utils._errors import SendRequestError
from ansible_collections.bws.secrets.plugins.module_utils._http import HttpClient
from ansible_collections.bws.secrets.plugins.module_utils._options import connect

from httpkit import Forwarder, Proxy, ScriptedServer, SilentServer, StreamServer, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                   "NO_PROXY", "REQUEST_METHOD")
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
LOGIN = "POST /connect/token"
GET_ONE = "GET /secrets/{id}"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No proxy or CA variable of the environment running the tests leaks into these tests."""
    for name in PROXY_VARIABLES + CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def sleeps(monkeypatch):
    """Every wait of the client (``_http._sleep``), recorded instead of slept."""
    calls = []
    monkeypatch.setattr(_http, "_sleep", calls.append)
    return calls


@pytest.fixture(scope="module")
def tls_emulator(vectors_seed):
    from control import Emulator

    with Emulator(tls=True, seed=vectors_seed) as emu:
        yield emu


def _options(emu, **extra):
    opts = {"access_token": emu.info["tokens"]["ci"], "server_url": emu.info["server_url"], "use_state_file": False}
    opts.update(extra)
    return opts


def _ascii(vectors):
    return next(c for c in vectors["seeded_secrets"] if c["name"] == "ascii")["id"]


def _port(url):
    return int(url.rsplit(":", 1)[1])


# --- keep-alive ----------------------------------------------------------------------------

@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_many_calls_share_one_connection(emulator, tls_emulator, vectors, tls):
    emu = tls_emulator if tls else emulator
    with Forwarder(_port(emu.info["server_url"])) as forwarder:
        server_url = "%s://127.0.0.1:%d" % ("https" if tls else "http", forwarder.port)
        client = connect(_options(emu, server_url=server_url, ca_path=emu.ca_file))
        for _unused in range(10):
            assert client.get_secret(_ascii(vectors)).value == "hunter2"
        assert client.http.request_count == 11  # the login and ten reads...
        assert forwarder.connections == 1  # ...over one TCP connection (and one TLS handshake)


def test_one_connection_per_origin(emulator, vectors):
    with Forwarder(_port(emulator.info["server_url"])) as api, Forwarder(_port(emulator.info["server_url"])) as ident:
        client = connect({"access_token": emulator.info["tokens"]["ci"], "use_state_file": False,
                          "api_url": "http://127.0.0.1:%d/api" % api.port,
                          "identity_url": "http://127.0.0.1:%d/identity" % ident.port})
        for _unused in range(3):
            client.get_secret(_ascii(vectors))
        assert (ident.connections, api.connections) == (1, 1)


def test_idle_connection_closed_by_the_server_post_sent_once(sleeps):
    """The server closes keep-alive connections idle for 0.2 s: the next POST (not idempotent,
    no retries) goes on a new connection, is sent exactly once and succeeds."""
    with ScriptedServer(idle_timeout=0.2) as server:
        client = HttpClient(retries=0)
        first = client.request("POST", server.url + "/things", "create a thing", json_body={"n": 1}, idempotent=False)
        time.sleep(0.6)  # the server has closed the idle connection by now
        second = client.request("POST", server.url + "/things", "create a thing", json_body={"n": 2},
                                idempotent=False)
        assert (first.status, second.status, second.json) == (200, 200, {"ok": True})
        assert [json.loads(r["body"]) for r in server.requests] == [{"n": 1}, {"n": 2}]  # each sent once
        assert server.connections == 2
        assert sleeps == []
        client.close()


def test_headers_sent_and_answer_headers_case_insensitive():
    with ScriptedServer([(200, {"X-Thing": "yes"}, {"ok": True})]) as server:
        client = HttpClient()
        resp = client.request("POST", server.url + "/p?q=1", "a call", form="a=b", bearer="the-bearer")
        sent = server.requests[0]
        assert (sent["method"], sent["path"], sent["body"]) == ("POST", "/p?q=1", b"a=b")
        assert sent["headers"]["user-agent"] == _http.USER_AGENT and sent["headers"]["device-type"] == "21"
        assert sent["headers"]["accept"] == "application/json"
        assert sent["headers"]["authorization"] == "Bearer the-bearer"
        assert sent["headers"]["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
        assert resp.headers.get("x-thing") == "yes" and resp.headers.get("CONTENT-TYPE") == "application/json"


@pytest.mark.parametrize("bearer", ["abc.def\r\nX-Injected: 1", "abc def\n", "abc\x00def", "abc-\u00e9"])
def test_a_bearer_that_is_no_header_value_is_refused_unsent_and_unshown(bearer):
    """http.client would quote such a value in its error message: the token must not reach one."""
    with ScriptedServer([(200, {}, {"ok": True})]) as server:
        with pytest.raises(SendRequestError) as caught:
            HttpClient().request("GET", server.url + "/p", "a call", bearer=bearer)
        assert server.requests == []
    message = str(caught.value)
    assert "not a valid HTTP header value" in message
    assert "abc" not in message and "Injected" not in message


# --- proxies -------------------------------------------------------------------------------

def test_https_through_a_connect_proxy_with_credentials(tls_emulator, vectors, monkeypatch, assert_no_proxy_secret):
    expected = "Basic " + base64.b64encode(b"proxy user:p@ss/word").decode()
    with Proxy(require=expected) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy%%20user:p%%40ss%%2Fword@127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the http proxy is not used for https
        tls_emulator.reset()
        client = connect(_options(tls_emulator, ca_path=tls_emulator.ca_file))
        for _unused in range(3):
            assert client.get_secret(_ascii(vectors)).value == "hunter2"
        target = "127.0.0.1:%d" % _port(tls_emulator.info["server_url"])
        assert proxy.tunnels == [target]  # one tunnel, kept alive, for the login and three reads
        assert proxy.authorizations == [expected]
        assert proxy.plain == []
        assert tls_emulator.stats()["routes"] == {LOGIN: 1, GET_ONE: 3}

        # wrong credentials: the proxy answers 407; the message names the proxy, never the password
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy%%20user:wr0ng-pa55@127.0.0.1:%d" % proxy.port)
        with pytest.raises(SendRequestError) as info:
            connect(_options(tls_emulator, ca_path=tls_emulator.ca_file, retries=0))
    message = str(info.value)
    assert "cannot connect to %s through the proxy 127.0.0.1:%d (HTTPS_PROXY)" % (target, proxy.port) in message
    assert "407" in message
    assert_no_proxy_secret(message, ["wr0ng-pa55", "proxy user", "proxy%20user"])


def test_a_tunnel_opened_again_reads_its_own_answer(tls_emulator, vectors, monkeypatch):
    """The deadline of one request's answer is not the proxy's: a connection dropped while idle
    reconnects through a new tunnel after that deadline has passed."""
    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.port)
        client = connect(_options(tls_emulator, ca_path=tls_emulator.ca_file, timeout=1, retries=0))
        assert client.get_secret(_ascii(vectors)).value == "hunter2"
        for conn in client.http._connections.values():
            conn.close()  # as when the server closes an idle connection: the same connection reconnects
        time.sleep(1.2)
        assert client.get_secret(_ascii(vectors)).value == "hunter2"
        assert len(proxy.tunnels) == 2


def test_a_proxy_trickling_its_answer_to_connect_times_out(tls_emulator, vectors, monkeypatch):
    """``timeout`` bounds connecting as a whole: the proxy sends its answer's header lines one
    every 0.1 s for 3 s, so no read waits 1 s, yet the tunnel is not open within 1 s."""
    with Proxy(trickle=3) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.port)
        start = time.monotonic()
        with pytest.raises(SendRequestError) as info:
            connect(_options(tls_emulator, ca_path=tls_emulator.ca_file, timeout=1, retries=0))
        elapsed = time.monotonic() - start
    target = "127.0.0.1:%d" % _port(tls_emulator.info["server_url"])
    assert str(info.value).startswith(
        "login to %s: could not connect to %s through the proxy 127.0.0.1:%d (HTTPS_PROXY) within 1 seconds"
        % (tls_emulator.info["identity_url"], target, proxy.port)), str(info.value)
    assert elapsed < 2.5 and len(proxy.tunnels) == 1


def test_the_tls_handshake_gets_what_the_tunnel_left_of_the_timeout(monkeypatch):
    """A tunnel opened after 1.5 s leaves 0.5 s of a 2 s timeout to a server that never answers
    the handshake, not 2 s more."""
    with Proxy(answer_delay=1.5) as proxy, SilentServer() as silent:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.port)
        client = HttpClient(timeout=2, retries=0)
        start = time.monotonic()
        with pytest.raises(SendRequestError) as info:
            client.request("GET", "https://127.0.0.1:%d/x" % silent.port, "read a thing")
        elapsed = time.monotonic() - start
        assert silent.connections == 1
    assert "read a thing: could not connect to 127.0.0.1:%d through the proxy" % silent.port in str(info.value)
    assert "within 2 seconds" in str(info.value)
    assert 1.9 < elapsed < 3.0, elapsed  # before: 1.5 s for the tunnel, then 2 s for the handshake


def test_https_proxy_that_cannot_reach_the_server(monkeypatch, assert_no_proxy_secret, sleeps):
    with Proxy() as proxy:
        monkeypatch.setenv("https_proxy", "http://someone:hunter3@127.0.0.1:%d" % proxy.port)
        client = HttpClient(retries=1)
        with pytest.raises(SendRequestError) as info:
            client.request("POST", "https://127.0.0.1:9/x", "create a thing", json_body={}, idempotent=False)
    message = str(info.value)
    assert message.startswith("create a thing: cannot connect to 127.0.0.1:9 through the proxy 127.0.0.1:%d "
                              "(https_proxy)" % proxy.port), message
    assert "502" in message
    assert len(proxy.tunnels) == 2 and sleeps == [0.5]  # nothing was sent to the server: retried even for a POST
    assert_no_proxy_secret(message, ["hunter3", "someone"])


# a name that only the test proxy resolves (to the emulator): plain http:// to a loopback
# address never goes through a proxy, so the plain-http proxy tests need a name that is not one
REMOTE_NAME = "bws-emulator.test"


def _remote_options(emu):
    return _options(emu, server_url="http://%s:%d" % (REMOTE_NAME, _port(emu.info["server_url"])),
                    allow_insecure_http=True)


def test_http_through_a_proxy_sends_the_absolute_url(emulator, vectors, monkeypatch):
    with Proxy(require="Basic " + base64.b64encode(b"u:pw").decode(), hosts={REMOTE_NAME: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("http_proxy", "http://u:pw@127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # for https only
        client = connect(_remote_options(emulator))
        assert client.get_secret(_ascii(vectors)).value == "hunter2"
        base = "http://%s:%d" % (REMOTE_NAME, _port(emulator.info["server_url"]))
        assert proxy.plain == [("POST", base + "/identity/connect/token"),
                               ("GET", base + "/api/secrets/" + _ascii(vectors))]
        assert proxy.tunnels == []


def test_plain_http_to_loopback_never_goes_through_a_proxy(emulator, vectors, monkeypatch):
    """Plain http:// is allowed to loopback only because it stays on this machine: a proxy would
    see the client secret and the bearer token in clear (and reach its own loopback anyway)."""
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:%d" % proxy.port)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        for host in ("127.0.0.1", "localhost"):
            opts = _options(emulator, server_url="http://%s:%d" % (host, _port(emulator.info["server_url"])))
            assert connect(opts).get_secret(_ascii(vectors)).value == "hunter2"
        assert proxy.plain == [] and proxy.tunnels == []


def test_all_proxy_is_the_fallback(emulator, vectors, monkeypatch):
    with Proxy(hosts={REMOTE_NAME: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("ALL_PROXY", "127.0.0.1:%d" % proxy.port)  # no scheme: an http proxy
        assert connect(_remote_options(emulator)).get_secret(_ascii(vectors)).value == "hunter2"
        assert len(proxy.plain) == 2


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost, 127.0.0.1", "*", "example.com 127.0.0.1:{port}"])
def test_no_proxy_bypasses_the_proxy(tls_emulator, vectors, monkeypatch, no_proxy):
    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("NO_PROXY", no_proxy.format(port=_port(tls_emulator.info["server_url"])))
        client = connect(_options(tls_emulator, ca_path=tls_emulator.ca_file))
        assert client.get_secret(_ascii(vectors)).value == "hunter2"
        assert proxy.plain == [] and proxy.tunnels == []


def test_no_proxy_for_another_port_still_uses_the_proxy(tls_emulator, vectors, monkeypatch):
    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("no_proxy", "127.0.0.1:1,localhost")
        client = connect(_options(tls_emulator, ca_path=tls_emulator.ca_file))
        assert client.get_secret(_ascii(vectors)).value == "hunter2"
        assert len(proxy.tunnels) == 1


@pytest.mark.parametrize("host, port, no_proxy, bypass", [
    ("api.example.com", 443, "example.com", True),
    ("api.example.com", 443, ".example.com", True),
    ("api.example.com", 443, "*.example.com", True),
    ("example.com", 443, ".example.com", True),
    ("EXAMPLE.com", 443, "example.COM", True),
    ("notexample.com", 443, "example.com", False),
    ("api.example.com", 443, "example.com:8443", False),
    ("api.example.com", 8443, "example.com:8443", True),
    ("api.example.com", 443, "other.org,\texample.com", True),
    ("10.1.2.3", 443, "10.1.2.3", True),
    ("10.1.2.3", 443, "10.1.2.4", False),
    ("10.1.2.3", 443, "10.0.0.0/8", True),
    ("11.1.2.3", 443, "10.0.0.0/8", False),
    ("::1", 443, "::1", True),
    ("::1", 8080, "[::1]:8080", True),
    ("::1", 443, "[::1]:8080", False),
    ("anything", 443, "*", True),
    ("anything", 443, "", False),
])
def test_no_proxy_matching(monkeypatch, host, port, no_proxy, bypass):
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert _http._bypass(host, port) is bypass


def test_lower_case_variables_win_and_an_empty_one_disables(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://upper:3128")
    monkeypatch.setenv("https_proxy", "http://lower:3128")
    assert _http._proxy_for("https", "h.example", 443, "x").host == "lower"
    monkeypatch.setenv("https_proxy", "")
    assert _http._proxy_for("https", "h.example", 443, "x") is None
    monkeypatch.delenv("https_proxy")
    monkeypatch.setenv("REQUEST_METHOD", "GET")  # CGI: HTTP_PROXY may come from a request header
    monkeypatch.setenv("HTTP_PROXY", "http://attacker:3128")
    assert _http._proxy_for("http", "h.example", 80, "x") is None
    assert _http._proxy_for("https", "h.example", 443, "x").host == "upper"


@pytest.mark.parametrize("variable, value, scheme", [
    ("HTTPS_PROXY", "socks5://user:s3cret-pw@127.0.0.1:1080", "socks5"),
    ("https_proxy", "https://user:s3cret-pw@proxy.example:443", "https"),
    ("ALL_PROXY", "socks5h://user:s3cret-pw@127.0.0.1:1080", "socks5h"),
])
def test_unsupported_proxy_scheme_is_a_clear_error(emulator, monkeypatch, assert_no_proxy_secret, variable, value,
                                                   scheme):
    monkeypatch.setenv(variable, value)
    with Proxy() as never_used:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:%d" % never_used.port)
        with pytest.raises(SendRequestError) as info:
            HttpClient().request("GET", "https://127.0.0.1:9/x", "read a thing")
    message = str(info.value)
    assert message.startswith("read a thing: the proxy in %s is a %s:// proxy" % (variable, scheme)), message
    assert "http:// proxy" in message and "NO_PROXY" in message
    assert_no_proxy_secret(message, ["s3cret-pw", "user"])
    assert never_used.plain == [] and never_used.tunnels == []


# --- TLS: CA bundle variables ------------------------------------------------------------

def test_requests_ca_bundle_and_curl_ca_bundle_are_honoured(tls_emulator, vectors, untrusted_ca, monkeypatch):
    good = tls_emulator.ca_file

    def works(**extra):
        return connect(_options(tls_emulator, retries=0, **extra)).get_secret(_ascii(vectors)).value == "hunter2"

    def refused(**extra):
        with pytest.raises(SendRequestError, match="TLS verification failed for 127.0.0.1"):
            connect(_options(tls_emulator, retries=0, **extra))
        return True

    assert refused()  # the system store does not know the emulator's CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", good)
    assert works()
    monkeypatch.setenv("CURL_CA_BUNDLE", untrusted_ca)
    assert works()  # REQUESTS_CA_BUNDLE comes first
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert refused()  # then CURL_CA_BUNDLE
    monkeypatch.setenv("CURL_CA_BUNDLE", good)
    assert works()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", untrusted_ca)
    assert refused()
    assert works(ca_path=good)  # ca_path comes before both
    assert works(validate_certs=False)  # and no verification ignores them


def test_ssl_cert_file_is_honoured_by_the_ssl_module(tls_emulator, vectors, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", tls_emulator.ca_file)
    assert connect(_options(tls_emulator)).get_secret(_ascii(vectors)).value == "hunter2"


def _hashed_ca_dir(directory, *pem_files):
    """A CA directory as update-ca-certificates writes it: each certificate under <subject hash>.0."""
    directory.mkdir()
    for pem in pem_files:
        digest = subprocess.run(["openssl", "x509", "-subject_hash", "-noout", "-in", pem], check=True,
                                stdout=subprocess.PIPE, text=True).stdout.strip()
        (directory / ("%s.0" % digest)).write_bytes(open(pem, "rb").read())
    return str(directory)


@pytest.fixture()
def contexts(monkeypatch):
    """The CA sources of every SSLContext the client makes, in order."""
    made = []
    real = ssl.create_default_context

    def recording(**kwargs):
        made.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(ssl, "create_default_context", recording)
    return made


def _read_once(emu, vectors):
    client = HttpClient(retries=0)
    emu.reset()
    answer = client.request("GET", emu.info["api_url"] + "/secrets/" + _ascii(vectors), "a read")
    assert answer.status == 401 and emu.stats()["routes"] == {GET_ONE: 1}  # sent once, answered
    return client


def test_the_system_store_is_read_from_its_hashed_directory_as_needed(
        tls_emulator, vectors, untrusted_ca, tmp_path, monkeypatch, contexts):
    system_dir = _hashed_ca_dir(tmp_path / "certs", untrusted_ca, tls_emulator.ca_file)
    monkeypatch.setenv("SSL_CERT_DIR", system_dir)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-bundle.pem"))
    client = _read_once(tls_emulator, vectors)
    assert contexts == [{"capath": system_dir}]
    assert client._context.cert_store_stats()["x509_ca"] == 1  # the one CA the handshake needed, not both


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_variable_naming_the_system_bundle_means_the_system_store(
        tls_emulator, vectors, untrusted_ca, tmp_path, monkeypatch, contexts, variable):
    system_dir = _hashed_ca_dir(tmp_path / "certs", untrusted_ca, tls_emulator.ca_file)
    bundle = tmp_path / "system-bundle.pem"
    bundle.write_bytes(open(untrusted_ca, "rb").read() + open(tls_emulator.ca_file, "rb").read())
    link = tmp_path / "cert.pem"
    link.symlink_to(bundle)  # named another way: still the same file
    monkeypatch.setenv("SSL_CERT_DIR", system_dir)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv(variable, str(link))
    client = _read_once(tls_emulator, vectors)
    assert contexts == [{"capath": system_dir}] and client._context.cert_store_stats()["x509_ca"] == 1


def test_a_variable_naming_another_bundle_means_that_bundle_alone(
        tls_emulator, vectors, untrusted_ca, tmp_path, monkeypatch, contexts):
    system_dir = _hashed_ca_dir(tmp_path / "certs", untrusted_ca, tls_emulator.ca_file)
    monkeypatch.setenv("SSL_CERT_DIR", system_dir)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_emulator.ca_file)
    _read_once(tls_emulator, vectors)
    assert contexts == [{"cafile": tls_emulator.ca_file}]


def test_a_hashed_directory_that_does_not_vouch_means_the_whole_store_then(
        tls_emulator, vectors, untrusted_ca, tmp_path, monkeypatch, contexts):
    system_dir = _hashed_ca_dir(tmp_path / "certs", untrusted_ca)  # the emulator's CA is in the bundle only
    monkeypatch.setenv("SSL_CERT_DIR", system_dir)
    monkeypatch.setenv("SSL_CERT_FILE", tls_emulator.ca_file)
    client = _read_once(tls_emulator, vectors)
    assert contexts == [{"capath": system_dir}, {"cafile": None}]  # the second: ssl's default, bundle and dir
    client.close()
    assert client.request("GET", tls_emulator.info["api_url"] + "/secrets/" + _ascii(vectors), "a read").status == 401
    assert len(contexts) == 2  # a new connection: the whole store again, no second try with the directory


def test_a_directory_without_hashes_is_never_trusted_alone(tls_emulator, vectors, tmp_path, monkeypatch, contexts):
    plain = tmp_path / "certs"
    plain.mkdir()
    (plain / "emulator-ca.pem").write_bytes(open(tls_emulator.ca_file, "rb").read())
    monkeypatch.setenv("SSL_CERT_DIR", str(plain))
    monkeypatch.setenv("SSL_CERT_FILE", tls_emulator.ca_file)
    _read_once(tls_emulator, vectors)
    assert contexts == [{"cafile": None}]


def test_a_missing_ca_bundle_is_a_clear_error(tls_emulator, tmp_path, monkeypatch, sleeps):
    missing = str(tmp_path / "no-such-ca.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", missing)
    with pytest.raises(SendRequestError) as info:
        connect(_options(tls_emulator))
    assert "cannot load the CA bundle %s (from REQUESTS_CA_BUNDLE)" % missing in str(info.value)
    assert sleeps == []


def test_tls_failures_are_not_retried(tls_emulator, untrusted_ca, sleeps):
    tls_emulator.reset()
    with pytest.raises(SendRequestError, match="TLS verification failed") as info:
        connect(_options(tls_emulator, ca_path=untrusted_ca, retries=3))
    assert sleeps == [] and tls_emulator.stats()["routes"] == {}
    # the advice fits: ca_path is set, and is the wrong bundle
    assert "the CA bundle in ca_path (%s) does not vouch for the server certificate" % untrusted_ca in str(info.value)


# --- retries -------------------------------------------------------------------------------

def test_retry_after_as_an_http_date(sleeps):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    with ScriptedServer([(429, {"Retry-After": when}, {"message": "slow down"}), (200, {}, {"ok": True})]) as server:
        resp = HttpClient(retries=1).request("POST", server.url + "/x", "a create", json_body={}, idempotent=False)
    assert resp.status == 200 and len(server.requests) == 2
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31


@pytest.mark.parametrize("value, expected", [
    ("2", [2.0]), ("0.25", [0.25]), (" 3 ", [3.0]), ("100000", [120.0]), ("inf", [120.0]),
    ("-5", []), ("0", []), ("Wed, 21 Oct 2015 07:28:00 GMT", []),  # now, or in the past: retry at once
    ("nan", [0.5]), ("soon", [0.5]), ("", [0.5]),  # unreadable: the backoff
])
def test_retry_after_values(sleeps, value, expected):
    with ScriptedServer([(429, {"Retry-After": value}, b""), (200, {}, {"ok": True})]) as server:
        assert HttpClient(retries=1).request("GET", server.url + "/x", "a read").status == 200
    assert sleeps == expected


def test_5xx_retried_for_reads_with_backoff_not_for_creates(sleeps):
    script = [(503, {"Content-Type": "text/html"}, b"<html>busy</html>")] * 4 + [(200, {}, {"ok": True})]
    with ScriptedServer(script) as server:
        assert HttpClient(retries=4).request("GET", server.url + "/x", "a read").status == 200
        assert sleeps == [0.5, 1.0, 2.0, 4.0] and len(server.requests) == 5
    del sleeps[:]
    with ScriptedServer([(503, {}, {"message": "busy"})]) as server:
        resp = HttpClient(retries=4).request("POST", server.url + "/x", "a create", json_body={}, idempotent=False)
        assert resp.status == 503 and len(server.requests) == 1 and sleeps == []


def test_a_503_retry_after_is_honoured_for_reads_and_capped(sleeps):
    """A server in maintenance says when to come back: a read waits that long instead of
    spending its retries in the few seconds of the backoff. A 500's Retry-After is not asked for."""
    script = [(503, {"Retry-After": "30"}, {"message": "maintenance"}), (503, {"Retry-After": "100000"}, b""),
              (500, {"Retry-After": "30"}, {"message": "no"}), (200, {}, {"ok": True})]
    with ScriptedServer(script) as server:
        assert HttpClient(retries=3).request("GET", server.url + "/x", "a read").status == 200
    assert sleeps == [30.0, 120.0, 2.0]
    del sleeps[:]
    with ScriptedServer([(503, {"Retry-After": "30"}, {"message": "maintenance"})]) as server:
        resp = HttpClient(retries=3).request("POST", server.url + "/x", "a create", json_body={}, idempotent=False)
    assert resp.status == 503 and len(server.requests) == 1 and sleeps == []


def test_backoff_is_capped(sleeps):
    with ScriptedServer([(500, {}, {"message": "no"})]) as server:
        resp = HttpClient(retries=6).request("GET", server.url + "/x", "a read")
    assert resp.status == 500 and len(server.requests) == 7
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_connection_refused_is_retried_even_for_a_create(sleeps):
    port = free_port()
    with pytest.raises(SendRequestError) as info:
        HttpClient(retries=2).request("POST", "http://127.0.0.1:%d/x" % port, "a create", json_body={},
                                      idempotent=False)
    assert str(info.value).startswith("a create: cannot connect to 127.0.0.1:%d (" % port)
    assert "may have been applied" not in str(info.value)  # nothing was sent
    assert sleeps == [0.5, 1.0]


def test_redirects_are_not_followed():
    with ScriptedServer() as elsewhere:
        with ScriptedServer([(302, {"Location": elsewhere.url + "/moved"}, b"")]) as server:
            client = HttpClient()
            resp = client.request("GET", server.url + "/x", "a read")
            post = client.request("POST", server.url + "/x", "a create", json_body={}, idempotent=False)
        assert (resp.status, post.status) == (302, 302)
        assert resp.headers.get("location") == elsewhere.url + "/moved"
        assert len(server.requests) == 2 and elsewhere.requests == []


# --- the size of an answer ------------------------------------------------------------------

MIB = 1024 * 1024


def _json_of(size):
    """A JSON document of exactly ``size`` bytes."""
    return b'{"a":"%s"}' % (b"x" * (size - 8))


def test_an_answer_up_to_the_limit_is_read_one_byte_more_is_refused(monkeypatch, sleeps):
    """With the limit at 1 MiB: an answer of exactly 1 MiB (Content-Length) is read; one of 1 MiB
    and a byte fails, is not retried (it would come again), and its connection, which still
    holds it, is dropped."""
    monkeypatch.setattr(_http, "MAX_ANSWER_BYTES", MIB)
    json_type = {"Content-Type": "application/json"}
    with ScriptedServer([(200, json_type, _json_of(MIB)), (200, json_type, _json_of(MIB + 1)),
                         (200, {}, {"ok": True})]) as server:
        client = HttpClient(retries=3)
        assert len(client.request("GET", server.url + "/a", "a read").json["a"]) == MIB - 8
        with pytest.raises(SendRequestError) as info:
            client.request("GET", server.url + "/b", "a read")
        assert str(info.value) == ("a read: the answer from 127.0.0.1:%d is larger than 1 MiB, the most this "
                                   "client reads: is the URL right, or is something in the way?" % server.port)
        assert sleeps == [] and len(server.requests) == 2
        assert client.request("GET", server.url + "/c", "a read").json == {"ok": True}
        assert server.connections == 2  # the first kept alive for /b, a new one after it was dropped
        client.close()


def test_a_create_whose_answer_is_too_large_may_have_been_applied(monkeypatch, sleeps):
    monkeypatch.setattr(_http, "MAX_ANSWER_BYTES", 1000)
    with ScriptedServer([(200, {"Content-Type": "application/json"}, _json_of(1001))]) as server:
        with pytest.raises(SendRequestError) as info:
            HttpClient(retries=3).request("POST", server.url + "/s", "create secret", json_body={}, idempotent=False)
    assert str(info.value).startswith("create secret: the answer from 127.0.0.1:%d is larger than 1000 bytes"
                                      % server.port)
    assert str(info.value).endswith("; it was not retried (not safe to repeat) and may have been applied on the "
                                    "server: check before trying again")
    assert sleeps == [] and len(server.requests) == 1


@pytest.mark.parametrize("chunked, connections", [(True, 1), (False, 3)], ids=["chunked", "until-closed"])
def test_an_answer_without_a_length_is_read_whole(chunked, connections):
    """A chunked answer leaves its connection ready for the next request; one that ends with the
    connection needs a new connection for each."""
    with StreamServer([b'{"a": [', b"1, 2", b"]}"], chunked) as server:
        client = HttpClient()
        answers = [client.request("GET", server.url + "/x", "a read").json for _n in range(3)]
        client.close()
    assert answers == [{"a": [1, 2]}] * 3 and server.connections == connections


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "until-closed"])
def test_an_answer_without_a_length_is_refused_one_byte_past_the_limit(monkeypatch, chunked):
    monkeypatch.setattr(_http, "MAX_ANSWER_BYTES", MIB)
    whole = _json_of(MIB)
    pieces = [whole[i:i + 70000] for i in range(0, len(whole), 70000)]
    with StreamServer(pieces, chunked) as server:
        assert len(HttpClient().request("GET", server.url + "/x", "a read").json["a"]) == MIB - 8
    with StreamServer(pieces[:-1] + [pieces[-1][:-2] + b'x"}'], chunked) as server:
        with pytest.raises(SendRequestError, match="larger than 1 MiB, the most this client reads"):
            HttpClient().request("GET", server.url + "/x", "a read")


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "until-closed"])
def test_an_answer_without_end_fails_at_the_limit(monkeypatch, chunked):
    monkeypatch.setattr(_http, "MAX_ANSWER_BYTES", 100000)
    with StreamServer(None, chunked) as server:
        client = HttpClient(retries=0, timeout=20)
        with pytest.raises(SendRequestError, match="larger than 100000 bytes, the most this client reads"):
            client.request("GET", server.url + "/sync", "a sync")
        client.close()


# --- imports -------------------------------------------------------------------------------

def _python39():
    """A Python 3.9, as on the oldest managed hosts (pyenv's, as every machine of ours has)."""
    found = subprocess.run([os.path.join(ROOT, "scripts", "find_python.sh"), "3.9"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, check=False).stdout.strip()
    if not found:
        pytest.skip("no Python 3.9 (install it with pyenv)")
    return found


@pytest.mark.parametrize("python", ["this", "3.9"])
def test_the_module_imports_only_the_standard_library(python):
    """Importing _http loads no third-party library, and not even http.client or ssl (the first
    connection does): nothing beyond the light modules it names itself. On 3.9 too, where
    urllib.parse does not load ipaddress (as it does from 3.11): modules run there."""
    probe = ("import sys, __future__, select, json, base64, math, importlib, socket, urllib.parse; "
             "std = set(sys.modules); "
             "import ansible_collections.bws.secrets.plugins.module_utils._http; "
             "print(sorted(m for m in set(sys.modules) - std if not m.startswith('ansible_collections')))")
    src = os.path.join(ROOT, ".tmp", "src")
    executable = sys.executable if python == "this" else _python39()
    out = subprocess.run([executable, "-S", "-c", "import sys; sys.path.insert(0, %r); %s" % (src, probe)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    assert out.strip() == "[]", out


# --- helpers -------------------------------------------------------------------------------

@pytest.fixture()
def assert_no_proxy_secret():
    def check(message, needles):
        for needle in needles:
            assert needle not in message, "%r shows %r" % (message, needle)
        assert "Basic " not in message and "Proxy-Authorization" not in message

    return check


def test_a_certificate_for_another_host_name_is_told_apart_from_an_unknown_ca():
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname "
                                          "mismatch, certificate is not valid for 'vault.example'. (_ssl.c:1006)")
    message = _http._describe_failure(exc, _http._TLS, "https://vault.example/identity/connect/token", "login",
                                      HttpClient(ca_path="/etc/pki/our-ca.pem"))
    assert "the certificate is not for this host name" in message and "does not vouch" not in message


def test_a_handshake_that_judged_no_certificate_gets_no_ca_advice():
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    message = _http._describe_failure(exc, _http._TLS, "https://127.0.0.1:8080/api/x", "get secret",
                                      HttpClient(ca_path="/etc/pki/our-ca.pem", retries=0))
    assert "the TLS handshake with 127.0.0.1:8080 failed" in message and "port that speaks HTTPS" in message
    assert "ca_path" not in message
