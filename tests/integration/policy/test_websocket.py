"""WebSocket (SPEC §2.1 routes[].websocket): the upgrade goes to the chosen endpoint, frames
flow both ways through the proxy (after the 101 it relays bytes), and a close from either side
reaches the other; a route without `websocket: true` does not upgrade."""

import base64
import hashlib
import os
import socket
import struct
import threading
import time
import unittest

from policy_support import LOOPBACK, PolicyTestCase, cluster, metric, route

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode, payload, mask):
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(reader, deadline):
    """(opcode, payload) of the next frame, or None at EOF."""
    h = reader.read_exact(2, deadline)
    if len(h) < 2:
        return None
    opcode, n, masked = h[0] & 0x0F, h[1] & 0x7F, h[1] & 0x80
    if n == 126:
        n = struct.unpack("!H", reader.read_exact(2, deadline))[0]
    elif n == 127:
        n = struct.unpack("!Q", reader.read_exact(8, deadline))[0]
    key = reader.read_exact(4, deadline) if masked else None
    data = reader.read_exact(n, deadline)
    if key:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return opcode, data


class EchoServer:
    """Handler for an Upstream: answers the upgrade and echoes frames until a Close, which it
    answers with a Close before closing the connection."""

    def __init__(self):
        self.closed_by_client = threading.Event()
        self.messages = []

    def __call__(self, req, conn):
        if (req.header("upgrade") or "").lower() != "websocket":
            conn.respond(200, b"plain", [("Content-Type", "text/plain")])
            return
        key = req.header("sec-websocket-key")
        conn.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n")
        conn.send(frame(0x1, b"hello from upstream", False))
        while True:
            f = read_frame(conn.reader, time.monotonic() + 10)
            if f is None:
                return False
            opcode, data = f
            if opcode == 0x8:
                self.closed_by_client.set()
                conn.send(frame(0x8, data, False))
                return False
            self.messages.append(data)
            conn.send(frame(opcode, data, False))


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
