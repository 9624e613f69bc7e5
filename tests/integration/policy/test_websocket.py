"""WebSocket (SPEC §2.1 routes[].websocket): the upgrade goes to the chosen endpoint, frames
flow both ways through the proxy (after the 101 it relays bytes), and a close from either side
reaches the other; a route without `websocket: true` does not upgrade."""

import time
import unittest

from policy_support import PolicyTestCase, cluster, metric, route
from websocket_support import EchoServer, accept_key, frame, read_frame


class WebSocketTest(PolicyTestCase):
    def handshake(self, port, key="dGhlIHNhbXBsZSBub25jZQ=="):
        c = harness_client(port)
        c.send(f"GET /ws HTTP/1.1\r\nHost: spillway.test\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
        head = c.reader.read_until(b"\r\n\r\n", time.monotonic() + 10)
        return c, head.decode("latin-1")

    def test_echo_and_close_through_the_proxy(self):
        echo = EchoServer()
        u = self.upstream("A", echo)
        p = self.proxy([cluster("engines", [u])], [route("ws", "engines", websocket=True)])
        c, head = self.handshake(p.port)
        self.addCleanup(c.close)
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        self.assertIn("Sec-WebSocket-Accept: " + accept_key("dGhlIHNhbXBsZSBub25jZQ=="), head)
        self.assertIn("upgrade: websocket", head.lower())
        deadline = time.monotonic() + 10
        self.assertEqual(read_frame(c.reader, deadline), (0x1, b"hello from upstream"))
        for msg in (b"one", b"x" * 70000, b"three"):
            c.send(frame(0x2, msg, True))
            self.assertEqual(read_frame(c.reader, deadline), (0x2, msg))
        self.assertEqual(echo.messages, [b"one", b"x" * 70000, b"three"])
        # the client's Close reaches the upstream, whose Close comes back, then the proxy closes
        c.send(frame(0x8, b"\x03\xe8bye", True))
        self.assertEqual(read_frame(c.reader, deadline), (0x8, b"\x03\xe8bye"))
        self.assertTrue(echo.closed_by_client.is_set())
        self.assertTrue(c.closed_within(5.0), "the proxy kept the connection after the close")
        self.assertEqual(metric(p, "spillway_websocket_upgrades_total", route="ws"), 1)

    def test_client_disconnect_closes_upstream(self):
        echo = EchoServer()
        u = self.upstream("A", echo)
        p = self.proxy([cluster("engines", [u])], [route("ws", "engines", websocket=True)])
        c, head = self.handshake(p.port)
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        read_frame(c.reader, time.monotonic() + 10)
        c.close()
        u.wait_requests(1)
        conn = u.connections[-1]
        self.assertTrue(conn.wait_peer_close(5.0) or not conn.open,
                        "the upstream connection stayed open after the client left")

    def test_no_upgrade_without_websocket_route(self):
        echo = EchoServer()
        u = self.upstream("A", echo)
        p = self.proxy([cluster("engines", [u])], [route("plain", "engines")])
        c, head = self.handshake(p.port)
        self.addCleanup(c.close)
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)
        self.assertIsNone(u.requests[-1].header("upgrade"))


def harness_client(port):
    from harness import Client
    return Client(port, 10.0)


if __name__ == "__main__":
    unittest.main()
