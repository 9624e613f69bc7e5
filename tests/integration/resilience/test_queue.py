"""Per-endpoint max_concurrent and the cluster queue (SPEC §2.2 Balancing, §2.3 X-Priority):
requests beyond the limit wait, ordered by priority then arrival; the endpoint is chosen when a
request leaves the queue; a full queue or a queue timeout answers 503 with Retry-After; a
higher-priority newcomer evicts the newest lowest-priority waiter."""

import threading
import time
import unittest

from resil import (Background, Behaviour, ResilienceTestCase, build_request, cluster,
                   one_request, route)

LONG = {"first_byte": "10s", "idle": "10s"}


class QueueTest(ResilienceTestCase):
    def setup_gated(self, n_upstreams=1, max_concurrent=1, queue=None, delay=0.0):
        """Upstreams whose /block requests wait for their gate, behind one cluster with
        `max_concurrent` per endpoint and the route's priority header x-priority."""
        ups = []
        for i in range(n_upstreams):
            b = Behaviour(delay=delay)
            b.gate = threading.Event()
            u = self.tracked("ABCD"[i], b)
            self.addCleanup(b.gate.set)
            ups.append(u)
        p = self.proxy([cluster("engines", ups, max_concurrent=max_concurrent,
                                queue=queue or {"max_size": 50, "timeout": "10s"})],
                       [route("default", "engines", timeouts=LONG,
                              priority={"header": "x-priority", "default": "normal"})])
        return ups, p, self.admin(p)

    def block_all(self, bg, ups, per_endpoint):
        """Fills every endpoint's slots with gated requests and waits until they all arrived."""
        n = len(ups) * per_endpoint
        for i in range(n):
            bg.start(f"/block/{i}")
        deadline = time.monotonic() + 5
        while sum(len(u.heads) for u in ups) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(sum(len(u.heads) for u in ups), n, "blocking requests did not all arrive")
        for u in ups:
            self.assertEqual(len(u.heads), per_endpoint,
                             f"{u.name} got {len(u.heads)} blocking requests, max_concurrent is {per_endpoint}")

    def enqueue(self, bg, admin, target, priority, depth):
        """Sends one request and waits until the cluster queue holds `depth` requests, so the
        arrival order at the proxy is the order of the calls."""
        hdrs = [("X-Priority", priority)] if priority else []
        o = bg.start(target, hdrs)
        try:
            admin.wait_value("spillway_queue_depth", depth, 5.0, f"after sending {target}",
                             cluster="engines")
        except AssertionError as e:
            # Say what became of the request (answered at once? still open?) and what the
            # proxy thought of its endpoints, so a failure on a loaded CI machine explains itself.
            raise AssertionError(f"{e}; request outcome: {o!r}; endpoints: "
                                 f"{admin.clusters()}")
        return o

    # Scenario 3 of the issue.
    def test_max_concurrent_respected_and_high_priority_first(self):
        ups, p, admin = self.setup_gated(n_upstreams=2, max_concurrent=2, delay=0.3)
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, ups, 2)
        lows = [self.enqueue(bg, admin, f"/low/{i}", "low", i + 1) for i in range(8)]
        highs = [self.enqueue(bg, admin, f"/high/{i}", "high", 9 + i) for i in range(8)]
        for u in ups:
            u.behaviour.gate.set()
        self.assertTrue(bg.join(20.0), "requests still open after 20 s")
        for o in bg.outcomes:
            self.assertEqual(o.status, 200, repr(o))
        for u in ups:
            self.assertLessEqual(u.max_in_flight, 2, f"{u.name} saw {u.max_in_flight} requests at once")
            self.assertEqual(u.max_in_flight, 2, f"{u.name} never had 2 in flight: the limit is not used")
        self.assertEqual(sum(u.count() for u in ups), 20)
        arrival = {}
        for u in ups:
            for target, at, _, _ in u.served:
                arrival[target] = at
        last_high = max(arrival[f"/high/{i}"] for i in range(8))
        first_low = min(arrival[f"/low/{i}"] for i in range(8))
        self.assertLess(last_high, first_low,
                        "a low-priority request left the queue before every high-priority one: "
                        + str(sorted(arrival, key=arrival.get)))
        self.assertLess(max(o.finished for o in highs), min(o.finished for o in lows) + 0.05,
                        "high-priority clients did not complete before low-priority ones")
        self.assertEqual(admin.value("spillway_queue_depth", cluster="engines"), 0)

    def test_max_concurrent_shared_by_workers(self):
        ups = [self.tracked(n, Behaviour(delay=0.3)) for n in "AB"]
        p = self.proxy([cluster("engines", ups, max_concurrent=2,
                                queue={"max_size": 50, "timeout": "10s"})],
                       [route("default", "engines", timeouts=LONG)], top={"workers": 2})
        bg = Background(p.port, timeout=20.0)
        for i in range(20):
            bg.start(f"/r/{i}")
        self.assertTrue(bg.join(20.0))
        for o in bg.outcomes:
            self.assertEqual(o.status, 200, repr(o))
        for u in ups:
            self.assertLessEqual(u.max_in_flight, 2, f"{u.name} saw {u.max_in_flight} requests at once")
        self.assertEqual(sum(u.count() for u in ups), 20)

    def test_endpoint_max_concurrent_overrides_cluster(self):
        a = self.tracked("A", Behaviour(delay=0.3))
        b = self.tracked("B", Behaviour(delay=0.3))
        eps = [{"address": a.address, "max_concurrent": 1}, {"address": b.address}]
        c = cluster("engines", [], max_concurrent=3, queue={"max_size": 50, "timeout": "10s"})
        c["endpoints"] = eps
        p = self.proxy([c], [route("default", "engines", timeouts=LONG)])
        bg = Background(p.port, timeout=20.0)
        for i in range(12):
            bg.start(f"/r/{i}")
        self.assertTrue(bg.join(20.0))
        for o in bg.outcomes:
            self.assertEqual(o.status, 200, repr(o))
        self.assertEqual(a.max_in_flight, 1, f"A (max_concurrent 1) saw {a.max_in_flight} at once")
        self.assertLessEqual(b.max_in_flight, 3)
        self.assertEqual(b.max_in_flight, 3, "B never reached the cluster's max_concurrent 3")

    def test_queued_request_leaves_when_an_endpoint_turns_healthy(self):
        a = self.tracked("A", Behaviour())
        a.behaviour.gate = threading.Event()
        self.addCleanup(a.behaviour.gate.set)
        b = self.tracked("B", Behaviour(health=503))
        # A must stay healthy while its one slot is busy: a slow check answer under a loaded
        # CI machine must not mark it down, so it takes three failed checks of 500 ms.
        check = {"path": "/health", "interval": "500ms", "timeout": "500ms", "healthy_threshold": 1,
                 "unhealthy_threshold": 3}
        p = self.proxy([cluster("engines", [a, b], max_concurrent=1, health_check=check,
                                queue={"max_size": 10, "timeout": "10s"})],
                       [route("default", "engines", timeouts=LONG)])
        admin = self.admin(p)
        admin.wait_value("spillway_endpoint_healthy", 1, 3.0, cluster="engines", endpoint=a.address)
        bg = Background(p.port, timeout=20.0)
        bg.start("/block/0")
        self.assertTrue(a.wait_heads(1, 5.0))
        q = self.enqueue(bg, admin, "/queued", None, 1)
        b.behaviour.health = 200
        admin.wait_value("spillway_endpoint_healthy", 1, 3.0, cluster="engines", endpoint=b.address)
        deadline = time.monotonic() + 2.0
        while q.status is None and q.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(q.status, 200,
                         "a queued request kept waiting after B became healthy and idle: " + repr(q))
        self.assertEqual(b.targets(), ["/queued"])
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))

    def test_client_gone_while_queued_leaves_the_queue(self):
        (a,), p, admin = self.setup_gated()
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a], 1)
        c = self.client(p)
        c.send(build_request("GET", "/abandoned"))
        admin.wait_value("spillway_queue_depth", 1, 5.0, cluster="engines")
        c.abort()
        admin.wait_value("spillway_queue_depth", 0, 2.0, "after the queued client disconnected",
                         cluster="engines")
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual(one_request(p.port, "/next").status, 200)
        self.assertEqual(a.targets(), ["/block/0", "/next"], "the abandoned request was sent upstream")

    def test_client_gone_mid_request_frees_the_slot(self):
        (a,), p, admin = self.setup_gated()
        c = self.client(p)
        c.send(build_request("GET", "/block/gone"))
        self.assertTrue(a.wait_heads(1, 5.0))
        c.abort()
        t0 = time.monotonic()
        o = one_request(p.port, "/next", timeout=5.0)
        self.assertEqual(o.status, 200, repr(o))
        self.assertLess(time.monotonic() - t0, 1.5, "the aborted request kept its max_concurrent slot")
        self.assertNothingInFlight(admin)

    def test_priority_then_arrival_order(self):
        (a,), p, admin = self.setup_gated()
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a], 1)
        self.enqueue(bg, admin, "/l0", "low", 1)
        self.enqueue(bg, admin, "/n0", None, 2)  # the route's default: normal
        self.enqueue(bg, admin, "/l1", "low", 3)
        self.enqueue(bg, admin, "/h0", "high", 4)
        self.enqueue(bg, admin, "/n1", "normal", 5)
        self.enqueue(bg, admin, "/h1", "high", 6)
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        for o in bg.outcomes:
            self.assertEqual(o.status, 200, repr(o))
        self.assertEqual(a.targets(), ["/block/0", "/h0", "/h1", "/n0", "/n1", "/l0", "/l1"])
        self.assertEqual(a.max_in_flight, 1)

    def test_queue_full_answers_503_with_retry_after(self):
        (a,), p, admin = self.setup_gated(queue={"max_size": 2, "timeout": "10s"})
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a], 1)
        q = [self.enqueue(bg, admin, f"/q{i}", None, i + 1) for i in range(2)]
        t0 = time.monotonic()
        o = one_request(p.port, "/overflow", timeout=5.0)
        self.assertLess(time.monotonic() - t0, 1.0, "a request beyond a full queue was held, not refused")
        self.assertOpenAIErrorOutcome(o, 503)
        self.assertRetryAfter(o, "on a queue-full 503")
        self.assertGreaterEqual(admin.total("spillway_shed_total", route="default"), 1,
                                "spillway_shed_total{route=default} did not count the refusal")
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual([x.status for x in q], [200, 200], repr(q))
        self.assertNotIn("/overflow", a.targets())

    def test_high_priority_newcomer_evicts_newest_low_waiter(self):
        (a,), p, admin = self.setup_gated(queue={"max_size": 2, "timeout": "10s"})
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a], 1)
        older = self.enqueue(bg, admin, "/low-old", "low", 1)
        newer = self.enqueue(bg, admin, "/low-new", "low", 2)
        high = bg.start("/high", [("X-Priority", "high")])
        deadline = time.monotonic() + 3
        while newer.status is None and newer.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertOpenAIErrorOutcome(newer, 503)
        self.assertRetryAfter(newer, "on the evicted waiter")
        self.assertIsNone(older.status, f"the older low-priority waiter was answered: {older!r}")
        self.assertIsNone(high.status, f"the high-priority newcomer was answered while the endpoint is busy: {high!r}")
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual(high.status, 200, repr(high))
        self.assertEqual(older.status, 200, repr(older))
        self.assertEqual(a.targets(), ["/block/0", "/high", "/low-old"])
        self.assertNothingInFlight(admin)

    def test_low_priority_newcomer_refused_when_queue_full_of_higher(self):
        (a,), p, admin = self.setup_gated(queue={"max_size": 2, "timeout": "10s"})
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a], 1)
        q = [self.enqueue(bg, admin, f"/n{i}", "normal", i + 1) for i in range(2)]
        o = one_request(p.port, "/low", [("X-Priority", "low")], timeout=5.0)
        self.assertOpenAIErrorOutcome(o, 503)
        self.assertRetryAfter(o)
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual([x.status for x in q], [200, 200], repr(q))
        self.assertEqual(a.targets(), ["/block/0", "/n0", "/n1"])

    def test_queue_timeout_answers_503(self):
        (a,), p, admin = self.setup_gated(queue={"max_size": 10, "timeout": "300ms"})
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a], 1)
        t0 = time.monotonic()
        o = one_request(p.port, "/waits", timeout=5.0)
        elapsed = time.monotonic() - t0
        self.assertOpenAIErrorOutcome(o, 503)
        self.assertRetryAfter(o, "on a queue-timeout 503")
        self.assertGreaterEqual(elapsed, 0.25, "answered before the queue timeout")
        self.assertLess(elapsed, 2.0, "queue timeout of 300ms not enforced")
        self.assertEqual(admin.value("spillway_queue_depth", cluster="engines"), 0)
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual(a.targets(), ["/block/0"])
        self.assertNothingInFlight(admin)

    def test_endpoint_chosen_when_leaving_queue(self):
        (a, b), p, admin = self.setup_gated(n_upstreams=2)
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a, b], 1)
        q = self.enqueue(bg, admin, "/queued", None, 1)
        b.behaviour.gate.set()  # only B frees a slot
        deadline = time.monotonic() + 5
        while q.status is None and q.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(q.status, 200, repr(q))
        self.assertIn("/queued", b.targets())
        self.assertNotIn("/queued", [h.target for h in a.heads])
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))

    def test_queue_depth_metric_and_admin_view(self):
        (a,), p, admin = self.setup_gated()
        bg = Background(p.port, timeout=20.0)
        self.block_all(bg, [a], 1)
        for i in range(3):
            self.enqueue(bg, admin, f"/q{i}", None, i + 1)
        ep = admin.endpoint("engines", a.address)
        self.assertEqual(ep.get("active"), 1, ep)
        self.assertIn("queued", str(admin.clusters()), "/admin/clusters does not report queued requests")
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        admin.wait_value("spillway_queue_depth", 0, 3.0, "once the queue drained", cluster="engines")


if __name__ == "__main__":
    unittest.main()
