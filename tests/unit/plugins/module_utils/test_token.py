import base64

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._errors import BWSSDKError, InvalidTokenError
from ansible_collections.bws.secrets.plugins.module_utils._token import ClientToken, IdentityRequest

GOOD_ID = "7e000000-0000-4000-8000-000000000001"
SECRET = "Q2xpZW50U2VjcmV0Rm9yVGVzdHMwMQ"
KEY = "AAECAwQFBgcICQoLDA0ODw=="


def test_parses_vector_token(vectors):
    token = ClientToken.from_str(vectors["access_token"]["token"])
    assert token.access_token_id == vectors["access_token"]["id"]
    assert token.client_secret == vectors["access_token"]["client_secret"]
    assert token.encryption_key.to_b64() == vectors["access_token"]["derived_key_b64"]


def test_known_answer_from_sdk_source(vectors):
    kat = vectors["known_answer_test_from_sdk_source"]
    assert ClientToken.from_str(kat["token"]).encryption_key.to_b64() == kat["derived_key_b64"]


def test_key_padding_is_optional_and_whitespace_is_trimmed():
    token = ClientToken.from_str("  0.%s.%s:%s\n" % (GOOD_ID, SECRET, KEY.rstrip("=")))
    assert token.encryption_key == ClientToken.from_str("0.%s.%s:%s" % (GOOD_ID, SECRET, KEY)).encryption_key


def test_uuid_is_canonicalised():
    token = ClientToken.from_str("0.%s.%s:%s" % (GOOD_ID.upper(), SECRET, KEY))
    assert token.access_token_id == GOOD_ID


@pytest.mark.parametrize("token, fragment", [
    ("", "empty"),
    (None, "empty"),
    ("1.%s.%s:%s" % (GOOD_ID, SECRET, KEY), "unsupported version"),
    ("'0.%s.%s:%s'" % (GOOD_ID, SECRET, KEY), "wrapped in quotes: remove them"),
    (' "0.%s.%s:%s" ' % (GOOD_ID, SECRET, KEY), "wrapped in quotes: remove them"),
    ("0.%s.%s:%s'" % (GOOD_ID, SECRET, KEY), "wrapped in quotes"),
    ("Bearer 0.%s.%s:%s" % (GOOD_ID, SECRET, KEY), "starts with 'Bearer '"),
    ("0.not-a-uuid.%s:%s" % (SECRET, KEY), "not a valid UUID"),
    ("0.%s.%s" % (GOOD_ID, SECRET), "':<key>' part is missing"),
    ("0.%s:%s" % (GOOD_ID, KEY), "missing '.'-separated parts"),
    ("0.%s.:%s" % (GOOD_ID, KEY), "client secret part is empty"),
    ("0.%s.%s:" % (GOOD_ID, SECRET), "encryption key part is empty"),
    ("0.%s.%s:%s" % (GOOD_ID, SECRET, "!!notbase64!!"), "not valid base64"),
    ("0.%s.%s:%s" % (GOOD_ID, SECRET, base64.b64encode(b"x" * 15).decode()), "wrong length (15 bytes"),
    ("0.%s.%s:%s" % (GOOD_ID, SECRET, base64.b64encode(b"x" * 32).decode()), "wrong length (32 bytes"),
    ("0.%s.%s:%s" % (GOOD_ID, SECRET, "AAECAwQFBgcICQoLDA0ODw==é"), "not valid base64"),
])
def test_bad_tokens_are_refused_without_echoing_secrets(token, fragment):
    with pytest.raises(InvalidTokenError) as info:
        ClientToken.from_str(token)
    message = str(info.value)
    assert fragment in message
    assert SECRET not in message
    assert KEY.rstrip("=") not in message
    assert isinstance(info.value, BWSSDKError)


def test_repr_hides_secret_and_key():
    token = ClientToken.from_str("0.%s.%s:%s" % (GOOD_ID, SECRET, KEY))
    text = repr(token) + repr(token.encryption_key)
    assert SECRET not in text and KEY not in text and GOOD_ID in text


def test_identity_request_matches_official_form(vectors):
    token = ClientToken.from_str(vectors["access_token"]["token"])
    request = IdentityRequest.from_client_token(token)
    assert request.to_query_string() == vectors["identity"]["request_form_raw"]
    assert (request.scope, request.grant_type) == ("api.secrets", "client_credentials")
    assert SECRET not in repr(request)


def test_identity_request_escapes():
    request = IdentityRequest(client_id="a b", client_secret="x&y=z+")
    assert request.to_query_string() == (
        "scope=api.secrets&client_id=a+b&client_secret=x%26y%3Dz%2B&grant_type=client_credentials")
