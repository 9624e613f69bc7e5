"""Admin contract (SPEC §2.4): every admin endpoint answers as specified and every SPEC metric
name is exported with its labels, from the real binary over real upstreams, one of which fails
its health checks."""

import json
import re
import time
import unittest
import urllib.error
import urllib.request

from harness import LOOPBACK, ProxyTestCase, cluster, route

HEALTH = {"path": "/health", "interval": "500ms", "timeout": "500ms", "healthy_threshold": 1,
          "unhealthy_threshold": 2}

# SPEC §2.4 metric names, their type and their label names.
SPEC_METRICS = {
    "spillway_requests_total": ("counter", {"route", "code"}),
    "spillway_request_duration_seconds": ("histogram", {"route"}),
    "spillway_time_to_first_byte_seconds": ("histogram", {"route"}),
    "spillway_upstream_requests_total": ("counter", {"cluster", "endpoint", "code"}),
    "spillway_upstream_active_requests": ("gauge", {"cluster", "endpoint"}),
    "spillway_queue_depth": ("gauge", {"cluster"}),
    "spillway_circuit_breaker_state": ("gauge", {"cluster", "endpoint"}),
    "spillway_endpoint_healthy": ("gauge", {"cluster", "endpoint"}),
    "spillway_retries_total": ("counter", {"route", "reason"}),
    "spillway_cache_requests_total": ("counter", {"result"}),
    "spillway_shed_total": ("counter", {"route", "reason"}),
}
# Served by features merged from other branches; their checks skip (saying so) while this build
# does not have them. Remove an entry once its feature is in.
PENDING_ENDPOINTS: set[str] = set()
PENDING_METRICS: set[str] = set()
PENDING_CLUSTER_FIELDS: set[str] = set()

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{family: type} from # TYPE lines and [(name, {labels}, value)] samples."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            if not m:
                raise AssertionError(f"malformed exposition line: {line!r}")
            samples.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return types, samples


def admin_call(port, method, path, body=None, timeout=5.0):
    """(status, content type, body bytes) of one admin request."""
    req = urllib.request.Request(f"http://{LOOPBACK}:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def health_handler(status):
    def handle(req, conn):
        if req.target == "/health":
            conn.respond(status, b"health")
        else:
            time.sleep(0.002)
            conn.respond(200, f"{conn.upstream.name} {req.target}".encode())
    return handle


class AdminContractTest(ProxyTestCase):
    def setUp(self):
        self.good = [self.upstream("A", health_handler(200)), self.upstream("B", health_handler(200))]
        self.bad = self.upstream("C", health_handler(503))
        self.p = self.proxy([cluster("engines", self.good + [self.bad], balancer="round_robin",
                                     health_check=HEALTH)],
                            [route("chat", "engines", "/v1/"), route("other", "engines", "/")],
                            top={"cache": {"memory": {"max_bytes": "16MiB"}}})
        self.wait_for(lambda: all(e["health"] == "healthy" for e in self.endpoints()
                                  if e["address"] != self.bad.address)
                      and self.endpoint(self.bad.address)["health"] == "unhealthy",
                      20.0, "A and B healthy, C unhealthy")

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}")

    def eventually(self, check, timeout=5.0):
        """Runs `check` until it stops raising AssertionError. The proxy counts a request once
        its last byte is written, which may be just after the client has read it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return check()
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get(self, path):
        return admin_call(self.p.admin_port, "GET", path)

    def get_json(self, path):
        status, ctype, body = self.get(path)
        self.assertEqual(status, 200, body)
        self.assertIn("application/json", ctype)
        return json.loads(body)

    def endpoints(self):
        return self.get_json("/admin/clusters")["clusters"][0]["endpoints"]

    def endpoint(self, address):
        return next(e for e in self.endpoints() if e["address"] == address)

    def traffic(self, n, prefix="/v1/completions"):
        c = self.client(self.p)
        for i in range(n):
            r = c.request("GET", f"{prefix}?i={i}")
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200, r.describe())

    def test_health_ready_and_unknown_paths(self):
        self.assertEqual(self.get("/healthz")[0], 200)
        self.assertEqual(self.get("/readyz")[0], 200)
        status, ctype, _ = self.get("/no/such/admin/path")
        self.assertEqual(status, 404)
        self.assertIn("application/json", ctype)

    def test_clusters_json(self):
        doc = self.get_json("/admin/clusters")
        self.assertEqual([c["name"] for c in doc["clusters"]], ["engines"])
        c = doc["clusters"][0]
        self.assertIn("queued", c)
        self.assertEqual(sorted(e["address"] for e in c["endpoints"]),
                         sorted(u.address for u in self.good + [self.bad]))
        for e in c["endpoints"]:
            for key in ("address", "weight", "effective_weight", "health", "breaker", "ejected",
                        "active", "draining", "reported_load"):
                if key not in e and key in PENDING_CLUSTER_FIELDS:
                    continue
                self.assertIn(key, e, f"/admin/clusters endpoint lacks {key}: {e}")
            self.assertEqual(e["breaker"], "closed")
            self.assertIsNone(e.get("reported_load"),
                              "reported load without any load_report configured")
        self.assertEqual(self.endpoint(self.bad.address)["health"], "unhealthy")
        self.assertFalse(self.endpoint(self.bad.address)["available"])

    def test_drain_and_undrain(self):
        a = self.good[0].address
        path = f"/admin/clusters/engines/endpoints/{a}/drain"
        status, _, body = admin_call(self.p.admin_port, "POST", path, b"")
        self.assertEqual(status, 200, body)
        self.assertTrue(self.endpoint(a)["draining"])
        st = self.get_json("/admin/status")
        self.assertTrue(next(e for e in st["clusters"][0]["endpoints"] if e["address"] == a)["draining"])
        before = len(self.good[0].requests)
        self.traffic(6)
        self.assertEqual(len(self.good[0].requests), before, "a drained endpoint got new requests")
        status, _, body = admin_call(self.p.admin_port, "POST", path.replace("/drain", "/undrain"), b"")
        self.assertEqual(status, 200, body)
        self.assertFalse(self.endpoint(a)["draining"])
        self.traffic(6)
        self.assertGreater(len(self.good[0].requests), before, "undrained endpoint gets no traffic")
        self.assertEqual(admin_call(self.p.admin_port, "POST",
                                    "/admin/clusters/engines/endpoints/10.9.9.9:1/drain", b"")[0], 404)

    def test_status_page_and_json(self):
        status, ctype, body = self.get("/")
        self.assertEqual(status, 200)
        self.assertIn("text/html", ctype)
        html = body.decode()
        self.assertIn("/admin/status", html, "the page does not poll the JSON snapshot")
        self.assertIn("<script>", html)
        self.assertIsNone(re.search(r'(src|href)\s*=\s*"(https?:)?//', html),
                          "the status page loads an external asset")
        self.traffic(30)
        self.eventually(self.check_status_json)

    def check_status_json(self):
        doc = self.get_json("/admin/status")
        for key in ("version", "uptime_s", "window_s", "ready", "cache", "routes", "clusters"):
            self.assertIn(key, doc)
        self.assertTrue(doc["version"])
        self.assertGreater(doc["uptime_s"], 0)
        eps = {e["address"]: e for e in doc["clusters"][0]["endpoints"]}
        for u in self.good:
            e = eps[u.address]
            self.assertEqual(e["health"], "healthy")
            served = len([r for r in u.requests if r.target != "/health"])
            self.assertEqual(e["requests_total"], served, f"{u.name}: counted vs served")
            self.assertGreater(e["rate"], 0, e)
            self.assertEqual(e["error_rate"], 0, e)
            self.assertIsNotNone(e["p50"], e)
            self.assertLessEqual(e["p50"], e["p99"], e)
            self.assertGreaterEqual(e["p50"], 0.001, "p50 below the upstream's 2 ms delay")
        self.assertEqual(eps[self.bad.address]["health"], "unhealthy")
        for e in eps.values():
            self.assertIn("reported_load", e)
            self.assertIsNone(e["reported_load"], "reported load without load_report")
        self.assertEqual(eps[self.bad.address]["requests_total"], 0)
        self.assertEqual(eps[self.bad.address]["rate"], 0)
        self.assertIsNone(eps[self.bad.address]["p50"])
        chat = next(r for r in doc["routes"] if r["name"] == "chat")
        self.assertEqual(chat["requests_total"], 30)
        self.assertGreater(chat["rate"], 0)
        self.assertEqual(next(r for r in doc["routes"] if r["name"] == "other")["requests_total"], 0)

    def test_spec_metric_names(self):
        self.traffic(10)
        self.traffic(3, "/other")
        self.eventually(self.check_metrics)

    def check_metrics(self):
        status, ctype, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", ctype)
        types, samples = parse_metrics(body.decode())
        missing = []
        for name, (kind, labels) in SPEC_METRICS.items():
            if name not in types:
                if name in PENDING_METRICS:
                    continue
                missing.append(name)
                continue
            self.assertEqual(types[name], kind, name)
            names = {name} if kind != "histogram" else {name + "_bucket", name + "_sum",
                                                        name + "_count"}
            mine = [s for s in samples if s[0] in names]
            self.assertTrue(mine, f"{name}: TYPE line but no sample")
            for sname, lab, _ in mine:
                expect = labels | ({"le"} if sname.endswith("_bucket") else set())
                self.assertEqual(set(lab), expect, f"{sname} labels {lab}")
        self.assertEqual(missing, [], "SPEC §2.4 metrics not exported")

        def value(name, **labels):
            return sum(v for n, lab, v in samples
                       if n == name and all(lab.get(k) == w for k, w in labels.items()))
        self.assertEqual(value("spillway_requests_total", route="chat", code="200"), 10)
        self.assertEqual(value("spillway_requests_total", route="other", code="200"), 3)
        self.assertEqual(value("spillway_endpoint_healthy", endpoint=self.bad.address), 0)
        for u in self.good:
            self.assertEqual(value("spillway_endpoint_healthy", endpoint=u.address), 1)
        self.assertEqual(value("spillway_upstream_requests_total", code="200"), 13)
        self.assertEqual(value("spillway_request_duration_seconds_count", route="chat"), 10)
        # Buckets reach minutes (LLM generations) and end with +Inf.
        les = [lab["le"] for n, lab, _ in samples
               if n == "spillway_request_duration_seconds_bucket" and lab["route"] == "chat"]
        self.assertEqual(les[-1], "+Inf")
        self.assertGreaterEqual(max(float(x) for x in les[:-1]), 300)
        self.assertEqual(value("spillway_upstream_request_duration_seconds_count"), 13)

    def test_cache_metric(self):
        _, _, body = self.get("/metrics")
        types, samples = parse_metrics(body.decode())
        if "spillway_cache_requests_total" not in types:
            self.assertIn("spillway_cache_requests_total", PENDING_METRICS)
            self.skipTest("spillway_cache_requests_total not exported by this build (cache pending)")
        self.assertEqual(types["spillway_cache_requests_total"], "counter")
        for n, lab, _ in samples:
            if n == "spillway_cache_requests_total":
                self.assertIn(lab.get("result"), {"hit", "miss", "stale", "bypass"})

    def check_pending_post(self, path, name):
        status, ctype, body = admin_call(self.p.admin_port, "POST", path, b"")
        if status == 404 and name in PENDING_ENDPOINTS:
            self.skipTest(f"{name} not served by this build (feature pending)")
        return status, ctype, body

    def test_reload(self):
        status, _, body = self.check_pending_post("/admin/reload", "POST /admin/reload")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.get("/readyz")[0], 200)

    def test_cache_purge(self):
        status, _, body = self.check_pending_post("/admin/cache/purge", "POST /admin/cache/purge")
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
