"""Test harness for spillway integration tests: the real binary on loopback, scripted raw-socket
upstreams that record exactly what reached them, and a raw HTTP/1.1 client that sees framing.

Standard library only (runs with /usr/bin/python3). Every process and socket a test opens is
closed by the test's cleanups, even when an assertion fails.
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

SPILLWAY_BIN = os.environ.get("SPILLWAY_BIN", "")
LOOPBACK = "127.0.0.1"


def free_port():
    """A TCP port that was free a moment ago (bind to port 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def closed_port():
    """A port with nothing listening on it, for 'upstream down' cases."""
    return free_port()


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 message parsing shared by the client and the upstream


class Message:
    """A parsed request or response: start line, headers in wire order, body as received."""

    def __init__(self):
        self.start_line = ""
        self.headers = []  # [(name as sent, value)]
        self.body = b""
        self.raw_head = b""
        self.chunked = False
        self.chunks = []  # sizes of the data chunks as framed on the wire
        self.chunk_extensions = []
        self.trailers = []
        self.complete = False  # framing ended as announced (not cut by EOF)

    def header(self, name, default=None):
        """Value of the first header `name` (case-insensitive)."""
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def has_header(self, name):
        return any(n.lower() == name.lower() for n, _ in self.headers)

    def header_names(self):
        return [n.lower() for n, _ in self.headers]

    def describe(self):
        head = self.raw_head.decode("latin-1", "replace")
        body = self.body[:300]
        return f"{head!r} body[{len(self.body)}]={body!r}"


class Request(Message):
    def __init__(self):
        super().__init__()
        self.method = ""
        self.target = ""
        self.version = ""
        self.conn_id = -1
        self.received_at = 0.0


class Response(Message):
    def __init__(self):
        super().__init__()
        self.version = ""
        self.status = 0
        self.reason = ""

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class Reader:
    """Buffered reads from a socket with a deadline; EOF and errors end the stream."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("read timed out")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("read timed out") from None
        except (ConnectionResetError, BrokenPipeError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, marker, deadline, limit=1 << 20):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("no %r within %d bytes" % (marker, limit))
            if not self._fill(deadline):
                return None
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self, deadline):
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def at_eof(self, deadline):
        """True when the peer closed (EOF or reset) before `deadline`; bytes that arrive
        meanwhile are consumed and kept in `drained`."""
        self.drained = self.buf
        self.buf = b""
        try:
            while self._fill(deadline):
                self.drained += self.buf
                self.buf = b""
            return True
        except TimeoutError:
            return False


def _parse_head(msg, head):
    msg.raw_head = head
    lines = head.decode("latin-1").split("\r\n")
    msg.start_line = lines[0]
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        msg.headers.append((name, value.strip(" \t")))


def _read_chunked(msg, reader, deadline, on_chunk=None):
    msg.chunked = True
    body = []
    while True:
        line = reader.read_until(b"\r\n", deadline)
        if line is None:
            msg.body = b"".join(body)
            return
        size_text, _, ext = line[:-2].decode("latin-1").partition(";")
        if ext:
            msg.chunk_extensions.append(ext)
        size = int(size_text.strip(), 16)
        if size == 0:
            while True:
                t = reader.read_until(b"\r\n", deadline)
                if t is None:
                    msg.body = b"".join(body)
                    return
                if t == b"\r\n":
                    break
                name, _, value = t[:-2].decode("latin-1").partition(":")
                msg.trailers.append((name, value.strip()))
            msg.body = b"".join(body)
            msg.complete = True
            return
        data = reader.read_exact(size, deadline)
        body.append(data)
        msg.chunks.append(size)
        if on_chunk:
            on_chunk(data)
        if len(data) < size or reader.read_exact(2, deadline) != b"\r\n":
            msg.body = b"".join(body)
            return


def read_request(reader, deadline, on_head=None):
    """Reads one request; None on a clean EOF before any byte. `on_head(req)` runs once the
    head is in, before the body is read."""
    head = reader.read_until(b"\r\n\r\n", deadline)
    if head is None:
        return None
    req = Request()
    _parse_head(req, head)
    parts = req.start_line.split(" ")
    req.method, req.target, req.version = (parts + ["", "", ""])[:3]
    if on_head:
        on_head(req)
    te = req.header("transfer-encoding")
    if te is not None and te.lower().strip().endswith("chunked"):
        _read_chunked(req, reader, deadline)
    else:
        n = int(req.header("content-length", "0"))
        req.body = reader.read_exact(n, deadline)
        req.complete = len(req.body) == n
    return req


def read_response(reader, deadline, method="GET", on_chunk=None):
    """Reads one response (skipping 1xx interim ones); None when the peer closed first."""
    while True:
        head = reader.read_until(b"\r\n\r\n", deadline)
        if head is None:
            return None
        resp = Response()
        _parse_head(resp, head)
        parts = resp.start_line.split(" ", 2)
        resp.version = parts[0]
        resp.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
        resp.reason = parts[2] if len(parts) > 2 else ""
        if 100 <= resp.status < 200 and resp.status != 101:
            continue
        break
    if method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
        resp.complete = True
        return resp
    te = resp.header("transfer-encoding")
    cl = resp.header("content-length")
    if te is not None and te.lower().strip().endswith("chunked"):
        _read_chunked(resp, reader, deadline, on_chunk)
    elif cl is not None:
        n = int(cl)
        resp.body = reader.read_exact(n, deadline)
        resp.complete = len(resp.body) == n
    else:
        if on_chunk:
            while reader.buf or reader._fill(deadline):
                data, reader.buf = reader.buf, b""
                resp.body += data
                on_chunk(data)
        else:
            resp.body = reader.read_to_eof(deadline)
        resp.complete = True
    return resp


# ---------------------------------------------------------------------------------------------
# Scripted upstream


class UpstreamConn:
    """One accepted upstream connection, handed to handlers so they control every byte."""

    def __init__(self, sock, conn_id, upstream):
        self.sock = sock
        self.id = conn_id
        self.reader = Reader(sock)
        self.upstream = upstream
        self.closed_at = None  # monotonic time the proxy closed its side (EOF seen)
        self.open = True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.mark_closed()
            return False

    def mark_closed(self):
        if self.closed_at is None:
            self.closed_at = time.monotonic()
            self.upstream._notify()
        self.open = False

    def wait_peer_close(self, timeout):
        """Waits up to `timeout` s for the proxy to close this connection; True when it did.
        Bytes that arrive meanwhile are kept in the reader's buffer."""
        deadline = time.monotonic() + timeout
        while self.closed_at is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                r, _, _ = select.select([self.sock], [], [], min(remaining, 0.02))
            except (OSError, ValueError):
                # The serving thread saw the close first and closed the socket (it marks the
                # connection closed before closing it).
                if self.closed_at is not None:
                    return True
                raise
            if r:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.mark_closed()
                else:
                    self.reader.buf += data
        return True

    def respond(self, status=200, body=b"", headers=None, reason=None):
        """Sends a Content-Length framed response."""
        if isinstance(body, str):
            body = body.encode()
        reasons = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}
        lines = [f"HTTP/1.1 {status} {reason or reasons.get(status, 'Status')}"]
        hdrs = list(headers or [])
        if not any(n.lower() == "content-length" for n, _ in hdrs):
            hdrs.append(("Content-Length", str(len(body))))
        lines += [f"{n}: {v}" for n, v in hdrs]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def default_handler(req, conn):
    conn.respond(200, f"{conn.upstream.name} {req.method} {req.target}".encode(),
                 [("Content-Type", "text/plain"), ("X-Upstream", conn.upstream.name)])


class Upstream:
    """Raw-socket HTTP/1.1 server on a free loopback port. Records every connection and every
    request exactly as received. `handler(req, conn)` writes the response (keep-alive by
    default); returning False closes the connection afterwards."""

    def __init__(self, name="u", handler=None, port=0):
        self.name = name
        self.handler = handler or default_handler
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOOPBACK, port))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.address = f"{LOOPBACK}:{self.port}"
        self.connections = []
        self.requests = []
        self.heads = []  # requests whose head arrived, body possibly still on its way
        self.errors = []
        self.cond = threading.Condition()
        self.stopping = False
        self.threads = []
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self.threads.append(t)

    def _notify(self):
        with self.cond:
            self.cond.notify_all()

    def _accept_loop(self):
        while not self.stopping:
            try:
                sock, _ = self.lsock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.cond:
                conn = UpstreamConn(sock, len(self.connections), self)
                self.connections.append(conn)
                self.cond.notify_all()
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn):
        try:
            while not self.stopping and conn.open:
                try:
                    req = read_request(conn.reader, time.monotonic() + 3600, self._on_head)
                except (ValueError, TimeoutError) as e:
                    self.errors.append(f"conn {conn.id}: {e}")
                    break
                if req is None:
                    break
                req.conn_id = conn.id
                req.received_at = time.monotonic()
                with self.cond:
                    self.requests.append(req)
                    self.cond.notify_all()
                if not req.complete:
                    break
                if self.handler(req, conn) is False:
                    break
        except Exception as e:  # a handler bug must show in the test, not vanish in a thread
            self.errors.append(f"conn {conn.id}: {type(e).__name__}: {e}")
        finally:
            conn.mark_closed()
            try:
                conn.sock.close()
            except OSError:
                pass

    def _on_head(self, req):
        with self.cond:
            self.heads.append(req)
            self.cond.notify_all()

    def wait_heads(self, n, timeout=5.0):
        """Waits until the heads of at least `n` requests arrived; returns whether they did."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.heads) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
        return True

    def wait_requests(self, n, timeout=5.0):
        """Waits until at least `n` requests arrived; returns whether they did."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
        return True

    def close(self):
        self.stopping = True
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in list(self.connections):
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.sock.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Client


class Client:
    """A raw HTTP/1.1 client connection."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = Reader(self.sock)
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def request(self, method="GET", target="/", headers=None, body=b"", host="spillway.test"):
        """Sends a request (Content-Length framed when there is a body) and reads the answer."""
        self.send(build_request(method, target, headers, body, host))
        return self.read_response(method)

    def read_response(self, method="GET", timeout=None, on_chunk=None):
        return read_response(self.reader, time.monotonic() + (timeout or self.timeout), method,
                             on_chunk)

    def closed_within(self, timeout):
        """True when the proxy closed the connection (EOF or reset) within `timeout` s."""
        return self.reader.at_eof(time.monotonic() + timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with RST, as a client that dies would."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()


def build_request(method="GET", target="/", headers=None, body=b"", host="spillway.test"):
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {target} HTTP/1.1"]
    hdrs = list(headers or [])
    if host is not None and not any(n.lower() == "host" for n, _ in hdrs):
        hdrs.insert(0, ("Host", host))
    names = [n.lower() for n, _ in hdrs]
    if body and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    lines += [f"{n}: {v}" for n, v in hdrs]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(parts, extensions=None, trailers=None):
    """Chunked encoding of `parts` (bytes each); optional per-chunk extension text and trailers."""
    out = b""
    for i, p in enumerate(parts):
        ext = (";" + extensions[i]) if extensions and extensions[i] else ""
        out += b"%x%s\r\n%s\r\n" % (len(p), ext.encode(), p)
    out += b"0\r\n"
    for n, v in trailers or []:
        out += f"{n}: {v}\r\n".encode()
    return out + b"\r\n"


def http_get(port, path, timeout=2.0):
    """One-shot GET on a new connection; (status, headers dict lower-case, body) or None."""
    try:
        c = Client(port, timeout)
    except OSError:
        return None
    try:
        r = c.request("GET", path, [("Connection", "close")], host=f"{LOOPBACK}:{port}")
        if r is None:
            return None
        return r.status, {n.lower(): v for n, v in r.headers}, r.body
    except (OSError, TimeoutError, ValueError):
        return None
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# The proxy


def to_yaml(value):
    """YAML text for a config made of dicts, lists, strings and numbers (JSON is valid YAML)."""
    return json.dumps(value, indent=2) + "\n"


def cluster(name, upstreams, **extra):
    """A cluster over `upstreams` (Upstream objects, addresses, or (address, weight) pairs)."""
    eps = []
    for u in upstreams:
        if isinstance(u, tuple):
            addr, weight = u
            eps.append({"address": addr.address if isinstance(addr, Upstream) else addr,
                        "weight": weight})
        else:
            eps.append({"address": u.address if isinstance(u, Upstream) else u})
    c = {"name": name, "connect_timeout": "500ms", "endpoints": eps}
    c.update(extra)
    return c


def route(name, cluster_name, prefix="/", **extra):
    r = {"name": name, "match": {"path_prefix": prefix}, "cluster": cluster_name,
         "timeouts": {"first_byte": "2s", "idle": "2s"}}
    r.update(extra)
    return r


class Proxy:
    """The spillway binary with a generated config, on free loopback ports."""

    def __init__(self, clusters, routes, listener=None, top=None, workdir=None):
        self.port = free_port()
        self.admin_port = free_port()
        self.dir = workdir or tempfile.mkdtemp(prefix="spillway-itest-")
        lst = {"name": "public", "address": f"{LOOPBACK}:{self.port}",
               "limits": {"max_header_bytes": "8KiB", "max_body_bytes": "1MiB"},
               "timeouts": {"header": "2s", "idle": "10s"}}
        for k, v in (listener or {}).items():
            if isinstance(v, dict) and isinstance(lst.get(k), dict):
                lst[k].update(v)
            else:
                lst[k] = v
        self.config = {"workers": 1, "drain_timeout": "3s", "listeners": [lst],
                       "admin": {"address": f"{LOOPBACK}:{self.admin_port}"},
                       "clusters": clusters, "routes": routes,
                       "access_log": {"path": "stderr", "format": "json"}}
        self.config.update(top or {})
        self.config_path = os.path.join(self.dir, "spillway.yaml")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config))
        self.log_path = os.path.join(self.dir, "spillway.log")
        self.proc = None

    def start(self, timeout=15.0):
        if not SPILLWAY_BIN:
            raise unittest.SkipTest("SPILLWAY_BIN is not set")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([SPILLWAY_BIN, "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"spillway exited with {self.proc.returncode} at start:\n"
                                     + self.log_text())
            if self._port_open(self.port):
                h = http_get(self.admin_port, "/healthz", 1.0)
                if h is not None and h[0] == 200:
                    return self
            time.sleep(0.05)
        raise AssertionError("spillway not ready (listener + admin /healthz) within "
                             f"{timeout}s:\n" + self.log_text())

    @staticmethod
    def _port_open(port):
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return True
        except OSError:
            return False

    def log_text(self, limit=20000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def sanitizer_report(self):
        text = self.log_text(200000)
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "ThreadSanitizer"):
            if marker in text:
                return text
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s. Returns the exit status (None when killed)."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait(5.0)
            if rc is None:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return rc

    def metrics(self):
        r = http_get(self.admin_port, "/metrics", 3.0)
        if r is None:
            raise AssertionError("GET /metrics on admin failed")
        return r

    def client(self, timeout=5.0):
        return Client(self.port, timeout)


class ProxyTestCase(unittest.TestCase):
    """Base class: upstreams and the proxy are cleaned up after each test; a proxy that crashed
    or reported a sanitizer error fails the test."""

    def upstream(self, name="u", handler=None):
        u = Upstream(name, handler)
        self.addCleanup(u.close)
        return u

    def proxy(self, clusters, routes, listener=None, top=None, start=True):
        p = Proxy(clusters, routes, listener, top)
        self.addCleanup(shutil.rmtree, p.dir, True)
        self.addCleanup(self._finish_proxy, p)
        if start:
            p.start()
        return p

    def client(self, proxy, timeout=5.0):
        c = proxy.client(timeout)
        self.addCleanup(c.close)
        return c

    def _finish_proxy(self, p):
        crashed = p.proc is not None and p.proc.poll() is not None and not getattr(p, "stopped_on_purpose", False)
        rc = p.stop()
        report = p.sanitizer_report()
        if report:
            self.fail("sanitizer report from spillway:\n" + report)
        if crashed:
            self.fail(f"spillway died during the test (exit {rc}):\n" + p.log_text())

    def assertOpenAIError(self, resp, status):
        """The proxy's own error answer: `status` and {"error": {"message","type","code"}}."""
        self.assertIsNotNone(resp, "no response (connection closed)")
        self.assertEqual(resp.status, status, resp.describe())
        ctype = resp.header("content-type", "")
        self.assertIn("application/json", ctype, resp.describe())
        try:
            doc = resp.json()
        except ValueError:
            self.fail("error body is not JSON: " + resp.describe())
        self.assertIsInstance(doc.get("error"), dict, resp.describe())
        for key in ("message", "type", "code"):
            self.assertIn(key, doc["error"], resp.describe())
        self.assertIsInstance(doc["error"]["message"], str)
        self.assertTrue(doc["error"]["message"], "empty error message")
        return doc
