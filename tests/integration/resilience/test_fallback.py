"""Fallback clusters (SPEC §2.1 route fallback_clusters, §2.2 Resilience): when the primary
cluster has no available endpoint (down, unhealthy, ejected, breaker open) or sheds the request,
the route's fallback cluster serves it; while the primary is fine it is not used."""

import threading
import time
import unittest

from resil import (Background, Behaviour, ResilienceTestCase, closed_port, cluster, one_request,
                   route)

CHECK = {"path": "/health", "interval": "200ms", "timeout": "200ms", "healthy_threshold": 1,
         "unhealthy_threshold": 1}
RETRY = {"attempts": 3, "on": ["connect_failure", "reset", 502, 503, 504],
         "backoff": {"base": "10ms", "max": "50ms"}}


class FallbackTest(ResilienceTestCase):
    def setup(self, primary, fallback, primary_extra=None, route_extra=None):
        clusters = [cluster("primary", primary, **(primary_extra or {})),
                    cluster("small", fallback)]
        r = route("default", "primary", fallback_clusters=["small"], retry=RETRY,
                  timeouts={"first_byte": "10s", "idle": "10s"})
        r.update(route_extra or {})
        p = self.proxy(clusters, [r])
        return p, self.admin(p)

    def test_primary_used_while_available(self):
        a = self.tracked("A")
        f = self.tracked("F")
        p, admin = self.setup([a], [f])
        for i in range(10):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual((o.status, o.headers.get("x-upstream")), (200, "A"), repr(o))
        self.assertEqual(f.count(), 0)
        # Without active checks an endpoint reports healthy (SPEC §2.4 spillway_endpoint_healthy).
        self.assertEqual(admin.value("spillway_endpoint_healthy", cluster="primary", endpoint=a.address), 1)

    def test_fallback_when_primary_fails_health_checks(self):
        a = self.tracked("A", Behaviour(health=503))
        b = self.tracked("B", Behaviour(health=503))
        f = self.tracked("F")
        p, admin = self.setup([a, b], [f], {"health_check": CHECK})
        admin.wait_for(lambda: len(a.health_requests) >= 2 and len(b.health_requests) >= 2, 3.0,
                       "two health checks on each primary endpoint")
        for i in range(10):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual((o.status, o.headers.get("x-upstream")), (200, "F"), repr(o))
        self.assertEqual(a.count() + b.count(), 0, "unhealthy primary endpoints got traffic")

    def test_fallback_when_primary_is_down(self):
        down = [f"127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}"]
        f = self.tracked("F")
        p, admin = self.setup(down, [f], {"health_check": CHECK})
        time.sleep(0.5)  # a couple of check rounds against closed ports
        for i in range(10):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual((o.status, o.headers.get("x-upstream")), (200, "F"), repr(o))
        self.assertEqual(f.count(), 10)

    def test_fallback_when_primary_is_down_without_health_checks(self):
        # Only passive signals: connect failures eject the primary's endpoints; every request,
        # the first ones included, must still be answered by the fallback cluster.
        down = [f"127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}"]
        f = self.tracked("F")
        p, admin = self.setup(down, [f], {"outlier_detection": {
            "consecutive_5xx": 1, "interval": "100ms", "base_ejection_time": "10s",
            "max_ejection_time": "20s", "max_ejection_percent": "100%"}})
        statuses = []
        for i in range(10):
            o = one_request(p.port, f"/r/{i}")
            statuses.append((o.status, o.headers.get("x-upstream")))
        self.assertEqual(statuses[3:], [(200, "F")] * 7, f"statuses: {statuses}")
        self.assertEqual(statuses[:3], [(200, "F")] * 3, f"first requests failed: {statuses}")

    def test_no_fallback_all_ejected_answers_503_with_retry_after(self):
        down = [f"127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}"]
        p = self.proxy([cluster("primary", down, outlier_detection={
                            "consecutive_5xx": 1, "interval": "100ms", "base_ejection_time": "10s",
                            "max_ejection_time": "20s", "max_ejection_percent": "100%"})],
                       [route("default", "primary", retry=RETRY)])
        first = one_request(p.port, "/first")
        self.assertIn(first.status, (502, 503), repr(first))
        for i in range(3):
            o = one_request(p.port, f"/r/{i}")
            self.assertOpenAIErrorOutcome(o, 503)
            self.assertRetryAfter(o, "when every endpoint is ejected")

    def test_fallback_when_primary_breaker_open(self):
        a = self.tracked("A", Behaviour(status=500))
        f = self.tracked("F")
        p, admin = self.setup([a], [f], {"circuit_breaker": {
            "window": "10s", "min_requests": 3, "error_rate": "50%", "open_duration": "10s",
            "half_open_requests": 1}})
        for i in range(3):
            self.assertEqual(one_request(p.port, f"/warm/{i}").status, 500)
        admin.wait_value("spillway_circuit_breaker_state", 1, 1.0, cluster="primary", endpoint=a.address)
        for i in range(5):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual((o.status, o.headers.get("x-upstream")), (200, "F"), repr(o))
        self.assertEqual(a.count(), 3)

    def test_fallback_after_queue_timeout(self):
        a = self.tracked("A", Behaviour())
        a.behaviour.gate = threading.Event()
        self.addCleanup(a.behaviour.gate.set)
        f = self.tracked("F")
        p, admin = self.setup([a], [f], {"max_concurrent": 1,
                                         "queue": {"max_size": 5, "timeout": "300ms"}})
        bg = Background(p.port, timeout=20.0)
        bg.start("/block/0")
        self.assertTrue(a.wait_heads(1, 5.0))
        t0 = time.monotonic()
        o = one_request(p.port, "/waits")
        self.assertEqual((o.status, o.headers.get("x-upstream")), (200, "F"), repr(o))
        self.assertGreaterEqual(time.monotonic() - t0, 0.25, "served by the fallback before the queue timeout")
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual(a.targets(), ["/block/0"])

    def test_fallback_when_primary_sheds(self):
        a = self.tracked("A", Behaviour())
        a.behaviour.gate = threading.Event()
        self.addCleanup(a.behaviour.gate.set)
        f = self.tracked("F")
        p, admin = self.setup([a], [f], {"max_concurrent": 1,
                                         "queue": {"max_size": 1, "timeout": "10s"}})
        bg = Background(p.port, timeout=20.0)
        bg.start("/block/0")
        self.assertTrue(a.wait_heads(1, 5.0))
        queued = bg.start("/queued")
        admin.wait_value("spillway_queue_depth", 1, 5.0, cluster="primary")
        o = one_request(p.port, "/shed")
        self.assertEqual((o.status, o.headers.get("x-upstream")), (200, "F"),
                         "a request the primary shed (queue full) was not served by the fallback: "
                         + repr(o))
        a.behaviour.gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual(queued.status, 200, repr(queued))
        self.assertEqual(a.targets(), ["/block/0", "/queued"])


if __name__ == "__main__":
    unittest.main()
