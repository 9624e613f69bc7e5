"""WebSocket helpers shared by the suites (RFC 6455): the handshake's accept key, frames, and
an echoing upstream handler for harness.Upstream."""

import base64
import hashlib
import os
import struct
import threading
import time

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
