"""TLS on the listeners (`listeners[].tls`): HTTP/2 or HTTP/1.1 by ALPN, only HTTP/1.1 where
`http2` is off, X-Forwarded-Proto https upstream, TLS 1.2 and 1.3 accepted and older versions
refused, sessions resumed whichever worker takes the next connection, failed handshakes counted
without disturbing other clients, and certificates replaced by a reload while connections made with
the old one keep working."""

import hashlib
import os
import socket
import ssl
import time

from harness import Reader, build_request, read_response
from h2support import (LOOPBACK, H2Client, H2TestCase, admin_post, client_tls, cluster, curl,
                       h1_over, route, tls_connect, wait_until)


class TlsTest(H2TestCase):
    def tls_proxy(self, ups, cert_path, key_path):
        tls = {"certificate": cert_path, "private_key": key_path}
        return self.h2proxy([cluster("c", ups)], [route("r", "c")],
                            [{"http2": True, "tls": tls}, {"tls": tls}])

    def test_alpn_picks_the_protocol_and_upstream_sees_https(self):
        cert = self.cert("server", "spillway-test")
        u = self.upstream("u")
        p = self.tls_proxy([u], cert.cert, cert.key)
        h2port, h1port = p.ports

        rc, head, body, version, err = curl(["--http2", "--cacert", cert.cert,
                                             f"https://127.0.0.1:{h2port}/alpn-h2"])
        self.assertEqual((rc, version, body), (0, "2", b"u GET /alpn-h2"), err + head)
        rc, head, body, version, err = curl(["--http1.1", "--cacert", cert.cert,
                                             f"https://127.0.0.1:{h2port}/alpn-h1"])
        self.assertEqual((rc, version, body), (0, "1.1", b"u GET /alpn-h1"), err + head)
        rc, head, body, version, err = curl(["--http2", "--cacert", cert.cert,
                                             f"https://127.0.0.1:{h1port}/no-h2"])
        self.assertEqual((rc, version, body), (0, "1.1", b"u GET /no-h2"), err + head)

        # What each listener selects for a client offering both, or only h2.
        for port, offer, expected in ((h2port, ("h2", "http/1.1"), "h2"),
                                      (h2port, ("http/1.1",), "http/1.1"),
                                      (h1port, ("h2", "http/1.1"), "http/1.1")):
            s = tls_connect(port, client_tls(alpn=offer, cafile=cert.cert))
            try:
                self.assertEqual(s.selected_alpn_protocol(), expected, (port, offer))
            finally:
                s.close()
        s = tls_connect(h1port, client_tls(alpn=("h2",)))
        try:
            self.assertNotEqual(s.selected_alpn_protocol(), "h2")
            r = h1_over(s, "/h2-refused")
            self.assertEqual(r.status, 200, r.describe())
        finally:
            s.close()

        c = self.h2(h2port, tls=client_tls(alpn=("h2",), cafile=cert.cert))
        st = c.get("/python-h2")
        self.assertEqual((st.status, st.body), (200, b"u GET /python-h2"), st)

        by_target = {r.target: r for r in u.requests}
        for target, via in (("/alpn-h2", "2"), ("/python-h2", "2"), ("/alpn-h1", "1.1"),
                            ("/no-h2", "1.1"), ("/h2-refused", "1.1")):
            r = by_target[target]
            self.assertEqual(r.header("x-forwarded-proto"), "https", r.describe())
            self.assertRegex(r.header("via", ""), rf"(^|[ ,]){via} spillway", r.describe())
        admin = self.admin(p)
        self.assertGreaterEqual(admin.value("spillway_tls_handshakes_total", result="ok"), 8)
        self.assertGreaterEqual(admin.value("spillway_http2_connections_total"), 2)

    def test_sessions_resume_across_connections_and_workers(self):
        # One TLS context per listener, shared by the workers: a session (TLS 1.2 session id or
        # ticket, TLS 1.3 PSK ticket) made on one worker resumes on any other, so reconnecting
        # clients skip the full handshake whichever SO_REUSEPORT socket takes them.
        cert = self.cert("server", "spillway-test")
        u = self.upstream("u")
        tls = {"certificate": cert.cert, "private_key": cert.key}
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"tls": tls}],
                         top={"workers": 2})
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_tls(alpn=("http/1.1",), cafile=cert.cert, min_version=version,
                             max_version=version)
            session, reused = None, []
            for i in range(8):
                s = ctx.wrap_socket(socket.create_connection((LOOPBACK, p.port), timeout=10),
                                    server_hostname="localhost", session=session)
                try:
                    r = h1_over(s, f"/resume/{i}")  # TLS 1.3 tickets arrive after the handshake
                    self.assertEqual(r.status, 200, r.describe())
                    reused.append(s.session_reused)
                    session = s.session
                finally:
                    s.close()
            self.assertEqual(reused, [False] + [True] * 7, f"{version}: resumed {reused}")

    def test_tls12_and_tls13_accepted_tls11_refused(self):
        cert = self.cert("server", "spillway-test")
        u = self.upstream("u")
        p = self.tls_proxy([u], cert.cert, cert.key)
        admin = self.admin(p)

        for max_version, expected in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (None, "TLSv1.3")):
            s = tls_connect(p.port, client_tls(alpn=("http/1.1",), cafile=cert.cert,
                                               max_version=max_version))
            try:
                self.assertEqual(s.version(), expected)
                r = h1_over(s, f"/{expected}")
                self.assertEqual((r.status, r.body), (200, f"u GET /{expected}".encode()),
                                 r.describe())
            finally:
                s.close()

        failed0 = admin.value("spillway_tls_handshakes_total", result="failed")
        old = client_tls(alpn=("http/1.1",), min_version=ssl.TLSVersion.TLSv1_1,
                         max_version=ssl.TLSVersion.TLSv1_1, ciphers="DEFAULT:@SECLEVEL=0")
        with self.assertRaises(ssl.SSLError) as cm:
            s = tls_connect(p.port, old)
            s.close()
        why = str(cm.exception).upper().replace(" ", "_")
        if "NO_PROTOCOLS_AVAILABLE" in why or "UNSUPPORTED_PROTOCOL" in why:
            self.skipTest(f"this client cannot offer TLS 1.1: {cm.exception}")
        # The server refused the version (an alert), not the client's own library.
        self.assertIn("PROTOCOL_VERSION", why, str(cm.exception))
        admin.wait_value("spillway_tls_handshakes_total", failed0 + 1, 5.0,
                         "after a TLS 1.1 handshake", result="failed")
        self.assertEqual([r.target for r in u.requests], ["/TLSv1.2", "/TLSv1.3"])

    def test_garbage_handshakes_are_counted_and_harm_nobody(self):
        cert = self.cert("server", "spillway-test")
        u = self.upstream("u")
        p = self.tls_proxy([u], cert.cert, cert.key)
        admin = self.admin(p)
        existing = self.h2(p.port, tls=client_tls(alpn=("h2",), cafile=cert.cert))
        self.assertEqual(existing.get("/before").status, 200)
        failed0 = admin.value("spillway_tls_handshakes_total", result="failed")
        ok0 = admin.value("spillway_tls_handshakes_total", result="ok")

        garbage = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                   b"\x16\x03\x01\x00\x40" + bytes(range(64)),
                   b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]
        for g in garbage:
            with socket.create_connection((LOOPBACK, p.port), timeout=5.0) as s:
                s.sendall(g)
                got = b""
                deadline = time.monotonic() + 5.0
                while time.monotonic() < deadline:
                    try:
                        d = s.recv(4096)
                    except ConnectionResetError:
                        d = b""
                    if not d:
                        break
                    got += d
                else:
                    self.fail(f"connection kept open after {g[:20]!r}")
                self.assertNotIn(b"HTTP/", got, f"plaintext answer to {g[:20]!r}")
        admin.wait_value("spillway_tls_handshakes_total", failed0 + len(garbage), 5.0,
                         "after the garbage handshakes", result="failed")
        self.assertEqual(admin.value("spillway_tls_handshakes_total", result="ok"), ok0)

        self.assertEqual(existing.get("/after").status, 200)
        rc, head, body, version, err = curl(["--http2", "--cacert", cert.cert,
                                             f"https://127.0.0.1:{p.port}/new"])
        self.assertEqual((rc, version, body), (0, "2", b"u GET /new"), err + head)
        self.assertEqual([r.target for r in u.requests], ["/before", "/after", "/new"])

    def test_certificate_reload(self):
        a = self.cert("a", "spillway-a")
        b = self.cert("b", "spillway-b")
        self.assertNotEqual(a.der, b.der)
        live_cert = os.path.join(self.dir, "live.crt")
        live_key = os.path.join(self.dir, "live.key")
        a.install_as(live_cert, live_key)
        u = self.upstream("u")
        p = self.tls_proxy([u], live_cert, live_key)
        admin = self.admin(p)

        old = self.h2(p.port, tls=client_tls(alpn=("h2",), cafile=a.cert))
        self.assertEqual(old.get("/one").status, 200)
        self.assertEqual(old.sock.getpeercert(binary_form=True), a.der)

        b.install_as(live_cert, live_key)
        status, text = admin_post(p, "/admin/reload")
        self.assertEqual(status, 200, text)
        new = self.h2(p.port, tls=client_tls(alpn=("h2",), cafile=b.cert))
        self.assertEqual(new.sock.getpeercert(binary_form=True), b.der, "old certificate served")
        self.assertEqual(new.get("/two").status, 200)
        rc, head, body, version, err = curl(["--http1.1", "--cacert", b.cert,
                                             f"https://127.0.0.1:{p.ports[1]}/three"])
        self.assertEqual((rc, body), (0, b"u GET /three"), err + head)
        # The connection made with the old certificate goes on.
        st = old.get("/four")
        self.assertEqual(st.status, 200, st)

        # A broken certificate file fails the reload, naming the file; b stays in use.
        errors0 = admin.value("spillway_config_reloads_total", result="error") or 0
        with open(live_cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                    "-----END CERTIFICATE-----\n")
        status, text = admin_post(p, "/admin/reload")
        self.assertEqual(status, 400, text)
        self.assertIn(live_cert, text)
        self.assertEqual(admin.value("spillway_config_reloads_total", result="error"), errors0 + 1)
        # A key that does not match the certificate fails it too.
        a.install_as(live_cert, live_key + ".unused")
        with open(b.key) as f:
            key_b = f.read()
        with open(live_key, "w") as f:
            f.write(key_b)
        status, text = admin_post(p, "/admin/reload")
        self.assertEqual(status, 400, text)
        self.assertIn(live_key, text)

        after = H2Client(p.port, tls=client_tls(alpn=("h2",), cafile=b.cert))
        try:
            self.assertEqual(after.sock.getpeercert(binary_form=True), b.der)
            self.assertEqual(after.get("/five").status, 200)
        finally:
            after.close()
        self.assertEqual(new.get("/six").status, 200)
        self.assertEqual(old.get("/seven").status, 200)
        self.assertTrue(p.alive())
        wait_until(lambda: len(u.requests) >= 7, 5.0, "7 requests upstream")

    def test_large_bodies_intact_over_tls(self):
        download = os.urandom(3 * 1024 * 1024)

        def handler(req, conn):
            if req.target.startswith("/down"):
                return conn.respond(200, download)
            return conn.respond(200, hashlib.sha256(req.body).hexdigest())

        cert = self.cert("server", "spillway-test")
        u = self.upstream("u", handler)
        p = self.tls_proxy([u], cert.cert, cert.key)
        upload = os.urandom(2 * 1024 * 1024)
        digest = hashlib.sha256(upload).hexdigest().encode()

        c = self.h2(p.port, tls=client_tls(alpn=("h2",), cafile=cert.cert))
        down, up = c.wait_done([c.request("GET", "/down"), c.request("PUT", "/up", body=upload)],
                               60.0)
        self.assertEqual(down.status, 200, down)
        self.assertEqual(len(down.body), len(download))
        self.assertTrue(down.body == download, "download differs over h2/TLS")
        self.assertEqual((up.status, up.body), (200, digest), up)

        s = tls_connect(p.ports[1], client_tls(alpn=("http/1.1",), cafile=cert.cert))
        try:
            s.sendall(build_request("PUT", "/up1", body=upload, host="localhost"))
            reader = Reader(s)
            r = read_response(reader, time.monotonic() + 30.0)
            self.assertEqual((r.status, r.body), (200, digest), r.describe())
            s.sendall(build_request("GET", "/down1", host="localhost"))
            r = read_response(reader, time.monotonic() + 30.0)
            self.assertEqual(r.status, 200, r.describe())
            self.assertTrue(r.body == download, "download differs over HTTP/1.1/TLS")
        finally:
            s.close()

    def test_silent_client_dropped_at_the_header_timeout(self):
        cert = self.cert("server", "spillway-test")
        u = self.upstream("u")
        tls = {"certificate": cert.cert, "private_key": cert.key}
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")],
                         [{"http2": True, "tls": tls,
                           "timeouts": {"header": "1s", "idle": "20s"}}])
        admin = self.admin(p)
        failed0 = admin.value("spillway_tls_handshakes_total", result="failed")
        silent = [socket.create_connection((LOOPBACK, p.port), timeout=10.0) for _ in range(3)]
        try:
            t0 = time.monotonic()
            # Others get through meanwhile.
            rc, head, body, version, err = curl(["--http2", "--cacert", cert.cert,
                                                 f"https://127.0.0.1:{p.port}/meanwhile"])
            self.assertEqual((rc, version, body), (0, "2", b"u GET /meanwhile"), err + head)
            for s in silent:
                try:
                    self.assertEqual(s.recv(10), b"", "bytes sent to a client that sent none")
                except ConnectionResetError:
                    pass
            took = time.monotonic() - t0
            self.assertLess(took, 6.0, f"silent connections held {took:.1f}s with header: 1s")
        finally:
            for s in silent:
                s.close()
        admin.wait_value("spillway_tls_handshakes_total", failed0 + 3, 5.0,
                         "after 3 silent connections", result="failed")
