"""Regressions found by unit tests and fuzzing of the proxy's HTTP/1 path: heads made of many
tiny fields (each forwarded field may grow by a byte), upstream statuses outside 100-599, an
empty chunked body whose last chunk arrives in pieces, and a client's Connection: close on a
request the proxy answers itself."""

import time

from harness import ProxyTestCase, Client, build_request, cluster, free_port, route


class RegressionTest(ProxyTestCase):
    def test_request_with_many_tiny_headers_is_forwarded_whole(self):
        u = self.upstream("u1")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")],
                       listener={"limits": {"max_header_bytes": "16KiB"}})
        headers = [(f"a{i}", "b") for i in range(1500)]  # "a1:b" on the wire grows to "a1: b"
        raw = b"GET /many HTTP/1.1\r\nHost: x\r\n" + b"".join(
            f"{n}:{v}\r\n".encode() for n, v in headers) + b"\r\n"
        self.assertLess(len(raw), 16 * 1024)
        c = self.client(p)
        c.send(raw)
        r = c.read_response()
        self.assertIsNotNone(r, "connection closed without a response")
        self.assertEqual(r.status, 200, r.describe())
        req = u.requests[0]
        self.assertEqual(req.header("a1499"), "b", req.describe())

    def test_connection_close_is_honoured_on_answers_of_the_proxy(self):
        # A 502 of the proxy's own (nothing listens upstream) to a request with Connection:
        # close used to keep the connection open: clients reading to the end waited forever.
        dead = {"name": "dead", "endpoints": [{"address": f"127.0.0.1:{free_port()}"}]}
        p = self.proxy([dead], [route("default", "dead")])
        c = self.client(p)
        r = c.request("GET", "/nothing", [("Connection", "close")])
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 502, r.describe())
        self.assertEqual((r.header("connection") or "").lower(), "close", r.describe())
        self.assertTrue(c.closed_within(3.0), "the proxy kept the connection after its answer")
        # Without Connection: close the connection stays open for the next request.
        c2 = self.client(p)
        self.assertEqual(c2.request("GET", "/a").status, 502)
        self.assertEqual(c2.request("GET", "/b").status, 502)

    def test_response_with_many_tiny_headers_is_forwarded_whole(self):
        def many(req, conn):
            fields = "".join(f"h{i}:v\r\n" for i in range(600))
            conn.send("HTTP/1.1 200 OK\r\n" + fields + "Content-Length: 2\r\n\r\nok")

        u = self.upstream("many", many)
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        r = self.client(p).request("GET", "/many")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("h599"), "v")
        self.assertEqual(r.body, b"ok")

    def test_upstream_status_outside_100_to_599_is_a_bad_gateway(self):
        for status in ("600", "999", "099"):
            def odd(req, conn, status=status):
                conn.send(f"HTTP/1.1 {status} Odd\r\nContent-Length: 0\r\n\r\n")
                return False

            u = self.upstream("odd" + status, odd)
            p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
            r = self.client(p).request("GET", "/odd")
            self.assertOpenAIError(r, 502)

    def test_empty_chunked_body_arriving_in_pieces(self):
        u = self.upstream("u1")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        c = self.client(p)
        c.send(b"POST /empty HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")
        time.sleep(0.2)
        c.send(b"\r\n")
        r = c.read_response()
        self.assertIsNotNone(r, "connection closed without a response")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(u.requests[0].body, b"")
