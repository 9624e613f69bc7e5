"""Connections that cost the proxy by just staying: an idle HTTP/2 connection is closed after
the listener's timeouts.idle; one whose client never reads (zero flow-control window) is closed
after the listener's timeouts.send_stall."""

import time

import h2abuse as ha

IDLE = 2.0


class IdleTest(ha.H2TestCase):
    LISTENER = {"timeouts": {"idle": f"{IDLE:g}s"}}

    def test_idle_connection_closed(self):
        t0 = time.monotonic()
        conn = self.attacker()
        g = conn.goaway(IDLE + 8)
        self.assertIsNotNone(g, "idle connection got no GOAWAY")
        self.assertEqual(g.error_code(), ha.NO_ERROR)
        self.assertTrue(conn.closed_within(5.0), "idle connection left open after GOAWAY")
        waited = time.monotonic() - t0
        self.assertGreaterEqual(waited, IDLE * 0.9, "closed before the idle timeout")
        self.assertStillServing()

    def test_idle_after_request(self):
        conn = self.attacker()
        conn.send(conn.headers(1, ha.request_headers("/once")))
        self.assertIsNotNone(conn.wait_for(lambda f: f.stream == 1 and f.flags & ha.END_STREAM
                                           and f.type in (ha.DATA, ha.HEADERS), 5.0))
        self.assertEqual(conn.status(1), 200)
        t0 = time.monotonic()
        self.assertIsNotNone(conn.goaway(IDLE + 8), "no GOAWAY after the last stream ended")
        self.assertTrue(conn.closed_within(5.0))
        self.assertGreaterEqual(time.monotonic() - t0, IDLE * 0.9)

    def test_answered_stream_does_not_hold_connection(self):
        # The client opens a POST and never sends its body: the proxy gives up on it (408 after
        # the listener's timeout, or a 5xx from the route's) and answers. The stream must not then
        # stay half-open for ever (keeping the connection out of its idle timeout): the proxy
        # ends it with RST_STREAM NO_ERROR and the idle connection is closed.
        conn = self.attacker()
        head = ha.request_headers("/never-ending", "POST", extra=[("content-length", "100")])
        conn.send(conn.headers(1, head, end_stream=False))
        answer = conn.wait_for(lambda f: f.stream == 1 and f.flags & ha.END_STREAM
                               and f.type in (ha.DATA, ha.HEADERS), 15.0)
        self.assertIsNotNone(answer, "the stream was not answered")
        self.assertGreaterEqual(conn.status(1), 400)
        rst = conn.wait_for(lambda f: f.type == ha.RST_STREAM and f.stream == 1, 5.0)
        self.assertIsNotNone(rst, "no RST_STREAM after the complete answer")
        self.assertEqual(rst.error_code(), ha.NO_ERROR)
        self.assertIsNotNone(conn.goaway(IDLE + 8), "no GOAWAY: the answered stream holds the "
                                                     "connection open")
        self.assertTrue(conn.closed_within(5.0))
        self.assertStillServing()



class ZeroWindowTest(ha.H2TestCase):
    """A client that announces a zero stream window and never opens it: the response head goes
    out, no DATA can. The proxy must not hold the connection (nor the upstream) forever."""

    STALL = 3.0  # listeners[].timeouts.send_stall below

    def setUp(self):
        def answer(req, conn):
            size = int(req.target.rsplit("/", 1)[1]) if req.target.startswith("/big/") else 2
            conn.respond(200, b"z" * size)

        self.handler = answer
        super().setUp()

    def stalled(self, size):
        conn = self.attacker([(ha.SETTINGS_INITIAL_WINDOW_SIZE, 0)])
        conn.send(conn.headers(1, ha.request_headers(f"/big/{size}")))
        self.assertTrue(self.up.wait_requests(1, 10.0))
        head = conn.wait_for(lambda f: f.type == ha.HEADERS and f.stream == 1, 10.0)
        self.assertIsNotNone(head, "no response head")
        return conn

    def assertClosed(self, conn, within, at_least):
        t0 = time.monotonic()
        self.assertTrue(conn.closed_within(within),
                        f"connection with a zero window still open after {within}s")
        waited = time.monotonic() - t0
        data = sum(len(f.payload) for f in conn.of_type(ha.DATA))
        print(f"zero window: closed after {waited:.1f}s, {data} DATA bytes sent")
        self.assertEqual(data, 0, "DATA sent past a zero window")
        self.assertGreater(waited, at_least, "closed before any timeout was due")
        self.assertStillServing()


class ZeroWindowLargeTest(ZeroWindowTest):
    # 2 MiB do not fit the per-stream buffer: the proxy stops reading the upstream, the route's
    # idle timeout (2 s in the harness) ends the exchange and resets the stream, and the listener's idle
    # timeout (2 s) then closes the connection.
    LISTENER = {"timeouts": {"idle": "2s"}}

    def test_never_reads_large_response(self):
        conn = self.stalled(2 << 20)
        rst = conn.wait_for(lambda f: f.type == ha.RST_STREAM and f.stream == 1, 15.0)
        self.assertIsNotNone(rst, "the stalled stream was not reset")
        # The upstream exchange, which could not finish, was let go.
        self.assertTrue(self.up.connections[0].wait_peer_close(10.0),
                        "upstream connection of the stalled exchange kept")
        self.assertClosed(conn, 15.0, 1.0)


class ZeroWindowSmallTest(ZeroWindowTest):
    # 16 KiB fit the per-stream buffer: the exchange finishes and nothing but the send-stall
    # timeout ends the stream; the listener's idle timeout (1 s) must not close it first.
    LISTENER = {"timeouts": {"idle": "1s", "send_stall": f"{ZeroWindowTest.STALL:g}s"}}

    def test_never_reads_small_response(self):
        conn = self.stalled(16 << 10)
        self.assertClosed(conn, self.STALL + 15, self.STALL - 1)
