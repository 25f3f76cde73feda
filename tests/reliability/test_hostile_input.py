"""Hostile and broken input: tampered ciphertext, wrong keys, unknown types, truncated base64,
and transport settings. Everything is refused before AES runs, with an error naming the
object; plaintext is never returned from data that did not verify.

``cipher_calls`` records every AES set-up of the client's crypto layer, so "refused before
decrypting" is checked, not assumed.
"""

import base64
import http.server
import socket
import ssl
import threading
import uuid

import pytest

from ansible_collections.bws.secrets.plugins.module_utils import _crypto
from ansible_collections.bws.secrets.plugins.module_utils._crypto import (
    EncString, SymmetricCryptoKey, decrypt_text, encrypt_text)
from ansible_collections.bws.secrets.plugins.module_utils._cache import SecretsCache, cache_path
from ansible_collections.bws.secrets.plugins.module_utils._errors import (
    BWSSDKError, CryptoError, InvalidIdentityResponseError, SendRequestError)
from ansible_collections.bws.secrets.plugins.module_utils._http import HttpClient
from ansible_collections.bws.secrets.plugins.module_utils._options import CONNECTION_OPTIONS, connect
from ansible_collections.bws.secrets.plugins.module_utils._resolve import find_secrets

from leakcheck import token_needles
from relsupport import CREATE, PROD, options, plain, routes

WHAT = "the value of secret 5e000000-0000-4000-8000-0000000000aa"


@pytest.fixture()
def org_key(vectors):
    return SymmetricCryptoKey.from_b64(vectors["organization"]["org_key_b64"])


@pytest.fixture()
def cipher_calls(monkeypatch):
    calls = []
    real = _crypto.Cipher

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(_crypto, "Cipher", spy)
    return calls


def _b64(data):
    return base64.b64encode(data).decode()


def _parts(text):
    enc = EncString.parse(text)
    return bytearray(enc.iv), bytearray(enc.data), bytearray(enc.mac)


def _join(iv, data, mac, kind="2"):
    return "%s.%s|%s|%s" % (kind, _b64(bytes(iv)), _b64(bytes(data)), _b64(bytes(mac)))


# --- tampering --------------------------------------------------------------------------

def test_every_single_bit_flip_is_refused_before_decrypting(org_key, cipher_calls):
    """All 512 one-bit changes of a short EncString (iv, ciphertext, mac) fail the MAC check."""
    good = encrypt_text(org_key, "hunter2")
    raw = bytearray(base64.b64decode(_b64(EncString.parse(good).iv)) + EncString.parse(good).data
                    + EncString.parse(good).mac)
    assert len(raw) == 64
    del cipher_calls[:]
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        text = _join(flipped[:16], flipped[16:32], flipped[32:])
        with pytest.raises(CryptoError, match="failed its integrity check \\(MAC mismatch\\)"):
            decrypt_text(org_key, text, WHAT)
    assert cipher_calls == []  # AES never ran on tampered data


def test_reordered_truncated_extended_or_spliced_ciphertext_is_refused(org_key, cipher_calls):
    long_text = encrypt_text(org_key, "0123456789abcdef" * 4)  # five blocks with padding
    iv, data, mac = _parts(long_text)
    other_iv, other_data, other_mac = _parts(encrypt_text(org_key, "0123456789abcdef" * 4))
    variants = {
        "blocks swapped": _join(iv, data[16:32] + data[:16] + data[32:], mac),
        "last block dropped": _join(iv, data[:-16], mac),
        "block appended": _join(iv, data + data[:16], mac),
        "mac of another": _join(iv, data, other_mac),
        "iv of another": _join(other_iv, data, mac),
        "data of another": _join(iv, other_data, mac),
    }
    del cipher_calls[:]
    for label, text in variants.items():
        with pytest.raises(CryptoError, match="MAC mismatch") as info:
            decrypt_text(org_key, text, WHAT)
        assert WHAT in str(info.value), label
    assert cipher_calls == []


def test_wrong_org_key_is_refused_before_decrypting(org_key, cipher_calls):
    text = encrypt_text(org_key, "pa55word-for-the-right-key")
    wrong = SymmetricCryptoKey.from_bytes(bytes(range(64)))
    half_wrong = SymmetricCryptoKey(org_key.enc_key, wrong.mac_key)
    del cipher_calls[:]
    for key in (wrong, half_wrong):
        with pytest.raises(CryptoError, match="wrong key or tampered data") as info:
            decrypt_text(key, text, WHAT)
        assert "pa55word" not in str(info.value)
    assert cipher_calls == []


@pytest.mark.parametrize("kind", ["0", "1", "3", "4", "5", "6", "7"])
def test_unknown_encstring_types_are_refused(org_key, cipher_calls, kind):
    iv, data, mac = _parts(encrypt_text(org_key, "hunter2"))
    bodies = [_join(iv, data, mac, kind), "%s.%s|%s" % (kind, _b64(bytes(iv)), _b64(bytes(data))),
              "%s.%s" % (kind, _b64(bytes(data)))]
    del cipher_calls[:]
    for text in bodies:
        with pytest.raises(CryptoError) as info:
            decrypt_text(org_key, text, WHAT)
        assert str(info.value) == "%s uses encryption type %s; Secrets Manager only uses type 2" % (WHAT, kind)
    assert cipher_calls == []


@pytest.mark.parametrize("text", ["2x.AAAA|BBBB|CCCC", "22.AAAA|BBBB|CCCC", "-2.AAAA|BBBB|CCCC", ".AAAA|BBBB|CCCC",
                                  "AAAA|BBBB|CCCC", "２.AAAA|BBBB|CCCC"])
def test_malformed_type_prefixes_are_refused(org_key, cipher_calls, text):
    with pytest.raises(CryptoError, match="not an encrypted string|only uses type 2") as info:
        decrypt_text(org_key, text, WHAT)
    assert WHAT in str(info.value)
    assert cipher_calls == []


def test_truncated_base64_is_refused_before_decrypting(org_key, cipher_calls):
    text = encrypt_text(org_key, "a value long enough for two blocks")
    # padding is optional, so cut real characters: from the unpadded forms
    iv_b64, data_b64, mac_b64 = [part.rstrip("=") for part in text[2:].split("|")]
    variants = []
    for cut in (1, 2, 3, 4, 8):
        variants += [
            "2.%s|%s|%s" % (iv_b64[:-cut], data_b64, mac_b64),
            "2.%s|%s|%s" % (iv_b64, data_b64[:-cut], mac_b64),
            "2.%s|%s|%s" % (iv_b64, data_b64, mac_b64[:-cut]),
        ]
    unpadded = "2.%s|%s|%s" % (iv_b64, data_b64, mac_b64)
    variants += [unpadded[:n] for n in range(2, len(unpadded) - 1, 5)]  # the string cut anywhere
    del cipher_calls[:]
    for variant in variants:
        with pytest.raises(CryptoError) as info:
            decrypt_text(org_key, variant, WHAT)
        message = str(info.value)
        assert message.startswith(WHAT), message
        assert any(w in message for w in ("base64", "must be 16 bytes", "must be 32 bytes", "AES blocks",
                                          "expected 3 parts")), message
    assert cipher_calls == []


def test_a_valid_mac_over_bad_padding_or_bytes_is_still_refused(org_key):
    """Even data whose MAC verifies never comes back as garbage text."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = bytes(16)
    for plaintext, words in ((b"sixteen bytes!!!", "invalid padding"),  # no padding block at all
                             (b"\xff\xfe\xfd" + bytes([13]) * 13, "not UTF-8")):
        encryptor = Cipher(algorithms.AES(org_key.enc_key), modes.CBC(iv)).encryptor()
        data = encryptor.update(plaintext) + encryptor.finalize()
        text = str(EncString(iv, data, _crypto._mac(org_key, iv, data)))
        with pytest.raises(CryptoError, match=words):
            decrypt_text(org_key, text, WHAT)


# --- through the API: a server holding tampered or foreign ciphertext --------------------

def _store_raw(client, key_enc, value_enc, note_enc):
    """Create a secret with EncStrings as given (the emulator stores them unchanged)."""
    body = {"key": key_enc, "value": value_enc, "note": note_enc, "projectIds": [PROD]}
    raw = client._call("POST", "/organizations/%s/secrets" % client.org_id, "store raw", body=body,
                       idempotent=False)
    return raw["id"]


def test_tampered_and_foreign_ciphertext_from_the_server(emu, vectors, org_key, state_dir, assert_clean):
    client = connect(options(emu, state_dir))
    other_key = SymmetricCryptoKey.from_bytes(bytes(range(1, 65)))
    iv, data, mac = _parts(encrypt_text(org_key, "tampered-value-1"))
    data[3] ^= 0x40
    flipped_data = _join(iv, data, mac)
    iv, data, mac = _parts(encrypt_text(org_key, "tampered-value-2"))
    mac[31] ^= 1
    flipped_mac = _join(iv, data, mac)
    note = encrypt_text(org_key, "")
    stored = {
        "value ciphertext flipped": _store_raw(client, encrypt_text(org_key, "T_DATA"), flipped_data, note),
        "value mac flipped": _store_raw(client, encrypt_text(org_key, "T_MAC"), flipped_mac, note),
        "value under another key": _store_raw(client, encrypt_text(org_key, "T_KEY"),
                                              encrypt_text(other_key, "foreign-value-3"), note),
    }
    needles = [("tampered value", "tampered-value-1"), ("tampered value", "tampered-value-2"),
               ("foreign value", "foreign-value-3")]
    for label, sid in stored.items():
        secret = client.get_secret(sid)  # the key is fine: the secret is found...
        with pytest.raises(CryptoError) as info:
            secret.value  # ...but its value is refused
        assert str(info.value) == ("the value of secret %s failed its integrity check (MAC mismatch): wrong key "
                                   "or tampered data" % sid), label
        assert_clean(str(info.value), needles)
        # asked with a good secret in one request: still refused, naming the bad one only
        good, bad = client.get_secrets([plain(vectors, "ascii")["id"], sid])
        assert good.value == "hunter2"
        with pytest.raises(CryptoError, match=sid):
            bad.value

    # a tampered key: name resolution (through the cache) refuses it, naming the secret
    iv, data, mac = _parts(encrypt_text(org_key, "T_BROKEN_KEY"))
    iv[0] ^= 1
    broken = _store_raw(client, _join(iv, data, mac), encrypt_text(org_key, "v"), note)
    cache = SecretsCache(client, cache_path(client.auth.state_file))
    with pytest.raises(CryptoError, match="the key of secret %s failed its integrity check" % broken):
        find_secrets(client, ["DB_PASSWORD"], source=cache.secrets())
    # by id, the cache decrypts only the keys of the secrets returned: the tampered key does not
    # stand in the way of another secret, and is refused as soon as its own secret's key is read
    found = find_secrets(client, [plain(vectors, "ascii")["id"]], source=cache.secrets())
    assert [s.value for s in found] == ["hunter2"]
    (bad,) = find_secrets(client, [broken], source=cache.secrets())
    assert bad.value == "v"  # the value's own MAC holds
    with pytest.raises(CryptoError, match="the key of secret %s failed its integrity check" % broken):
        bad.to_dict()


def test_wrong_token_key_fails_at_login_without_echoing_it(emu, vectors, assert_clean):
    token = vectors["access_token"]["token"]
    wrong = token.rsplit(":", 1)[0] + ":" + _b64(b"\x42" * 16)  # right id and secret, wrong key
    with pytest.raises(InvalidIdentityResponseError) as info:
        connect(options(emu, token=wrong))
    message = str(info.value)
    assert "cannot read the organization key" in message and "MAC mismatch" in message
    assert "is the access token complete?" in message
    assert_clean(message, token_needles("wrong token", wrong))


# --- transport: http only to loopback, certificates verified by default -----------------

@pytest.mark.parametrize("urls", [
    {"server_url": "http://bws-reliability.invalid"},
    {"server_url": "http://10.11.12.13:8080"},
    {"server_url": "http://localhost.bws-reliability.invalid"},
    {"server_url": "http://127.0.0.1.bws-reliability.invalid"},
    {"api_url": "https://api.bws-reliability.invalid", "identity_url": "http://id.bws-reliability.invalid"},
    {"api_url": "http://api.bws-reliability.invalid", "identity_url": "https://id.bws-reliability.invalid"},
])
def test_plain_http_refused_for_non_loopback_before_any_request(vectors, monkeypatch, urls):
    def no_network(*args, **kwargs):
        raise AssertionError("a request was sent")

    monkeypatch.setattr(HttpClient, "_send", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    opts = dict({"access_token": vectors["access_token"]["token"], "use_state_file": False}, **urls)
    with pytest.raises(BWSSDKError) as info:
        connect(opts)
    assert not isinstance(info.value, SendRequestError)
    message = str(info.value)
    assert "plain http://" in message and "allow_insecure_http" in message
    assert vectors["access_token"]["client_secret"] not in message


def test_plain_http_to_non_loopback_only_with_the_opt_in(vectors):
    opts = {"access_token": vectors["access_token"]["token"], "use_state_file": False, "retries": 0,
            "server_url": "http://bws-reliability.invalid", "allow_insecure_http": True}
    with pytest.raises(SendRequestError, match="cannot resolve the host name"):  # it really tried
        connect(opts)
    assert CONNECTION_OPTIONS["allow_insecure_http"][1] is False


def test_plain_http_to_loopback_works(emu, vectors):
    port = emu.info["server_url"].rsplit(":", 1)[1]
    for host in ("127.0.0.1", "localhost"):
        client = connect(options(emu, server_url="http://%s:%s" % (host, port)))
        assert client.get_secret(plain(vectors, "ascii")["id"]).value == "hunter2"


def test_certificates_are_verified_by_default(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    assert CONNECTION_OPTIONS["validate_certs"][1] is True
    assert HttpClient().verify is True
    assert HttpClient(ca_path="/some/ca.pem").verify == "/some/ca.pem"
    assert HttpClient(validate_certs=False, ca_path="/some/ca.pem").verify is False
    context = HttpClient()._tls_context("a test")  # the context every https connection uses
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    insecure = HttpClient(validate_certs=False, ca_path="/some/ca.pem")._tls_context("a test")
    assert insecure.verify_mode == ssl.CERT_NONE and insecure.check_hostname is False


class _Redirector(http.server.BaseHTTPRequestHandler):
    """Answers everything with a 302 to ``target``, counting the requests."""

    protocol_version = "HTTP/1.1"
    target = None
    seen = []

    def _redirect(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path))
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect

    def log_message(self, *args):
        pass


def test_redirects_are_not_followed(emu, vectors):
    """A redirect (to anywhere, e.g. plain http) is never followed: the answer is an error."""
    handler = type("Redirector", (_Redirector,), {"target": emu.info["server_url"], "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        emu.reset()
        with pytest.raises(BWSSDKError) as info:
            connect(options(emu, server_url="http://127.0.0.1:%d" % server.server_address[1], retries=2))
        assert "HTTP 302" in str(info.value)
        assert handler.seen == [("POST", "/identity/connect/token")]  # asked once, not retried
        assert routes(emu) == {}  # and the Location was never followed
    finally:
        server.shutdown()
        server.server_close()


def test_create_sends_only_ciphertext(emu, vectors, org_key):
    """What reaches the server for a create is EncStrings under the org key, never plaintext."""
    client = connect(options(emu))
    key = "HOSTILE_%s" % uuid.uuid4().hex[:6]
    emu.reset()
    client.create_secret(key, "plaintext-never-sent", "note-never-sent", PROD)
    assert routes(emu) == {CREATE: 1}
    stored = [s for s in emu.secrets(ciphertext=True)["secrets"]
              if s["key"].startswith("2.") and decrypt_text(org_key, s["key"]) == key]
    assert len(stored) == 1
    assert "plaintext-never-sent" not in repr(stored) and "note-never-sent" not in repr(stored)
    assert decrypt_text(org_key, stored[0]["value"]) == "plaintext-never-sent"
