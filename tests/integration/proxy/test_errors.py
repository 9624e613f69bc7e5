"""Proxy-generated errors and listener limits: upstream down (502), first-byte timeout (504),
oversized header (431) and body (413), slow header senders, max_connections, and requests the
proxy must refuse before anything reaches an upstream (SPEC §2.2 Limits and bad input)."""

import socket
import time
import unittest

from harness import (ProxyTestCase, Client, build_request, chunked, closed_port, cluster, route)


class UpstreamErrorTest(ProxyTestCase):
    def test_upstream_down_502(self):
        p = self.proxy([cluster("engines", [f"127.0.0.1:{closed_port()}"])],
                       [route("default", "engines")])
        c = self.client(p)
        t0 = time.monotonic()
        r = c.request("POST", "/v1/completions", [("Content-Type", "application/json")], b"{}")
        self.assertOpenAIError(r, 502)
        self.assertLess(time.monotonic() - t0, 3.0, "a refused connect must fail fast")
        # After its own error the proxy either says it closes, and does, or keeps serving.
        if (r.header("connection") or "").lower() == "close":
            self.assertTrue(c.closed_within(2.0), "Connection: close announced but kept open")
        else:
            self.assertOpenAIError(c.request("GET", "/again"), 502)

    def test_first_byte_timeout_504(self):
        def silent(req, conn):
            conn.wait_peer_close(10.0)
            return False

        u = self.upstream("slow", silent)
        p = self.proxy([cluster("engines", [u])],
                       [route("default", "engines", timeouts={"first_byte": "700ms", "idle": "5s"})])
        c = self.client(p, timeout=8.0)
        t0 = time.monotonic()
        r = c.request("GET", "/slow")
        elapsed = time.monotonic() - t0
        self.assertOpenAIError(r, 504)
        self.assertGreaterEqual(elapsed, 0.6, "504 before first_byte elapsed")
        self.assertLess(elapsed, 3.0, f"504 came {elapsed:.2f}s after the request (first_byte 700ms)")
        self.assertEqual(len(u.requests), 1)
        self.assertTrue(u.connections[0].wait_peer_close(2.0),
                        "the timed-out upstream connection was not closed")

    def test_idle_timeout_mid_response(self):
        def stall(req, conn):
            conn.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + "x" * 10)
            conn.wait_peer_close(10.0)
            return False

        u = self.upstream("stall", stall)
        p = self.proxy([cluster("engines", [u])],
                       [route("default", "engines", timeouts={"first_byte": "2s", "idle": "700ms"})])
        c = self.client(p, timeout=6.0)
        c.send(build_request("GET", "/stall"))
        t0 = time.monotonic()
        # Headers were sent already: the only honest signal left is closing the connection.
        head = c.reader.read_until(b"\r\n\r\n", time.monotonic() + 3)
        self.assertIsNotNone(head)
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        self.assertTrue(c.closed_within(3.0),
                        "client connection not closed after the upstream went idle (idle 700ms)")
        self.assertLess(time.monotonic() - t0, 3.5)
        self.assertLess(len(c.reader.drained), 100, "truncated response passed off as complete")
        self.assertTrue(u.connections[0].wait_peer_close(2.0))


class UpstreamMisbehaviourTest(ProxyTestCase):
    """Upstreams that break the protocol or vanish: the client gets a clean error, never a
    corrupted or hanging answer."""

    def make(self, handler, **route_extra):
        self.u = self.upstream("bad", handler)
        self.p = self.proxy([cluster("engines", [self.u])], [route("default", "engines", **route_extra)])
        return self.client(self.p, timeout=6.0)

    def test_upstream_closes_without_answer_502(self):
        c = self.make(lambda req, conn: False)
        r = c.request("GET", "/vanish")
        self.assertOpenAIError(r, 502)

    def test_upstream_garbage_status_line_502(self):
        def handler(req, conn):
            conn.send("HTTP/1.1 2x0 Nope\r\nContent-Length: 2\r\n\r\nok")
            return False

        c = self.make(handler)
        self.assertOpenAIError(c.request("GET", "/garbage"), 502)

    def test_upstream_response_cl_and_te_not_passed_on(self):
        def handler(req, conn):
            conn.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "b\r\nhello world\r\n0\r\n\r\n")
            return False

        c = self.make(handler)
        r = c.request("GET", "/both")
        self.assertIsNotNone(r)
        self.assertFalse(r.has_header("content-length") and r.has_header("transfer-encoding"),
                         "both framings passed to the client: " + r.describe())
        if r.status == 200:
            self.assertEqual(r.body, b"hello world", "Transfer-Encoding must win: " + r.describe())
        else:
            self.assertEqual(r.status, 502, r.describe())

    def test_close_delimited_response_reframed(self):
        body = b"no length, ends at close " * 100

        def handler(req, conn):
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
            return False

        c = self.make(handler)
        r = c.request("GET", "/eof-body")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)
        if r.chunked or r.has_header("content-length"):
            r2 = c.request("GET", "/next")  # still in sync
            self.assertIsNotNone(r2)
            self.assertEqual(r2.body, body)
        else:
            self.assertTrue(c.closed_within(1.0))

    def test_truncated_upstream_body_not_passed_off_as_complete(self):
        def handler(req, conn):
            conn.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + "z" * 300)
            return False  # closes 700 bytes short

        c = self.make(handler)
        c.send(build_request("GET", "/short"))
        head = c.reader.read_until(b"\r\n\r\n", time.monotonic() + 3)
        self.assertIsNotNone(head, "no answer at all")
        if b" 200 " in head.split(b"\r\n")[0]:
            # Headers went out already: the client must see the cut as a closed connection.
            self.assertTrue(c.closed_within(3.0), "client left waiting for the missing bytes")
            self.assertLess(len(c.reader.drained), 1000)
        else:
            self.assertIn(b" 502 ", head.split(b"\r\n")[0])

    def test_stale_pooled_connection_retried(self):
        def handler(req, conn):
            conn.respond(200, b"fresh " + req.target.encode())
            time.sleep(0.05)
            return False  # closes the kept-alive connection without saying so

        c = self.make(handler)
        self.assertEqual(c.request("GET", "/one").status, 200)
        time.sleep(0.3)  # the pooled upstream connection is dead by now
        r = c.request("GET", "/two")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, "a request on a connection the upstream closed while idle "
                         "must be retried on a new one: " + r.describe())
        self.assertEqual(r.body, b"fresh /two")

    def test_multiple_set_cookie_kept_apart(self):
        def handler(req, conn):
            conn.respond(200, b"c", [("Set-Cookie", "a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT"),
                                     ("Set-Cookie", "b=2; HttpOnly")])

        c = self.make(handler)
        r = c.request("GET", "/cookies")
        self.assertEqual(r.header_all("set-cookie"),
                         ["a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT", "b=2; HttpOnly"])

    def test_no_body_statuses_keep_sync(self):
        statuses = iter([204, 304, 200])

        def handler(req, conn):
            st = next(statuses)
            if st == 200:
                conn.respond(200, b"body after")
            else:
                conn.send(f"HTTP/1.1 {st} X\r\nETag: \"e\"\r\n\r\n")

        c = self.make(handler)
        self.assertEqual(c.request("DELETE", "/a").status, 204)
        self.assertEqual(c.request("GET", "/b", [("If-None-Match", '"e"')]).status, 304)
        r = c.request("GET", "/c")
        self.assertIsNotNone(r)
        self.assertEqual((r.status, r.body), (200, b"body after"))


class RequestHeadersTest(ProxyTestCase):
    def test_repeated_request_headers_preserved(self):
        u = self.upstream("u")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        c = self.client(p)
        r = c.request("GET", "/dup", [("X-Dup", "one"), ("X-Dup", "two"), ("Cookie", "a=1"),
                                       ("Authorization", "Bearer sk-test")])
        self.assertEqual(r.status, 200)
        req = u.requests[0]
        self.assertEqual(",".join(req.header_all("x-dup")).replace(", ", ","), "one,two")
        self.assertEqual(req.header("authorization"), "Bearer sk-test")
        self.assertEqual(req.header("cookie"), "a=1")

    def test_client_connection_close_honoured(self):
        u = self.upstream("u")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        c = self.client(p)
        r = c.request("GET", "/bye", [("Connection", "close")])
        self.assertEqual(r.status, 200)
        self.assertEqual((r.header("connection") or "").lower(), "close", r.describe())
        self.assertTrue(c.closed_within(2.0))
        # The client's Connection: close is not sent upstream as a reason to drop the pool.
        self.assertNotIn("close", (u.requests[0].header("connection") or "").lower())


class LimitsTest(ProxyTestCase):
    def setUp(self):
        self.u = self.upstream("u1")
        self.p = self.proxy([cluster("engines", [self.u])], [route("default", "engines")],
                            listener={"limits": {"max_header_bytes": "8KiB", "max_body_bytes": "1MiB",
                                                 "max_connections": 3},
                                      "timeouts": {"header": "1s", "idle": "10s"}})

    def test_header_too_large_431(self):
        c = self.client(self.p)
        r = c.request("GET", "/big-header", [("X-Big", "a" * 16 * 1024)])
        self.assertIsNotNone(r, "closed without a response")
        self.assertEqual(r.status, 431, r.describe())
        self.assertEqual(len(self.u.requests), 0, "oversized request reached the upstream")

    def test_many_headers_too_large_431(self):
        c = self.client(self.p)
        r = c.request("GET", "/many", [(f"X-H{i}", "v" * 60) for i in range(300)])
        self.assertIsNotNone(r, "closed without a response")
        self.assertEqual(r.status, 431, r.describe())
        self.assertEqual(len(self.u.requests), 0)

    def test_header_just_under_limit_passes(self):
        c = self.client(self.p)
        r = c.request("GET", "/fits", [("X-Fits", "a" * 6000)])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.u.requests[0].header("x-fits"), "a" * 6000)

    def test_body_too_large_413(self):
        c = self.client(self.p)
        c.send(build_request("POST", "/upload", [("Content-Length", str(2 * 1024 * 1024))]))
        c.send(b"x" * 65536)  # part of the body; the rest is never sent
        r = c.read_response("POST")
        self.assertIsNotNone(r, "closed without a response")
        self.assertEqual(r.status, 413, r.describe())
        time.sleep(0.2)
        self.assertEqual(len(self.u.requests), 0, "oversized body announced by Content-Length "
                         "reached the upstream: " + (self.u.requests[0].describe() if self.u.requests else ""))

    def test_chunked_body_too_large(self):
        c = self.client(self.p, timeout=5.0)
        c.send(build_request("POST", "/upload-chunked", [("Transfer-Encoding", "chunked")]))
        status = None
        try:
            for _ in range(40):  # 40 x 64 KiB = 2.5 MiB > 1 MiB
                c.send(b"10000\r\n" + b"y" * 0x10000 + b"\r\n")
            c.send(b"0\r\n\r\n")
        except OSError:
            pass  # the proxy closed on us: allowed
        try:
            r = c.read_response("POST")
            status = r.status if r else None
        except (TimeoutError, OSError):
            status = None
        self.assertIn(status, (413, None), "an over-limit chunked body must get 413 or a closed "
                      f"connection, got {status}")
        # Whatever reached the upstream is not a complete request with the over-limit body.
        for req in self.u.requests:
            self.assertFalse(req.complete and len(req.body) > 1024 * 1024,
                             "over-limit chunked body delivered whole upstream")

    def test_slow_header_sender_cut_off(self):
        c = self.client(self.p, timeout=5.0)
        head = build_request("GET", "/slowloris", [("X-Slow", "z" * 40)])
        t0 = time.monotonic()
        closed_at = None
        for b in head[:-4]:  # never finish the head
            try:
                c.send(bytes([b]))
            except OSError:
                closed_at = time.monotonic()
                break
            if c.closed_within(0.1):
                closed_at = time.monotonic()
                break
            if time.monotonic() - t0 > 4.0:
                break
        if closed_at is None and c.closed_within(0.5):
            closed_at = time.monotonic()
        self.assertIsNotNone(closed_at, "slow header sender still connected after 4 s "
                             "(header timeout 1 s)")
        self.assertLess(closed_at - t0, 2.5, f"cut off only after {closed_at - t0:.2f}s")
        self.assertGreaterEqual(closed_at - t0, 0.8, "cut off before the header timeout")
        self.assertEqual(len(self.u.requests), 0)

    def test_idle_keepalive_timeout(self):
        p = self.proxy([cluster("engines", [self.u])], [route("default", "engines")],
                       listener={"timeouts": {"header": "5s", "idle": "1s"}})
        c = self.client(p)
        self.assertEqual(c.request("GET", "/once").status, 200)
        t0 = time.monotonic()
        self.assertTrue(c.closed_within(3.0), "idle keep-alive connection not closed (idle 1 s)")
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)

    def test_max_connections(self):
        held = []
        for i in range(3):
            c = self.client(self.p)
            r = c.request("GET", f"/held/{i}")
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200)
            held.append(c)
        # A fourth connection beyond max_connections 3 is refused, closed or left unanswered.
        extra_ok = False
        x = None
        try:
            x = Client(self.p.port, timeout=2.0)
            r = x.request("GET", "/extra")
            extra_ok = r is not None and r.status == 200
        except (TimeoutError, OSError):
            pass
        finally:
            if x:
                x.close()  # else it waits in the backlog and takes the slot freed below
        self.assertFalse(extra_ok, "a connection beyond max_connections was served")
        self.assertNotIn("/extra", [q.target for q in self.u.requests])
        # Closing one of the held connections makes room again.
        held[0].close()
        deadline = time.monotonic() + 3.0
        served = False
        while time.monotonic() < deadline and not served:
            try:
                y = Client(self.p.port, timeout=1.0)
                self.addCleanup(y.close)
                r = y.request("GET", "/after-close")
                served = r is not None and r.status == 200
            except (TimeoutError, OSError):
                time.sleep(0.1)
        self.assertTrue(served, "no new connection served after one was closed")
        self.assertTrue(self.p.alive())


class MalformedTest(ProxyTestCase):
    """Requests refused before anything reaches the upstream (the vtc suite covers more)."""

    def setUp(self):
        self.u = self.upstream("u1")
        self.p = self.proxy([cluster("engines", [self.u])], [route("default", "engines")])

    def refused(self, raw, statuses=(400,)):
        c = self.client(self.p, timeout=3.0)
        c.send(raw)
        try:
            r = c.read_response()
        except (TimeoutError, ValueError) as e:
            self.fail(f"no clean answer: {e}")
        self.assertIsNotNone(r, "connection closed without a status")
        self.assertIn(r.status, statuses, r.describe())
        self.assertTrue(c.closed_within(2.0), "connection kept open after a framing error")
        time.sleep(0.1)
        self.assertEqual(len(self.u.requests), 0, "refused request reached the upstream: "
                         + (self.u.requests[0].describe() if self.u.requests else ""))
        return r

    def test_cl_and_te_smuggling(self):
        self.refused(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")

    def test_absolute_form_foreign_host_refused(self):
        c = self.client(self.p, timeout=3.0)
        c.send(b"GET http://evil.example/steal HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        r = c.read_response()
        self.assertIsNotNone(r)
        self.assertTrue(400 <= r.status < 500, "open proxy: " + r.describe())
        self.assertEqual(len(self.u.requests), 0)

    def test_absolute_form_own_host_consistent(self):
        own = f"127.0.0.1:{self.p.port}"
        results = []
        for i in range(2):
            c = self.client(self.p, timeout=3.0)
            c.send(f"GET http://{own}/own/{i}?q=1 HTTP/1.1\r\nHost: {own}\r\n\r\n".encode())
            r = c.read_response()
            self.assertIsNotNone(r)
            results.append(r.status)
        self.assertEqual(results[0], results[1])
        if results[0] == 200:
            # Accepted: the upstream gets origin-form.
            self.assertEqual([q.target for q in self.u.requests], ["/own/0?q=1", "/own/1?q=1"])
        else:
            self.assertTrue(400 <= results[0] < 500, results)
            self.assertEqual(len(self.u.requests), 0)

    def test_http10_request(self):
        c = self.client(self.p, timeout=3.0)
        c.send(b"GET /ten HTTP/1.0\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"u1 GET /ten")
        self.assertEqual(self.u.requests[0].target, "/ten")
        self.assertTrue(c.closed_within(2.0), "HTTP/1.0 without keep-alive must be closed")

    def test_via_names_http10_client_protocol(self):
        c = self.client(self.p, timeout=3.0)
        c.send(b"GET /ten-via HTTP/1.0\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        via = self.u.requests[0].header("via") or ""
        # RFC 9110 7.6.3: received-protocol is the version the proxy received.
        self.assertRegex(via, r"^(HTTP/)?1\.0 ", via)

    def test_h2_preface_on_http1_listener(self):
        c = self.client(self.p, timeout=3.0)
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        try:
            r = c.read_response()
        except (TimeoutError, ValueError):
            r = None
        if r is not None:
            self.assertTrue(400 <= r.status < 600 and r.status not in (502, 503, 504), r.describe())
        self.assertTrue(c.closed_within(2.0), "connection kept open after an HTTP/2 preface")
        self.assertEqual(len(self.u.requests), 0)

    def test_request_target_too_long(self):
        c = self.client(self.p, timeout=3.0)
        c.send(b"GET /" + b"a" * (16 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            r = c.read_response()
        except (TimeoutError, ValueError):
            r = None
        self.assertIsNotNone(r, "closed without a status")
        self.assertIn(r.status, (400, 414, 431), r.describe())
        self.assertEqual(len(self.u.requests), 0)

    def test_other_clients_undisturbed(self):
        good = self.client(self.p)
        self.assertEqual(good.request("GET", "/before").status, 200)
        for raw in [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
                    b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n"]:
            try:
                s = socket.create_connection(("127.0.0.1", self.p.port), timeout=2)
                s.sendall(raw)
                s.settimeout(2)
                try:
                    s.recv(4096)
                except OSError:
                    pass
                s.close()
            except OSError:
                pass
        r = good.request("GET", "/after")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200)
        self.assertEqual([q.target for q in self.u.requests], ["/before", "/after"])


if __name__ == "__main__":
    unittest.main()
