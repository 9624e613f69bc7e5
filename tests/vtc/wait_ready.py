"""Waits until 127.0.0.1:PORT accepts TCP connections (exit 0), or fails after 15 s."""

import socket
import sys
import time

port = int(sys.argv[1])
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
print(f"nothing listening on 127.0.0.1:{port} after 15 s")
sys.exit(1)
