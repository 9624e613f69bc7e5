"""The HTTP/1.1 session's features on HTTP/2 streams: retries replay the request body, the
cache answers hits, the proxy's own errors and limits keep their status and body, and responses
of every framing (HEAD, 204, 304, close-delimited, HTTP/1.0, with 1xx before, with hop-by-hop
fields) become well-formed HTTP/2 answers."""

import json
import time

from harness import closed_port
from h2support import H2TestCase, cluster, route
from resil import Behaviour

FAST_BACKOFF = {"base": "5ms", "max": "20ms"}


def framings(req, conn):
    t = req.target
    if t.startswith("/head"):
        return conn.respond(200, b"abcdef", [("Content-Type", "text/plain")])
    if t.startswith("/204"):
        return conn.send(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
    if t.startswith("/304"):
        return conn.send(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')
    if t.startswith("/eof"):
        conn.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close")
        return False
    if t.startswith("/h10"):
        conn.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhttp/1.0 body")
        return False
    if t.startswith("/hints"):
        conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
        return conn.respond(200, b"after hints")
    if t.startswith("/hop"):
        return conn.send(b"HTTP/1.1 200 OK\r\nConnection: X-Private\r\nKeep-Alive: timeout=5\r\n"
                         b"X-Private: secret\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nok")
    if t.startswith("/v1/"):
        body = json.dumps({"id": "c1", "object": "chat.completion", "n": len(req.body)})
        return conn.respond(200, body, [("Content-Type", "application/json")])
    return conn.respond(200, f"{t} cookie={req.header('cookie')}")


class FeaturesTest(H2TestCase):
    def test_retry_replays_the_body_of_a_stream(self):
        a = self.tracked("A", Behaviour(status=503))
        b = self.tracked("B")
        p = self.h2proxy([cluster("c", [a, b], balancer="round_robin")],
                         [route("r", "c", retry={"attempts": 2, "on": [503],
                                                 "backoff": FAST_BACKOFF,
                                                 "respect_retry_after": False})],
                         [{"http2": True}])
        admin = self.admin(p)
        c = self.h2(p.port)
        body = b'{"prompt": "' + b"x" * 20000 + b'"}'
        sids = []
        for i in range(4):  # with and without content-length (chunked to the session)
            hdrs = [("content-type", "application/json")]
            if i % 2:
                hdrs.append(("content-length", str(len(body))))
            sids.append(c.request("POST", f"/v1/completions/{i}", hdrs, body))
        for st in c.wait_done(sids, 20.0):
            self.assertEqual(st.status, 200, st)
            self.assertEqual(st.header("x-upstream"), "B", st)
        self.assertGreater(a.count(), 0, "round robin never tried A: nothing was retried")
        self.assertEqual(len(b.requests), 4)
        for req in b.requests:
            self.assertTrue(req.complete, req.describe())
            self.assertEqual(req.body, body, f"B got a different body for {req.target}")
        self.assertEqual(admin.total("spillway_retries_total", route="r"), a.count())
        self.assertNothingInFlight(admin, 5.0)

    def test_cache_errors_limits_and_response_framings(self):
        u = self.upstream("u", framings)
        dead = f"127.0.0.1:{closed_port()}"
        p = self.h2proxy(
            [cluster("c", [u]), cluster("dead", [dead])],
            [route("chat", "c", prefix="/v1/", cache={"ttl": "5m", "only_deterministic": True}),
             route("d", "dead", prefix="/dead"), route("r", "c")],
            [{"http2": True, "limits": {"max_body_bytes": "64KiB"}}],
            top={"cache": {"memory": {"max_bytes": "16MiB"}, "max_object_bytes": "64KiB"}})
        c = self.h2(p.port)

        chat = json.dumps({"model": "m", "temperature": 0,
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        answers = [c.wait_done(c.request("POST", "/v1/chat/completions",
                                         [("content-type", "application/json")], chat))[0]
                   for _ in range(2)]
        self.assertEqual([a.status for a in answers], [200, 200], answers)
        self.assertEqual(answers[0].header("cache-status"), "spillway; fwd=miss; stored")
        self.assertEqual(answers[1].header("cache-status"), "spillway; hit")
        self.assertEqual(answers[0].body, answers[1].body)
        self.assertEqual(len([r for r in u.requests if r.target.startswith("/v1/")]), 1)

        st = c.get("/dead/x")
        self.assertIn(st.status, (502, 503), st)
        err = json.loads(st.body)
        self.assertTrue(err["error"]["message"], st)
        self.assertIn("application/json", st.header("content-type", ""))
        st = c.wait_done(c.request("POST", "/big", body=b"z" * (100 * 1024)))[0]
        self.assertEqual(st.status, 413, st)
        self.assertIn("error", json.loads(st.body))

        st = c.wait_done(c.request("HEAD", "/head"))[0]
        self.assertEqual((st.status, st.ended, st.body), (200, True, b""), st)
        self.assertEqual(st.header("content-length"), "6", st.headers)
        st = c.get("/204")
        self.assertEqual((st.status, st.ended, st.body, st.header("x-a")), (204, True, b"", "1"),
                         st)
        st = c.get("/304", [("if-none-match", '"v1"')])
        self.assertEqual((st.status, st.ended, st.body), (304, True, b""), st)
        for path, body in (("/eof", b"body until close"), ("/h10", b"http/1.0 body"),
                           ("/hints", b"after hints")):
            st = c.get(path)
            self.assertEqual((st.status, st.ended, st.body), (200, True, body), st)
        st = c.get("/hop")
        names = [n for n, _ in st.headers]
        self.assertEqual((st.status, st.body, st.header("x-public")), (200, b"ok", "yes"), st)
        for hop in ("connection", "keep-alive", "x-private", "transfer-encoding"):
            self.assertNotIn(hop, names, st.headers)
        # Cookie fields split over HTTP/2 reach the upstream as one (RFC 9113 §8.2.3).
        st = c.get("/cookie", [("cookie", "a=1"), ("cookie", "b=2")])
        self.assertEqual(st.body, b"/cookie cookie=a=1; b=2", st)
        self.assertIsNone(c.goaway)

    def test_a_response_cut_upstream_resets_the_stream(self):
        def cut(req, conn):
            if req.target.startswith("/length"):
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"a" * 500)
            elif req.target.startswith("/chunked"):
                conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            elif req.target.startswith("/events"):
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\nf\r\ndata: {\"a\":1}\n\n\r\n")
            else:
                return conn.respond(200, b"whole")
            time.sleep(0.2)
            return False  # closes the connection mid-body

        u = self.upstream("u", cut)
        p = self.h2proxy([cluster("c", [u])], [route("r", "c")], [{"http2": True}])
        c = self.h2(p.port)
        for path, prefix in (("/length", b"a" * 500), ("/chunked", b"hello"),
                             ("/events", b'data: {"a":1}\n\n')):
            st = c.get(path)
            self.assertEqual(st.status, 200, st)
            self.assertFalse(st.ended, f"{path}: a cut answer ended as if whole: {st}")
            self.assertIsNotNone(st.reset, st)
            self.assertTrue(st.body.startswith(prefix), st)
        st = c.get("/whole")
        self.assertEqual((st.status, st.ended, st.body), (200, True, b"whole"), st)
        self.assertIsNone(c.goaway)
