# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access tokens and identity requests (the ``bws_sdk.token`` shape, without pydantic).

``0.<access_token_id>.<client_secret>:<base64 16-byte key>``. Parsing errors are
``InvalidTokenError`` and never echo the client secret or the key.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import re
import uuid
from collections.abc import Mapping
from urllib.parse import urlencode

from ._crypto import SymmetricCryptoKey, b64decode_strict, derive_access_token_key
from ._errors import CryptoError, InvalidTokenError

TOKEN_VERSION = "0"
_KEY_LEN = 16
_TOKEN_SHAPE = re.compile(r"\d+\.[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}\.")


def kind_of(value) -> str:
    """"list", "dictionary" or the type's name: what a value that should be text is, in words
    (ansible-core 2.19 hands lists and dictionaries over as its own types)."""
    if isinstance(value, Mapping):
        return "dictionary"
    return "list" if isinstance(value, (list, tuple, set)) else type(value).__name__


TOKEN_NOT_SHOWN = "(what looks like an access token, not shown)"
# A token and what follows it up to a quote, space or closing bracket: its secret and key
_TOKEN_TEXT = re.compile(_TOKEN_SHAPE.pattern + r"[^\s'\",;)\]}]*")


def scrub_tokens(text):
    """``text`` with anything shaped like an access token replaced: messages name keys and
    project names from the server, and a token stored as one would be shown."""
    if isinstance(text, str) and _TOKEN_SHAPE.search(text):
        return _TOKEN_TEXT.sub(TOKEN_NOT_SHOWN, text)
    return text


def token_shaped(value) -> list:
    """The items of ``value`` (a list, or one value) that look like an access token."""
    return [item for item in (value if isinstance(value, list) else [value]) if looks_like_token(item)]


def misplaced_token(what) -> str:
    """The message for an option (``what``) given something shaped like the access token."""
    return "%s looks like an access token (not shown): the token goes in access_token (or BWS_ACCESS_TOKEN)" % what


def looks_like_token(text) -> bool:
    """Whether ``text`` holds something shaped like an access token (never to be echoed)."""
    return isinstance(text, str) and _TOKEN_SHAPE.search(text) is not None


def _parse_uuid(text):
    """Canonical lower-case UUID string, or None."""
    try:
        return str(uuid.UUID(text)) if len(text) in (32, 36) else None
    except ValueError:
        return None


class ClientToken:
    """A parsed access token: its id, client secret and derived 64-byte key."""

    __slots__ = ("access_token_id", "client_secret", "encryption_key")

    def __init__(self, access_token_id: str, client_secret: str, encryption_key: SymmetricCryptoKey):
        self.access_token_id = access_token_id
        self.client_secret = client_secret
        self.encryption_key = encryption_key

    @classmethod
    def from_str(cls, token_str) -> "ClientToken":
        """Parse ``0.<uuid>.<client_secret>:<key>``; raise InvalidTokenError saying what is wrong."""
        if token_str is not None and not isinstance(token_str, str):
            raise InvalidTokenError("the access token must be text, not a %s (not shown)" % kind_of(token_str))
        if not token_str or not token_str.strip():
            raise InvalidTokenError("the access token is empty: set access_token or BWS_ACCESS_TOKEN")
        token_str = token_str.strip()
        if token_str[0] in "'\"" or token_str[-1] in "'\"":
            raise InvalidTokenError("the access token is wrapped in quotes: remove them (it was quoted twice, in a "
                                    "shell or YAML)")
        if token_str[:7].lower() == "bearer ":
            raise InvalidTokenError("the access token starts with 'Bearer ': give the machine account's access "
                                    "token itself, '0.<id>.<secret>:<key>'")
        head, colon, key_b64 = token_str.rpartition(":")
        if not colon:
            raise InvalidTokenError(
                "the access token is malformed: expected '0.<id>.<secret>:<key>' (the ':<key>' part is missing)")
        parts = head.split(".", 2)
        if len(parts) != 3:
            raise InvalidTokenError(
                "the access token is malformed: expected '0.<id>.<secret>:<key>' (missing '.'-separated parts)")
        version, token_id, secret = parts
        if version != TOKEN_VERSION:
            raise InvalidTokenError(
                "the access token has an unsupported version (expected '0'): is it a Secrets Manager "
                "machine account access token?")
        canonical = _parse_uuid(token_id)
        if canonical is None:
            raise InvalidTokenError("the access token id is not a valid UUID")
        if not secret:
            raise InvalidTokenError("the access token's client secret part is empty")
        if not key_b64:
            raise InvalidTokenError("the access token's encryption key part is empty")
        try:
            key16 = b64decode_strict(key_b64, "the access token's encryption key")
        except CryptoError:
            raise InvalidTokenError("the access token's encryption key is not valid base64") from None
        if len(key16) != _KEY_LEN:
            raise InvalidTokenError(
                "the access token's encryption key has the wrong length (%d bytes, expected 16)" % len(key16))
        return cls(canonical, secret, derive_access_token_key(key16))

    def __repr__(self):  # never show the secret or the key
        return "ClientToken(access_token_id=%r, client_secret=<redacted>, encryption_key=<redacted>)" % (
            self.access_token_id)


class IdentityRequest:
    """The form sent to ``{identity_url}/connect/token``."""

    __slots__ = ("client_id", "client_secret", "scope", "grant_type")

    def __init__(self, client_id: str, client_secret: str, scope: str = "api.secrets",
                 grant_type: str = "client_credentials"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.grant_type = grant_type

    @classmethod
    def from_client_token(cls, token: ClientToken) -> "IdentityRequest":
        return cls(client_id=token.access_token_id, client_secret=token.client_secret)

    def to_query_string(self) -> str:
        """URL-encoded form body, in the order the official SDK sends it."""
        return urlencode([("scope", self.scope), ("client_id", self.client_id),
                          ("client_secret", self.client_secret), ("grant_type", self.grant_type)])

    def __repr__(self):
        return "IdentityRequest(client_id=%r, client_secret=<redacted>, scope=%r, grant_type=%r)" % (
            self.client_id, self.scope, self.grant_type)
