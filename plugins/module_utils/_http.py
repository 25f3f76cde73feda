# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One HTTP session for a whole run: keep-alive, timeouts, TLS options and retries.

Retries are one mechanism, urllib3's ``Retry``, in one place:
* 429 is retried for every call (the server did not act on it), honouring ``Retry-After``;
* 5xx, read errors and resets are retried only for idempotent calls, so a create is
  never sent twice;
* connection failures before anything was sent are retried for every call.
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import json
import math
import traceback
import warnings

from ._errors import ApiError, RateLimitedError, SendRequestError

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry
except ImportError:  # pragma: no cover - reported by the plugins with install advice
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    Retry = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

USER_AGENT = "bws.secrets-ansible"
DEVICE_TYPE_SDK = "21"
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 3
MAX_RETRY_AFTER = 120  # seconds: never sleep longer than this on one Retry-After
_TRANSIENT = frozenset((500, 502, 503, 504))
_RETRY_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST"))


class _BoundedRetry(Retry):
    """urllib3 Retry reading Retry-After leniently (fractional seconds too) and capping it."""

    def get_retry_after(self, response):
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = self.parse_retry_after(value)  # an HTTP date
            except Exception:  # an unreadable header: fall back to the backoff
                return None
        if math.isnan(seconds):
            return None
        return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _retry_policy(retries, idempotent):
    statuses = {429} | (_TRANSIENT if idempotent else set())
    return _BoundedRetry(
        total=retries, connect=retries, read=retries if idempotent else 0, status=retries,
        other=0, redirect=0, status_forcelist=statuses, allowed_methods=_RETRY_METHODS,
        backoff_factor=0.5, respect_retry_after_header=True, raise_on_status=False,
        raise_on_redirect=False)


class Response:
    """A decoded answer: ``status``, ``json`` (None for an empty body), ``headers``."""

    __slots__ = ("status", "json", "headers")

    def __init__(self, status, body, headers):
        self.status = status
        self.json = body
        self.headers = headers


class HttpClient:
    """A keep-alive session to the API and identity servers."""

    def __init__(self, timeout=DEFAULT_TIMEOUT, validate_certs=True, ca_path=None,
                 retries=DEFAULT_RETRIES, user_agent=USER_AGENT):
        if timeout is None or float(timeout) <= 0:
            raise SendRequestError("timeout must be a positive number of seconds")
        if retries is None or int(retries) < 0:
            raise SendRequestError("retries must be 0 or more")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.verify = ca_path if (ca_path and validate_certs) else bool(validate_certs)
        self.request_count = 0
        self._session = requests.Session()
        self._session.headers.update({
            "User-Agent": user_agent, "Device-Type": DEVICE_TYPE_SDK, "Accept": "application/json"})
        self._adapter = HTTPAdapter(pool_connections=2, pool_maxsize=2)
        self._session.mount("https://", self._adapter)
        self._session.mount("http://", self._adapter)
        self._policies = {True: _retry_policy(self.retries, True), False: _retry_policy(self.retries, False)}

    def close(self):
        self._session.close()

    def request(self, method, url, what, json_body=None, form=None, bearer=None, idempotent=True):
        """Send one call (with its retries); return a Response for any HTTP status.

        ``what`` names the operation for error messages. Raises SendRequestError when no
        answer came, RateLimitedError when 429 outlasted the retries, ApiError on a 2xx
        that is not JSON.
        """
        headers = {}
        data = None
        if bearer:
            headers["Authorization"] = "Bearer " + bearer
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
            data = form.encode("utf-8")
        elif json_body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
            data = json.dumps(json_body, separators=(",", ":")).encode("utf-8")
        self._adapter.max_retries = self._policies[bool(idempotent)]
        self.request_count += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # InsecureRequestWarning when validate_certs=false
                resp = self._session.request(method, url, data=data, headers=headers,
                                             timeout=self.timeout, verify=self.verify,
                                             allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            raise SendRequestError(_describe_failure(exc, url, what, self, idempotent)) from None
        return _decode(resp, url, what, self.retries)


def _decode(resp, url, what, retries):
    status = resp.status_code
    if status == 429:
        raise RateLimitedError(
            "%s: rate limited by the server (HTTP 429) after %d retries; wait and try again, raise "
            "'retries' (each retry honours Retry-After), or lower forks" % (what, retries), status=429)
    body = None
    if resp.content:
        ctype = resp.headers.get("Content-Type", "")
        if "json" not in ctype.lower():
            if 200 <= status < 300:
                raise ApiError(
                    "%s: %s answered HTTP %d with %s instead of JSON: is the URL right, or is a proxy or "
                    "captive portal in the way?" % (what, _origin(url), status, ctype or "no content type"),
                    status=status)
        else:
            try:
                body = json.loads(resp.content.decode("utf-8"))
            except (ValueError, RecursionError):
                if 200 <= status < 300:
                    raise ApiError("%s: %s answered HTTP %d with a body that is not valid JSON"
                                   % (what, _origin(url), status), status=status) from None
    return Response(status, body, resp.headers)


def _origin(url):
    return url.split("/", 3)[2] if "://" in url else url


_DROPPED = ("RemoteDisconnected", "Connection aborted", "ConnectionResetError", "Connection reset",
            "BadStatusLine", "IncompleteRead")


def _describe_failure(exc, url, what, client, idempotent=True):
    host = _origin(url)
    text = str(exc)
    after_sending = ""
    if not idempotent:
        after_sending = ("; it was not retried (not safe to repeat) and may have been applied on the server: "
                         "check before trying again")
    if isinstance(exc, requests.exceptions.SSLError):
        return ("%s: TLS verification failed for %s (%s): set ca_path (BWS_CA_PATH) to the CA bundle "
                "that signed the server certificate, or validate_certs=false only for testing"
                % (what, host, _short(text)))
    if isinstance(exc, requests.exceptions.ConnectTimeout) or "ConnectTimeoutError" in text:
        return ("%s: could not connect to %s within %g seconds; raise 'timeout' or check the server"
                % (what, host, client.timeout))
    if isinstance(exc, requests.exceptions.Timeout) or "TimeoutError" in text or "timed out" in text:
        return ("%s: %s did not answer within %g seconds; raise 'timeout' or check the server%s"
                % (what, host, client.timeout, after_sending))
    if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return "%s: cannot resolve the host name %s: check server_url/api_url/identity_url and DNS" % (what, host)
    if any(marker in text for marker in _DROPPED):
        return ("%s: the connection to %s was closed (reset) before an answer came; a proxy or the server "
                "dropped it%s" % (what, host, after_sending))
    if isinstance(exc, requests.exceptions.RetryError):
        return "%s: %s kept failing after %d retries (%s)" % (what, host, client.retries, _short(text))
    if isinstance(exc, requests.exceptions.ConnectionError):
        return ("%s: cannot connect to %s (%s): check the URL, that the server is up, and any proxy"
                % (what, host, _short(text)))
    return "%s: request to %s failed (%s)" % (what, host, _short(text))


def _short(text, limit=200):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
