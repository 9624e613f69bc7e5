"""Helpers for the traffic-policy integration tests: a redis-server on a free port, brotli
through the system library (ctypes; the standard library has gzip only), one-shot requests, and
a reader for the proxy's /metrics.

Standard library only (runs with /usr/bin/python3).
"""

import ctypes
import ctypes.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))

import harness  # noqa: E402
from harness import (LOOPBACK, ProxyTestCase, Upstream, build_request, closed_port,  # noqa: E402,F401
                     cluster, free_port, http_get, route)


class RedisServer:
    """redis-server on a free loopback port, no persistence; stop() kills it."""

    def __init__(self):
        exe = shutil.which("redis-server")
        if not exe:
            raise unittest.SkipTest("redis-server is not installed")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="spillway-redis-")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self.command("PING") == "+PONG":
                return
            time.sleep(0.05)
        self.stop()
        raise AssertionError("redis-server did not answer PING within 10 s")

    @property
    def address(self):
        return f"{LOOPBACK}:{self.port}"

    def command(self, *args):
        """One command, inline protocol; the first reply line, or None when unreachable."""
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1.0) as s:
                s.sendall((" ".join(args) + "\r\n").encode())
                return s.recv(4096).split(b"\r\n")[0].decode()
        except OSError:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, True)


_brotli = None


def brotli_compress(data):
    """Brotli (quality 5) through libbrotlienc."""
    global _brotli
    if _brotli is None:
        name = ctypes.util.find_library("brotlienc") or "libbrotlienc.so.1"
        try:
            _brotli = ctypes.CDLL(name)
        except OSError:
            raise unittest.SkipTest("libbrotlienc is not installed")
        _brotli.BrotliEncoderMaxCompressedSize.restype = ctypes.c_size_t
        _brotli.BrotliEncoderMaxCompressedSize.argtypes = [ctypes.c_size_t]
        _brotli.BrotliEncoderCompress.restype = ctypes.c_int
        _brotli.BrotliEncoderCompress.argtypes = [
            ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p]
    size = ctypes.c_size_t(_brotli.BrotliEncoderMaxCompressedSize(len(data)) or len(data) + 1024)
    out = ctypes.create_string_buffer(size.value)
    if not _brotli.BrotliEncoderCompress(5, 22, 0, len(data), data, ctypes.byref(size), out):
        raise AssertionError("brotli compression failed")
    return out.raw[:size.value]


def one(proxy, method="GET", target="/", headers=None, body=b"", timeout=10.0):
    """One request on a fresh connection; the response (None when the connection closed)."""
    c = proxy.client(timeout)
    try:
        return c.request(method, target, headers or [], body)
    finally:
        c.close()


def metric(proxy, name, **labels):
    """Value of one sample of the proxy's /metrics (0 when absent)."""
    _, _, body = proxy.metrics()
    text = body.decode() if isinstance(body, bytes) else body
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        m = re.match(r"([^{ ]+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == str(v) for k, v in labels.items()):
            return float(m.group(4))
    return 0.0


class PolicyTestCase(ProxyTestCase):
    def redis(self):
        r = RedisServer()
        self.addCleanup(r.stop)
        return r
