"""Helpers for the response-cache integration tests (SPEC §2.2 Cache, §2.3 Cache-Status, §2.4
purge and metrics): a real redis-server on a free port that can be killed and restarted on the
same port, a tiny RESP client to look into it, and an OpenAI-like upstream that counts the
requests it gets and answers JSON or an event stream as the request asks.

Standard library only (runs with /usr/bin/python3).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))

import harness  # noqa: E402
from harness import LOOPBACK, ProxyTestCase, Upstream, cluster, free_port, route  # noqa: E402,F401

CHAT = "/v1/chat/completions"


# ---------------------------------------------------------------------------------------------
# Redis


class Redis:
    """redis-server on loopback, no persistence. stop() kills it (SIGKILL: as a crash would);
    start() brings it back on the same port."""

    def __init__(self):
        self.bin = shutil.which("redis-server")
        if not self.bin:
            raise unittest.SkipTest("redis-server not installed")
        self.port = free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="spillway-redis-")
        self.proc = None

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            [self.bin, "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("redis-server did not answer PING")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, True)

    def command(self, *args, timeout=2.0):
        """Sends one command; returns the decoded reply (str, int, list, None)."""
        with socket.create_connection((LOOPBACK, self.port), timeout=timeout) as s:
            out = f"*{len(args)}\r\n".encode()
            for a in args:
                a = a.encode() if isinstance(a, str) else a
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            return _read_reply(f)

    def keys(self):
        return sorted(self.command("KEYS", "*"))

    def wait_keys(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len(self.keys()) >= n:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise AssertionError("redis error: " + rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode("latin-1")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise AssertionError(f"unexpected redis reply {line!r}")


# ---------------------------------------------------------------------------------------------
# Upstream


class ModelUpstream(Upstream):
    """An OpenAI-like upstream. Each request gets a numbered answer (so a second trip upstream
    shows in the body): a chat.completion, or chat.completion.chunk events then [DONE] when the
    request has "stream": true. `status` / `content_type` override the answer; `delay` holds
    it. `count` is the number of completion requests it received."""

    def __init__(self, name="m", port=0):
        self.count = 0
        self.lock = threading.Lock()
        self.delay = 0.0
        self.status = 200
        self.content_type = None
        self.pad = 0  # extra bytes of content in JSON answers
        self.chunked = False  # JSON answers without Content-Length
        super().__init__(name, self._answer, port)

    def _answer(self, req, conn):
        with self.lock:
            self.count += 1
            n = self.count
        if self.delay:
            time.sleep(self.delay)
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            body = {}
        text = f"answer {n} from {self.name}" + "x" * self.pad
        if self.status != 200 or self.content_type:
            return conn.respond(self.status, json.dumps({"n": n}).encode() if not self.content_type
                                else text.encode(),
                                [("Content-Type", self.content_type or "application/json")])
        if body.get("stream"):
            events = [
                {"id": f"c{n}", "object": "chat.completion.chunk", "created": 1, "model": "tiny",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                              "finish_reason": None}]},
                {"id": f"c{n}", "object": "chat.completion.chunk", "created": 1, "model": "tiny",
                 "choices": [{"index": 0, "delta": {"content": "answer "}, "finish_reason": None}]},
                {"id": f"c{n}", "object": "chat.completion.chunk", "created": 1, "model": "tiny",
                 "choices": [{"index": 0, "delta": {"content": f"{n} from {self.name}"},
                              "finish_reason": None}]},
                {"id": f"c{n}", "object": "chat.completion.chunk", "created": 1, "model": "tiny",
                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            ]
            payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return conn.respond(200, payload.encode(), [("Content-Type", "text/event-stream")])
        answer = {"id": f"c{n}", "object": "chat.completion", "created": 1, "model": "tiny",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
        data = json.dumps(answer).encode()
        if self.chunked:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            return conn.send(head + harness.chunked([data[i:i + 4096] for i in range(0, len(data), 4096)]))
        return conn.respond(200, data, [("Content-Type", "application/json")])


def chat_body(prompt="hello", **extra):
    b = {"model": "tiny", "messages": [{"role": "user", "content": prompt}], "temperature": 0}
    b.update(extra)
    return json.dumps(b)


def sse_payloads(body):
    """The data payloads of an event stream body, in order."""
    out = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        data = [ln[5:].lstrip(" ") if ln.startswith("data:") else None for ln in block.split("\n")]
        data = [d for d in data if d is not None]
        if data:
            out.append("\n".join(data))
    return out


def sse_content(body):
    """Concatenated delta content of chat.completion.chunk events, and whether [DONE] ended it."""
    payloads = sse_payloads(body)
    text = ""
    for p in payloads:
        if p == "[DONE]":
            continue
        for c in json.loads(p).get("choices", []):
            text += c.get("delta", {}).get("content", "") or ""
    return text, bool(payloads) and payloads[-1] == "[DONE]"


class CacheTestCase(ProxyTestCase):
    def redis(self):
        r = Redis()
        self.addCleanup(r.close)
        return r.start()

    def model(self, name="m"):
        u = ModelUpstream(name)
        self.addCleanup(u.close)
        return u

    def cached_proxy(self, upstream, redis=None, route_cache=None, routes=None, top=None,
                     memory="16MiB", admin_token=None):
        rc = {"ttl": "5m", "only_deterministic": True}
        rc.update(route_cache or {})
        cache = {"memory": {"max_bytes": memory}, "max_object_bytes": "64KiB"}
        if redis is not None:
            cache["redis"] = {"address": redis.address, "timeout": "200ms",
                              "key_prefix": "spillway:"}
        t = {"cache": cache}
        t.update(top or {})
        rs = routes or [route("chat", "m", prefix="/v1/", cache=rc)]
        ups = upstream if isinstance(upstream, list) else [upstream]
        p = self.proxy([cluster("m", ups)], rs, top=t, start=False)
        if admin_token:
            p.config["admin"]["token"] = admin_token
            with open(p.config_path, "w") as f:
                f.write(harness.to_yaml(p.config))
        return p.start()

    def post(self, proxy, body, headers=None, target=CHAT, timeout=10.0):
        c = self.client(proxy, timeout)
        h = [("Content-Type", "application/json")] + list(headers or [])
        r = c.request("POST", target, h, body)
        self.assertIsNotNone(r, "no response")
        return r

    def admin_post(self, proxy, path, body="", headers=None):
        c = harness.Client(proxy.admin_port, 10.0)
        try:
            h = [("Connection", "close")] + list(headers or [])
            if body:
                h.append(("Content-Type", "application/json"))
            r = c.request("POST", path, h, body, host=f"{LOOPBACK}:{proxy.admin_port}")
            self.assertIsNotNone(r, "no admin response")
            return r.status, {n.lower(): v for n, v in r.headers}, r.body.decode()
        finally:
            c.close()

    def metric(self, proxy, name):
        """Value of the sample `name` (with its labels, exactly as exposed), or None."""
        _, _, body = proxy.metrics()
        for line in body.decode().splitlines():
            if line.rsplit(" ", 1)[0] == name:
                return float(line.rsplit(" ", 1)[1])
        return None
