"""HTTP/2 over plaintext with prior knowledge (`listeners[].http2: true`): requests reach the
upstream as HTTP/1.1 with the client's method, path, fields and exact body; HTTP/1.1 still works
on the same port; event streams arrive event by event; many streams on one connection spread over
the cluster; response trailers become HTTP/2 trailers; requests HTTP/2 forbids never reach an
upstream."""

import json
import os
import sys
import time

from h2support import (LOOPBACK, Counter, H2TestCase, chunked, cluster, curl, need_tool, route,
                       run_tool)

EVENTS = 5
EVENT_GAP = 0.4


def sse_upstream_handler(sent_at):
    """An event stream of EVENTS events EVENT_GAP apart, then [DONE]; appends each send time."""

    def handle(req, conn):
        conn.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(EVENTS):
            ev = ('data: ' + json.dumps({"index": i}) + "\n\n").encode()
            sent_at.append(time.monotonic())
            if not conn.send(b"%x\r\n%s\r\n" % (len(ev), ev)):
                return False
            time.sleep(EVENT_GAP)
        done = b"data: [DONE]\n\n"
        sent_at.append(time.monotonic())
        conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        return True

    return handle


class H2cTest(H2TestCase):
    def test_get_and_post_reach_upstream_exactly_and_http1_shares_the_port(self):
        u = self.upstream("u")
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}])
        c = self.h2(p.port)

        st = c.get("/get/x?q=1", [("x-test", "one"), ("accept", "text/plain")])
        self.assertEqual(st.status, 200, st)
        self.assertEqual(st.body, b"u GET /get/x?q=1", st)

        # Binary, larger than the initial 64 KiB stream window, with and without content-length.
        body = bytes(range(256)) * 300 + b"end"
        sid_a = c.request("POST", "/post/a", [("content-type", "application/octet-stream"),
                                              ("x-test", "two")], body=body)
        sid_b = c.request("PUT", "/post/b", [("content-length", str(len(body)))], body=body)
        a, b = c.wait_done([sid_a, sid_b])
        self.assertEqual((a.status, b.status), (200, 200), (a, b))
        self.assertEqual(b.body, b"u PUT /post/b", b)

        self.assertTrue(u.wait_requests(3, 10.0), u.errors)
        by_target = {r.target: r for r in u.requests}
        g = by_target["/get/x?q=1"]
        self.assertEqual((g.method, g.version), ("GET", "HTTP/1.1"), g.describe())
        self.assertEqual(g.header("x-test"), "one", g.describe())
        self.assertEqual(g.header("host"), f"{LOOPBACK}:{p.port}", g.describe())
        self.assertRegex(g.header("via", ""), r"(^|[ ,])2 spillway", g.describe())
        self.assertEqual(g.header("x-forwarded-proto"), "http", g.describe())
        self.assertIn(LOOPBACK, g.header("x-forwarded-for", ""), g.describe())
        self.assertFalse(g.body, g.describe())
        for target, method in (("/post/a", "POST"), ("/post/b", "PUT")):
            r = by_target[target]
            self.assertEqual(r.method, method, r.describe())
            self.assertTrue(r.complete, r.describe())
            self.assertEqual(len(r.body), len(body), r.describe())
            self.assertEqual(r.body, body, f"{target}: body differs upstream")
        self.assertEqual(by_target["/post/a"].header("x-test"), "two")
        self.assertEqual(by_target["/post/b"].header("content-length"), str(len(body)))

        # curl with prior knowledge, and a plain HTTP/1.1 client, on the same port.
        payload = os.path.join(self.dir, "payload.bin")
        with open(payload, "wb") as f:
            f.write(b"curl-body\x00\x01" * 1000)
        rc, head, out, version, err = curl(["--http2-prior-knowledge", "-X", "POST",
                                            "--data-binary", f"@{payload}",
                                            f"http://{LOOPBACK}:{p.port}/curl"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(version, "2", head)
        self.assertEqual(out, b"u POST /curl")

        h1 = self.client(p)
        r = h1.request("GET", "/h1", host=f"{LOOPBACK}:{p.port}")
        self.assertIsNotNone(r, "no HTTP/1.1 response on the http2 port")
        self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, b"u GET /h1"),
                         r.describe())
        self.assertTrue(u.wait_requests(5, 10.0), u.errors)
        by_target = {r.target: r for r in u.requests}
        with open(payload, "rb") as f:
            self.assertEqual(by_target["/curl"].body, f.read())
        self.assertRegex(by_target["/curl"].header("via", ""), r"(^|[ ,])2 spillway")
        self.assertRegex(by_target["/h1"].header("via", ""), r"(^|[ ,])1\.1 spillway")

        admin = self.admin(p)
        self.assertGreaterEqual(admin.value("spillway_http2_connections_total"), 2)
        self.assertGreaterEqual(admin.value("spillway_http2_streams_total"), 4)

    def test_event_stream_arrives_event_by_event(self):
        sent_at = []
        u = self.upstream("sse", sse_upstream_handler(sent_at))
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}])
        c = self.h2(p.port)
        req = json.dumps({"model": "m", "stream": True,
                          "messages": [{"role": "user", "content": "hi"}]}).encode()
        sid = c.request("POST", "/v1/chat/completions", [("content-type", "application/json"),
                                                         ("accept", "text/event-stream")], req)
        st = c.wait_done(sid, 30.0)[0]
        self.assertEqual(st.status, 200, st)
        self.assertTrue(st.ended, st)
        self.assertIn("text/event-stream", st.header("content-type", ""), st)
        self.assertTrue(st.body.endswith(b"data: [DONE]\n\n"), st)
        events = [e for e in st.body.split(b"\n\n") if e]
        self.assertEqual(events[:-1], [b'data: {"index": %d}' % i for i in range(EVENTS)])

        frames = [(t, d) for t, d in st.data if b"data:" in d]
        self.assertGreaterEqual(len(frames), EVENTS, f"events were batched: {st.data}")
        self.assertEqual(len(sent_at), EVENTS + 1)
        # The first event is in the client's hands well before the upstream sends the last one.
        self.assertLess(frames[0][0], sent_at[-1] - 2 * EVENT_GAP,
                        f"first event at {frames[0][0] - sent_at[0]:.3f}s, last sent at "
                        f"{sent_at[-1] - sent_at[0]:.3f}s")
        self.assertEqual(u.requests[0].body, req)

    def test_engine_event_stream_over_h2c(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "affinity"))
        import engines
        model, tok = engines.make_model(self.dir)
        e = engines.Engine("e1", model, tok, self.dir)
        self.addCleanup(e.stop)
        e.start(timeout=60.0)
        p = self.h2proxy([cluster("engines", [e.address])],
                         [{"name": "r", "match": {"path_prefix": "/"}, "cluster": "engines",
                           "timeouts": {"first_byte": "30s", "idle": "30s"}}],
                         [{"http2": True}])
        c = self.h2(p.port)
        req = json.dumps({"model": "tiny", "stream": True, "max_tokens": 6, "temperature": 0,
                          "messages": [{"role": "user", "content": "hello there"}]}).encode()
        st = c.wait_done(c.request("POST", "/v1/chat/completions",
                                   [("content-type", "application/json")], req), 60.0)[0]
        self.assertEqual(st.status, 200, st)
        self.assertIn("text/event-stream", st.header("content-type", ""), st)
        self.assertEqual(st.header("x-engine-name"), "e1", st)
        events = [e for e in st.body.split(b"\n\n") if e.strip()]
        self.assertEqual(events[-1].strip(), b"data: [DONE]", st)
        chunks = [json.loads(e[len(b"data: "):]) for e in events[:-1]]
        self.assertGreaterEqual(len(chunks), 2, st)
        for ch in chunks:
            self.assertEqual(ch.get("object"), "chat.completion.chunk", ch)

        # curl agrees: HTTP/2, the same framing of the stream.
        rc, head, out, version, err = curl(["--http2-prior-knowledge", "-N", "-H",
                                            "content-type: application/json", "--data-binary",
                                            req.decode(), f"http://{LOOPBACK}:{p.port}"
                                            "/v1/chat/completions"], timeout=60)
        self.assertEqual((rc, version), (0, "2"), err + head)
        self.assertTrue(out.rstrip().endswith(b"data: [DONE]"), out[-300:])

    def test_many_streams_on_one_connection_spread_over_the_cluster(self):
        inflight = Counter()

        def slow(req, conn):
            with inflight:
                time.sleep(0.5)
                return conn.respond(200, f"{conn.upstream.name} {req.target}",
                                    [("X-Upstream", conn.upstream.name)])

        ups = [self.upstream(f"u{i}", slow) for i in range(3)]
        p = self.h2proxy([cluster("c", ups, balancer="round_robin")],
                         [route("r", "c", timeouts={"first_byte": "20s", "idle": "20s"})],
                         [{"http2": True}])
        admin = self.admin(p)
        conns0 = admin.value("spillway_http2_connections_total")
        streams0 = admin.value("spillway_http2_streams_total")

        n = 60
        c = self.h2(p.port)
        sids = [c.request("GET", f"/r/{i}") for i in range(n)]
        done = c.wait_done(sids, 45.0)
        for i, st in enumerate(done):
            self.assertEqual(st.status, 200, st)
            self.assertTrue(st.ended, st)
            self.assertEqual(st.body, f"{st.header('x-upstream')} /r/{i}".encode(), st)
        shares = {u.name: len(u.requests) for u in ups}
        self.assertEqual(sum(shares.values()), n, shares)
        for name, k in shares.items():
            self.assertGreaterEqual(k, n // 6, f"{name} got too small a share: {shares}")
        # Streams were answered side by side, not one after the other.
        self.assertGreaterEqual(inflight.peak, 10, f"at most {inflight.peak} requests at once")
        self.assertEqual(admin.value("spillway_http2_connections_total") - conns0, 1)
        self.assertEqual(admin.value("spillway_http2_streams_total") - streams0, n)

        # nghttp: many requests multiplexed on one connection as well.
        exe = need_tool("nghttp")
        before = sum(len(u.requests) for u in ups)
        rc, out, err = run_tool([exe, "-n", "-s", "-m", "30", "-t", "30",
                                 f"http://{LOOPBACK}:{p.port}/nghttp"], timeout=60)
        self.assertEqual(rc, 0, err + out.decode("utf-8", "replace"))
        self.assertEqual(sum(len(u.requests) for u in ups) - before, 30)
        self.assertEqual(admin.value("spillway_http2_connections_total") - conns0, 2)
        self.assertNothingInFlight(admin, 5.0)

    def test_response_trailers_become_h2_trailers(self):
        def grpc_like(req, conn):
            return conn.send(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nTrailer: grpc-status\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                + chunked([b"\x00\x00\x00\x00\x03abc", b"more"],
                          trailers=[("grpc-status", "0"), ("grpc-message", "fine")]))

        u = self.upstream("g", grpc_like)
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}])
        c = self.h2(p.port)
        st = c.get("/svc/Method", [("te", "trailers"), ("content-type", "application/grpc")])
        self.assertEqual(st.status, 200, st)
        self.assertTrue(st.ended, st)
        self.assertEqual(st.body, b"\x00\x00\x00\x00\x03abcmore", st)
        self.assertIsNone(st.header("grpc-status"), f"grpc-status in the head: {st.headers}")
        self.assertIsNotNone(st.trailers, f"no trailers: {st}")
        trailers = dict(st.trailers)
        self.assertEqual(trailers.get("grpc-status"), "0", st.trailers)
        self.assertEqual(trailers.get("grpc-message"), "fine", st.trailers)
        self.assertFalse(any(n.startswith(":") for n, _ in st.trailers), st.trailers)
        # TE is hop-by-hop: the proxy says it again on its own hop, as it relays trailers.
        up_head = [r for r in u.heads if r.target == "/svc/Method"][0]
        self.assertEqual(up_head.header_all("te"), ["trailers"], up_head.headers)
        self.assertIn("te", (up_head.header("connection") or "").lower(), up_head.headers)

        # An HTTP/1.1 client on the same port gets them in its chunked answer.
        h1 = self.client(p)
        r = h1.request("GET", "/svc/Other", [("TE", "trailers")], host=f"{LOOPBACK}:{p.port}")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(r.chunked and r.complete, r.describe())
        self.assertIn(("grpc-status", "0"), [(n.lower(), v) for n, v in r.trailers], r.trailers)
        self.assertEqual([r.header_all("te") for r in u.heads if r.target == "/svc/Other"],
                         [["trailers"]])
        # Without TE from the client none goes upstream.
        r = h1.request("GET", "/svc/Plain", [("TE", "gzip")], host=f"{LOOPBACK}:{p.port}")
        self.assertEqual(r.status, 200, r.describe())
        plain = [r for r in u.heads if r.target == "/svc/Plain"][0]
        self.assertFalse(plain.has_header("te"), plain.headers)
        self.assertFalse(plain.has_header("connection"), plain.headers)

    def test_requests_http2_forbids_never_reach_upstream(self):
        u = self.upstream("u")
        ucl = self.upstream("ucl")  # the content-length cases, apart
        p = self.h2proxy([cluster("c", [u]), cluster("ccl", [ucl])],
                         [route("cl", "ccl", prefix="/cl/"), route("r", "c")],
                         [{"http2": True}])
        c = self.h2(p.port, validate=False)
        bad = {
            "/bad/connection": [("connection", "keep-alive")],
            "/bad/te-chunked": [("transfer-encoding", "chunked")],
            "/bad/upgrade": [("upgrade", "websocket")],
            "/bad/keep-alive": [("keep-alive", "timeout=5")],
            "/bad/te": [("te", "gzip")],
            "/bad/Upper": [("X-Upper", "1")],
        }
        for path, hdrs in bad.items():
            st = c.wait_done(c.request("GET", path, hdrs))[0]
            self.assertTrue(st.reset is not None or (st.status or 0) // 100 == 4, f"{path}: {st}")

        # Content-length that disagrees with the DATA: fewer bytes, then more bytes.
        short = c.request("POST", "/cl/short", [("content-length", "10")], body=b"hello")
        long_ = c.request("POST", "/cl/long", [("content-length", "3")], body=b"0123456789")
        for st in c.wait_done([short, long_]):
            self.assertTrue(st.reset is not None or (st.status or 0) // 100 == 4, st)

        # The connection is still good, and the upstream saw only the valid request.
        ok = c.get("/good")
        self.assertEqual(ok.status, 200, ok)
        self.assertIsNone(c.goaway, "the proxy ended the connection")
        self.assertEqual([h.target for h in u.heads], ["/good"])
        # A request cut short upstream is not left open as if more were coming, and none of
        # them reached the upstream whole.
        deadline = time.monotonic() + 5.0
        for conn in list(ucl.connections):
            self.assertTrue(conn.wait_peer_close(max(0.1, deadline - time.monotonic())),
                            f"upstream connection {conn.id} left open after the stream's reset")
        self.assertEqual([(r.target, r.body) for r in ucl.requests if r.complete], [])

    def test_heads_passed_as_values_keep_the_http1_checks_and_fields(self):
        # A stream without a body reaches the session as a parsed head, and a Content-Length
        # answer comes back as one: the checks and the field rules of the HTTP/1.1 path hold.
        def answer(req, conn):
            conn.respond(200, b"hello", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"),
                                         ("Connection", "x-hop"), ("X-Hop", "1"),
                                         ("Keep-Alive", "timeout=5"), ("X-Kept", "yes")])

        u = self.upstream("u")
        u.handler = answer
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}])
        c = self.h2(p.port, validate=False)
        st = c.get("/plain?x=1", [("x-request-id", "rid-1"), ("cookie", "a=1"),
                                  ("cookie", "b=2")])
        self.assertEqual((st.status, st.body), (200, b"hello"), st)
        self.assertEqual(st.header("x-request-id"), "rid-1", st)
        self.assertEqual(st.header("set-cookie"), "a=1", st)
        self.assertEqual(st.header("x-kept"), "yes", st)
        self.assertEqual(st.header("content-length"), "5", st)
        self.assertIsNone(st.header("x-hop"), st)
        self.assertIsNone(st.header("keep-alive"), st)
        # Requests nghttp2 lets through but an HTTP/1.1 parser refuses: never forwarded.
        bad = [c.request("GET", "/a b"), c.request("GET", "/a\x7fb"),
               c.request("GET", "/two-hosts", [("host", "a.test"), ("host", "b.test")])]
        for st in c.wait_done(bad):
            self.assertTrue(st.reset is not None or st.status == 400, st)
        ok = c.get("/after", [("content-length", "0")])
        self.assertEqual(ok.status, 200, ok)
        self.assertTrue(u.wait_requests(2, 10.0), u.errors)
        self.assertEqual([r.target for r in u.requests], ["/plain?x=1", "/after"])
        first = u.requests[0]
        self.assertEqual(first.header("x-request-id"), "rid-1", first.describe())
        self.assertEqual(first.header("cookie"), "a=1; b=2", first.describe())
        self.assertEqual(first.header("host"), f"{LOOPBACK}:{p.port}", first.describe())
        self.assertRegex(first.header("via", ""), r"(^|[ ,])2 spillway", first.describe())
        # Limits still apply to a head that is never written out as text.
        big = c.get("/big", [("x-big", "v" * 70000)])
        self.assertTrue(big.reset is not None or big.status == 431, big)
