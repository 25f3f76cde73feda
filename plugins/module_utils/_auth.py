# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identity login, the bearer token and the organization key (the ``bws_sdk`` ``Auth`` shape).

With a state file, "read the file, log in if it is unusable, write it" runs under an
exclusive lock, so N processes starting together log in once. The JWT lives in memory
and, encrypted, in the state file; never in clear on disk.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import base64
import binascii
import json
import re
import time

from ._crypto import SymmetricCryptoKey, decrypt_text
from ._errors import (ApiError, BWSSDKError, InvalidIdentityResponseError, StateFileError,
                      UnauthorisedTokenError)
from ._http import HttpClient
from ._region import Region
from ._state import WITHOUT_STATE_FILE, StateFile
from ._token import ClientToken, IdentityRequest

RENEW_BEFORE_EXPIRY = 60  # seconds
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")  # header.claims.signature, base64url
LOGIN_PATH = "/connect/token"


def jwt_claims(token):
    """Claims of a JWT, read without verifying the signature (as the official clients do).

    The signature is the identity server's business: the API checks it on every call. Only
    ``exp``/``iat`` (when to renew) and ``organization`` are read, so base64url and JSON do;
    PyJWT would cost every forked worker ~30 ms of imports (docs/performance.md).
    """
    if not isinstance(token, str) or not _JWT.match(token):  # also keeps it a safe HTTP header value
        raise InvalidIdentityResponseError("the identity server returned an access token that is not a JWT")
    parts = token.split(".")
    try:
        header, claims = (json.loads(_b64url(part)) for part in parts[:2])
    except (ValueError, TypeError, RecursionError):
        raise InvalidIdentityResponseError("the identity server returned an access token that is not a JWT") from None
    if not isinstance(header, dict):
        raise InvalidIdentityResponseError("the identity server returned an access token that is not a JWT")
    if not isinstance(claims, dict):
        raise InvalidIdentityResponseError("the identity server returned a JWT without claims")
    return claims


def _b64url(segment):
    """Decode one unpadded base64url JWT segment (ValueError when it is not one)."""
    try:
        raw = segment.encode("ascii")
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)).decode("utf-8")
    except (UnicodeError, binascii.Error) as exc:
        raise ValueError(str(exc)) from None


class Auth:
    """Authenticated session state for one access token."""

    def __init__(self, client_token: ClientToken, region: Region, state_file=None, http=None, warn=None):
        self.client_token = client_token
        self.region = region
        self.http = http or HttpClient()
        self._warn = warn
        self._state = StateFile(state_file, client_token.encryption_key) if state_file else None
        self.state_file = self._state.path if self._state else None
        self.logins = 0
        self._token = None
        self._issued_here = None  # this machine's time, at or after the JWT was issued
        self.oauth_jwt = {}
        self.org_enc_key = None
        self._refresh()

    @classmethod
    def from_token(cls, token_str, region, state_file_path=None, http=None, warn=None) -> "Auth":
        return cls(ClientToken.from_str(token_str), region, state_file_path, http=http, warn=warn)

    # --- public surface -------------------------------------------------------------
    @property
    def bearer_token(self) -> str:
        """The JWT, renewed (from the state file or a login) within 60 s of its expiry."""
        if self._expiring(self.oauth_jwt, self._issued_here):
            self._refresh()
        return self._token

    @property
    def org_id(self) -> str:
        org = self.oauth_jwt.get("organization")
        if not isinstance(org, str) or not org:
            raise InvalidIdentityResponseError("the access token's JWT names no organization")
        return org

    def invalidate(self):
        """Forget the current JWT (after a 401): the next use logs in afresh."""
        bad = self._token
        self._token, self.oauth_jwt = None, {}
        self._refresh(reject=bad)

    # --- internals ------------------------------------------------------------------
    @staticmethod
    def _expiring(claims, issued_here=None):
        """True within RENEW_BEFORE_EXPIRY seconds of the JWT's end (or half its lifetime, if shorter).

        ``exp`` and ``iat`` are on the identity server's clock. When this machine's time of issue
        is known (``issued_here``: just before the login, or when the state file was written),
        the end is that plus the lifetime, so a clock ahead of the server's (an hour, for a
        hardware clock kept in local time) does not make every fresh JWT look expired and log
        in again on every call. Otherwise ``exp`` against this machine's clock.
        """
        exp, issued = claims.get("exp"), claims.get("iat", claims.get("nbf"))
        if not _plausible_time(exp):
            return True
        margin = RENEW_BEFORE_EXPIRY
        end = exp
        if _plausible_time(issued) and exp > issued:
            margin = min(margin, (exp - issued) / 2.0)
            if issued_here is not None:
                end = issued_here + (exp - issued)
        return end - time.time() <= margin

    def _refresh(self, reject=None):
        if self._state is not None:
            try:
                # The file is only ever replaced whole, so a valid one is used without queueing for
                # the lock, which serializes logins: one process logs in, the others then read.
                if self._adopt(self._state.load(), reject, self._state.written_at):
                    return
                with self._state.locked():
                    if self._adopt(self._state.load(), reject, self._state.written_at):
                        return
                    token, org_key_b64 = self._login()
                    self._state.save(token, org_key_b64)
                return
            except StateFileError as exc:
                if self._warn:
                    self._warn("%s: %s" % (exc, WITHOUT_STATE_FILE))
                self._state = None
                if self._token is not None and self._token != reject:
                    return  # logged in before the write failed
        self._login()

    def _adopt(self, loaded, reject, written_at=None):
        """Use a (jwt, org_key_b64) pair from the state file if it is valid and fresh (``written_at``:
        the file's time, this machine's, soon after the login that got the JWT)."""
        if not loaded or loaded[0] == reject:
            return False
        token, org_key_b64 = loaded
        try:
            claims = jwt_claims(token)
            key = SymmetricCryptoKey.from_b64(org_key_b64)
        except BWSSDKError:
            return False
        if self._expiring(claims, written_at) or not claims.get("organization"):
            return False
        self._token, self.oauth_jwt, self.org_enc_key = token, claims, key
        self._issued_here = written_at
        return True

    def _login(self):
        """POST /connect/token; sets the JWT and org key and returns (jwt, org_key_b64)."""
        what = "login to %s" % self.region.identity_url
        sent = time.time()  # the JWT is issued after this, on whatever clock the server has
        resp = self.http.request("POST", self.region.identity_url + LOGIN_PATH, what,
                                 form=IdentityRequest.from_client_token(self.client_token).to_query_string())
        self.logins += 1
        body = resp.json if isinstance(resp.json, dict) else {}
        if resp.status in (400, 401):
            error = body.get("error") or "HTTP %d" % resp.status
            if error == "invalid_client":
                raise UnauthorisedTokenError(
                    "%s failed: invalid_client: wrong token, revoked, or token of another region "
                    "(the access token id is %s; check region/server_url)" % (what, self.client_token.access_token_id))
            raise UnauthorisedTokenError("%s failed: %s" % (what, _safe(error)))
        if resp.status != 200:
            advice = ("; is server_url the server's base URL (without /api or /identity), or identity_url right?"
                      if resp.status in (404, 405) else "")
            raise ApiError("%s failed with HTTP %d%s%s" % (what, resp.status, _server_message(body), advice),
                           status=resp.status, server_message=body.get("message"))
        token, payload = body.get("access_token"), body.get("encrypted_payload")
        if not isinstance(token, str) or not isinstance(payload, str):
            raise InvalidIdentityResponseError(
                "%s: the answer has no access_token or encrypted_payload; is identity_url right?" % what)
        claims = jwt_claims(token)
        try:
            org_key_b64 = json.loads(decrypt_text(self.client_token.encryption_key, payload,
                                                  "the login's encrypted_payload"))["encryptionKey"]
            key = SymmetricCryptoKey.from_b64(org_key_b64, "the organization key")
        except (BWSSDKError, ValueError, KeyError, TypeError) as exc:
            raise InvalidIdentityResponseError(
                "%s: cannot read the organization key from the answer (%s); is the access token "
                "complete?" % (what, exc if isinstance(exc, BWSSDKError) else "unexpected payload")) from None
        if not claims.get("organization"):
            raise InvalidIdentityResponseError("%s: the JWT names no organization" % what)
        self._token, self.oauth_jwt, self.org_enc_key = token, claims, key
        self._issued_here = sent
        return token, org_key_b64


def _plausible_time(value):
    """A finite epoch time before the year 10000 (anything else counts as expired)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 253402300800


def _server_message(body):
    msg = body.get("message") if isinstance(body, dict) else None
    return ": %s" % _safe(msg) if msg else ""


def _safe(text, limit=200):
    return str(text)[:limit]
