"""HTTP/2 stream lifetimes against the upstream: a client's RST_STREAM cancels the upstream
request while the connection's other streams go on; a client that stops reading a large answer
holds back the upstream (flow control end to end) without the proxy buffering it, and other
clients are served meanwhile."""

import socket
import struct
import time
import unittest
import urllib.parse

from h2support import H2Client, H2TestCase, cluster, route

TICK = 0.1


def ticking(served):
    """/slow...?n=N: N chunks TICK apart (chunked); records the connection serving each target."""

    def handle(req, conn):
        served[req.target] = conn
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(req.target).query)
        n = int(q.get("n", ["100"])[0])
        if not conn.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"):
            return False
        for i in range(n):
            line = f"tick {i}\n".encode()
            if not conn.send(b"%x\r\n%s\r\n" % (len(line), line)):
                return False
            time.sleep(TICK)
        return conn.send(b"0\r\n\r\n")

    return handle


BIG = 64 * 1024 * 1024


class FlowTest(H2TestCase):
    def test_client_reset_cancels_the_upstream_request(self):
        served = {}
        u = self.upstream("s", ticking(served))
        p = self.h2proxy([cluster("c", [u])],
                         [route("r", "c", timeouts={"first_byte": "10s", "idle": "10s"})],
                         [{"http2": True}])
        admin = self.admin(p)
        c = self.h2(p.port)
        a = c.request("GET", "/slow/a?n=200")
        b = c.request("GET", "/slow/b?n=15")
        c.wait(lambda: c.streams[a].data and c.streams[b].data, 15.0, "the first ticks")
        conn_a = served["/slow/a?n=200"]
        conn_b = served["/slow/b?n=15"]
        self.assertIsNot(conn_a, conn_b)

        c.reset(a)
        t0 = time.monotonic()
        self.assertTrue(conn_a.wait_peer_close(5.0),
                        "the upstream request of a reset stream was not cancelled")
        took = time.monotonic() - t0
        self.assertLess(took, 5.0)
        # The other stream on the same connection goes on to its end.
        st = c.wait_done(b, 20.0)[0]
        self.assertTrue(st.ended and st.reset is None, st)
        self.assertEqual(st.status, 200)
        self.assertEqual(st.body, b"".join(b"tick %d\n" % i for i in range(15)))
        self.assertFalse(conn_b.closed_at is not None and conn_b.closed_at < st.finished_at - 0.5,
                         "the other stream's upstream connection was closed early")
        ticks_a = c.streams[a].body.count(b"tick")
        self.assertLess(ticks_a, 200)
        self.assertIsNone(c.goaway)
        self.assertEqual(c.get("/slow/c?n=2").body, b"tick 0\ntick 1\n")
        self.assertNothingInFlight(admin, 5.0)

    def test_unread_large_download_holds_back_upstream(self):
        progress = {"sent": 0}

        def big(req, conn):
            if not req.target.startswith("/big"):
                return conn.respond(200, f"small {req.target}")
            conn.send("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Length: {BIG}\r\n\r\n")
            piece = b"x" * 65536
            for _ in range(BIG // len(piece)):
                if not conn.send(piece):
                    return False
                progress["sent"] += len(piece)
            return True

        served = []

        def record(req, conn):
            served.append((req.target, conn))
            return big(req, conn)

        u = self.upstream("u", record)
        p = self.h2proxy([cluster("c", [u])],
                         [route("r", "c", timeouts={"first_byte": "10s", "idle": "30s"})],
                         [{"http2": True}])
        warm = self.h2(p.port)
        for i in range(20):
            self.assertEqual(warm.get(f"/warm/{i}").status, 200)
        rss0 = self.rss_kib(p)

        # A small window, and no reading after the response head.
        slow = H2Client(p.port, window=16384)
        self.addCleanup(slow.close)
        slow.auto_window = False
        sid = slow.request("GET", "/big")
        slow.wait(lambda: slow.streams[sid].status is not None, 15.0, "the response head")
        self.assertEqual(slow.streams[sid].status, 200)

        # The upstream's sending stalls: the proxy stopped reading from it.
        last, since = -1, time.monotonic()
        deadline = time.monotonic() + 20.0
        while time.monotonic() - since < 1.5:
            if progress["sent"] != last:
                last, since = progress["sent"], time.monotonic()
            self.assertLess(time.monotonic(), deadline, "the upstream never stopped sending")
            time.sleep(0.1)
        self.assertLess(progress["sent"], BIG // 2,
                        f"{progress['sent']} of {BIG} bytes taken from the upstream")
        rss1 = self.rss_kib(p)
        self.assertLess(rss1 - rss0, 24 * 1024,
                        f"proxy RSS grew from {rss0} to {rss1} KiB with an unread download")

        # Others are served meanwhile, on HTTP/2 and HTTP/1.1.
        other = self.h2(p.port)
        t0 = time.monotonic()
        st = other.get("/other", timeout=10.0)
        self.assertEqual((st.status, st.body), (200, b"small /other"), st)
        self.assertLess(time.monotonic() - t0, 5.0)
        h1 = self.client(p)
        r = h1.request("GET", "/other-h1")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(progress["sent"], last, "the upstream moved while the client slept")

        # The client goes away: the upstream request is cancelled.
        big_conn = [c for t, c in served if t == "/big"][0]
        slow.close()
        self.assertTrue(big_conn.wait_peer_close(10.0),
                        "upstream connection of an abandoned download left open")
        self.assertLess(self.rss_kib(p) - rss0, 24 * 1024)
        self.assertNothingInFlight(self.admin(p), 5.0)

    def test_dropped_connection_cancels_every_stream_upstream(self):
        def slow(req, conn):
            time.sleep(15.0)
            return conn.respond(200, b"late")

        u = self.upstream("u", slow)
        p = self.h2proxy([cluster("c", [u])],
                         [route("r", "c", timeouts={"first_byte": "20s", "idle": "20s"})],
                         [{"http2": True}])
        admin = self.admin(p)
        c = H2Client(p.port)
        self.addCleanup(c.close)
        for i in range(20):
            c.request("GET", f"/slow/{i}")
        self.assertTrue(u.wait_heads(20, 10.0), f"{len(u.heads)} of 20 requests upstream")
        admin.wait_value("spillway_upstream_active_requests", 20, 5.0, "with 20 streams open",
                         cluster="c", endpoint=u.address)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST: the client is gone
        deadline = time.monotonic() + 5.0
        for conn in list(u.connections):
            self.assertTrue(conn.wait_peer_close(max(0.1, deadline - time.monotonic())),
                            f"upstream connection {conn.id} still open after the client left")
        self.assertNothingInFlight(admin, 5.0)

    def test_a_stream_with_a_shut_window_does_not_block_the_others(self):
        def big(req, conn):
            if not req.target.startswith("/big"):
                return conn.respond(200, req.target)
            conn.send(f"HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n")
            piece = b"y" * 65536
            for _ in range(BIG // len(piece)):
                if not conn.send(piece):
                    return False
            return True

        u = self.upstream("u", big)
        p = self.h2proxy([cluster("c", [u])],
                         [route("r", "c", timeouts={"first_byte": "10s", "idle": "30s"})],
                         [{"http2": True}])
        c = self.h2(p.port, window=65535)
        c.auto_window = False  # returned by hand: the connection's window only

        def pump_connection_credit(timeout):
            before = sum(len(s.body) for s in c.streams.values())
            c.pump(timeout)
            got = sum(len(s.body) for s in c.streams.values()) - before
            if got:
                c.conn.increment_flow_control_window(got)
                c.flush()

        a = c.request("GET", "/big")
        t0 = time.monotonic()
        while len(c.streams[a].body) < 65535 and time.monotonic() - t0 < 10.0:
            pump_connection_credit(0.05)
        self.assertEqual(len(c.streams[a].body), 65535, "stream A did not fill its window")
        sids = [c.request("GET", f"/small/{i}") for i in range(5)]
        deadline = time.monotonic() + 10.0
        while not all(c.streams[s].done for s in sids):
            self.assertLess(time.monotonic(), deadline, f"{[c.streams[s] for s in sids]}")
            pump_connection_credit(0.05)
        for i, s in enumerate(sids):
            self.assertEqual((c.streams[s].status, c.streams[s].body),
                             (200, f"/small/{i}".encode()), c.streams[s])
        self.assertEqual(len(c.streams[a].body), 65535, "A got past its stream window")
        self.assertFalse(c.streams[a].done)

    # Fails on ae43ba9: see the report of the h2-tests branch. A stream's request bytes that its
    # exchange has not read are held against the connection window too (server_connection::
    # consume() returns both windows at once), so streams queued behind a busy endpoint use up
    # the connection window and the stream holding the endpoint never gets the rest of its body:
    # every stream times out. Remove the skip once the connection window is returned on receipt.
    def test_listener_limits_set_the_http2_settings_and_windows(self):
        def count(req, conn):
            return conn.respond(200, b"%d" % len(req.body))

        u = self.upstream("u", count)
        limits = {"max_header_bytes": "8KiB", "max_body_bytes": "16MiB",
                  "http2_max_concurrent_streams": 3, "http2_stream_window": "256KiB",
                  "http2_connection_window": "1MiB"}
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")],
                         [{"http2": True, "limits": limits}])
        c = self.h2(p.port)
        c.wait(lambda: c.conn.remote_settings.max_concurrent_streams == 3, 5.0,
               "SETTINGS_MAX_CONCURRENT_STREAMS 3")
        self.assertEqual(c.conn.remote_settings.initial_window_size, 256 * 1024)
        # A 200 KB body fits the stream's window at once: it goes out before any WINDOW_UPDATE
        # (the default 64 KiB window would hold it back).
        sid = c.request("POST", "/w", [("content-length", str(200_000))], end=False)
        self.assertGreaterEqual(c.conn.local_flow_control_window(sid), 200_000)
        c.send_data(sid, b"w" * 200_000)
        st = c.wait_done(sid)[0]
        self.assertEqual((st.status, st.body), (200, b"200000"), st)

    def test_queued_uploads_do_not_starve_the_connection_window(self):
        def count(req, conn):
            return conn.respond(200, b"%d" % len(req.body))

        u = self.upstream("u", count)
        p = self.h2proxy([cluster("c", [u], max_concurrent=1,
                                  queue={"max_size": 100, "timeout": "8s"})],
                         [route("r", "c", timeouts={"first_byte": "8s", "idle": "5s"})],
                         [{"http2": True}])
        c = self.h2(p.port)
        n, size, piece = 8, 400000, 16384
        sids = [c.request("POST", f"/up/{i}", [("content-length", str(size))], end=False)
                for i in range(n)]
        sent = dict.fromkeys(sids, 0)
        # Interleaved, as browsers and gRPC clients send: a piece of each body in turn.
        deadline = time.monotonic() + 12.0
        while any(v < size for v in sent.values()):
            if time.monotonic() > deadline:
                self.fail(f"uploads stalled: sent {sent}, connection window "
                          f"{c.conn.outbound_flow_control_window}")
            for sid in sids:
                k = min(c.conn.local_flow_control_window(sid), piece, size - sent[sid])
                if k > 0:
                    c.conn.send_data(sid, b"x" * k, end_stream=sent[sid] + k == size)
                    sent[sid] += k
            c.flush()
            c.pump(0.02)
        for st in c.wait_done(sids, 20.0):
            self.assertEqual((st.status, st.body), (200, b"%d" % size), st)
