"""One `http2: true` plaintext port for both protocols: the proxy tells them apart by the client
preface (even when it arrives a byte at a time), HTTP/1.1 clients keep pipelining and sending
bodies there, and an HTTP/1.1 `Upgrade: h2c` is answered in HTTP/1.1 and never forwarded."""

import os
import socket
import time
import unittest

from harness import Reader, build_request, read_response
from h2support import LOOPBACK, H2TestCase, cluster, curl, h2, raw_frames, route

HEADERS, DATA = 0x1, 0x0
END_STREAM = 0x1


def send_pipelined(port, requests, timeout=10.0):
    """Writes every request at once, reads as many responses; returns them."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(b"".join(requests))
        reader = Reader(s)
        return [read_response(reader, time.monotonic() + timeout) for _ in requests]


class SharedPortTest(H2TestCase):
    def test_preface_sniffing_and_http1_on_the_same_port(self):
        u = self.upstream("u")
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}])

        # The HTTP/2 preface and first frames one byte at a time: still HTTP/2.
        if h2 is None:
            self.skipTest("python3-h2 is not installed")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "GET"), (":path", "/slow-preface"), (":scheme", "http"),
                              (":authority", "x")], end_stream=True)
        data = conn.data_to_send()
        got = b""
        with socket.create_connection((LOOPBACK, p.port), timeout=10.0) as s:
            for i in range(40):
                s.sendall(data[i:i + 1])
                time.sleep(0.005)
            s.sendall(data[40:])
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                d = s.recv(65536)
                if not d:
                    break
                got += d
                frames = raw_frames(got)
                if any(t in (HEADERS, DATA) and f & END_STREAM for t, f, sid, _ in frames):
                    break
        self.assertFalse(got.startswith(b"HTTP/1"), got[:100])
        frames = raw_frames(got)
        body = b"".join(pl for t, f, sid, pl in frames if t == DATA and sid == 1)
        self.assertEqual(body, b"u GET /slow-preface", frames)

        # Pipelined HTTP/1.1 requests, the first with a body bigger than the first read (a body
        # behind an earlier request: see the skipped test below).
        big = os.urandom(100000)
        rs = send_pipelined(p.port, [build_request("PUT", "/p/1", body=big),
                                     build_request("GET", "/p/2"),
                                     build_request("GET", "/p/3")])
        self.assertEqual([(r.status, r.body) for r in rs],
                         [(200, b"u PUT /p/1"), (200, b"u GET /p/2"), (200, b"u GET /p/3")])
        self.assertEqual([r.version for r in rs], ["HTTP/1.1"] * 3)
        put = [r for r in u.requests if r.target == "/p/1"][0]
        self.assertEqual(put.body, big)

        # curl --http2 on plaintext asks for Upgrade: h2c; it gets HTTP/1.1, the upstream never
        # sees the upgrade fields.
        rc, head, out, version, err = curl(["--http2", f"http://{LOOPBACK}:{p.port}/upgrade"])
        self.assertEqual((rc, version, out), (0, "1.1", b"u GET /upgrade"), err + head)
        up = [r for r in u.requests if r.target == "/upgrade"][0]
        for name in ("upgrade", "http2-settings", "connection"):
            self.assertFalse(up.has_header(name), up.describe())

    # Fails on ae43ba9: see the report of the h2-tests branch. http1::session reads the client
    # into `in_` (a beast::flat_buffer) while busy with an earlier pipelined request; when the
    # body pump then consumes every readable byte, flat_buffer::consume() rewinds the buffer and
    # the pending read's bytes land where commit() no longer takes them: 16 KiB of the body are
    # replaced by stale bytes. Remove the skip with the fix in proxy/http1/session.cpp.
    def test_body_of_a_request_pipelined_after_a_get_arrives_intact(self):
        u = self.upstream("u")
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}, {}])
        body = b"".join(i.to_bytes(4, "big") for i in range(25000))  # offsets: a wrong byte shows
        for port in p.ports:
            for i in range(10):
                rs = send_pipelined(port, [build_request("GET", f"/{port}/{i}/get"),
                                           build_request("POST", f"/{port}/{i}/post", body=body)])
                self.assertEqual([r.status for r in rs], [200, 200])
                req = [r for r in u.requests if r.target == f"/{port}/{i}/post"][0]
                if req.body != body:
                    at = next(k for k in range(len(body)) if req.body[k:k + 1] != body[k:k + 1])
                    self.fail(f"port {port} try {i}: body differs upstream from byte {at} "
                              f"(of {len(body)})")
