"""HTTP/2 connections over their lifetime: a graceful drain sends GOAWAY and lets streams in
flight finish, in two steps (RFC 9113 §6.8: a first GOAWAY that still admits the streams the
client is opening, then the final one a round trip later); a rapid-reset flood (CVE-2023-44487) ends the connection with GOAWAY
ENHANCE_YOUR_CALM, is counted, and neither reaches the upstream in full nor disturbs others."""

import signal
import socket
import threading
import time

from h2support import (LOOPBACK, H2TestCase, cluster, curl, h2, raw_frames, route, wait_until)

GOAWAY = 0x7
ENHANCE_YOUR_CALM = 0xb


class LifecycleTest(H2TestCase):
    def test_drain_lets_streams_in_flight_finish(self):
        def slow(req, conn):
            if req.target.startswith("/slow"):
                time.sleep(1.5)
            return conn.respond(200, f"done {req.target}")

        u = self.upstream("u", slow)
        p = self.h2proxy([cluster("c", [u])],
                         [route("r", "c", timeouts={"first_byte": "10s", "idle": "10s"})],
                         [{"http2": True}])
        results = {}

        def fetch(name):
            results[name] = curl(["--http2-prior-knowledge", "-v",
                                  f"http://{LOOPBACK}:{p.port}/slow/{name}"], timeout=20)

        threads = [threading.Thread(target=fetch, args=(n,), daemon=True) for n in ("a", "b")]
        for t in threads:
            t.start()
        self.assertTrue(u.wait_heads(2, 10.0), "requests did not reach the upstream")
        p.signal(signal.SIGTERM)
        p.stopped_on_purpose = True
        for t in threads:
            t.join(20.0)
        for name in ("a", "b"):
            rc, head, body, version, err = results[name]
            self.assertEqual((rc, version, body), (0, "2", f"done /slow/{name}".encode()),
                             err + head)
            self.assertIn("GOAWAY", err.upper(), "no GOAWAY before the drain closed: " + err)
        self.assertEqual(p.wait(15.0), 0, p.log_text())
        with self.assertRaises(OSError):
            socket.create_connection((LOOPBACK, p.port), timeout=2.0).close()

    def test_drain_sends_a_notice_then_the_final_goaway(self):
        if h2 is None:
            self.skipTest("python3-h2 is not installed")

        def slow(req, conn):
            time.sleep(1.0)
            return conn.respond(200, f"done {req.target}")

        u = self.upstream("u", slow)
        p = self.h2proxy([cluster("c", [u])],
                         [route("r", "c", timeouts={"first_byte": "10s", "idle": "10s"})],
                         [{"http2": True}], top={"drain_timeout": "10s"})
        # h2 only encodes here: what the proxy sends is read as raw frames, so the client's
        # state machine never stops it from opening a stream after the notice.
        enc = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        enc.initiate_connection()
        enc.send_headers(1, [(":method", "GET"), (":path", "/first"), (":scheme", "http"),
                             (":authority", "x")], end_stream=True)
        with socket.create_connection((LOOPBACK, p.port), timeout=10.0) as s:
            s.sendall(enc.data_to_send())
            self.assertTrue(u.wait_heads(1, 10.0))
            p.signal(signal.SIGTERM)
            p.stopped_on_purpose = True
            got, frames = b"", []

            def read_until(pred, what):
                nonlocal got, frames
                deadline = time.monotonic() + 10.0
                while not pred(frames):
                    self.assertLess(time.monotonic(), deadline, f"no {what}: {frames}")
                    d = s.recv(65536)
                    self.assertTrue(d, f"closed before {what}: {frames}")
                    got += d
                    frames = raw_frames(got)

            def goaways(fs):
                return [int.from_bytes(f[3][:4], "big") & 0x7fffffff for f in fs if f[0] == GOAWAY]

            read_until(lambda fs: goaways(fs), "GOAWAY")
            self.assertEqual(goaways(frames)[0], 0x7fffffff, "the first GOAWAY admits new streams")
            # A stream opened after the notice (sent before the client saw it) is served; the
            # proxy's PING is answered with this write, after the HEADERS.
            enc.send_headers(3, [(":method", "GET"), (":path", "/late"), (":scheme", "http"),
                                 (":authority", "x")], end_stream=True)
            pings = [f for f in frames if f[0] == 0x6 and not f[1] & 0x1]
            self.assertTrue(pings, f"no PING with the notice: {frames}")
            ack = (8).to_bytes(3, "big") + bytes([0x6, 0x1]) + (0).to_bytes(4, "big") + pings[0][3]
            s.sendall(enc.data_to_send() + ack)
            read_until(lambda fs: len(goaways(fs)) >= 2, "final GOAWAY")
            self.assertEqual(goaways(frames)[1], 3, frames)
            read_until(lambda fs: sum(1 for f in fs if f[0] == 0x1 and f[2] in (1, 3)) >= 2,
                       "answers on streams 1 and 3")
        self.assertEqual(sorted(h.target for h in u.heads), ["/first", "/late"])
        self.assertEqual(p.wait(15.0), 0, p.log_text())

    def test_rapid_reset_flood_ends_the_connection(self):
        if h2 is None:
            self.skipTest("python3-h2 is not installed")
        u = self.upstream("u")
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}])
        admin = self.admin(p)
        bystander = self.h2(p.port)
        self.assertEqual(bystander.get("/before").status, 200)

        pairs = 1000
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        for i in range(pairs):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":path", f"/flood/{i}"),
                                    (":scheme", "http"), (":authority", "x")])
            conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        payload = conn.data_to_send()
        got = b""
        with socket.create_connection((LOOPBACK, p.port), timeout=10.0) as s:
            try:
                s.sendall(payload)
            except OSError:
                pass  # the proxy may close before reading everything
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                try:
                    d = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not d:
                    break
                got += d
        goaways = [(int.from_bytes(f[3][4:8], "big")) for f in raw_frames(got) if f[0] == GOAWAY]
        self.assertIn(ENHANCE_YOUR_CALM, goaways, f"GOAWAY codes {goaways}")

        wait_until(lambda: (admin.value("spillway_http2_goaway_total", reason="rapid_reset")
                            or 0) >= 1, 5.0, "spillway_http2_goaway_total{reason=rapid_reset}")
        self.assertGreaterEqual(admin.value("spillway_http2_abuse_total", reason="rapid_reset"), 1)
        time.sleep(0.5)
        flood = [h for h in u.heads if h.target.startswith("/flood/")]
        self.assertLess(len(flood), pairs // 2, "most of the flood reached the upstream")
        st = bystander.get("/after")
        self.assertEqual(st.status, 200, st)
        self.assertIsNone(bystander.goaway)
        self.assertNothingInFlight(admin, 5.0)
