# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bws.secrets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One HTTP client for a whole run, on the standard library's ``http.client``: keep-alive,
timeouts, TLS, proxies from the environment and retries. No third-party import (the import
cost of each library is in docs/performance.md).

Retries are one mechanism, ``RetryPolicy``, in one place:
* 429 is retried for every call (the server did not act on it), honouring ``Retry-After``
  (seconds, fractional too, or an HTTP date; capped at ``MAX_RETRY_AFTER``);
* 5xx (500, 502, 503, 504), read errors, timeouts after sending and resets are retried only
  for idempotent calls, so a create is never sent twice (a 503's Retry-After is honoured too);
* failures to connect (nothing was sent: DNS, refused, connect timeout) are retried for
  every call; a failed TLS handshake is not retried (a wrong CA will not fix itself), except
  once with the whole system CA store when its hashed directory alone could not vouch
  (``_tls_context``); nor is an answer larger than ``MAX_ANSWER_BYTES``.
At most ``retries`` retries in all, ``BACKOFF_FACTOR * 2 ** (n - 1)`` seconds before the n-th
(capped at ``MAX_BACKOFF``) unless a Retry-After says otherwise. Redirects are never followed.

``http.client`` and ``ssl`` are imported by the functions that open, use or describe a
connection, not by this module: a lookup answered from the cache (``cache_ttl``) sends
nothing, and a forked worker that sends nothing does not pay for them (about 15 ms).
"""

from __future__ import absolute_import, division, print_function, annotations

__metaclass__ = type

import base64
import importlib
import io  # loaded by every Python at startup: costs nothing
import json
import math
import os
import re
import select
import socket
import time
from urllib.parse import unquote, urlsplit  # loaded by Ansible already: costs nothing

from ._errors import ApiError, RateLimitedError, SendRequestError
from ._region import is_loopback

USER_AGENT = "bws.secrets-ansible"
DEVICE_TYPE_SDK = "21"
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 3
MAX_RETRY_AFTER = 120  # seconds: never sleep longer than this on one Retry-After
BACKOFF_FACTOR = 0.5  # seconds before the first retry; doubled for each further one
MAX_BACKOFF = 8.0
# The most one answer may hold: a server or proxy sending without end fails here, not for want
# of memory. Far above a typical answer (docs/security.md).
MAX_ANSWER_BYTES = 256 * 1024 * 1024
_PIECE = 1024 * 1024  # an answer is read this much at a time, at most
_TRANSIENT = frozenset((500, 502, 503, 504))
_DEFAULT_PORTS = {"http": 80, "https": 443}
# CA bundles named by the environment when ca_path is unset (the requests library honoured them)
_CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
# A certificate in a hashed CA directory (c_rehash, update-ca-certificates): <subject hash>.<n>
_HASHED_CA_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+\Z")

# The one way this module waits: tests replace it (``_http._sleep = recorder``) to see the waits.
_sleep = time.sleep

# How far a failed try got: decides whether it may be retried and how it is described.
_CONNECT = "connect"  # nothing was sent: DNS, refused, connect timeout, proxy tunnel refused
_TLS = "tls"  # the TLS handshake failed: nothing was sent, and trying again will not help
_SENT = "sent"  # the request was (or may have been) sent: read errors, timeouts, resets
_TOO_LARGE = "too large"  # an answer larger than MAX_ANSWER_BYTES came: it would come again


def load_transport():
    """Import ``http.client`` and ``ssl`` now rather than on the first request: for a process
    about to fork workers, which then inherit them (the preload callback)."""
    importlib.import_module("http.client")
    importlib.import_module("ssl")


class RetryPolicy:
    """The retry rule of one call: whether to try again, and how long to wait first."""

    def __init__(self, retries, idempotent):
        self.retries = retries
        self.idempotent = bool(idempotent)
        self.used = 0
        self.repeated = False  # a try the server may have acted on was retried

    def after_status(self, status, headers):
        """Seconds to wait before retrying an answer with this status, or None: return it."""
        if status == 429:
            return self._take(_retry_after(headers))
        if status in _TRANSIENT and self.idempotent:
            return self._repeat(self._take(_retry_after(headers) if status == 503 else None))
        return None

    def after_failure(self, stage):
        """Seconds to wait before retrying a try that got no answer, or None: give up."""
        if stage == _CONNECT:
            return self._take()
        if stage == _SENT and self.idempotent:
            return self._repeat(self._take())
        return None

    def _repeat(self, wait):
        self.repeated = self.repeated or wait is not None
        return wait

    def _take(self, wait=None):
        if self.used >= self.retries:
            return None
        self.used += 1
        if wait is None:
            wait = min(MAX_BACKOFF, BACKOFF_FACTOR * 2 ** (self.used - 1))
        return wait


def _retry_after(headers):
    """The Retry-After of an answer in seconds (0 to MAX_RETRY_AFTER), None when absent or unreadable."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = _http_date_delay(value)
        if seconds is None:
            return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), float(MAX_RETRY_AFTER))


def _http_date_delay(value):
    when = http_date(value)
    return None if when is None else when - time.time()


def http_date(value):
    """An HTTP date (``Date``, ``Retry-After``) as epoch seconds, None when absent or unreadable."""
    import email.utils  # only a server sending an HTTP date pays for it (http.client loads it anyway)

    if not value:
        return None
    try:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return float(email.utils.mktime_tz(parsed))
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


class Response:
    """A decoded answer: ``status``, ``json`` (None for an empty body), ``headers`` (``.get`` is
    case-insensitive); ``repeated``: it answers a retry after a try that the server may have
    acted on (a 5xx, or no answer after sending), so a 404 to a delete may mean "already done";
    ``retries``: how many tries came before this answer."""

    __slots__ = ("status", "json", "headers", "repeated", "retries")

    def __init__(self, status, body, headers, repeated=False, retries=0):
        self.status = status
        self.json = body
        self.headers = headers
        self.repeated = repeated
        self.retries = retries


class _Failure(Exception):
    """One try that got no usable answer: the stage it reached and the exception of the standard
    library (None for an answer too large)."""

    def __init__(self, stage, exc):
        super(_Failure, self).__init__(stage)
        self.stage = stage
        self.exc = exc


class _Proxy:
    """An http:// proxy from the environment: where it is, where it came from, its credentials."""

    __slots__ = ("host", "port", "variable", "authorization")

    def __init__(self, host, port, variable, authorization):
        self.host = host
        self.port = port
        self.variable = variable
        self.authorization = authorization  # "Basic ..." or None: never put in a message

    @property
    def display(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)


class _Target:
    """A parsed request URL, and the proxy (or None) it goes through."""

    __slots__ = ("scheme", "host", "port", "path", "proxy")

    def __init__(self, scheme, host, port, path, proxy):
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.proxy = proxy

    @property
    def key(self):
        proxy = self.proxy
        return (self.scheme, self.host, self.port,
                None if proxy is None else (proxy.host, proxy.port, proxy.authorization))


class HttpClient:
    """Keep-alive connections (one per origin) to the API and identity servers."""

    def __init__(self, timeout=DEFAULT_TIMEOUT, validate_certs=True, ca_path=None,
                 retries=DEFAULT_RETRIES, user_agent=USER_AGENT):
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            timeout = None
        if timeout is None or not timeout > 0 or math.isinf(timeout):
            raise SendRequestError("timeout must be a positive number of seconds")
        try:
            retries = int(retries)
        except (TypeError, ValueError):
            retries = -1
        if retries < 0:
            raise SendRequestError("retries must be 0 or more")
        self.timeout = timeout
        self.retries = retries
        self.validate_certs = bool(validate_certs)
        self.ca_path = ca_path or None
        self.verify = ca_path if (ca_path and validate_certs) else bool(validate_certs)
        self.request_count = 0
        self._headers = {"User-Agent": user_agent, "Device-Type": DEVICE_TYPE_SDK, "Accept": "application/json"}
        self._connections = {}
        self._pid = os.getpid()
        self._context = None
        self._lazy_store = None  # True while trusting the system CA directory alone: see _tls_context

    def close(self):
        connections, self._connections = self._connections, {}
        for conn in connections.values():
            conn.close()

    def request(self, method, url, what, json_body=None, form=None, bearer=None, idempotent=True):
        """Send one call (with its retries); return a Response for any HTTP status.

        ``what`` names the operation for error messages. Raises SendRequestError when no
        answer came, RateLimitedError when 429 outlasted the retries, ApiError on a 2xx
        that is not JSON. A 3xx is returned as it is: redirects are never followed.
        """
        headers = dict(self._headers)
        data = None
        if bearer:
            if not _header_safe(bearer):  # http.client would quote the value in its error
                raise SendRequestError("%s: the bearer token is not a valid HTTP header value (not shown); "
                                       "log in again (delete the state file)" % what)
            headers["Authorization"] = "Bearer " + bearer
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
            data = form.encode("utf-8")
        elif json_body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
            data = json.dumps(json_body, separators=(",", ":")).encode("utf-8")
        self.request_count += 1
        target = _target(url, what)
        policy = RetryPolicy(self.retries, idempotent)
        while True:
            try:
                status, answer_headers, content = self._send(target, method, headers, data, what)
            except _Failure as failure:
                wait = policy.after_failure(failure.stage)
                if wait is None:
                    raise SendRequestError(_describe_failure(
                        failure.exc, failure.stage, url, what, self, idempotent, target.proxy, policy.used)) from None
            else:
                wait = policy.after_status(status, answer_headers)
                if wait is None:
                    response = _decode(status, answer_headers, content, url, what, self.retries)
                    response.repeated, response.retries = policy.repeated, policy.used
                    return response
            if wait > 0:
                _sleep(wait)

    # -- one try -------------------------------------------------------------------------

    def _send(self, target, method, headers, data, what):
        """One try on a kept-alive connection: (status, headers, body bytes) or _Failure."""
        import http.client
        import ssl

        key = target.key
        conn = self._connection(target, what)
        if conn.sock is None:
            try:
                _open(conn, self.timeout)
            except (socket.timeout, ssl.SSLError, OSError, http.client.HTTPException, ValueError) as exc:
                self._discard(key)
                if isinstance(exc, ssl.SSLCertVerificationError) and self._lazy_store:
                    self._lazy_store, self._context = False, None  # nothing was sent: again, with the whole store
                    return self._send(target, method, headers, data, what)
                stage = _TLS if isinstance(exc, ssl.SSLError) and not isinstance(exc, socket.timeout) else _CONNECT
                raise _Failure(stage, exc) from None
        path = target.path
        if target.proxy is not None and target.scheme == "http":
            path = "http://%s%s" % (_netloc(target.host, target.port, "http"), target.path)  # absolute form
            if target.proxy.authorization:
                headers = dict(headers, **{"Proxy-Authorization": target.proxy.authorization})
        try:
            conn.sock.settimeout(self.timeout)  # a kept-alive connection: its last answer shortened it
            conn.request(method, path, body=data, headers=headers)
            conn.response_class = _AnsweredBy(time.monotonic() + self.timeout)
            try:
                answer = conn.getresponse()
            finally:  # a later reconnect's proxy tunnel reads its answer with this class too
                conn.response_class = http.client.HTTPResponse
            content = _read_body(answer)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._discard(key)
            raise _Failure(_SENT, exc) from None
        if content is None:
            self._discard(key)  # the rest of the answer is still on the connection
            raise _Failure(_TOO_LARGE, None)
        return answer.status, answer.msg, content

    def _connection(self, target, what):
        """The kept-alive connection to ``target``'s origin, unless the server closed it."""
        if self._pid != os.getpid():  # a forked child never uses its parent's sockets
            self._connections, self._pid = {}, os.getpid()
        key = target.key
        conn = self._connections.get(key)
        if conn is not None and conn.sock is not None and _dropped(conn.sock):
            conn.close()  # closed by the server while idle: reconnect before sending anything
        if conn is None:
            conn = self._new_connection(target, what)
            self._connections[key] = conn
        return conn

    def _new_connection(self, target, what):
        import http.client

        proxy = target.proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (target.host, target.port)
        if target.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._tls_context(what))
            if proxy is not None:
                tunnel_headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
                conn.set_tunnel(target.host, target.port, headers=tunnel_headers)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        return conn

    def _discard(self, key):
        conn = self._connections.pop(key, None)
        if conn is not None:
            conn.close()

    def _tls_context(self, what):
        """The client's one SSLContext, made on the first https connection.

        With no CA bundle configured (or a variable naming the system's own bundle, as some
        images set REQUESTS_CA_BUNDLE), the system store is trusted. Loading all of it, as
        ``ssl.create_default_context()`` does, parses every certificate of the system bundle
        (about 25 ms of CPU with OpenSSL 3, paid in every forked worker), so when the system
        CA directory is hashed the context first trusts that directory alone, where OpenSSL
        reads only the certificates a handshake needs. Should it not vouch for the server,
        ``_send`` drops that context before anything is sent and tries once more with the
        whole store: what is trusted is exactly what the default context trusts.
        """
        import ssl

        if self._context is None:
            if not self.validate_certs:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                source, bundle = self._trusted()
                try:
                    if bundle and os.path.isdir(bundle):
                        context = ssl.create_default_context(capath=bundle)
                    else:
                        context = ssl.create_default_context(cafile=bundle)
                except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                    raise SendRequestError(
                        "%s: cannot load the CA bundle %s (from %s): %s; set ca_path (BWS_CA_PATH) to a PEM file of "
                        "CA certificates" % (what, bundle, source, _short(str(exc)))) from None
            try:
                context.set_alpn_protocols(["http/1.1"])
            except NotImplementedError:  # pragma: no cover - an OpenSSL without ALPN
                pass
            self._context = context
        return self._context

    def _trusted(self):
        """(where it comes from, CA file or directory, or None for ssl's default store) to trust."""
        if self.ca_path:
            return "ca_path", self.ca_path
        source, bundle = next(((name, os.environ[name]) for name in _CA_BUNDLE_VARIABLES if os.environ.get(name)),
                              (None, None))
        if self._lazy_store is not False and _system_store(bundle):
            import ssl

            system_dir = ssl.get_default_verify_paths().capath
            self._lazy_store = bool(system_dir) and _hashed_ca_dir(system_dir)
            if self._lazy_store:
                return "the system store", system_dir
        return source, bundle


def _read_body(answer):
    """The body of ``answer`` (an ``HTTPResponse``), or None when it is larger than MAX_ANSWER_BYTES
    (then read no further than one byte past that)."""
    if answer.length is not None:  # Content-Length: read at once, or not at all
        return answer.read() if answer.length <= MAX_ANSWER_BYTES else None
    pieces, size = [], 0  # chunked, or until the connection closes
    while True:
        piece = answer.read(min(_PIECE, MAX_ANSWER_BYTES + 1 - size))
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
        size += len(piece)
        if size > MAX_ANSWER_BYTES:
            return None


def _open(conn, timeout):
    """Connect ``conn``: TCP to the server's or proxy's address (each address tried within
    ``timeout``, as ``socket.create_connection`` does), then the proxy's answer to CONNECT and
    the TLS handshake together within ``timeout``. The socket's own timeout bounds each wait
    only, so a proxy answering a line now and then would hold the task far longer, and the
    handshake would get a whole timeout of its own after a slow tunnel."""
    import http.client

    def tcp(address, timeout, source_address=None):
        sock = socket.create_connection(address, timeout, source_address)
        conn.response_class = _AnsweredBy(time.monotonic() + timeout, last=True)  # the proxy's answer
        return sock

    conn._create_connection = tcp  # http.client's hook for it
    try:
        conn.connect()
    finally:
        conn.response_class = http.client.HTTPResponse
        conn._create_connection = socket.create_connection


def _left(deadline):
    """Seconds left until ``deadline`` (``time.monotonic()``); ``socket.timeout`` when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    return left


class _AnsweredBy:
    """``response_class`` of a connection whose whole answer (status, headers and body) must
    arrive by ``deadline`` (``time.monotonic()``): the socket's timeout bounds one read, so a
    server sending a byte now and then would otherwise hold a task for ever. A late answer
    raises ``socket.timeout``, like a silent server. With ``last``, what comes next on the
    socket (the TLS handshake after a proxy's answer) must be done by the same deadline."""

    def __init__(self, deadline, last=False):
        self.deadline = deadline
        self.last = last

    def __call__(self, sock, *args, **kwargs):
        import http.client

        return http.client.HTTPResponse(_ReadsBy(sock, self.deadline, self.last), *args, **kwargs)


class _ReadsBy:
    """What ``HTTPResponse`` reads from: the socket, each read given what is left of the time."""

    def __init__(self, sock, deadline, last):
        self._sock = sock
        self._deadline = deadline
        self._last = last

    def makefile(self, mode):
        return io.BufferedReader(_RawReadsBy(self._sock, self._deadline, self._last))


class _RawReadsBy(io.RawIOBase):
    """The socket's reads (through its own SocketIO), none of them waiting past ``deadline``;
    with ``last``, each leaves the socket only what is left (never 0: non-blocking)."""

    def __init__(self, sock, deadline, last):
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # keeps the socket open while the answer is read
        self._deadline = deadline
        self._last = last

    def readable(self):
        return True

    def readinto(self, buffer):
        self._sock.settimeout(_left(self._deadline))
        count = self._raw.readinto(buffer)
        if self._last:
            self._sock.settimeout(max(self._deadline - time.monotonic(), 0.001))
        return count

    def close(self):
        self._raw.close()
        super().close()


def _system_store(bundle):
    """True for no bundle, or a bundle that is the system's default CA file (SSL_CERT_FILE honoured)."""
    if not bundle:
        return True
    import ssl

    paths = ssl.get_default_verify_paths()
    system = [os.path.realpath(path) for path in (paths.cafile, paths.openssl_cafile) if path]
    return os.path.realpath(bundle) in system


def _hashed_ca_dir(path):
    """True when ``path`` is a directory holding certificates under their subject hash."""
    try:
        with os.scandir(path) as entries:
            return any(_HASHED_CA_NAME.match(entry.name) for entry in entries)
    except OSError:
        return False


def _header_safe(value):
    """True for a header value http.client sends as it is: printable ASCII, no CR, LF or NUL."""
    return value.isascii() and value.isprintable()


def _dropped(sock):
    """True when an idle kept-alive socket is readable: closed (or garbled) by the server."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _unused, _unused2 = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


# -- URLs and proxies ---------------------------------------------------------------------

def _target(url, what):
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        scheme = host = None
    if scheme not in _DEFAULT_PORTS or not host:
        raise SendRequestError("%s: %s is not an http:// or https:// URL" % (what, _origin(url)))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(scheme, host, port, path, _proxy_for(scheme, host, port, what))


def _netloc(host, port, scheme):
    if ":" in host:
        host = "[%s]" % host
    return host if port == _DEFAULT_PORTS.get(scheme) else "%s:%d" % (host, port)


def _environ(name):
    """(variable, value) of a lower-case variable, else of its upper-case form (as urllib does)."""
    if name in os.environ:
        return name, os.environ[name]
    upper = name.upper()
    if upper == "HTTP_PROXY" and "REQUEST_METHOD" in os.environ:
        return None, None  # a CGI environment: HTTP_PROXY may come from a request header (httpoxy)
    if upper in os.environ:
        return upper, os.environ[upper]
    return None, None


def _proxy_for(scheme, host, port, what):
    """The proxy a request to ``scheme://host:port`` goes through, from the environment, or None.
    Never for plain http:// to a loopback host: it is allowed only because it stays on this
    machine, and a proxy would see the credentials in clear."""
    variable = value = None
    for name in (scheme + "_proxy", "all_proxy"):
        variable, value = _environ(name)
        if variable is not None:
            value = value.strip()
            break
    if not value or (scheme == "http" and is_loopback(host)) or _bypass(host, port):
        return None
    return _parse_proxy(value, variable, what)


def _parse_proxy(value, variable, what):
    if "://" not in value:
        value = "http://" + value  # "proxy:3128" means an http proxy, as for requests and curl
    try:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port or 80
    except ValueError:
        scheme = host = None
    if scheme is not None and scheme != "http":
        raise SendRequestError(
            "%s: the proxy in %s is a %s:// proxy, which this client does not support: use an http:// proxy "
            "(HTTPS is still encrypted end to end through it, with CONNECT), or list the server's host in "
            "NO_PROXY to connect directly" % (what, variable, scheme))
    if not host:
        raise SendRequestError("%s: the proxy in %s is not a valid URL: expected http://[user:password@]host:port"
                               % (what, variable))
    authorization = None
    if parts.username is not None or parts.password is not None:
        credentials = "%s:%s" % (unquote(parts.username or ""), unquote(parts.password or ""))
        authorization = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return _Proxy(host, port, variable, authorization)


def _bypass(host, port):
    """True when no_proxy/NO_PROXY names ``host`` (exact, domain suffix, ``*``, optional :port)."""
    _variable, value = _environ("no_proxy")
    if not value:
        return False
    host = host.lower().rstrip(".")
    for entry in value.replace(",", " ").split():
        entry = entry.lower()
        if entry == "*":
            return True
        entry_port = None
        if entry.startswith("["):  # [IPv6] or [IPv6]:port
            address, _sep, rest = entry[1:].partition("]")
            entry = address
            if rest.startswith(":") and rest[1:].isdigit():
                entry_port = int(rest[1:])
        elif entry.count(":") == 1:  # name:port or IPv4:port (a bare IPv6 has several colons)
            name, _sep, number = entry.partition(":")
            if not number.isdigit():
                continue
            entry, entry_port = name, int(number)
        if entry_port is not None and entry_port != port:
            continue
        if "/" in entry:
            if _in_network(host, entry):
                return True
            continue
        if entry.startswith("*."):
            entry = entry[1:]
        entry = entry.strip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def _in_network(host, cidr):
    import ipaddress  # only for a CIDR entry in no_proxy (http.client loads it anyway)

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


# -- answers and failures ------------------------------------------------------------------

def _decode(status, headers, content, url, what, retries):
    """A Response from an answer's status, headers and body bytes (errors for 429 and non-JSON 2xx)."""
    if status == 429:
        raise RateLimitedError(
            "%s: rate limited by the server (HTTP 429) after %d retries; wait and try again, raise "
            "'retries' (each retry honours Retry-After), or lower forks" % (what, retries), status=429)
    body = None
    if content:
        ctype = headers.get("Content-Type", "") or ""
        if "json" not in ctype.lower():
            if 200 <= status < 300:
                raise ApiError(
                    "%s: %s answered HTTP %d with %s instead of JSON: is the URL right, or is a proxy or "
                    "captive portal in the way?" % (what, _origin(url), status, ctype or "no content type"),
                    status=status)
        else:
            try:
                body = json.loads(content.decode("utf-8"))
            except (ValueError, RecursionError):
                if 200 <= status < 300:
                    raise ApiError("%s: %s answered HTTP %d with a body that is not valid JSON"
                                   % (what, _origin(url), status), status=status) from None
    return Response(status, body, headers)


def _origin(url):
    return url.split("/", 3)[2] if "://" in url else url


def _dropped_errors():
    """The exceptions of a connection closed or reset before an answer came."""
    import http.client
    import ssl

    return (http.client.RemoteDisconnected, http.client.BadStatusLine, http.client.IncompleteRead,
            ConnectionResetError, ConnectionAbortedError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


def _describe_failure(exc, stage, url, what, client, idempotent=True, proxy=None, retried=0):
    """The message of a try that got no answer; never a credential, a body or a traceback."""
    host = _origin(url)
    where = host if proxy is None else "%s through the proxy %s (%s)" % (host, proxy.display, proxy.variable)
    text = str(exc) or type(exc).__name__
    each = " (each of %d tries)" % (retried + 1) if retried else ""  # the wait was that, times the tries
    after_sending = ""
    if not idempotent:
        after_sending = ("; it was not retried (not safe to repeat) and may have been applied on the server: "
                         "check before trying again")
    if stage == _TOO_LARGE:
        return ("%s: the answer from %s is larger than %s, the most this client reads: is the URL right, or is "
                "something in the way?%s" % (what, where, _size(MAX_ANSWER_BYTES), after_sending))
    if stage == _TLS:
        if type(exc).__name__ != "SSLCertVerificationError":  # no certificate judged: protocol, version...
            return ("%s: the TLS handshake with %s failed (%s): check that the URL is https:// to a port that "
                    "speaks HTTPS, and any proxy" % (what, where, _short(text)))
        if "mismatch" in text or "match" in text and "hostname" in text.lower():
            advice = ("the certificate is not for this host name: use a URL with a name (or address) that "
                      "the certificate holds")
        elif client.ca_path:
            advice = ("the CA bundle in ca_path (%s) does not vouch for the server certificate: give the bundle "
                      "of the CA that signed it" % client.ca_path)
        else:
            advice = "set ca_path (BWS_CA_PATH) to the CA bundle that signed the server certificate"
        return ("%s: TLS verification failed for %s (%s): %s, or validate_certs=false only for testing"
                % (what, where, _short(text), advice))
    if stage == _CONNECT:
        if isinstance(exc, socket.timeout):
            return ("%s: could not connect to %s within %g seconds%s; raise 'timeout' or check the server"
                    % (what, where, client.timeout, each))
        if isinstance(exc, socket.gaierror):
            if proxy is not None:
                return ("%s: cannot resolve the host name of the proxy %s (from %s): check %s and DNS"
                        % (what, proxy.display, proxy.variable, proxy.variable))
            return "%s: cannot resolve the host name %s: check server_url/api_url/identity_url and DNS" % (what, host)
        return ("%s: cannot connect to %s (%s): check the URL, that the server is up, and any proxy"
                % (what, where, _short(text)))
    if isinstance(exc, socket.timeout):
        return ("%s: %s did not answer within %g seconds%s; raise 'timeout' or check the server%s"
                % (what, host, client.timeout, each, after_sending))
    if isinstance(exc, _dropped_errors()):
        return ("%s: the connection to %s was closed (reset) before an answer came; a proxy or the server "
                "dropped it%s" % (what, host, after_sending))
    if retried:
        return "%s: %s kept failing after %d retries (%s)%s" % (what, host, retried, _short(text), after_sending)
    return "%s: request to %s failed (%s)%s" % (what, host, _short(text), after_sending)


def _size(count):
    return "%d MiB" % (count >> 20) if count >= 1 << 20 and not count % (1 << 20) else "%d bytes" % count


def _short(text, limit=200):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
