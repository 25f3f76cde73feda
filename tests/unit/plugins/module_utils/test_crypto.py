import base64

import pytest

from ansible_collections.bws.secrets.plugins.module_utils._crypto import (
    EncString, SymmetricCryptoKey, decrypt_text, derive_access_token_key, encrypt_text)
from ansible_collections.bws.secrets.plugins.module_utils._errors import CryptoError


@pytest.fixture(scope="module")
def org_key(vectors):
    return SymmetricCryptoKey.from_b64(vectors["organization"]["org_key_b64"])


@pytest.fixture(scope="module")
def token_key(vectors):
    return derive_access_token_key(base64.b64decode(vectors["access_token"]["key16_b64"]))


def test_derived_key_split(vectors, token_key):
    assert base64.b64encode(token_key.enc_key).decode() == vectors["access_token"]["derived_enc_key_b64"]
    assert base64.b64encode(token_key.mac_key).decode() == vectors["access_token"]["derived_mac_key_b64"]


def test_org_key_split(vectors, org_key):
    assert base64.b64encode(org_key.enc_key).decode() == vectors["organization"]["org_enc_key_b64"]
    assert base64.b64encode(org_key.mac_key).decode() == vectors["organization"]["org_mac_key_b64"]


def test_identity_payload_decrypts(vectors, token_key):
    assert decrypt_text(token_key, vectors["identity"]["encrypted_payload"]) == \
        vectors["identity"]["encrypted_payload_plaintext"]


def test_official_state_file_decrypts(vectors, token_key):
    state = vectors["state_file"]["official_sdk"]
    assert decrypt_text(token_key, state["raw"]) == state["plaintext"]


def _all_sdk_encstrings(vectors):
    for case in vectors["seeded_secrets"]:
        for field in ("key", "value", "note"):
            yield case["encrypted"][field], case["plaintext"][field]
    for group in ("sdk_created_secrets", "bws_sdk_created_secrets"):
        for case in vectors[group]:
            plain = case.get("plaintext_sent") or case["plaintext"]
            for field in ("key", "value", "note"):
                yield case["encrypted_sent"][field], plain[field]
    updated = vectors["sdk_updated_secret"]
    for field in ("key", "value", "note"):
        yield updated["request_body"][field], updated["plaintext"][field]
    project = vectors["sdk_created_project"]
    yield project["request_body"]["name"], project["plaintext_sent"]


def test_every_vector_encstring_decrypts(vectors, org_key):
    pairs = list(_all_sdk_encstrings(vectors))
    assert len(pairs) > 40
    for enc, plain in pairs:
        assert decrypt_text(org_key, enc) == plain


@pytest.mark.parametrize("text", ["", "x", "пароль-密码-🔑", "a" * 10240, "line1\nline2\r\n"])
def test_roundtrip_and_fresh_iv(org_key, text):
    one, two = encrypt_text(org_key, text), encrypt_text(org_key, text)
    assert one != two
    assert decrypt_text(org_key, one) == text == decrypt_text(org_key, two)
    assert str(EncString.parse(one)) == one


def test_empty_plaintext_is_one_block(org_key):
    assert len(EncString.parse(encrypt_text(org_key, "")).data) == 16


def _tamper(enc, part, index=0):
    head, body = enc.split(".", 1)
    parts = body.split("|")
    raw = bytearray(base64.b64decode(parts[part]))
    raw[index] ^= 1
    parts[part] = base64.b64encode(bytes(raw)).decode()
    return head + "." + "|".join(parts)


@pytest.mark.parametrize("part", [0, 1, 2])
def test_tampering_is_refused_before_decrypting(org_key, part):
    enc = encrypt_text(org_key, "secret")
    with pytest.raises(CryptoError, match="MAC mismatch"):
        decrypt_text(org_key, _tamper(enc, part))


def test_wrong_key_is_refused(org_key, token_key):
    with pytest.raises(CryptoError, match="MAC mismatch"):
        decrypt_text(token_key, encrypt_text(org_key, "secret"))


@pytest.mark.parametrize("text, fragment", [
    ("0.abc|def", "type 0"),
    ("1.a|b|c", "type 1"),
    ("3.a|b|c", "type 3"),
    ("7.a|b|c", "type 7"),
    ("x.a|b|c", "bad type prefix"),
    ("nodot", "no type prefix"),
    ("2.a|b", "expected 3 parts"),
    ("2.a|b|c|d", "expected 3 parts"),
    ("2.!!|AAAA|AAAA", "not valid base64"),
    ("2.AAAA|AAAAAAAAAAAAAAAAAAAAAA==|AAAA", "iv must be 16 bytes"),
])
def test_malformed_encstrings(text, fragment):
    with pytest.raises(CryptoError, match=fragment):
        EncString.parse(text)


def test_truncated_ciphertext_is_refused(org_key):
    enc = encrypt_text(org_key, "a" * 40)
    head, body = enc.split(".", 1)
    iv, data, mac = body.split("|")
    short = base64.b64encode(base64.b64decode(data)[:-3]).decode()
    with pytest.raises(CryptoError, match="whole number of AES blocks"):
        EncString.parse("2.%s|%s|%s" % (iv, short, mac))


def test_non_string_input():
    with pytest.raises(CryptoError):
        EncString.parse(None)


def test_key_lengths():
    with pytest.raises(CryptoError):
        SymmetricCryptoKey.from_bytes(b"x" * 63)
    with pytest.raises(CryptoError):
        derive_access_token_key(b"x" * 17)
    assert "redacted" in repr(SymmetricCryptoKey.from_bytes(b"k" * 64))
