"""Property tests (hypothesis): arbitrary input to the parsers and decoders raises only our own
``BWSSDKError`` subclasses, never another exception, and never echoes secrets.

Covered: the access-token parser, base64 and the EncString parser/decryptor, URL checks,
JWT claims, the login answer, the state file, and the decoding of API answers (``_http._decode``
on arbitrary status, headers and body, ``Retry-After``, ``SecretsManager._error``,
``Secret.from_api``, ``Project.from_api`` and name resolution over what they return).

Runs are derandomized (the same examples every run, no example database written) so the
suite is stable; set ``BWS_HYPOTHESIS_RANDOM=1`` to explore with fresh random examples.
Inputs that once broke a property are kept as ``@example``s, so they are tried every run.
"""

import base64
import http.client
import json
import os
import pathlib
import string
import tempfile
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ansible_collections.bws.secrets.plugins.module_utils import _auth, _http
from ansible_collections.bws.secrets.plugins.module_utils._api import SecretsManager
from ansible_collections.bws.secrets.plugins.module_utils._crypto import (
    EncString, SymmetricCryptoKey, b64decode_strict, decrypt_text, derive_access_token_key, encrypt_text)
from ansible_collections.bws.secrets.plugins.module_utils._errors import (
    ApiError, BWSSDKError, CryptoError, InvalidTokenError, RateLimitedError)
from ansible_collections.bws.secrets.plugins.module_utils._models import Project, Secret
from ansible_collections.bws.secrets.plugins.module_utils._region import Region
from ansible_collections.bws.secrets.plugins.module_utils._resolve import SecretIndex, find_secrets
from ansible_collections.bws.secrets.plugins.module_utils._state import StateFile
from ansible_collections.bws.secrets.plugins.module_utils._token import ClientToken

# hypothesis keeps caches in its home directory: under .tmp, not in the checkout's root
set_hypothesis_home_dir(str(pathlib.Path(__file__).resolve().parents[4] / ".tmp" / "hypothesis"))
RANDOM = bool(os.environ.get("BWS_HYPOTHESIS_RANDOM"))
SETTINGS = dict(deadline=None, database=None, derandomize=not RANDOM,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
fast = settings(max_examples=400, **SETTINGS)
slow = settings(max_examples=150, **SETTINGS)

ORG_KEY = SymmetricCryptoKey.from_bytes(bytes(range(64)))
TOKEN_KEY16 = bytes(range(100, 116))
TOKEN = "0.7e000000-0000-4000-8000-0000000000ab.PropertyClientSecret:%s" % base64.b64encode(TOKEN_KEY16).decode()
TOKEN_KEY = derive_access_token_key(TOKEN_KEY16)


# --- strategies -------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
b64_text = st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode())
enc_valid = st.text(max_size=60).map(lambda t: encrypt_text(ORG_KEY, t))
enc_wrong_key = st.text(max_size=20).map(lambda t: encrypt_text(SymmetricCryptoKey.from_bytes(bytes(64)), t))
enc_shaped = st.builds(lambda kind, a, b, c: "%s.%s|%s|%s" % (kind, a, b, c),
                       st.sampled_from(["2", "0", "1", "3", "7", "22", "x", ""]), b64_text, b64_text, b64_text)
enc_like = st.one_of(enc_valid, enc_wrong_key, enc_shaped, st.text(max_size=60), json_values)
uuids = st.uuids().map(str)
ids = st.one_of(uuids, st.text(max_size=40), json_values)


def plausible_secret():
    """A secret object as a server might send it, every field possibly broken."""
    project = st.fixed_dictionaries({}, optional={"id": ids, "name": st.one_of(enc_valid, enc_like)})
    return st.fixed_dictionaries({}, optional={
        "id": ids, "organizationId": ids, "key": enc_like, "value": st.one_of(st.none(), enc_like),
        "note": st.one_of(st.none(), enc_like), "projects": st.one_of(st.lists(project, max_size=3), json_values),
        "projectId": ids, "creationDate": json_values, "revisionDate": json_values})


def well_typed_secret():
    """Like ``plausible_secret`` but with the JSON types the API documents (values may still be
    broken EncStrings or missing fields)."""
    project = st.fixed_dictionaries({"id": uuids}, optional={"name": st.one_of(st.none(), enc_valid, enc_like)})
    text_or_none = st.one_of(st.none(), st.text(max_size=30))
    return st.fixed_dictionaries({}, optional={
        "id": st.one_of(uuids, st.text(max_size=40)), "organizationId": text_or_none, "key": st.one_of(enc_valid, enc_like),
        "value": st.one_of(st.none(), enc_valid, enc_like), "note": st.one_of(st.none(), enc_valid, enc_like),
        "projects": st.one_of(st.none(), st.lists(project, max_size=3)), "creationDate": text_or_none})


def _only_ours(func, *args):
    """Call ``func``; a BWSSDKError is fine, any other exception fails the property."""
    try:
        return func(*args)
    except BWSSDKError:
        return None


# --- the access token -------------------------------------------------------------------

@fast
@given(st.one_of(st.text(), st.binary(), json_values))
def test_token_parser_arbitrary_input(text):
    try:
        token = ClientToken.from_str(text)
    except InvalidTokenError:
        return
    assert isinstance(token.access_token_id, str) and str(uuid.UUID(token.access_token_id)) == token.access_token_id
    assert len(token.encryption_key.to_bytes()) == 64


secret_parts = st.text(alphabet=string.ascii_letters + string.digits + "-_~", min_size=12, max_size=40)


@fast
@given(version=st.sampled_from(["0", "1", "", "00", "0 "]),
       token_id=st.one_of(uuids, st.text(max_size=40), uuids.map(lambda u: u.replace("-", "")), uuids.map(str.upper)),
       secret=st.one_of(secret_parts, st.just("")),
       key=st.one_of(st.binary(min_size=0, max_size=24).map(lambda b: base64.b64encode(b).decode()),
                     st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode().rstrip("=")),
                     secret_parts),
       sep=st.sampled_from([":", "", "::", ";"]))
def test_token_parser_near_valid_tokens_never_echo_the_secret_or_key(version, token_id, secret, key, sep):
    text = "%s.%s.%s%s%s" % (version, token_id, secret, sep, key)
    try:
        token = ClientToken.from_str(text)
    except InvalidTokenError as exc:
        message = str(exc)
        if len(secret) >= 12:
            assert secret not in message
        if len(key) >= 12:
            assert key not in message
        return
    assert version == "0" and sep in (":", "::")
    assert token.client_secret.startswith(secret)  # with "::", the secret part ends with ":"
    assert not secret or secret not in repr(token)


# --- base64 and EncStrings --------------------------------------------------------------

@fast
@given(st.one_of(st.text(), st.binary()))
def test_b64decode_strict_arbitrary_input(text):
    result = _only_ours(b64decode_strict, text, "a field")
    assert result is None or isinstance(result, bytes)


@fast
@given(st.one_of(st.text(), enc_shaped, enc_wrong_key, json_values, st.binary()))
def test_encstring_parse_and_decrypt_arbitrary_input(text):
    try:
        parsed = EncString.parse(text, "a field")
    except CryptoError as exc:
        assert str(exc).startswith("a field")
        return
    assert str(EncString.parse(str(parsed))) == str(parsed)
    with pytest.raises(CryptoError):  # nothing made without the key decrypts under it
        decrypt_text(ORG_KEY, text, "a field")


@fast
@given(st.text(), st.integers(min_value=0, max_value=10 ** 6), st.integers(min_value=0, max_value=7))
def test_encstring_roundtrip_and_any_bit_flip_is_refused(plaintext, position, bit):
    text = encrypt_text(ORG_KEY, plaintext)
    assert decrypt_text(ORG_KEY, text) == plaintext
    enc = EncString.parse(text)
    raw = bytearray(enc.iv + enc.data + enc.mac)
    raw[position % len(raw)] ^= 1 << bit
    iv, data, mac = bytes(raw[:16]), bytes(raw[16:16 + len(enc.data)]), bytes(raw[16 + len(enc.data):])
    with pytest.raises(CryptoError, match="MAC mismatch"):
        decrypt_text(ORG_KEY, str(EncString(iv, data, mac)))


# --- URLs ---------------------------------------------------------------------------------

urls = st.one_of(
    st.text(max_size=60),
    st.builds(lambda scheme, host, rest: "%s://%s%s" % (scheme, host, rest),
              st.sampled_from(["http", "https", "ftp", "HTTP", ""]),
              st.one_of(st.text(max_size=20), st.sampled_from(["127.0.0.1", "[::1]", "localhost", "[::1", "[zz]",
                                                               "10.0.0.1", "a:b@c", "h:99999"])),
              st.text(max_size=20)))


@fast
@given(server_url=urls, allow=st.booleans())
@example(server_url="http://[::1", allow=False)
@example(server_url="http://[zz]", allow=False)
def test_region_urls_arbitrary_input(server_url, allow):
    try:
        Region.resolve(server_url=server_url).check_transport(allow)
    except BWSSDKError:
        pass


# --- JWT claims and the login answer -----------------------------------------------------

def _jwt(header, claims):
    def part(obj):
        raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return "%s.%s.sig" % (part(header), part(claims))


jwts = st.one_of(
    st.text(max_size=80),
    st.builds(_jwt, st.one_of(st.just({"alg": "RS256", "typ": "JWT"}), json_values), json_values),
    st.builds(_jwt, st.just({"alg": "RS256"}), st.fixed_dictionaries(
        {"organization": st.one_of(uuids, json_values)},
        optional={"exp": st.one_of(st.integers(min_value=0, max_value=2 ** 40), st.floats(allow_nan=False)),
                  "iat": st.integers(min_value=0, max_value=2 ** 40)})),
    st.builds(_jwt, st.just({"alg": "RS256"}), st.binary(max_size=20)))


@fast
@given(jwts)
def test_jwt_claims_arbitrary_input(token):
    claims = _only_ours(_auth.jwt_claims, token)
    assert claims is None or isinstance(claims, dict)


class FakeHttp:
    """Answers every request with one canned Response."""

    def __init__(self, status, body):
        self.response = _http.Response(status, body, {})

    def request(self, *args, **kwargs):
        return self.response


payloads = st.one_of(
    enc_like,
    json_values.map(lambda v: encrypt_text(TOKEN_KEY, json.dumps(v))),
    st.one_of(json_values, b64_text).map(lambda k: encrypt_text(TOKEN_KEY, json.dumps({"encryptionKey": k}))),
    st.just(encrypt_text(TOKEN_KEY, json.dumps({"encryptionKey": ORG_KEY.to_b64()}))))
login_bodies = st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "access_token": st.one_of(jwts, json_values), "encrypted_payload": payloads,
    "error": json_values, "message": json_values, "expires_in": json_values}))


def _login(status, body):
    auth = _auth.Auth(ClientToken.from_str(TOKEN), Region.self_hosted("https://vault.example.com"),
                      http=FakeHttp(status, body))
    return auth.bearer_token, auth.org_id


@slow
@given(st.sampled_from([200, 200, 200, 400, 401, 403, 429, 500, 503]), login_bodies)
def test_login_answer_arbitrary_input(status, body):
    _only_ours(_login, status, body)


@slow
@given(exp=st.integers(), iat=st.one_of(st.none(), st.integers()))
@example(exp=10 ** 400, iat=None)
def test_login_answer_with_any_integer_exp(exp, iat):
    claims = {"organization": str(uuid.uuid4()), "exp": exp}
    if iat is not None:
        claims["iat"] = iat
    body = {"access_token": _jwt({"alg": "RS256"}, claims),
            "encrypted_payload": encrypt_text(TOKEN_KEY, json.dumps({"encryptionKey": ORG_KEY.to_b64()}))}
    _only_ours(_login, 200, body)


# --- the state file -----------------------------------------------------------------------

@slow
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: encrypt_text(TOKEN_KEY, json.dumps(v)).encode()),
                 st.fixed_dictionaries({"version": st.one_of(st.just(1), json_values), "token": st.one_of(jwts, json_values),
                                        "encryption_key": st.one_of(b64_text, json_values)})
                 .map(lambda d: encrypt_text(TOKEN_KEY, json.dumps(d)).encode())))
def test_state_file_arbitrary_content(content):
    """Whatever the file holds, loading it gives None or a (jwt, key) pair, and adopting
    that pair gives True or False: never an exception (the caller then logs in)."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "state")
        with open(path, "wb") as handle:
            handle.write(content)
        loaded = StateFile(path, TOKEN_KEY).load()
    assert loaded is None or (isinstance(loaded[0], str) and isinstance(loaded[1], str))
    auth = _auth.Auth.__new__(_auth.Auth)
    auth._token = auth.org_enc_key = None
    auth.oauth_jwt = {}
    assert auth._adopt(loaded, None) in (True, False)


# --- API answers ----------------------------------------------------------------------------

def _headers(content_type):
    """Answer headers as ``http.client`` gives them to ``_http._decode`` (case-insensitive ``get``)."""
    headers = http.client.HTTPMessage()
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                   st.text(max_size=100).map(lambda t: t.encode("utf-8")))
content_types = st.sampled_from([None, "", "application/json", "application/json; charset=utf-8",
                                 "application/problem+json", "text/html", "text/plain", "APPLICATION/JSON"])


@fast
@given(st.integers(min_value=100, max_value=599), bodies, content_types)
def test_http_decode_arbitrary_answers(status, content, content_type):
    try:
        resp = _http._decode(status, _headers(content_type), content, "https://h.example/p", "an operation", 3)
    except RateLimitedError:
        assert status == 429
        return
    except ApiError as exc:
        assert 200 <= status < 300 and str(exc).startswith("an operation")
        return
    assert resp.status == status


@pytest.mark.parametrize("status", [200, 500])
def test_http_decode_deeply_nested_json(status):
    for content in (b"[" * 100000, b'{"a":' * 100000):
        try:
            _http._decode(status, _headers("application/json"), content, "https://h.example/p", "op", 3)
        except BWSSDKError:
            pass


@fast
@given(st.one_of(st.text(max_size=40), st.floats().map(repr), st.integers().map(str),
                 st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT"))))
@example("nan")
@example("-inf")
@example("1e400")
@example("Fri, 31 Dec 9999 23:59:59 GMT")
def test_retry_after_arbitrary_values(value):
    """Whatever a server puts in Retry-After, the wait is None (use the backoff) or 0..MAX_RETRY_AFTER."""
    headers = _headers(None)
    headers["Retry-After"] = value
    wait = _http._retry_after(headers)
    assert wait is None or 0.0 <= wait <= _http.MAX_RETRY_AFTER


DOCUMENTED_ERRORS = st.dictionaries(st.text(max_size=10), st.lists(st.text(max_size=20), max_size=3), max_size=3)


@fast
@given(st.integers(min_value=300, max_value=599), st.fixed_dictionaries({}, optional={
    "message": st.one_of(st.none(), st.text(max_size=50)),
    "validationErrors": st.one_of(st.none(), DOCUMENTED_ERRORS)}))
def test_api_error_from_documented_bodies(status, body):
    error = SecretsManager._error(_http.Response(status, body, {}), "an operation")
    assert isinstance(error, ApiError) and error.status == status


@fast
@given(st.integers(min_value=300, max_value=599), st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "message": json_values, "validationErrors": json_values})))
@example(status=400, body={"validationErrors": ["Key is invalid."]})
@example(status=400, body={"validationErrors": {"Key": 5}})
def test_api_error_from_arbitrary_bodies(status, body):
    error = SecretsManager._error(_http.Response(status, body, {}), "an operation")
    assert isinstance(error, ApiError)


def _use_secret(raw):
    """Everything a lookup or module does with one secret of an answer."""
    secret = Secret.from_api(raw, ORG_KEY)
    secret.to_dict()
    index = SecretIndex([secret], ORG_KEY)
    for pid in secret.project_ids:
        index.describe_project(pid)
    index.in_projects(secret.project_ids)
    index.find(secret.key)
    return secret


@fast
@given(well_typed_secret())
def test_secret_from_api_documented_shapes(raw):
    secret = _only_ours(_use_secret, raw)
    if secret is not None:
        assert isinstance(secret.id, str) and isinstance(secret.key, str)
        assert secret.value is None or isinstance(secret.value, str)


@fast
@given(plausible_secret())
@example(raw={"id": "a", "key": encrypt_text(ORG_KEY, "K"), "projects": 5})
@example(raw={"id": "a", "key": encrypt_text(ORG_KEY, "K"), "projects": [{"id": ["x"]}]})
def test_secret_from_api_arbitrary_input(raw):
    _only_ours(_use_secret, raw)


def test_a_malformed_projects_field_stands_only_in_its_own_secrets_way():
    """Projects are read on first access: among the secrets of a sync, a lookup by id gets
    another secret, and the malformed one is refused once its projects are read."""
    good_id, bad_id, pid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    good = {"id": good_id, "key": encrypt_text(ORG_KEY, "K"), "value": encrypt_text(ORG_KEY, "v"),
            "projects": [{"id": pid, "name": None}]}
    bad = {"id": bad_id, "key": encrypt_text(ORG_KEY, "K2"), "value": encrypt_text(ORG_KEY, "w"), "projects": 5}
    source = [Secret.from_api(raw, ORG_KEY) for raw in (bad, good)]
    (found,) = find_secrets(None, [good_id], source=source)
    assert (found.value, found.project_id, found.project_ids) == ("v", pid, [pid])
    (refused,) = find_secrets(None, [bad_id], source=source)
    with pytest.raises(ApiError, match="secret %s has a malformed 'projects' field" % bad_id):
        refused.to_dict()


@fast
@given(st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "id": ids, "organizationId": ids, "name": enc_like, "creationDate": json_values})))
def test_project_from_api_arbitrary_input(raw):
    project = _only_ours(Project.from_api, raw, ORG_KEY)
    if project is not None:
        assert isinstance(project.name, str)
        project.to_dict()
