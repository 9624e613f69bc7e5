"""Helpers for the resilience integration tests (SPEC §2.1-2.2 Resilience), on top of the proxy
integration harness (tests/integration/proxy/harness.py): upstreams that count their in-flight
requests and can die and come back on the same port, switchable health endpoints, concurrent
clients, and readers for the admin /metrics and /admin/clusters views.

Standard library only (runs with /usr/bin/python3).
"""

import json
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))

import harness  # noqa: E402
from harness import (LOOPBACK, Client, ProxyTestCase, Upstream, build_request,  # noqa: E402,F401
                     closed_port, cluster, http_get, route)


# ---------------------------------------------------------------------------------------------
# Upstreams


class Behaviour:
    """What a scripted upstream does, switchable while the test runs. `status` answers every
    request (except the health path); `delay` holds each answer; `gate` (an Event) holds
    answers to targets starting with `gate_prefix` until set; `health` is the status of the
    health path, or an Event that holds the health answer until set."""

    def __init__(self, status=200, delay=0.0, headers=None, health=200):
        self.status = status
        self.delay = delay
        self.headers = list(headers or [])
        self.health = health
        self.health_path = "/health"
        self.gate = None
        self.gate_prefix = "/block"
        self.stream = None  # callable(req, conn) -> handler result, for streamed answers


class TrackedUpstream(Upstream):
    """A scripted upstream driven by a Behaviour that records, for each non-health request,
    its target and the in-flight count when it arrived, and the largest in-flight count seen.
    Health checks are recorded apart (`health_requests`)."""

    def __init__(self, name, behaviour=None, port=0):
        self.behaviour = behaviour or Behaviour()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = []  # (target, arrival time, finish time, status) of non-health requests
        self.health_requests = []  # arrival times
        super().__init__(name, self._handle, port)

    def _on_head(self, req):
        # `heads` holds traffic only: a health check arriving must not satisfy wait_heads().
        if req.target.split("?")[0] != self.behaviour.health_path:
            super()._on_head(req)

    def _handle(self, req, conn):
        b = self.behaviour
        if req.target.split("?")[0] == b.health_path:
            self.health_requests.append(time.monotonic())
            h = b.health
            if isinstance(h, threading.Event):
                h.wait(10.0)
                h = 200
            if h in (204, 304):  # no body and no Content-Length (RFC 9110 §8.6)
                return conn.send(f"HTTP/1.1 {h} Status\r\n\r\n")
            return conn.respond(h, "ok" if h == 200 else "down", [("Content-Type", "text/plain")])
        arrived = time.monotonic()
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        status = b.status
        done = False

        def finish():
            # Counted as finished just before the answer goes out: once the proxy has it, the
            # request is over for the proxy too, whenever this thread runs again.
            nonlocal done
            if not done:
                done = True
                with self.lock:
                    self.in_flight -= 1
                    self.served.append((req.target, arrived, time.monotonic(), status))

        try:
            if b.gate is not None and req.target.startswith(b.gate_prefix):
                b.gate.wait(15.0)
            if b.delay:
                time.sleep(b.delay)
            if b.stream is not None:
                return b.stream(req, conn)
            hdrs = [("Content-Type", "text/plain"), ("X-Upstream", self.name)] + b.headers
            finish()
            return conn.respond(status, f"{self.name} {req.target}", hdrs)
        finally:
            finish()

    def targets(self):
        with self.lock:
            return [t for t, _, _, _ in self.served]

    def count(self):
        with self.lock:
            return len(self.served)

    def kill(self):
        """Dies as a killed process would: the listening socket and every connection close."""
        self.close()

    def revive(self):
        """A new upstream with the same name, behaviour and port (the process restarted)."""
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return TrackedUpstream(self.name, self.behaviour, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Clients


class Outcome:
    def __init__(self, tag):
        self.tag = tag
        self.status = None  # None: no response (connection closed or error)
        self.headers = {}
        self.body = b""
        self.error = None
        self.started = 0.0
        self.finished = 0.0

    def __repr__(self):
        return f"<{self.tag}: {self.status} {self.error or ''} {self.body[:200]!r}>"


def one_request(port, target, headers=None, timeout=10.0, tag=None):
    """GET `target` on a new connection; returns an Outcome (never raises)."""
    o = Outcome(tag if tag is not None else target)
    o.started = time.monotonic()
    try:
        c = Client(port, timeout)
    except OSError as e:
        o.error = f"connect: {e}"
        o.finished = time.monotonic()
        return o
    try:
        r = c.request("GET", target, list(headers or []) + [("Connection", "close")])
        if r is None:
            o.error = "connection closed without a response"
        else:
            o.status = r.status
            o.headers = {n.lower(): v for n, v in r.headers}
            o.body = r.body
    except (OSError, TimeoutError, ValueError) as e:
        o.error = f"{type(e).__name__}: {e}"
    finally:
        c.close()
        o.finished = time.monotonic()
    return o


class Background:
    """Requests sent from threads; `start(target, headers)` returns the Outcome that the thread
    fills in; `join()` waits for all of them."""

    def __init__(self, port, timeout=10.0):
        self.port = port
        self.timeout = timeout
        self.threads = []
        self.outcomes = []

    def start(self, target, headers=None, tag=None):
        o = Outcome(tag if tag is not None else target)
        self.outcomes.append(o)

        def run():
            r = one_request(self.port, target, headers, self.timeout, o.tag)
            o.__dict__.update(r.__dict__)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)
        return o

    def join(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return all(not t.is_alive() for t in self.threads)


class SteadyLoad:
    """Open-loop load: `rate` requests per second for `duration` seconds, each on its own
    connection from its own thread; keeps every Outcome."""

    def __init__(self, port, rate, duration, prefix="/load", timeout=10.0):
        self.port, self.rate, self.duration, self.prefix = port, rate, duration, prefix
        self.bg = Background(port, timeout)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = None

    def _run(self):
        self.started = time.monotonic()
        n = int(self.rate * self.duration)
        for i in range(n):
            due = self.started + i / self.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            self.bg.start(f"{self.prefix}/{i}")

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join(self.duration + 5.0)
        self.bg.join(30.0)
        return self.bg.outcomes


# ---------------------------------------------------------------------------------------------
# Admin views

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text → list of (name, {label: value}, float)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


class Admin:
    def __init__(self, proxy):
        self.proxy = proxy

    def metrics(self):
        r = http_get(self.proxy.admin_port, "/metrics", 3.0)
        if r is None or r[0] != 200:
            raise AssertionError(f"GET /metrics on admin failed: {r!r}")
        return parse_metrics(r[2].decode("utf-8", "replace"))

    def samples(self, name, **labels):
        """Samples of metric `name` whose labels include `labels`."""
        return [(lb, v) for n, lb, v in self.metrics()
                if n == name and all(lb.get(k) == str(x) for k, x in labels.items())]

    def value(self, name, **labels):
        """The one sample of `name` matching `labels`, or None when there is none."""
        s = self.samples(name, **labels)
        if not s:
            return None
        if len(s) > 1:
            raise AssertionError(f"{name} {labels}: {len(s)} samples match: {s}")
        return s[0][1]

    def total(self, name, **labels):
        return sum(v for _, v in self.samples(name, **labels))

    def clusters(self):
        r = http_get(self.proxy.admin_port, "/admin/clusters", 3.0)
        if r is None or r[0] != 200:
            raise AssertionError(f"GET /admin/clusters failed: {r!r}")
        return json.loads(r[2].decode("utf-8"))

    def endpoint(self, cluster_name, address):
        """The /admin/clusters entry of one endpoint."""
        doc = self.clusters()
        clusters = doc.get("clusters", doc) if isinstance(doc, dict) else doc
        for c in clusters:
            if c.get("name") != cluster_name:
                continue
            for ep in c.get("endpoints", []):
                if ep.get("address") == address:
                    return ep
        raise AssertionError(f"/admin/clusters has no endpoint {address} in {cluster_name}: {doc}")

    def wait_value(self, name, expected, timeout=5.0, what="", **labels):
        """Waits until metric `name`{labels} equals `expected`; the failure names the last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.value(name, **labels)
            if v == expected:
                return v
            if time.monotonic() > deadline:
                shown = "absent" if v is None else v
                raise AssertionError(f"{name}{labels} is {shown}, expected {expected} within "
                                     f"{timeout}s {what}")
            time.sleep(0.03)

    def readyz(self):
        r = http_get(self.proxy.admin_port, "/readyz", 2.0)
        return None if r is None else r[0]

    def wait_for(self, predicate, timeout, what, interval=0.05):
        """Polls `predicate()` until it returns a true value; fails with `what` after `timeout`."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = predicate()
            except AssertionError as e:
                last = e
                if time.monotonic() > deadline:
                    raise
            if last and not isinstance(last, AssertionError):
                return last
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
            time.sleep(interval)


def ep_breaker(ep):
    """Breaker state of an /admin/clusters endpoint entry as 'closed' | 'open' | 'half_open'."""
    v = ep.get("breaker", ep.get("breaker_state", ep.get("circuit_breaker")))
    if isinstance(v, (int, float)):
        return {0: "closed", 1: "open", 2: "half_open"}.get(int(v), str(v))
    return str(v).replace("-", "_").lower()


def ep_healthy(ep):
    """True / False / None (unknown) for an /admin/clusters endpoint entry."""
    v = ep.get("healthy", ep.get("health"))
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return {"healthy": True, "up": True, "unhealthy": False, "down": False}.get(v.lower())
    return None


def ep_health(ep):
    """'healthy' | 'unhealthy' | 'unknown' for an /admin/clusters endpoint entry."""
    v = ep.get("health")
    if isinstance(v, str):
        return v.lower()
    h = ep_healthy(ep)
    return "unknown" if h is None else ("healthy" if h else "unhealthy")


class ResilienceTestCase(ProxyTestCase):
    def tracked(self, name, behaviour=None):
        u = TrackedUpstream(name, behaviour)
        self.addCleanup(u.close)
        return u

    def revive(self, u):
        n = u.revive()
        self.addCleanup(n.close)
        return n

    def admin(self, proxy):
        return Admin(proxy)

    def assertNothingInFlight(self, admin, timeout=2.0):
        """Every endpoint's in-flight count and every queue back at 0 once traffic stopped (a
        slot or queue entry leaked by a retry, an abort or a timeout shows here)."""
        def idle():
            left = [(lb, v) for n, lb, v in admin.metrics()
                    if n in ("spillway_upstream_active_requests", "spillway_queue_depth") and v != 0]
            return True if not left else None
        try:
            admin.wait_for(idle, timeout, "no active requests and empty queues")
        except AssertionError:
            left = [(n, lb, v) for n, lb, v in admin.metrics()
                    if n in ("spillway_upstream_active_requests", "spillway_queue_depth") and v != 0]
            self.fail(f"still in flight or queued after the traffic ended: {left}")

    def assertRetryAfter(self, outcome_or_headers, msg=""):
        h = outcome_or_headers.headers if isinstance(outcome_or_headers, Outcome) else outcome_or_headers
        ra = h.get("retry-after")
        self.assertIsNotNone(ra, f"no Retry-After {msg}: {outcome_or_headers!r} {h}")
        self.assertRegex(ra.strip(), r"^\d+$", f"Retry-After is not delta-seconds: {ra!r}")
        return int(ra)

    def assertOpenAIErrorOutcome(self, o, status):
        self.assertEqual(o.status, status, repr(o))
        self.assertIn("application/json", o.headers.get("content-type", ""), repr(o))
        try:
            doc = json.loads(o.body.decode("utf-8"))
        except ValueError:
            self.fail(f"error body is not JSON: {o!r}")
        self.assertIsInstance(doc.get("error"), dict, repr(o))
        for key in ("message", "type", "code"):
            self.assertIn(key, doc["error"], repr(o))
        return doc
