"""WebSocket over HTTP/2 (RFC 8441) against the real proxy: the server's SETTINGS allow extended
CONNECT; a CONNECT with :protocol websocket reaches the upstream as an HTTP/1.1 upgrade with a
Sec-WebSocket-Key of the proxy's own, the upstream's 101 comes back as 200, and WebSocket frames
then travel as DATA both ways, flow-controlled, until a close from either side ends the stream
and the upstream connection. Routes without `websocket: true` and other protocols are refused.
Driven with python3-h2 over h2c and TLS."""

import base64
import time

from h2support import H2TestCase, client_tls, cluster, route, wait_until
from websocket_support import EchoServer, accept_key, frame

SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8


class WsReader:
    """Reads WebSocket frames from the DATA of one HTTP/2 stream."""

    def __init__(self, client, sid):
        self.client, self.sid, self.used = client, sid, 0

    def read_exact(self, n, deadline):
        st = self.client.streams[self.sid]
        while len(st.body) - self.used < n:
            if time.monotonic() > deadline or st.done and len(st.body) - self.used < n:
                break
            self.client.pump(0.05)
        out = st.body[self.used:self.used + n]
        self.used += len(out)
        return out


def read_ws_frame(reader, deadline):
    h = reader.read_exact(2, deadline)
    if len(h) < 2:
        return None
    opcode, n = h[0] & 0x0F, h[1] & 0x7F
    if n == 126:
        n = int.from_bytes(reader.read_exact(2, deadline), "big")
    elif n == 127:
        n = int.from_bytes(reader.read_exact(8, deadline), "big")
    return opcode, reader.read_exact(n, deadline)


class H2WebSocketTest(H2TestCase):
    def open_ws(self, c, path="/ws", extra=()):
        return c.request("CONNECT", path, [(":protocol", "websocket"),
                                           ("sec-websocket-version", "13")] + list(extra), end=False)

    def ws_setup(self, handler, websocket=True):
        """An upstream running `handler`, a proxy in front of it over h2c (route `ws`, with
        `websocket` as given) and a client that has the proxy's SETTINGS: (upstream, client)."""
        u = self.upstream("A", handler)
        extra = {"websocket": True} if websocket else {}
        p = self.h2proxy([cluster("engines", [u])], [route("ws", "engines", **extra)],
                         [{"http2": True}])
        c = self.h2(p.port)
        self.wait_settings(c)
        return u, c

    def wait_settings(self, c):
        c.wait(lambda: c.conn.remote_settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1, 5.0,
               "SETTINGS_ENABLE_CONNECT_PROTOCOL from the proxy")

    def echo_round_trip(self, tls):
        echo = EchoServer()
        u = self.upstream("A", echo)
        listener, ctx = {"http2": True}, None
        if tls:
            crt = self.cert("ws", "localhost")
            listener["tls"] = {"certificate": crt.cert, "private_key": crt.key}
            ctx = client_tls(alpn=("h2",), cafile=crt.cert)
        p = self.h2proxy([cluster("engines", [u])], [route("ws", "engines", websocket=True)],
                         [listener])
        c = self.h2(p.port, tls=ctx)
        self.wait_settings(c)
        sid = self.open_ws(c, extra=[("sec-websocket-protocol", "chat")])
        c.wait(lambda: c.streams[sid].status is not None or c.streams[sid].done, 10,
               "the answer to the extended CONNECT")
        st = c.streams[sid]
        self.assertEqual(st.status, 200, st)
        self.assertFalse(st.done, st)

        # The upstream saw an HTTP/1.1 upgrade with a well-formed key of the proxy's own.
        req = u.requests[-1]
        self.assertTrue(req.start_line.startswith("GET /ws HTTP/1.1"), req.describe())
        self.assertEqual((req.header("upgrade") or "").lower(), "websocket", req.describe())
        self.assertIn("upgrade", (req.header("connection") or "").lower(), req.describe())
        self.assertEqual(req.header("sec-websocket-version"), "13")
        self.assertEqual(req.header("sec-websocket-protocol"), "chat")
        self.assertEqual(len(base64.b64decode(req.header("sec-websocket-key"), validate=True)), 16)

        reader = WsReader(c, sid)
        deadline = time.monotonic() + 10
        self.assertEqual(read_ws_frame(reader, deadline), (0x1, b"hello from upstream"))
        # 200 KB each way: more than the stream windows, so flow control has to turn.
        for msg in (b"one", b"y" * 200_000, b"three"):
            c.send_data(sid, frame(0x2, msg, True), end=False)
            self.assertEqual(read_ws_frame(reader, deadline), (0x2, msg))
        self.assertEqual(echo.messages, [b"one", b"y" * 200_000, b"three"])

        # The client's Close goes upstream, the upstream's Close comes back and it closes: the
        # stream ends cleanly (END_STREAM, not a reset).
        c.send_data(sid, frame(0x8, b"\x03\xe8bye", True), end=False)
        self.assertEqual(read_ws_frame(reader, deadline), (0x8, b"\x03\xe8bye"))
        c.wait(lambda: st.done, 10, "the stream to end after the close")
        self.assertTrue(st.ended, st)
        self.assertIsNone(st.reset, st)
        self.assertTrue(echo.closed_by_client.is_set())
        # The connection goes on serving other streams.
        plain = c.get("/plain")
        self.assertEqual(plain.status, 200, plain)
        self.assertEqual(plain.body, b"plain")

    def test_echo_over_h2c(self):
        self.echo_round_trip(tls=False)

    def test_echo_over_tls(self):
        self.echo_round_trip(tls=True)

    def test_client_reset_closes_the_upstream_connection(self):
        u, c = self.ws_setup(EchoServer())
        sid = self.open_ws(c)
        reader = WsReader(c, sid)
        self.assertEqual(read_ws_frame(reader, time.monotonic() + 10), (0x1, b"hello from upstream"))
        c.reset(sid)
        conn = u.connections[-1]
        self.assertTrue(conn.wait_peer_close(5.0) or not conn.open,
                        "the upstream connection stayed open after the client reset the stream")

    def test_client_end_stream_half_closes_towards_the_upstream(self):
        echo = EchoServer()
        u, c = self.ws_setup(echo)
        sid = self.open_ws(c)
        reader = WsReader(c, sid)
        self.assertEqual(read_ws_frame(reader, time.monotonic() + 10), (0x1, b"hello from upstream"))
        # END_STREAM is the client's FIN: the upstream reads end of stream and closes, which
        # ends the stream from the proxy's side too.
        c.send_data(sid, frame(0x1, b"last words", True), end=True)
        self.assertEqual(read_ws_frame(reader, time.monotonic() + 10), (0x1, b"last words"))
        c.wait(lambda: c.streams[sid].done, 10, "the stream to end after the half-close")
        self.assertTrue(c.streams[sid].ended, c.streams[sid])
        self.assertEqual(echo.messages, [b"last words"])

    def test_upstream_close_ends_the_stream(self):
        def close_after_hello(req, conn):
            conn.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                      f"{accept_key(req.header('sec-websocket-key'))}\r\n\r\n")
            conn.send(frame(0x1, b"bye now", False) + frame(0x8, b"\x03\xe8", False))
            return False  # closes the connection

        u, c = self.ws_setup(close_after_hello)
        sid = self.open_ws(c)
        c.wait(lambda: c.streams[sid].done, 10, "the stream to end with the upstream")
        st = c.streams[sid]
        self.assertEqual(st.status, 200, st)
        self.assertTrue(st.ended, st)
        reader = WsReader(c, sid)
        deadline = time.monotonic() + 1
        self.assertEqual(read_ws_frame(reader, deadline), (0x1, b"bye now"))
        self.assertEqual(read_ws_frame(reader, deadline), (0x8, b"\x03\xe8"))

    def test_wrong_accept_key_fails_the_handshake(self):
        def impostor(req, conn):
            conn.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                      f"{accept_key('dGhlIHNhbXBsZSBub25jZQ==')}\r\n\r\n")
            conn.send(frame(0x1, b"not for you", False))
            time.sleep(5)
            return False

        u, c = self.ws_setup(impostor)
        sid = self.open_ws(c)
        st = c.wait_done(sid)[0]
        # RFC 6455 §4.1: an accept that does not answer the proxy's key fails the connection.
        self.assertEqual(st.status, 502, st)
        self.assertNotIn(b"not for you", st.body)
        conn = u.connections[-1]
        self.assertTrue(conn.wait_peer_close(3.0) or not conn.open,
                        "the upstream connection stayed open after the failed handshake")

    def test_route_without_websocket_is_refused(self):
        u, c = self.ws_setup(EchoServer(), websocket=False)
        sid = self.open_ws(c)
        st = c.wait_done(sid)[0]
        # The upstream answered the plain GET with 200; over extended CONNECT that would read as
        # an open tunnel, so the client gets 501 instead.
        self.assertEqual(st.status, 501, st)
        self.assertIsNone(u.requests[-1].header("upgrade"))

    def test_other_protocols_get_501_without_reaching_upstream(self):
        u, c = self.ws_setup(EchoServer())
        sid = c.request("CONNECT", "/udp", [(":protocol", "connect-udp")], end=False)
        st = c.wait_done(sid)[0]
        self.assertEqual(st.status, 501, st)
        time.sleep(0.2)
        self.assertEqual(len(u.requests), 0)
        wait_until(lambda: c.get("/plain").status == 200, 5, "the connection to go on serving")
