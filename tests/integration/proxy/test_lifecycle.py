"""Process life: --version, --check-config, graceful drain on SIGTERM, admin endpoints and
metric names (SPEC §2, §2.4)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Client, ProxyTestCase, build_request, cluster, http_get, route


def run_bin(*args, timeout=20):
    if not harness.SPILLWAY_BIN:
        raise unittest.SkipTest("SPILLWAY_BIN is not set")
    try:
        return subprocess.run([harness.SPILLWAY_BIN, *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"spillway {' '.join(args)} still running after {timeout}s") from None


def write(dirname, name, text):
    path = os.path.join(dirname, name)
    with open(path, "w") as f:
        f.write(text)
    return path


VALID = """\
workers: 1
listeners:
  - name: public
    address: 127.0.0.1:18080
    limits: {max_header_bytes: 8KiB, max_body_bytes: 1MiB}
    timeouts: {header: 2s, idle: 10s}
admin: {address: 127.0.0.1:19901}
clusters:
  - name: engines
    connect_timeout: 500ms
    endpoints: [{address: 127.0.0.1:19001, weight: 1}, {address: 127.0.0.1:19002}]
routes:
  - {name: default, match: {path_prefix: /}, cluster: engines, timeouts: {first_byte: 1s, idle: 1s}}
"""

# Line numbers matter: the unknown key is on line 9, the bad duration on line 14.
BROKEN = """\
workers: 1
listeners:
  - name: public
    address: 127.0.0.1:18080
admin: {address: 127.0.0.1:19901}
clusters:
  - name: engines
    endpoints:
      - {address: 127.0.0.1:19001, wieght: 5}
routes:
  - name: default
    match: {path_prefix: /}
    cluster: engines
    timeouts: {first_byte: 10 parsecs}
"""

# The route names a cluster that does not exist (line 10).
DANGLING = """\
workers: 1
listeners:
  - name: public
    address: 127.0.0.1:18080
clusters:
  - name: engines
    endpoints: [{address: 127.0.0.1:19001}]
routes:
  - name: default
    cluster: nope
    match: {path_prefix: /}
"""


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spillway-itest-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_version(self):
        r = run_bin("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"\d+\.\d+\.\d+")

    def test_check_config_valid(self):
        r = run_bin("--check-config", write(self.dir, "valid.yaml", VALID))
        self.assertEqual(r.returncode, 0, f"valid config rejected:\n{r.stdout}{r.stderr}")

    def test_check_config_lists_every_error(self):
        path = write(self.dir, "broken.yaml", BROKEN)
        r = run_bin("--check-config", path)
        self.assertNotEqual(r.returncode, 0, "broken config accepted")
        err = r.stderr
        # "file:line:col: key: message", one line per error, all of them.
        self.assertRegex(err, r"broken\.yaml:9:\d+: \S*wieght\S*: ",
                         f"unknown key not reported with file:line:col: key:\n{err}")
        self.assertRegex(err, r"broken\.yaml:14:\d+: \S*first_byte\S*: ",
                         f"bad duration not reported (every error must be listed):\n{err}")

    def test_check_config_dangling_cluster(self):
        path = write(self.dir, "dangling.yaml", DANGLING)
        r = run_bin("--check-config", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"dangling\.yaml:10:\d+: \S*cluster\S*: .*nope", r.stderr)

    def test_check_config_missing_file(self):
        r = run_bin("--check-config", os.path.join(self.dir, "absent.yaml"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("absent.yaml", r.stderr)

    def test_run_with_broken_config_exits_nonzero(self):
        path = write(self.dir, "broken.yaml", BROKEN)
        r = run_bin("--config", path, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("broken.yaml:9:", r.stderr)


class DrainTest(ProxyTestCase):
    def test_sigterm_drains_in_flight_request(self):
        def handler(req, conn):
            if req.target == "/slow":
                time.sleep(1.5)
            conn.respond(200, b"done " + req.target.encode())

        u = self.upstream("u", handler)
        p = self.proxy([cluster("engines", [u])],
                       [route("default", "engines", timeouts={"first_byte": "5s", "idle": "5s"})],
                       top={"drain_timeout": "5s"})
        idle_client = self.client(p)
        self.assertEqual(idle_client.request("GET", "/warm").status, 200)
        c = self.client(p, timeout=8.0)
        c.send(build_request("GET", "/slow"))
        self.assertTrue(u.wait_requests(2, 3.0))
        t_term = time.monotonic()
        p.stopped_on_purpose = True
        p.signal(signal.SIGTERM)
        time.sleep(0.3)
        # New connections are no longer served.
        served = False
        try:
            x = Client(p.port, timeout=1.0)
            self.addCleanup(x.close)
            r = x.request("GET", "/new")
            served = r is not None and r.status == 200
        except (OSError, TimeoutError):
            pass
        self.assertFalse(served, "a new connection was served after SIGTERM")
        # The idle keep-alive connection is closed rather than kept for new work.
        self.assertTrue(idle_client.closed_within(2.0), "idle keep-alive connection kept open while draining")
        # The in-flight request completes.
        r = c.read_response()
        self.assertIsNotNone(r, "in-flight request cut off by the drain")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"done /slow")
        rc = p.wait(5.0)
        self.assertIsNotNone(rc, "spillway still running 5 s after the last request finished")
        self.assertEqual(rc, 0, p.log_text())
        self.assertLess(time.monotonic() - t_term, 4.0)
        self.assertNotIn("/new", [q.target for q in u.requests])

    def test_drain_timeout_bounds_shutdown(self):
        def endless(req, conn):
            conn.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n")
            while conn.open:
                ev = b"data: tick\n\n"
                if not conn.send(b"%x\r\n%s\r\n" % (len(ev), ev)) or conn.wait_peer_close(0.2):
                    return False

        u = self.upstream("u", endless)
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")],
                       top={"drain_timeout": "1s"})
        c = self.client(p)
        c.send(build_request("GET", "/stream"))
        self.assertIsNotNone(c.reader.read_until(b"data: tick", time.monotonic() + 3))
        p.stopped_on_purpose = True
        t0 = time.monotonic()
        p.signal(signal.SIGTERM)
        rc = p.wait(6.0)
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(rc, "spillway ignored drain_timeout 1s with a stream open")
        self.assertEqual(rc, 0, p.log_text())
        self.assertGreaterEqual(elapsed, 0.8, "the stream was not given drain_timeout to finish")
        self.assertLess(elapsed, 3.0)
        self.assertTrue(c.closed_within(1.0))
        self.assertTrue(u.connections[0].wait_peer_close(1.0))

    def test_sigint_exits_zero_when_idle(self):
        u = self.upstream("u")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        p.stopped_on_purpose = True
        p.signal(signal.SIGINT)
        rc = p.wait(5.0)
        self.assertEqual(rc, 0, p.log_text())


def parse_metrics(text):
    """Prometheus text → list of (name, labels dict, value)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            raise AssertionError(f"not Prometheus text: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    return samples


def find(samples, name, **labels):
    return [v for n, l, v in samples if n == name and all(l.get(k) == v2 for k, v2 in labels.items())]


class AdminTest(ProxyTestCase):
    def test_health_and_ready(self):
        u = self.upstream("u")
        p = self.proxy([cluster("engines", [u])], [route("default", "engines")])
        self.assertEqual(http_get(p.admin_port, "/healthz")[0], 200)
        self.assertEqual(http_get(p.admin_port, "/readyz")[0], 200)
        # The admin API is not served on the public listener.
        c = self.client(p)
        r = c.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(u.requests[0].target, "/metrics", "public /metrics must be proxied")

    def test_metrics_after_traffic(self):
        u = self.upstream("u")
        p = self.proxy([cluster("engines", [u])], [route("v1", "engines", prefix="/v1")])
        c = self.client(p)
        for i in range(3):
            self.assertEqual(c.request("GET", f"/v1/x/{i}").status, 200)
        self.assertEqual(c.request("GET", "/nothing-here").status, 404)
        status, headers, body = p.metrics()
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        text = body.decode()
        samples = parse_metrics(text)
        self.assertRegex(text, r"(?m)^# TYPE spillway_requests_total counter$")
        self.assertRegex(text, r"(?m)^# TYPE spillway_request_duration_seconds histogram$")
        self.assertEqual(find(samples, "spillway_requests_total", route="v1", code="200"), [3.0],
                         "spillway_requests_total{route=v1,code=200} must be 3:\n" + text[:3000])
        self.assertTrue(any(v >= 1 for v in find(samples, "spillway_requests_total", code="404")),
                        "the 404 was not counted")
        self.assertEqual(find(samples, "spillway_request_duration_seconds_count", route="v1"), [3.0])
        self.assertEqual(find(samples, "spillway_request_duration_seconds_bucket", route="v1", le="+Inf"),
                         [3.0])
        sums = find(samples, "spillway_request_duration_seconds_sum", route="v1")
        self.assertTrue(sums and sums[0] > 0)
        self.assertEqual(find(samples, "spillway_upstream_active_requests", cluster="engines",
                              endpoint=u.address), [0.0])

    def test_active_requests_gauge_follows_in_flight(self):
        release = threading.Event()

        def handler(req, conn):
            release.wait(10)
            conn.respond(200, b"ok")

        u = self.upstream("u", handler)
        self.addCleanup(release.set)
        p = self.proxy([cluster("engines", [u])],
                       [route("default", "engines", timeouts={"first_byte": "10s", "idle": "10s"})])
        clients = [self.client(p, timeout=12) for _ in range(2)]
        for c in clients:
            c.send(build_request("GET", "/hold"))
        self.assertTrue(u.wait_requests(2, 3.0))

        def active():
            return find(parse_metrics(p.metrics()[2].decode()), "spillway_upstream_active_requests",
                        cluster="engines", endpoint=u.address)

        self.assertEqual(active(), [2.0])
        clients[0].close()  # an abort releases its count
        deadline = time.monotonic() + 2
        while active() != [1.0] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(active(), [1.0])
        release.set()
        self.assertEqual(clients[1].read_response().status, 200)
        deadline = time.monotonic() + 2
        while active() != [0.0] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(active(), [0.0])


if __name__ == "__main__":
    unittest.main()
