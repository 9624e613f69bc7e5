"""Streaming (SPEC §2.2): server-sent events forwarded event by event, and a client that goes
away cancels the upstream request at once, before or after the first byte."""

import time
import unittest

from harness import ProxyTestCase, build_request, cluster, route

GAP = 0.3
EVENTS = 5


def sse_handler(sent_at, events=EVENTS, gap=GAP):
    """Streams `events` SSE events `gap` seconds apart (chunked), recording when each was sent;
    stops as soon as the proxy closes the connection."""

    def handler(req, conn):
        ok = conn.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(events):
            if not ok:
                return False
            ev = f'data: {{"index": {i}}}\n\n'.encode()
            ok = conn.send(b"%x\r\n%s\r\n" % (len(ev), ev))
            sent_at.append(time.monotonic())
            if conn.wait_peer_close(gap):
                return False
        done = b"data: [DONE]\n\n"
        conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        sent_at.append(time.monotonic())
        return True

    return handler


class EventCollector:
    """Splits the decoded body into SSE events, stamping when each one completed."""

    def __init__(self):
        self.buf = b""
        self.events = []  # (monotonic time, event bytes)

    def __call__(self, data):
        self.buf += data
        while b"\n\n" in self.buf:
            ev, _, self.buf = self.buf.partition(b"\n\n")
            self.events.append((time.monotonic(), ev))


class StreamingTest(ProxyTestCase):
    def test_sse_forwarded_event_by_event(self):
        sent_at = []
        u = self.upstream("sse", sse_handler(sent_at))
        p = self.proxy([cluster("engines", [u])],
                       [route("default", "engines", timeouts={"first_byte": "2s", "idle": "2s"})])
        c = self.client(p, timeout=10.0)
        collect = EventCollector()
        c.send(build_request("POST", "/v1/chat/completions", [("Accept", "text/event-stream")],
                             b'{"stream": true}'))
        r = c.read_response("POST", timeout=10.0, on_chunk=collect)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn("text/event-stream", r.header("content-type", ""))
        self.assertTrue(r.complete, r.describe())
        got = [ev for _, ev in collect.events]
        expected = [f'data: {{"index": {i}}}'.encode() for i in range(EVENTS)] + [b"data: [DONE]"]
        self.assertEqual(got, expected, "events lost, merged or reordered")
        # The upstream thread records the last send time just after sending it; the client may
        # have read the event first.
        deadline = time.monotonic() + 2.0
        while len(sent_at) < EVENTS + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(sent_at), EVENTS + 1)
        # The first event reaches the client well before the upstream finishes...
        self.assertLess(collect.events[0][0], sent_at[-1] - 3 * GAP,
                        "first event held back until the stream ended (buffering)")
        # ...and every event arrives close to when it was sent, not in batches.
        for i, ((recv_t, _), sent_t) in enumerate(zip(collect.events, sent_at)):
            self.assertLess(recv_t - sent_t, 0.25,
                            f"event {i} reached the client {recv_t - sent_t:.3f}s after the upstream sent it")

    def test_request_body_streamed_not_buffered(self):
        u = self.upstream("u")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        for framing in ("chunked", "content-length"):
            c = self.client(p, timeout=5.0)
            if framing == "chunked":
                c.send(build_request("POST", f"/up/{framing}", [("Transfer-Encoding", "chunked")])
                       + b"400\r\n" + b"a" * 1024 + b"\r\n")
            else:
                c.send(build_request("POST", f"/up/{framing}", [("Content-Length", str(2048))])
                       + b"a" * 1024)
            n = len(u.heads) + 1
            # The rest of the body is sent only after the head arrived upstream, so a proxy that
            # buffers the body never passes this however long it waits: the bound is only there
            # to end the test, and generous for a loaded machine.
            self.assertTrue(u.wait_heads(n, 10.0),
                            f"{framing}: nothing forwarded while the body is still being sent "
                            "(request body buffered whole)")
            rest = b"400\r\n" + b"b" * 1024 + b"\r\n0\r\n\r\n" if framing == "chunked" else b"b" * 1024
            c.send(rest)
            r = c.read_response("POST")
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200)
            self.assertEqual(u.requests[-1].body, b"a" * 1024 + b"b" * 1024)

    def test_client_abort_mid_stream_cancels_upstream(self):
        sent_at = []
        u = self.upstream("sse", sse_handler(sent_at, events=40))
        p = self.proxy([cluster("engines", [u])],
                       [route("default", "engines", timeouts={"first_byte": "2s", "idle": "5s"})])
        c = self.client(p, timeout=5.0)
        c.send(build_request("POST", "/v1/completions", [], b'{"stream": true}'))
        head = c.reader.read_until(b"\r\n\r\n", time.monotonic() + 3)
        self.assertIsNotNone(head)
        deadline = time.monotonic() + 3
        while c.reader.buf.count(b"\n\n") < 2 and time.monotonic() < deadline:
            c.reader._fill(deadline)
        self.assertGreaterEqual(c.reader.buf.count(b"\n\n"), 2, "first two events not received")
        t_close = time.monotonic()
        c.close()
        conn = u.connections[0]
        self.assertTrue(conn.wait_peer_close(3.0),
                        "upstream connection still open 3 s after the client went away")
        delay = conn.closed_at - t_close
        self.assertLess(delay, 1.0, f"upstream saw the cancel only {delay:.2f}s after the client left")
        self.assertLess(len(sent_at), 15, "upstream kept streaming into the void")

    def test_client_abort_before_first_byte_cancels_upstream(self):
        def never_answers(req, conn):
            conn.wait_peer_close(15.0)
            return False

        u = self.upstream("slow", never_answers)
        p = self.proxy([cluster("engines", [u])],
                       [route("default", "engines", timeouts={"first_byte": "20s", "idle": "20s"})])
        c = self.client(p)
        c.send(build_request("POST", "/v1/completions", [], b'{"prompt": "x"}'))
        self.assertTrue(u.wait_requests(1, 3.0), "request never reached the upstream")
        time.sleep(0.2)
        t_close = time.monotonic()
        c.close()
        conn = u.connections[0]
        self.assertTrue(conn.wait_peer_close(3.0),
                        "upstream connection still open 3 s after the client went away")
        delay = conn.closed_at - t_close
        self.assertLess(delay, 1.0, f"upstream saw the cancel only {delay:.2f}s after the client left")

    def test_client_reset_mid_stream_then_proxy_serves_others(self):
        sent_at = []
        u = self.upstream("sse", sse_handler(sent_at, events=40))
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        for _ in range(3):
            c = self.client(p, timeout=5.0)
            c.send(build_request("GET", "/stream"))
            self.assertIsNotNone(c.reader.read_until(b"data:", time.monotonic() + 3))
            c.abort()  # RST instead of FIN
        self.assertTrue(u.connections[-1].wait_peer_close(2.0))
        u.handler = lambda req, conn: conn.respond(200, b"fine")
        c = self.client(p)
        r = c.request("GET", "/after")
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"fine")


if __name__ == "__main__":
    unittest.main()
