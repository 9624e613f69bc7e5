"""HTTP/2 connections over their lifetime: a graceful drain sends GOAWAY and lets streams in
flight finish; a rapid-reset flood (CVE-2023-44487) ends the connection with GOAWAY
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
