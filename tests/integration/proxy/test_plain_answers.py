"""Upstream answers read without the full HTTP/1.1 parser (proxy/http1/plain_response.hpp: a
plain head with one Content-Length and the whole body in one read) reach the client exactly as
through the parser: fields, body, keep-alive on both sides, the access log's byte counts; and
answers just outside that form still go through the parser."""

import json
import time

from harness import ProxyTestCase, cluster, route


def log_records(proxy):
    out = []
    for line in proxy.log_text(limit=200000).splitlines():
        line = line.strip()
        if line.startswith("{") and '"status"' in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


class PlainAnswerTest(ProxyTestCase):
    def test_plain_and_near_plain_answers_are_passed_on_alike(self):
        answers = {
            "/plain": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: 1\r\n"
                      b"Content-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
            # A field Connection names, a chunked body, a folded line: the parser's cases.
            "/listed": b"HTTP/1.1 200 OK\r\nConnection: x-hop\r\nX-Hop: 1\r\nX-Up: 2\r\n"
                       b"Content-Length: 5\r\n\r\nworld",
            "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 3\r\n\r\n"
                        b"5\r\nchunk\r\n0\r\n\r\n",
            "/error": b"HTTP/1.1 500 Internal Server Error\r\nX-Up: 4\r\nContent-Length: 4\r\n"
                      b"\r\noops",
            # More bytes than the length: the answer ends at the length, the connection is not
            # used again.
            "/extra": b"HTTP/1.1 200 OK\r\nX-Up: 5\r\nContent-Length: 3\r\n\r\nabcXYZ",
            # The upstream closes after answering.
            "/close": b"HTTP/1.1 200 OK\r\nX-Up: 6\r\nContent-Length: 2\r\nConnection: close\r\n"
                      b"\r\nok",
        }

        def handler(req, conn):
            conn.send(answers[req.target])
            return req.target not in ("/extra", "/close")

        u = self.upstream("u", handler)
        p = self.proxy([cluster("c", [u])], [route("r", "c")])
        c = self.client(p)
        expect = {"/plain": (200, b"hello"), "/listed": (200, b"world"),
                  "/chunked": (200, b"chunk"), "/error": (500, b"oops"),
                  "/extra": (200, b"abc"), "/close": (200, b"ok")}
        for target, (status, body) in expect.items():
            r = c.request("GET", target)
            self.assertIsNotNone(r, target)
            self.assertEqual((r.status, r.body), (status, body), r.describe())
            self.assertIsNotNone(r.header("x-up"), r.describe())
            self.assertIsNotNone(r.header("x-request-id"), r.describe())
            self.assertIsNone(r.header("x-hop"), r.describe())
            self.assertNotEqual((r.header("connection") or "").lower(), "close", r.describe())
        # One client connection throughout; one upstream connection up to /extra, which it cannot
        # outlive, then another.
        self.assertTrue(u.wait_requests(len(expect), 5.0), u.errors)
        self.assertEqual(len(u.connections), 2, [r.target for r in u.requests])
        deadline = time.monotonic() + 5.0
        records = []
        while time.monotonic() < deadline and len(records) < len(expect):
            records = [r for r in log_records(p) if r.get("path") in expect]
            time.sleep(0.05)
        by_path = {r["path"]: r for r in records}
        for target, (status, body) in expect.items():
            self.assertIn(target, by_path, records)
            self.assertEqual(by_path[target]["status"], status, by_path[target])
            self.assertEqual(by_path[target]["bytes_out"], len(body), by_path[target])
