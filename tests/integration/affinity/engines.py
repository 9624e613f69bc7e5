"""Real spillway-engine processes for the affinity integration tests: a tiny synthetic model
(make-model --preset tiny), engines on free loopback ports, ready when /health answers 200, and
a small JSON client that reports which engine served (X-Engine-Name).

Standard library only (runs with /usr/bin/python3).
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))

import harness  # noqa: E402
from harness import LOOPBACK, free_port, http_get  # noqa: E402

ENGINE_BIN = os.environ.get("SPILLWAY_ENGINE_BIN", "")


def make_model(workdir):
    """Writes the tiny synthetic model and tokenizer into `workdir`; returns their paths."""
    if not ENGINE_BIN:
        raise unittest.SkipTest("SPILLWAY_ENGINE_BIN is not set")
    if not os.access(ENGINE_BIN, os.X_OK):  # a build that made only the proxy (the TSan job)
        raise unittest.SkipTest(f"{ENGINE_BIN} is not built")
    model = os.path.join(workdir, "tiny.bin")
    tok = os.path.join(workdir, "tokenizer.bin")
    subprocess.run([ENGINE_BIN, "make-model", "--preset", "tiny", "--seed", "1", "--out", model,
                    "--tokenizer-out", tok], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.STDOUT, timeout=60)
    return model, tok


class Engine:
    """One spillway-engine on a free port, named `name` (its X-Engine-Name)."""

    def __init__(self, name, model, tok, workdir, extra=()):
        self.name = name
        self.port = free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.args = [ENGINE_BIN, "--model", model, "--tokenizer", tok, "--listen", self.address,
                     "--name", name, "--device", "cpu", "--threads", "1", "--io-threads", "1",
                     "--max-batch", "8", "--max-queue", "64", "--log-level", "warn", *extra]
        self.proc = None

    def start(self, timeout=30.0):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"engine {self.name} exited with {self.proc.returncode}")
            h = http_get(self.port, "/health", 1.0)
            if h is not None and h[0] == 200:
                return self
            time.sleep(0.05)
        raise AssertionError(f"engine {self.name} not healthy within {timeout}s")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # [(lower-case name, value)]
        self.body = body

    def header(self, name, default=None):
        for n, v in self.headers:
            if n == name:
                return v
        return default

    def header_all(self, name):
        return [v for n, v in self.headers if n == name]

    @property
    def engine(self):
        return self.header("x-engine-name")


def post(port, path, payload, headers=None, timeout=30.0):
    """POST a JSON body to 127.0.0.1:port; the answer with its headers, read whole."""
    c = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        body = json.dumps(payload).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=body, headers=h)
        r = c.getresponse()
        return Answer(r.status, [(n.lower(), v) for n, v in r.getheaders()], r.read())
    finally:
        c.close()


def completion(port, prompt="hello", max_tokens=2, headers=None, timeout=30.0):
    return post(port, "/v1/completions",
                {"model": "tiny", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0},
                headers, timeout)


def chat(port, messages, max_tokens=2, headers=None, timeout=30.0):
    return post(port, "/v1/chat/completions",
                {"model": "tiny", "messages": messages, "max_tokens": max_tokens,
                 "temperature": 0}, headers, timeout)


def metric_value(text, name, labels):
    """Value of the sample `name{labels...}` in Prometheus text (labels: dict, subset match)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


class EngineTestCase(harness.ProxyTestCase):
    """Engines and proxies are stopped after each test; the tiny model is made once per class."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="spillway-affinity-")
        cls.model, cls.tok = make_model(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.workdir, True)

    def engines(self, n, extra=()):
        out = []
        for i in range(n):
            e = Engine(f"engine-{chr(ord('a') + i)}", self.model, self.tok, self.workdir, extra)
            self.addCleanup(e.stop)
            out.append(e)
        for e in out:
            e.start()
        return out

    def clusters_view(self, proxy):
        r = http_get(proxy.admin_port, "/admin/clusters", 3.0)
        self.assertIsNotNone(r, "GET /admin/clusters failed")
        return json.loads(r[2])

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        self.fail(f"timed out after {timeout}s waiting for {what}")
