"""What must never be shown: token parts, keys, JWTs, secret values; and how to look for them.

Shared by ``tests/reliability`` and ``tests/integration/test_leaks.py``. A "needle" is a
(label, text) pair; ``find_leaks(haystack, needles)`` returns the labels found, so a failing
assertion names what leaked without printing it again.
"""

import base64
import json
import os
import urllib.parse
import urllib.request

from ansible_collections.bws.secrets.plugins.module_utils._crypto import (
    decrypt_text, derive_access_token_key)

MIN_NEEDLE = 6  # shorter texts ("x") match by accident; secrets that short are not checked


def token_parts(token):
    """(access_token_id, client_secret, key_b64) of an access token string."""
    head, dummy, key_b64 = token.rpartition(":")
    dummy, token_id, secret = head.split(".", 2)
    return token_id, secret, key_b64


def _forms(text):
    """The ways a text can appear in output: as is, JSON-escaped (ASCII or not), per line."""
    forms = {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    for line in text.splitlines():
        line = line.strip()
        if len(line) >= MIN_NEEDLE:
            forms.add(line)
    return [f for f in forms if len(f) >= MIN_NEEDLE]


def key_needles(label, key_b64):
    """A 64-byte key in base64 (with and without padding), each 32-byte half, and hex."""
    raw = base64.b64decode(key_b64)
    needles = [(label, key_b64), (label, key_b64.rstrip("=")), (label + " (hex)", raw.hex())]
    if len(raw) == 64:
        for name, half in (("enc half", raw[:32]), ("mac half", raw[32:])):
            b64 = base64.b64encode(half).decode()
            needles += [("%s %s" % (label, name), b64), ("%s %s" % (label, name), b64.rstrip("="))]
    return needles


def token_needles(label, token):
    """The token, its client secret, its key (padded or not) and the key derived from it."""
    dummy, secret, key_b64 = token_parts(token)
    derived = derive_access_token_key(base64.b64decode(key_b64 + "=" * (-len(key_b64) % 4)))
    needles = [(label, token), (label + " client secret", secret),
               (label + " key", key_b64), (label + " key", key_b64.rstrip("=")),
               (label + " key (url-encoded)", urllib.parse.quote(key_b64, safe=""))]
    needles += key_needles(label + " derived key", derived.to_b64())
    return needles


def value_needles(label, value):
    return [(label, form) for form in _forms(value)]


def find_leaks(haystack, needles):
    """Labels of the needles found in ``haystack`` (sorted, unique)."""
    return sorted(set(label for label, text in needles if len(text) >= MIN_NEEDLE and text in haystack))


def login_org_key(identity_url, token, opener=None):
    """Log in once (raw HTTP, loopback) and decrypt the org key from ``encrypted_payload``.

    This is how any client learns the org key, so it is the one the emulator really uses.
    Returns (org_key_b64, jwt).
    """
    token_id, secret, key_b64 = token_parts(token)
    form = urllib.parse.urlencode([("scope", "api.secrets"), ("client_id", token_id),
                                   ("client_secret", secret), ("grant_type", "client_credentials")])
    request = urllib.request.Request(identity_url.rstrip("/") + "/connect/token", data=form.encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                                              "Accept": "application/json", "Device-Type": "21"})
    opener = opener or urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as answer:
        body = json.loads(answer.read().decode("utf-8"))
    token_key = derive_access_token_key(base64.b64decode(key_b64 + "=" * (-len(key_b64) % 4)))
    payload = json.loads(decrypt_text(token_key, body["encrypted_payload"]))
    return payload["encryptionKey"], body["access_token"]


def state_jwt(state_dir, token):
    """The JWT stored (encrypted) in the state file of ``token`` under ``state_dir``, or None."""
    token_id, dummy, key_b64 = token_parts(token)
    path = os.path.join(state_dir, token_id)
    try:
        with open(path) as handle:
            raw = handle.read()
    except OSError:
        return None
    token_key = derive_access_token_key(base64.b64decode(key_b64 + "=" * (-len(key_b64) % 4)))
    return json.loads(decrypt_text(token_key, raw))["token"]
