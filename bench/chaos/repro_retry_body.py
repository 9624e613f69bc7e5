#!/usr/bin/env python3
"""Reproduces the lost request body seen in the chaos run (bench/README.md, "Resilience (chaos)").

A retry whose previous try failed to connect replays an empty buffer when the try before that had
already sent the request: Spillway then sends the head without the body, and the upstream waits for
the body until the first-byte timeout (504). Sequence, with round robin over [dead port, upstream U]:
request 1 goes to the dead port, fails to connect and is retried on U (fine); U answers and closes
its keep-alive connection without saying so (as an engine killed between two requests does);
request 2 takes that pooled connection, gets EOF, is re-sent on a fresh connection that round robin
gives to the dead port (connect refused), and is retried on U with the head only.

  bench/chaos/repro_retry_body.py [--spillway build-chaos/bin/spillway]
Exit status 0 when every request U saw had its whole body, 1 otherwise. Loopback only, bounded.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upstream(listener, seen, stop):
    """Reads one request per connection (head + Content-Length body, 3 s at most), answers 200
    when the body is whole, then closes without a Connection: close header."""
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = listener.accept()
        except socket.timeout:
            continue
        c.settimeout(3.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(body) < length:
                chunk = c.recv(65536)
                if not chunk:
                    break
                body += chunk
        except (socket.timeout, OSError):
            pass
        if not data:
            c.close()
            continue
        seen.append((length, len(body)))
        if len(body) >= length:
            try:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except OSError:
                pass
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spillway", default=os.path.join(REPO, "build-chaos", "bin", "spillway"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="spillway-repro-")
    dead, port, admin = free_port(), free_port(), free_port()
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    up = lst.getsockname()[1]
    conf = os.path.join(work, "spillway.yaml")
    with open(conf, "w") as f:
        f.write(f"""workers: 1
listeners:
  - name: l
    address: 127.0.0.1:{port}
admin:
  address: 127.0.0.1:{admin}
clusters:
  - name: c
    balancer: round_robin
    endpoints: [127.0.0.1:{dead}, 127.0.0.1:{up}]
routes:
  - name: r
    match: {{path_prefix: /}}
    cluster: c
    timeouts: {{first_byte: 2s}}
    retry: {{attempts: 3, on: [connect_failure, reset]}}
""")
    seen, stop = [], threading.Event()
    t = threading.Thread(target=upstream, args=(lst, seen, stop), daemon=True)
    t.start()
    proc = subprocess.Popen([args.spillway, "--config", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        body = b'{"prompt":"hello","max_tokens":4}'
        for i in range(4):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=body,
                                         headers={"Content-Type": "application/json"})
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError as e:
                status = str(e)
            print(f"request {i + 1}: {status} in {time.monotonic() - t0:.3f} s")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        stop.set()
        t.join(2)
        lst.close()
    for n, (want, got) in enumerate(seen):
        print(f"upstream request {n + 1}: Content-Length {want}, body bytes received {got}")
    bad = [s for s in seen if s[1] < s[0]]
    print("body lost on a retry" if bad else "every body arrived whole")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
