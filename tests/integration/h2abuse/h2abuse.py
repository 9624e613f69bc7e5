"""Helpers for the HTTP/2 abuse tests: raw HTTP/2 frames on a socket (so an attack can send what
a well-behaved library refuses to), a frame reader that notices GOAWAY, RST_STREAM and the close,
a well-behaved client built on python3-h2, and readings of the proxy process (CPU time, RSS,
metrics). Loopback only, every loop bounded.
"""

import os
import socket
import struct
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))

import harness  # noqa: E402
from harness import LOOPBACK, ProxyTestCase, Upstream, cluster, route  # noqa: E402,F401

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import hpack
except ImportError:  # Debian package python3-h2
    h2 = None
    hpack = None

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 §6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4

# Error codes (RFC 9113 §7)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = 0x7, 0x8, 0xB

SETTINGS_INITIAL_WINDOW_SIZE = 0x4


def require_h2():
    if h2 is None:
        raise unittest.SkipTest("python3-h2 is not installed")


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def settings(pairs=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def rst_stream(stream, code=CANCEL):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def ping(data=b"\0" * 8):
    return frame(PING, 0, 0, data)


def request_headers(path="/", method="GET", authority="spillway.test", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", authority),
            (":path", path)] + list(extra)


class Frame:
    def __init__(self, ftype, flags, stream, payload):
        self.type, self.flags, self.stream, self.payload = ftype, flags, stream, payload

    def error_code(self):
        """RST_STREAM's or GOAWAY's error code."""
        if self.type == RST_STREAM:
            return struct.unpack(">I", self.payload[:4])[0]
        if self.type == GOAWAY:
            return struct.unpack(">I", self.payload[4:8])[0]
        return None

    def last_stream(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7FFFFFFF


class RawConn:
    """A client connection that writes raw frames and parses what the proxy sends back."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.frames = []
        self.eof = False
        self.send_failed = False
        self.encoder = hpack.Encoder() if hpack else None

    def start(self, client_settings=()):
        """Preface and our SETTINGS; waits for the proxy's SETTINGS and acknowledges them."""
        self.send(PREFACE + settings(client_settings))
        f = self.wait_for(lambda f: f.type == SETTINGS and not f.flags & ACK, 5.0)
        if f is None:
            raise AssertionError("no SETTINGS from the proxy")
        self.send(settings(ack=True))
        return self

    def send(self, data):
        """Sends bytes; False (and send_failed) once the proxy closed or reset the connection,
        or stopped reading for 10 s."""
        try:
            self.sock.settimeout(10.0)
            self.sock.sendall(data)
            return True
        except OSError:
            self.send_failed = True
            return False

    def header_block(self, headers):
        return self.encoder.encode(headers)

    def headers(self, stream, headers, end_stream=True):
        return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), stream,
                     self.header_block(headers))

    def _parse(self):
        while len(self.buf) >= 9:
            length = struct.unpack(">I", b"\0" + self.buf[:3])[0]
            if len(self.buf) < 9 + length:
                return
            ftype, flags = self.buf[3], self.buf[4]
            stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
            self.frames.append(Frame(ftype, flags, stream, self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]

    def poll(self, timeout):
        """Reads what arrives within `timeout` s (at least one recv); False on EOF."""
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        self._parse()
        return True

    def drain(self, seconds=0.0):
        """Reads without blocking (or for `seconds`) so the proxy's writes never stall on us."""
        deadline = time.monotonic() + seconds
        while True:
            if not self.poll(0.001 if seconds == 0 else max(0.001, deadline - time.monotonic())):
                return False
            if time.monotonic() >= deadline:
                return True

    def wait_for(self, pred, timeout):
        """The first frame (already read or arriving within `timeout` s) matching `pred`."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for f in self.frames[seen:]:
                if pred(f):
                    return f
            seen = len(self.frames)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.poll(min(remaining, 0.5)):
                for f in self.frames[seen:]:
                    if pred(f):
                        return f
                return None

    def goaway(self, timeout=5.0):
        return self.wait_for(lambda f: f.type == GOAWAY, timeout)

    def closed_within(self, timeout):
        """True when the proxy closed the connection (EOF or reset) within `timeout` s."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.poll(min(remaining, 0.5))
        return True

    def of_type(self, ftype, stream=None):
        return [f for f in self.frames if f.type == ftype and (stream is None or f.stream == stream)]

    def status(self, stream):
        """The :status of the response on `stream`, if one arrived."""
        dec = hpack.Decoder()
        result = None
        for f in self.frames:
            if f.type != HEADERS:
                continue
            # Every header block must go through the decoder to keep its table in step.
            fields = dec.decode(_headers_payload(f))
            if f.stream == stream:
                for n, v in fields:
                    if n in (":status", b":status"):
                        result = int(v)
        return result

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _headers_payload(f):
    p = f.payload
    start, end = 0, len(p)
    if f.flags & 0x8:  # PADDED
        end -= p[0]
        start = 1
    if f.flags & 0x20:  # PRIORITY
        start += 5
    return p[start:end]


def h2_get(port, path="/", timeout=5.0, extra=()):
    """One request by a well-behaved HTTP/2 client (python3-h2) on a new connection:
    (status, body) or None when it was not answered."""
    try:
        sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    except OSError:
        return None
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                     header_encoding="utf-8"))
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, request_headers(path, extra=extra), end_stream=True)
        sock.sendall(conn.data_to_send())
        status, body = None, b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(1 << 16)
            if not data:
                return None
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    return status, body
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    return None
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        return None
    except (OSError, socket.timeout, h2.exceptions.ProtocolError):
        return None
    finally:
        sock.close()


class GoodClient:
    """A well-behaved HTTP/2 client asking for `path` in a loop on fresh connections while an
    attack runs; `served` counts its answered requests."""

    def __init__(self, port, path="/good"):
        self.port, self.path = port, path
        self.served = 0
        self.failed = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(15)

    def _run(self):
        for _ in range(200):  # bounded
            if self.stop_flag.is_set():
                return
            r = h2_get(self.port, self.path, timeout=5.0)
            if r is not None and r[0] == 200:
                self.served += 1
            else:
                self.failed += 1
            self.stop_flag.wait(0.1)


# ---------------------------------------------------------------------------------------------
# The proxy process


def cpu_seconds(pid):
    """User + system CPU time of `pid` so far (/proc/<pid>/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def metric(proxy, name, labels=None):
    """The value of one sample of the admin /metrics page (0 when absent)."""
    _, _, body = proxy.metrics()
    text = body.decode()
    want = name
    if labels:
        want += "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


class H2TestCase(ProxyTestCase):
    """A proxy with `http2: true` on its listener in front of one counting upstream."""

    LISTENER = {}

    def setUp(self):
        require_h2()
        self.up = self.upstream("u", getattr(self, "handler", None))
        listener = {"http2": True}
        listener.update(self.LISTENER)
        self.px = self.proxy([cluster("c", [self.up])], [route("all", "c")], listener=listener)

    def attacker(self, client_settings=()):
        c = RawConn(self.px.port)
        self.addCleanup(c.close)
        return c.start(client_settings)

    def goaway_reason(self, reason, timeout=5.0):
        """Waits until spillway_http2_goaway_total{reason} is at least 1 (counted when the
        connection is closed); returns the value."""
        deadline = time.monotonic() + timeout
        while True:
            v = metric(self.px, "spillway_http2_goaway_total", {"reason": reason})
            if v >= 1 or time.monotonic() > deadline:
                return v
            time.sleep(0.1)

    def assertCalmedDown(self, conn, reason, timeout=10.0):
        """The attacking connection got GOAWAY ENHANCE_YOUR_CALM, was closed, and the metrics
        name `reason`."""
        g = conn.goaway(timeout)
        self.assertIsNotNone(g, f"no GOAWAY for {reason} ({len(conn.frames)} frames read, "
                                f"eof={conn.eof})")
        self.assertEqual(g.error_code(), ENHANCE_YOUR_CALM, f"GOAWAY code for {reason}")
        self.assertTrue(conn.closed_within(timeout), f"connection left open after {reason}")
        self.assertGreaterEqual(self.goaway_reason(reason), 1,
                                f"spillway_http2_goaway_total{{reason={reason}}}")
        self.assertGreaterEqual(metric(self.px, "spillway_http2_abuse_total", {"reason": reason}),
                                1)
        return g

    def assertStillServing(self):
        self.assertTrue(self.px.alive(), "proxy died:\n" + self.px.log_text())
        r = h2_get(self.px.port, "/after")
        self.assertIsNotNone(r, "a well-behaved HTTP/2 client is not served after the attack")
        self.assertEqual(r[0], 200)
        c = harness.Client(self.px.port)
        try:
            resp = c.request("GET", "/after-h1", [("Connection", "close")])
        finally:
            c.close()
        self.assertIsNotNone(resp, "an HTTP/1.1 client is not served after the attack")
        self.assertEqual(resp.status, 200)
