"""Helpers for the HTTP/2 and TLS integration tests (SPEC §2.1 listeners `http2` and `tls`): a
frame-level HTTP/2 client on python3-h2 (plaintext or TLS), self-signed certificates made by the
openssl command, proxies with several listeners, and runners for curl and nghttp.

Runs with /usr/bin/python3 (standard library plus Debian's python3-h2); a test whose tool is
missing is skipped.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "resilience"))
sys.path.insert(1, os.path.join(HERE, "..", "proxy"))

import harness  # noqa: E402
from harness import (LOOPBACK, Client, Upstream, build_request, chunked, cluster,  # noqa: E402,F401
                     free_port, route)
from resil import ResilienceTestCase  # noqa: E402

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError:  # the tests that need it skip
    h2 = None


def need_tool(name):
    path = shutil.which(name)
    if not path:
        raise unittest.SkipTest(f"{name} is not installed")
    return path


# ---------------------------------------------------------------------------------------------
# Certificates


class Cert:
    """A self-signed P-256 certificate for 127.0.0.1 and localhost: PEM paths and DER bytes."""

    def __init__(self, directory, name, cn):
        need_tool("openssl")
        self.cn = cn
        self.cert = os.path.join(directory, f"{name}.crt")
        self.key = os.path.join(directory, f"{name}.key")
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", f"/CN={cn}",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise AssertionError("openssl req failed: " + r.stdout.decode("utf-8", "replace"))
        with open(self.cert) as f:
            self.der = ssl.PEM_cert_to_DER_cert(f.read())

    def install_as(self, cert_path, key_path):
        """Replaces the files at `cert_path` and `key_path` with this pair (atomic renames)."""
        for src, dst in ((self.cert, cert_path), (self.key, key_path)):
            tmp = dst + ".new"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)


def client_tls(alpn=("h2", "http/1.1"), cafile=None, max_version=None, min_version=None,
               ciphers=None):
    """A client TLS context: verifies against `cafile` when given, else verifies nothing."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if ciphers:
        ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is what the tests check
        warnings.simplefilter("ignore", DeprecationWarning)
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
    return ctx


def tls_connect(port, ctx, timeout=10.0):
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname="localhost")
    except BaseException:
        sock.close()
        raise


# ---------------------------------------------------------------------------------------------
# HTTP/2 client


class H2Stream:
    def __init__(self, sid):
        self.id = sid
        self.status = None
        self.headers = None  # [(name, value)] of the response head
        self.data = []  # [(monotonic arrival, bytes)], one entry per DATA frame
        self.trailers = None
        self.ended = False
        self.reset = None  # the RST_STREAM error code, when the server reset the stream
        self.finished_at = None

    @property
    def body(self):
        return b"".join(d for _, d in self.data)

    @property
    def done(self):
        return self.ended or self.reset is not None

    def header(self, name, default=None):
        for n, v in self.headers or []:
            if n == name:
                return v
        return default

    def __repr__(self):
        return (f"<stream {self.id}: status={self.status} ended={self.ended} reset={self.reset} "
                f"frames={len(self.data)} body={self.body[:200]!r} trailers={self.trailers}>")


class H2Client:
    """One HTTP/2 connection driven from the calling thread: requests are sent at once, answers
    are read by pump()/wait(). `window` sets SETTINGS_INITIAL_WINDOW_SIZE; `auto_window` False
    never returns flow-control credit; `validate` False lets the test send fields HTTP/2
    forbids."""

    def __init__(self, port, tls=None, window=None, validate=True, timeout=10.0,
                 authority=None):
        if h2 is None:
            raise unittest.SkipTest("python3-h2 is not installed")
        self.tls = tls is not None
        self.sock = tls_connect(port, tls, timeout) if tls else \
            socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls and self.sock.selected_alpn_protocol() != "h2":
            alpn = self.sock.selected_alpn_protocol()
            self.sock.close()
            raise AssertionError(f"ALPN selected {alpn!r}, not h2")
        self.authority = authority or f"{LOOPBACK}:{port}"
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate)
        self.conn = h2.connection.H2Connection(cfg)
        if window is not None:
            self.conn.local_settings = h2.settings.Settings(
                client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
                                             h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self.auto_window = True
        self.streams = {}
        self.goaway = None  # error code of a GOAWAY from the server
        self.eof = False
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, method, path, headers=(), body=None, end=True):
        """Opens a stream; `body` bytes follow as DATA (END_STREAM when `end`). Returns the id."""
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "https" if self.tls else "http"),
                (":authority", self.authority)] + list(headers)
        self.streams[sid] = H2Stream(sid)
        self.conn.send_headers(sid, hdrs, end_stream=end and body is None)
        self.flush()
        if body is not None:
            self.send_data(sid, body, end)
        return sid

    def send_data(self, sid, data, end=True, timeout=10.0):
        """Sends `data` on stream `sid` as flow control allows."""
        deadline = time.monotonic() + timeout
        while True:
            window = self.conn.local_flow_control_window(sid)
            n = min(len(data), window, self.conn.max_outbound_frame_size)
            if n > 0 or not data:
                last = n == len(data)
                try:
                    self.conn.send_data(sid, data[:n], end_stream=end and last)
                except h2.exceptions.StreamClosedError:
                    return  # answered early and closed (RFC 9113 §8.1): the rest is not sent
                self.flush()
                data = data[n:]
                if last:
                    return
            else:
                if time.monotonic() > deadline:
                    raise AssertionError(f"stream {sid}: no send window within {timeout}s")
                self.pump(0.05)

    def reset(self, sid, code=None):
        self.conn.reset_stream(sid, code if code is not None else h2.errors.ErrorCodes.CANCEL)
        self.flush()

    def pump(self, timeout=0.1):
        """Reads what arrives within `timeout` s and handles its frames."""
        if self.eof:
            time.sleep(min(timeout, 0.05))
            return
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            raise AssertionError(f"HTTP/2 protocol error from the proxy: {e!r}") from None
        now = time.monotonic()
        for ev in events:
            st = self.streams.get(getattr(ev, "stream_id", None) or 0)
            if isinstance(ev, h2.events.ResponseReceived) and st:
                st.headers = list(ev.headers)
                st.status = int(dict(ev.headers)[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                if st:
                    st.data.append((now, ev.data))
                if self.auto_window and ev.flow_controlled_length:
                    try:
                        self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    except h2.exceptions.StreamClosedError:
                        pass
            elif isinstance(ev, h2.events.TrailersReceived) and st:
                st.trailers = list(ev.headers)
            elif isinstance(ev, h2.events.StreamEnded) and st:
                st.ended = True
                st.finished_at = now
            elif isinstance(ev, h2.events.StreamReset) and st:
                if st.reset is None and not st.ended:
                    st.reset = int(ev.error_code)
                    st.finished_at = now
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = int(ev.error_code)
        self.flush()

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; streams: "
                                     + "; ".join(repr(s) for s in self.streams.values()))
            if self.eof and not predicate():
                raise AssertionError(f"the proxy closed the connection while waiting for {what}; "
                                     f"goaway={self.goaway}; streams: "
                                     + "; ".join(repr(s) for s in self.streams.values()))
            self.pump(0.05)

    def wait_done(self, sids, timeout=15.0):
        if isinstance(sids, int):
            sids = [sids]
        self.wait(lambda: all(self.streams[s].done for s in sids), timeout,
                  f"streams {sids} to end")
        return [self.streams[s] for s in sids]

    def get(self, path, headers=(), timeout=15.0):
        return self.wait_done(self.request("GET", path, headers), timeout)[0]


# ---------------------------------------------------------------------------------------------
# External clients


def run_tool(args, timeout=30.0, input_bytes=None):
    """Runs a client; (exit code, stdout bytes, stderr text)."""
    r = subprocess.run(args, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def curl(args, timeout=30.0):
    """curl -sS with `args`: (exit code, response head text, body bytes, curl's
    %{http_version}, stderr text)."""
    exe = need_tool("curl")
    tmpdir = tempfile.mkdtemp(prefix="spillway-h2-curl-")
    try:
        head = os.path.join(tmpdir, "head")
        body = os.path.join(tmpdir, "body")
        rc, out, err = run_tool([exe, "-sS", "--max-time", str(int(timeout)), "-D", head, "-o",
                                 body, "-w", "%{http_version}", *args], timeout + 5)

        def read(path, mode):
            if not os.path.exists(path):
                return "" if mode == "r" else b""
            with open(path, mode) as f:
                return f.read()

        return rc, read(head, "r"), read(body, "rb"), out.decode().strip(), err
    finally:
        shutil.rmtree(tmpdir, True)


# ---------------------------------------------------------------------------------------------
# Proxies with several listeners


def listener(name, port, **extra):
    lst = {"name": name, "address": f"{LOOPBACK}:{port}",
           "limits": {"max_header_bytes": "8KiB", "max_body_bytes": "16MiB"},
           "timeouts": {"header": "5s", "idle": "20s"}}
    lst.update(extra)
    return lst


class H2TestCase(ResilienceTestCase):
    """Base class: proxies whose listeners are given as dicts of extra keys (`http2`, `tls`),
    each on its own free port (`proxy.ports`, in order; `proxy.port` is the first), behind a
    plaintext listener the harness probes for readiness."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spillway-h2-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def h2proxy(self, clusters, routes, listeners, top=None):
        p = self.proxy(clusters, routes, top=top, start=False)
        # free_port() may hand out the same port twice in a row: keep every address distinct.
        used = {p.port}
        while p.admin_port in used:
            p.admin_port = free_port()
        used.add(p.admin_port)
        p.config["admin"]["address"] = f"{LOOPBACK}:{p.admin_port}"
        # The harness waits for the first listener with a bare connect: a plaintext HTTP/1.1
        # listener of its own, so that no probe counts as a failed TLS handshake.
        lsts = [listener("ready", p.port)]
        for i, extra in enumerate(listeners):
            port = free_port()
            while port in used:
                port = free_port()
            used.add(port)
            lsts.append(listener("public" if i == 0 else f"l{i}", port, **extra))
        p.config["listeners"] = lsts
        with open(p.config_path, "w") as f:
            f.write(harness.to_yaml(p.config))
        p.start(timeout=30.0)
        p.ports = [int(lst["address"].rsplit(":", 1)[1]) for lst in lsts[1:]]
        p.port = p.ports[0]
        return p

    def cert(self, name, cn):
        return Cert(self.dir, name, cn)

    def h2(self, port, **kw):
        c = H2Client(port, **kw)
        self.addCleanup(c.close)
        return c

    def rss_kib(self, proxy):
        with open(f"/proc/{proxy.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for the proxy")

    def assertUpstreamHeader(self, req, name, expected):
        self.assertEqual(req.header(name), expected, f"{name} upstream: {req.describe()}")


def wait_until(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Counter:
    """A thread-safe counter with a high-water mark."""

    def __init__(self):
        self.lock = threading.Lock()
        self.value = 0
        self.peak = 0

    def __enter__(self):
        with self.lock:
            self.value += 1
            self.peak = max(self.peak, self.value)

    def __exit__(self, *exc):
        with self.lock:
            self.value -= 1


def raw_frames(data):
    """HTTP/2 frames in `data` (bytes from the server): [(type, flags, stream, payload)]."""
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        if len(data) < 9 + n:
            break
        out.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7fffffff,
                    data[9:9 + n]))
        data = data[9 + n:]
    return out


def admin_post(proxy, path, timeout=15.0):
    """POST on the admin listener: (status, body text)."""
    c = Client(proxy.admin_port, timeout)
    try:
        r = c.request("POST", path, [("Connection", "close"), ("Content-Length", "0")],
                      host=f"{LOOPBACK}:{proxy.admin_port}")
        if r is None:
            raise AssertionError(f"POST {path}: no response")
        return r.status, r.body.decode("utf-8", "replace")
    finally:
        c.close()


def h1_over(sock, target, host="localhost", timeout=10.0):
    """One HTTP/1.1 GET on an open (TLS) socket; the parsed response."""
    sock.sendall(build_request("GET", target, host=host))
    return harness.read_response(harness.Reader(sock), time.monotonic() + timeout)
