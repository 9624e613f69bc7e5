#!/usr/bin/env python3
"""Hold N idle HTTP/1.1 keep-alive connections open against a server.

Each connection sends one GET and reads the whole answer, then stays open and silent.
At most --window connections are connecting or waiting for an answer at once, so the server
needs only a few upstream connections. Protocol with the caller (line-based):
  stdout "ready OPEN FAILED"  once every connection has been answered (or failed);
  stdin  any line             -> stdout "alive N" (connections the server has not closed), exit.
"""

import argparse
import errno
import selectors
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: spillway-bench-idle\r\n\r\n"


def answer_complete(buf):
    """True once buf holds a full response with a Content-Length body (the upstream always sends one)."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    length = 0
    for line in buf[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buf) >= head_end + 4 + length


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--deadline", type=float, default=120.0, help="seconds to open everything")
    args = ap.parse_args()

    sel = selectors.DefaultSelector()
    idle = []
    failed = 0
    started = 0
    pending = 0
    stop_at = time.monotonic() + args.deadline

    def start_one():
        nonlocal started, pending, failed
        started += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", args.port))
        if rc not in (0, errno.EINPROGRESS):
            failed += 1
            s.close()
            return
        sel.register(s, selectors.EVENT_WRITE, bytearray())
        pending += 1

    while (started < args.count or pending) and time.monotonic() < stop_at:
        while started < args.count and pending < args.window:
            start_one()
        for key, _ in sel.select(timeout=1.0):
            s, buf = key.fileobj, key.data
            if not buf and key.events == selectors.EVENT_WRITE:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    sel.unregister(s)
                    s.close()
                    failed += 1
                    pending -= 1
                    continue
                s.send(REQUEST)  # 70 bytes always fit an empty send buffer
                sel.modify(s, selectors.EVENT_READ, buf)
                continue
            try:
                chunk = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(s)
                s.close()
                failed += 1
                pending -= 1
                continue
            buf += chunk
            if answer_complete(bytes(buf)):
                sel.unregister(s)
                idle.append(s)
                pending -= 1
    failed += pending + (args.count - started)

    print(f"ready {len(idle)} {failed}", flush=True)
    sys.stdin.readline()

    alive = 0
    for s in idle:
        try:
            alive += 1 if s.recv(1) else 0
        except (BlockingIOError, InterruptedError):
            alive += 1
        except OSError:
            pass
    print(f"alive {alive}", flush=True)
    for s in idle:
        s.close()


if __name__ == "__main__":
    main()
