"""Small loopback servers for the HTTP client's tests (stdlib only, threads, no network beyond 127.0.0.1).

* ``ScriptedServer``: an HTTP/1.1 keep-alive server answering from a script, counting
  connections and requests, optionally closing connections that stay idle.
* ``Forwarder``: a TCP forwarder counting the connections made through it (keep-alive checks,
  TLS included: it only moves bytes).
* ``StreamServer``: answers without a Content-Length (chunked, or until the connection closes),
  finite or without end.
* ``Proxy``: an HTTP proxy: ``CONNECT`` tunnels (counted, with the Proxy-Authorization seen) and
  absolute-form plain http requests, optionally requiring Basic credentials, optionally slow
  to answer a CONNECT.
* ``SilentServer``: accepts connections and never answers (a TLS handshake that never ends).
"""

import http.client
import http.server
import json
import select
import socket
import socketserver
import threading
import time
import urllib.parse


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class _Running:
    """Start/stop of a server in a thread; a context manager."""

    server = None

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _listen(self, serve, base=socketserver.BaseRequestHandler):
        """Serve on 127.0.0.1, counting connections (``self.connections``): each handler (of
        class ``base``) goes to ``serve(handler)``."""
        owner = self
        self.connections = 0
        self.lock = threading.Lock()

        class Handler(base):
            def handle(self):
                with owner.lock:
                    owner.connections += 1
                serve(self)

        self.server = _Server(("127.0.0.1", 0), Handler)

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port


# --- a scripted HTTP server ---------------------------------------------------------------

class _ScriptedHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner = None

    def setup(self):
        self.timeout = self.owner.idle_timeout  # BaseHTTPRequestHandler closes a connection idle this long
        super().setup()
        with self.owner.lock:
            self.owner.connections += 1

    def date_time_string(self, timestamp=None):
        return self.owner.date or super().date_time_string(timestamp)

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner = self.owner
        with owner.lock:
            owner.requests.append({"method": self.command, "path": self.path, "body": body,
                                   "headers": {k.lower(): v for k, v in self.headers.items()}})
            status, headers, payload = owner.script[0] if len(owner.script) == 1 else owner.script.pop(0)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
            headers = dict({"Content-Type": "application/json"}, **headers)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


class ScriptedServer(_Running):
    """Answers each request with the next (status, headers, body) of ``script`` (the last one
    repeats). ``idle_timeout``: seconds after which an idle keep-alive connection is closed;
    ``date``: the ``Date`` header of every answer."""

    def __init__(self, script=((200, {}, {"ok": True}),), idle_timeout=None, date=None):
        self.script = list(script)
        self.idle_timeout = idle_timeout
        self.date = date  # the Date header of every answer (default: the time)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []
        handler = type("Handler", (_ScriptedHandler,), {"owner": self})
        self.server = _Server(("127.0.0.1", 0), handler)


# --- a counting TCP forwarder -------------------------------------------------------------

def _pipe(one, other):
    """Copy bytes both ways until either side closes."""
    sockets = [one, other]
    try:
        while True:
            readable, _unused, _unused2 = select.select(sockets, [], [], 30)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (other if sock is one else one).sendall(data)
    except OSError:
        return


class Forwarder(_Running):
    """Forwards every connection to ``target_port`` on 127.0.0.1, counting the connections."""

    def __init__(self, target_port):
        def forward(handler):
            upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
            try:
                _pipe(handler.request, upstream)
            finally:
                upstream.close()

        self._listen(forward)


# --- an HTTP proxy --------------------------------------------------------------------------

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
               "transfer-encoding", "upgrade"}


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner = None

    def _authorised(self):
        seen = self.headers.get("Proxy-Authorization")
        with self.owner.lock:
            self.owner.authorizations.append(seen)
        if self.owner.require is None or seen == self.owner.require:
            return True
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        return False

    def do_CONNECT(self):
        with self.owner.lock:
            self.owner.tunnels.append(self.path)
        if not self._authorised():
            return
        host, _sep, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        try:
            self._established()
            _pipe(self.connection, upstream)
        except OSError:  # the client gave up on a slow answer
            pass
        finally:
            upstream.close()
            self.close_connection = True

    def _established(self):
        """The 200 answer to CONNECT: after ``answer_delay`` seconds; with ``trickle``, a header
        line every 0.1 s for that many seconds first."""
        time.sleep(self.owner.answer_delay)
        line = b"HTTP/1.1 200 Connection established\r\n"
        end = time.monotonic() + self.owner.trickle
        while time.monotonic() < end:
            self.wfile.write(line)
            self.wfile.flush()
            line = b"X-Wait: 1\r\n"
            time.sleep(0.1)
        self.wfile.write(line + b"\r\n")  # without trickle: the whole answer at once
        self.wfile.flush()

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.owner.lock:
            self.owner.plain.append((self.command, self.path))
        if not self._authorised():
            return
        parts = urllib.parse.urlsplit(self.path)
        if parts.scheme != "http":
            self.send_error(400, "absolute http:// URL expected")
            return
        address = self.owner.hosts.get(parts.hostname, parts.hostname)
        upstream = http.client.HTTPConnection(address, parts.port or 80, timeout=10)
        path = parts.path + ("?" + parts.query if parts.query else "")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream.request(self.command, path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, *args):
        pass


class Proxy(_Running):
    """An HTTP proxy on 127.0.0.1. ``require``: the exact Proxy-Authorization it accepts (None:
    any). Records ``tunnels`` (CONNECT targets), ``plain`` ((method, absolute URL)) and
    ``authorizations`` (the Proxy-Authorization header of each, None when absent). ``hosts``
    ({name: address}) resolves names for plain http requests, as a proxy's own DNS would. A
    slow proxy: ``answer_delay`` seconds before answering a CONNECT, or its answer's header
    lines sent one by one over ``trickle`` seconds."""

    def __init__(self, require=None, hosts=None, answer_delay=0.0, trickle=0.0):
        self.require = require
        self.answer_delay = answer_delay
        self.trickle = trickle
        self.hosts = dict(hosts or {})
        self.lock = threading.Lock()
        self.tunnels = []
        self.plain = []
        self.authorizations = []
        handler = type("Handler", (_ProxyHandler,), {"owner": self})
        self.server = _Server(("127.0.0.1", 0), handler)


class StreamServer(_Running):
    """Answers each request with a 200 JSON answer without a Content-Length: ``pieces`` sent as
    chunks on a kept-alive connection (``chunked=True``), or followed by closing the connection;
    with ``pieces=None`` a body that never ends. Counts connections."""

    def __init__(self, pieces, chunked):
        def body():
            if pieces is not None:
                return iter(pieces)
            return iter(lambda: b"0," * 4000, None)  # without end

        def answer(handler):
            try:
                while _request_read(handler.rfile):
                    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + (
                        b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"Connection: close\r\n\r\n"))
                    for piece in body():
                        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    if not chunked:
                        return
                    handler.wfile.write(b"0\r\n\r\n")
                    handler.wfile.flush()
            except OSError:
                return

        self._listen(answer, socketserver.StreamRequestHandler)


def _request_read(rfile):
    """Read one request without a body (GET); False when the client hung up."""
    line = rfile.readline()
    while line not in (b"\r\n", b"\n", b""):
        line = rfile.readline()
    return line != b""


class SilentServer(_Running):
    """Accepts connections and reads what comes, never answering: a TLS handshake with it waits
    for ever. Counts connections."""

    def __init__(self):
        def drain(handler):
            try:
                while handler.request.recv(4096):
                    pass
            except OSError:
                return

        self._listen(drain)


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
