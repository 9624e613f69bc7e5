"""Forwarding through spillway: methods, bodies in both framings, keep-alive and pooling,
headers added and removed (SPEC §2.2 Streaming, §2.3 Headers)."""

import os
import re
import select
import time
import unittest

from harness import (ProxyTestCase, build_request, chunked, cluster, route)

class ForwardingTest(ProxyTestCase):
    def setUp(self):
        self.u = self.upstream("u1")
        self.p = self.proxy([cluster("engines", [self.u])], [route("default", "engines")])

    def test_get_forwarded(self):
        c = self.client(self.p)
        r = c.request("GET", "/v1/models?x=1&y=%20z", [("Accept", "application/json"),
                                                     ("X-Custom", "abc")], host="api.example")
        self.assertIsNotNone(r, "connection closed without a response")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"u1 GET /v1/models?x=1&y=%20z")
        self.assertEqual(r.header("x-upstream"), "u1")
        self.assertEqual(len(self.u.requests), 1)
        req = self.u.requests[0]
        self.assertEqual((req.method, req.target, req.version),
                         ("GET", "/v1/models?x=1&y=%20z", "HTTP/1.1"), req.describe())
        self.assertEqual(req.header("host"), "api.example", req.describe())
        self.assertEqual(req.header("accept"), "application/json")
        self.assertEqual(req.header("x-custom"), "abc")
        self.assertEqual(req.body, b"")
        self.assertFalse(req.has_header("transfer-encoding"), req.describe())

    def test_post_content_length_body(self):
        body = os.urandom(100_000)
        c = self.client(self.p)
        r = c.request("POST", "/v1/completions", [("Content-Type", "application/octet-stream")], body)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        req = self.u.requests[0]
        self.assertEqual(req.method, "POST")
        self.assertEqual(len(req.body), len(body), req.describe())
        self.assertEqual(req.body, body)
        # Forwarded with exactly one framing.
        if req.has_header("content-length"):
            self.assertEqual(req.header_all("content-length"), [str(len(body))])
            self.assertFalse(req.has_header("transfer-encoding"), req.describe())
        else:
            self.assertTrue(req.chunked, req.describe())

    def test_chunked_request_body(self):
        parts = [b"a", os.urandom(100), os.urandom(5000), b"{\"end\":true}"]
        wire = build_request("POST", "/v1/chat/completions",
                             [("Transfer-Encoding", "chunked"), ("Content-Type", "application/json")])
        c = self.client(self.p)
        c.send(wire + chunked(parts, extensions=[None, "ext=1", None, None]))
        r = c.read_response("POST")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        req = self.u.requests[0]
        self.assertTrue(req.complete, req.describe())
        self.assertEqual(req.body, b"".join(parts))
        self.assertFalse(req.has_header("content-length") and req.has_header("transfer-encoding"),
                         req.describe())
        if req.has_header("transfer-encoding"):
            self.assertEqual(req.header("transfer-encoding").lower(), "chunked", req.describe())
        else:
            self.assertEqual(req.header("content-length"), str(sum(map(len, parts))))
        # The connection stays usable after a chunked body.
        r2 = c.request("GET", "/after")
        self.assertIsNotNone(r2)
        self.assertEqual(r2.status, 200)
        self.assertEqual(self.u.requests[-1].target, "/after")

    def test_chunked_request_extensions_and_trailers(self):
        # Extensions with a quoted string and BWS, then trailer fields (RFC 9112 §7.1.1, §7.1.2).
        wire = build_request("POST", "/ext", [("Transfer-Encoding", "chunked")])
        wire += (b'5;name=value\r\nhello\r\n5;flag;q="quoted;str"\r\nworld\r\n'
                 b"1 ; spaced\r\n!\r\n0;last=1\r\nX-Checksum: abc\r\nX-Other: 2\r\n\r\n")
        c = self.client(self.p)
        c.send(wire)
        r = c.read_response("POST")
        self.assertIsNotNone(r, "closed without a response")
        self.assertEqual(r.status, 200, r.describe())
        req = self.u.requests[0]
        self.assertTrue(req.complete, req.describe())
        self.assertEqual(req.body, b"helloworld!")
        # Trailer fields travel on after the body.
        self.assertEqual(req.trailers, [("X-Checksum", "abc"), ("X-Other", "2")])
        # Still in sync: the trailers were not taken for a new request.
        r2 = c.request("GET", "/after-trailers")
        self.assertIsNotNone(r2)
        self.assertEqual(r2.status, 200)
        self.assertEqual([q.target for q in self.u.requests], ["/ext", "/after-trailers"])

    def test_response_content_length_passthrough(self):
        payload = os.urandom(300_000)

        def handler(req, conn):
            conn.respond(200, payload, [("Content-Type", "application/octet-stream")])

        self.u.handler = handler
        c = self.client(self.p)
        r = c.request("GET", "/big")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.complete)
        self.assertEqual(len(r.body), len(payload))
        self.assertEqual(r.body, payload)
        self.assertEqual(r.header("content-length"), str(len(payload)), r.describe())
        self.assertFalse(r.has_header("transfer-encoding"), r.describe())

    def test_response_chunked_passthrough(self):
        parts = [b"first ", os.urandom(7000), b" last"]

        def handler(req, conn):
            conn.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
            conn.send(chunked(parts))

        self.u.handler = handler
        c = self.client(self.p)
        r = c.request("GET", "/chunked")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.complete, r.describe())
        self.assertEqual(r.body, b"".join(parts))
        self.assertTrue(r.chunked, "a chunked upstream response of unknown length must stay "
                                   "chunked (streamed), got " + r.describe())
        self.assertFalse(r.has_header("content-length"), r.describe())
        r2 = c.request("GET", "/again")
        self.assertIsNotNone(r2, "connection unusable after a chunked response")
        self.assertEqual(r2.status, 200)

    def test_head_response_has_no_body(self):
        def handler(req, conn):
            # A HEAD answer announces the length of the GET body but carries none.
            conn.send("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n")

        self.u.handler = handler
        c = self.client(self.p, timeout=3.0)
        r = c.request("HEAD", "/head")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.u.requests[0].method, "HEAD")
        self.u.handler = lambda req, conn: conn.respond(200, b"after-head")
        r2 = c.request("GET", "/after-head")
        self.assertIsNotNone(r2, "connection broken after HEAD")
        self.assertEqual(r2.body, b"after-head", "stray bytes after a HEAD response: " + r2.describe())

    def test_keepalive_and_upstream_reuse(self):
        c = self.client(self.p)
        for i in range(6):
            r = c.request("GET", f"/k/{i}")
            self.assertIsNotNone(r, f"connection closed after {i} requests")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, f"u1 GET /k/{i}".encode())
            self.assertNotEqual((r.header("connection") or "").lower(), "close")
        self.assertEqual([q.target for q in self.u.requests], [f"/k/{i}" for i in range(6)])
        self.assertLess(len(self.u.connections), 6,
                        "every request opened a new upstream connection (no pooling)")
        # A second client connection also reuses the pooled upstream connection.
        c2 = self.client(self.p)
        r = c2.request("GET", "/k/other")
        self.assertEqual(r.status, 200)
        self.assertLess(len(self.u.connections), 7)

    def test_forwarded_headers_added(self):
        c = self.client(self.p)
        r = c.request("GET", "/fwd")
        self.assertEqual(r.status, 200)
        req = self.u.requests[0]
        self.assertEqual(req.header("x-forwarded-for"), "127.0.0.1", req.describe())
        self.assertEqual(req.header("x-forwarded-proto"), "http", req.describe())
        via = req.header("via") or ""
        self.assertIn("spillway", via, req.describe())
        self.assertRegex(via, r"^(HTTP/)?1\.1 ", "Via must start with the received protocol")

    def test_forwarded_for_appended(self):
        c = self.client(self.p)
        r = c.request("GET", "/fwd", [("X-Forwarded-For", "203.0.113.7"), ("Via", "1.1 edge")])
        self.assertEqual(r.status, 200)
        req = self.u.requests[0]
        xff = [v.strip() for v in ",".join(req.header_all("x-forwarded-for")).split(",")]
        self.assertEqual(xff, ["203.0.113.7", "127.0.0.1"], req.describe())
        via = ",".join(req.header_all("via"))
        self.assertIn("1.1 edge", via)
        self.assertIn("spillway", via)

    def test_request_id_generated_and_returned(self):
        c = self.client(self.p)
        ids = []
        for i in range(2):
            r = c.request("GET", f"/rid/{i}")
            self.assertEqual(r.status, 200)
            upstream_id = self.u.requests[i].header("x-request-id")
            self.assertTrue(upstream_id, "no X-Request-Id sent upstream: "
                            + self.u.requests[i].describe())
            self.assertEqual(r.header("x-request-id"), upstream_id, r.describe())
            ids.append(upstream_id)
        self.assertNotEqual(ids[0], ids[1], "generated request ids must differ")
        self.assertRegex(ids[0], r"^[\x21-\x7e]{8,}$")

    def test_request_id_kept(self):
        c = self.client(self.p)
        r = c.request("GET", "/rid", [("X-Request-Id", "client-id-42")])
        self.assertEqual(r.status, 200)
        self.assertEqual(self.u.requests[0].header_all("x-request-id"), ["client-id-42"])
        self.assertEqual(r.header("x-request-id"), "client-id-42")

    def test_hop_by_hop_request_headers_removed(self):
        c = self.client(self.p)
        r = c.request("GET", "/hop", [
            ("Connection", "keep-alive, X-Custom-Hop, x-other-hop"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers, gzip;q=0.5"),
            ("Trailer", "X-Checksum"),
            ("Upgrade", "websocket"),
            ("Proxy-Connection", "keep-alive"),
            ("X-Custom-Hop", "1"),
            ("X-Other-Hop", "2"),
            ("X-End-To-End", "kept"),
        ])
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        req = self.u.requests[0]
        names = req.header_names()
        for h in ["keep-alive", "trailer", "upgrade", "proxy-connection", "x-custom-hop",
                  "x-other-hop"]:
            self.assertNotIn(h, names, f"hop-by-hop {h} forwarded: " + req.describe())
        # TE is hop-by-hop too: not forwarded, but this hop says again that trailers are
        # accepted (Spillway relays them).
        self.assertEqual(req.header_all("te"), ["trailers"], req.describe())
        conn = (req.header("connection") or "").lower()
        self.assertEqual(conn, "te", req.describe())
        self.assertNotIn("x-custom-hop", conn, req.describe())
        self.assertNotIn("upgrade", conn, req.describe())
        self.assertEqual(req.header("x-end-to-end"), "kept")

    def test_hop_by_hop_response_headers_removed(self):
        def handler(req, conn):
            conn.respond(200, b"ok", [("Connection", "X-Resp-Hop"), ("Keep-Alive", "timeout=1"),
                                      ("X-Resp-Hop", "secret"), ("Proxy-Connection", "keep-alive"),
                                      ("Upgrade", "foo"), ("X-Resp-Kept", "yes")])

        self.u.handler = handler
        c = self.client(self.p)
        r = c.request("GET", "/hop-resp")
        self.assertEqual(r.status, 200, r.describe())
        names = r.header_names()
        for h in ["keep-alive", "x-resp-hop", "proxy-connection", "upgrade"]:
            self.assertNotIn(h, names, f"hop-by-hop {h} returned to the client: " + r.describe())
        self.assertEqual(r.header("x-resp-kept"), "yes")
        self.assertEqual(r.body, b"ok")
        # The client connection stays open: the upstream's Connection header is not ours.
        r2 = c.request("GET", "/hop-resp-2")
        self.assertIsNotNone(r2)
        self.assertEqual(r2.status, 200)

    def test_upstream_connection_close_not_reused(self):
        def handler(req, conn):
            conn.respond(200, b"bye", [("Connection", "close")])
            return False

        self.u.handler = handler
        c = self.client(self.p)
        for i in range(3):
            r = c.request("GET", f"/close/{i}")
            self.assertIsNotNone(r, f"request {i}: client connection closed")
            self.assertEqual(r.status, 200, f"request {i}: " + r.describe())
            self.assertEqual(r.body, b"bye")
        self.assertEqual(len(self.u.connections), 3)

    def test_expect_100_continue(self):
        c = self.client(self.p)
        c.send(build_request("POST", "/expect", [("Expect", "100-continue"),
                                                ("Content-Length", "5")]))
        # The client may wait for 100 Continue; it sends the body after at most 1 s either way.
        r, _, _ = select.select([c.sock], [], [], 1.0)
        interim = b""
        if r:
            interim = c.sock.recv(4096)
        c.send(b"hello")
        c.reader.buf = interim
        resp = c.read_response("POST")
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 200, resp.describe())
        self.assertEqual(self.u.requests[0].body, b"hello")
        if interim:
            self.assertTrue(re.match(rb"HTTP/1\.1 (100|200) ", interim), interim)


class ConcurrencyTest(ProxyTestCase):
    def test_concurrent_clients_no_crosstalk(self):
        import random
        import threading

        def echo(req, conn):
            time.sleep(random.random() * 0.005)
            conn.respond(200, b"echo " + req.target.encode() + b" " + req.body)

        ups = [self.upstream("A", echo), self.upstream("B", echo)]
        p = self.proxy([cluster("engines", ups)], [route("default", "engines")], top={"workers": 2})
        errors = []

        def worker(k):
            try:
                c = p.client(timeout=10.0)
                try:
                    for i in range(25):
                        body = f"body-{k}-{i}".encode()
                        r = c.request("POST", f"/c/{k}/{i}", body=body)
                        if r is None or r.body != b"echo /c/%d/%d " % (k, i) + body:
                            errors.append(f"client {k} request {i}: {r.describe() if r else None}")
                            return
                finally:
                    c.close()
            except Exception as e:
                errors.append(f"client {k}: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        self.assertEqual(errors, [])
        self.assertEqual(sum(len(u.requests) for u in ups), 16 * 25)

    def test_pipelined_keepalive_upstream(self):
        u = self.upstream("u1")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        c = self.client(p)
        c.send(build_request("GET", "/p/1") + build_request("POST", "/p/2", body=b"two")
               + build_request("GET", "/p/3"))
        bodies = [c.read_response().body for _ in range(3)]
        self.assertEqual(bodies, [b"u1 GET /p/1", b"u1 POST /p/2", b"u1 GET /p/3"])
        self.assertEqual(u.requests[1].body, b"two")


class RoutingTest(ProxyTestCase):
    def setUp(self):
        self.a = self.upstream("A")
        self.b = self.upstream("B")

    def test_no_route_404_json(self):
        p = self.proxy([cluster("engines", [self.a])], [route("v1", "engines", prefix="/v1")])
        c = self.client(p)
        r = c.request("GET", "/other/path")
        self.assertOpenAIError(r, 404)
        self.assertEqual(len(self.a.requests), 0)
        r = c.request("GET", "/v1/models")
        self.assertIsNotNone(r, "connection closed after the 404")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.a.requests[0].target, "/v1/models")

    def test_route_by_method(self):
        routes = [{"name": "post", "match": {"path_prefix": "/v1", "methods": ["POST"]},
                   "cluster": "a"},
                  route("rest", "b")]
        p = self.proxy([cluster("a", [self.a]), cluster("b", [self.b])], routes)
        c = self.client(p)
        self.assertEqual(c.request("POST", "/v1/chat", body=b"{}").header("x-upstream"), "A")
        self.assertEqual(c.request("GET", "/v1/chat").header("x-upstream"), "B")
        self.assertEqual(c.request("PUT", "/v1/chat", body=b"x").header("x-upstream"), "B")
        self.assertEqual(c.request("POST", "/v2/chat", body=b"{}").header("x-upstream"), "B")
        self.assertEqual(len(self.a.requests), 1)
        self.assertEqual(len(self.b.requests), 3)

    def test_route_by_header(self):
        routes = [{"name": "llama", "match": {"path_prefix": "/", "headers": {"x-model": "llama"}},
                   "cluster": "a"},
                  route("rest", "b")]
        p = self.proxy([cluster("a", [self.a]), cluster("b", [self.b])], routes)
        c = self.client(p)
        self.assertEqual(c.request("GET", "/x", [("x-model", "llama")]).header("x-upstream"), "A")
        self.assertEqual(c.request("GET", "/x", [("X-Model", "llama")]).header("x-upstream"), "A",
                         "header names match case-insensitively")
        self.assertEqual(c.request("GET", "/x", [("x-model", "mistral")]).header("x-upstream"), "B")
        self.assertEqual(c.request("GET", "/x").header("x-upstream"), "B")

    def test_route_exact_path_and_order(self):
        routes = [{"name": "exact", "match": {"path": "/exact"}, "cluster": "a"},
                  route("rest", "b")]
        p = self.proxy([cluster("a", [self.a]), cluster("b", [self.b])], routes)
        c = self.client(p)
        self.assertEqual(c.request("GET", "/exact").header("x-upstream"), "A")
        self.assertEqual(c.request("GET", "/exact?q=1").header("x-upstream"), "A",
                         "the query string is not part of the path")
        self.assertEqual(c.request("GET", "/exact/more").header("x-upstream"), "B")
        self.assertEqual(c.request("GET", "/exactly").header("x-upstream"), "B")


if __name__ == "__main__":
    unittest.main()
