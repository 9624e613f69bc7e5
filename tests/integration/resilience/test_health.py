"""Active health checks (SPEC §2.1 health_check, §2.4 /readyz and spillway_endpoint_healthy):
endpoints start unknown and get traffic only once a check on `path` answered 2xx; failing
endpoints get none; /readyz is 503 until one endpoint is healthy."""

import threading
import time
import unittest

from resil import Behaviour, ResilienceTestCase, cluster, ep_health, ep_healthy, one_request, route

CHECK = {"path": "/health", "interval": "200ms", "timeout": "200ms", "healthy_threshold": 1,
         "unhealthy_threshold": 1}


class HealthTest(ResilienceTestCase):
    def healthy(self, admin, u):
        return admin.value("spillway_endpoint_healthy", cluster="engines", endpoint=u.address)

    def test_failing_health_check_gets_no_traffic(self):
        a = self.tracked("A", Behaviour(health=503))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin", health_check=CHECK)],
                       [route("default", "engines")])
        admin = self.admin(p)
        admin.wait_value("spillway_endpoint_healthy", 1, 3.0, "for B", cluster="engines", endpoint=b.address)
        time.sleep(0.5)  # a few more check rounds
        self.assertEqual(self.healthy(admin, a), 0, "A answers 503 on /health and is not marked unhealthy")
        self.assertGreaterEqual(len(a.health_requests), 2, "A is not checked every 200ms")
        for i in range(20):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual(o.status, 200, repr(o))
        self.assertEqual(a.count(), 0, f"unhealthy A got traffic: {a.targets()}")
        self.assertFalse(ep_healthy(admin.endpoint("engines", a.address)))
        # A recovers: marked healthy and back in rotation.
        a.behaviour.health = 200
        admin.wait_value("spillway_endpoint_healthy", 1, 2.0, "after A's /health turned 200",
                         cluster="engines", endpoint=a.address)
        for i in range(10):
            self.assertEqual(one_request(p.port, f"/back/{i}").status, 200)
        self.assertGreaterEqual(a.count(), 3, "A healthy again but gets (almost) no traffic")

    def test_only_2xx_passes(self):
        ups = [self.tracked(n, Behaviour(health=code)) for n, code in (("A", 302), ("B", 404), ("C", 204))]
        p = self.proxy([cluster("engines", ups, health_check=CHECK)], [route("default", "engines")])
        admin = self.admin(p)
        admin.wait_value("spillway_endpoint_healthy", 1, 3.0, "for C (204)", cluster="engines",
                         endpoint=ups[2].address)
        time.sleep(0.5)
        self.assertEqual(self.healthy(admin, ups[0]), 0, "a 302 health answer counted as healthy")
        self.assertEqual(self.healthy(admin, ups[1]), 0, "a 404 health answer counted as healthy")

    def test_unknown_endpoint_gets_no_traffic_until_first_healthy_check(self):
        gate = threading.Event()
        self.addCleanup(gate.set)
        a = self.tracked("A", Behaviour(health=gate))
        p = self.proxy([cluster("engines", [a], health_check=dict(CHECK, interval="1s", timeout="1s"))],
                       [route("default", "engines")])
        admin = self.admin(p)
        self.assertEqual(admin.readyz(), 503, "/readyz ready before any endpoint passed a check")
        for i in range(3):
            o = one_request(p.port, f"/early/{i}")
            self.assertOpenAIErrorOutcome(o, 503)
            self.assertRetryAfter(o, "when no endpoint is available")
        self.assertEqual(a.count(), 0, "an endpoint whose health is unknown got traffic")
        self.assertNotEqual(self.healthy(admin, a), 1)
        gate.set()
        admin.wait_value("spillway_endpoint_healthy", 1, 3.0, "after the first check passed",
                         cluster="engines", endpoint=a.address)
        admin.wait_for(lambda: admin.readyz() == 200, 2.0, "/readyz 200")
        self.assertEqual(one_request(p.port, "/later").status, 200)
        self.assertEqual(a.targets(), ["/later"])

    def test_readyz_503_until_one_endpoint_healthy(self):
        a = self.tracked("A", Behaviour(health=503))
        b = self.tracked("B", Behaviour(health=503))
        p = self.proxy([cluster("engines", [a, b], health_check=CHECK)], [route("default", "engines")])
        admin = self.admin(p)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            self.assertEqual(admin.readyz(), 503, "/readyz ready while every endpoint fails its check")
            time.sleep(0.1)
        self.assertGreaterEqual(len(a.health_requests) + len(b.health_requests), 4)
        b.behaviour.health = 200
        admin.wait_for(lambda: admin.readyz() == 200, 2.0, "/readyz 200 once B is healthy")
        self.assertEqual(self.healthy(admin, b), 1)
        self.assertEqual(self.healthy(admin, a), 0)

    def test_check_timeout_counts_as_failure(self):
        never = threading.Event()
        self.addCleanup(never.set)
        a = self.tracked("A", Behaviour(health=never))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin",
                                health_check=dict(CHECK, interval="300ms", timeout="200ms",
                                                  unhealthy_threshold=2))],
                       [route("default", "engines")])
        admin = self.admin(p)
        admin.wait_for(lambda: ep_health(admin.endpoint("engines", a.address)) == "unhealthy", 3.0,
                       "A unhealthy after two check timeouts")
        self.assertGreaterEqual(len(a.health_requests), 2)
        for i in range(10):
            self.assertEqual(one_request(p.port, f"/r/{i}").status, 200)
        self.assertEqual(a.count(), 0)

    def test_healthy_endpoint_marked_down_after_unhealthy_threshold(self):
        a = self.tracked("A")
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin",
                                health_check=dict(CHECK, unhealthy_threshold=3, healthy_threshold=2))],
                       [route("default", "engines")])
        admin = self.admin(p)
        admin.wait_value("spillway_endpoint_healthy", 1, 3.0, cluster="engines", endpoint=a.address)
        checks = len(a.health_requests)
        a.behaviour.health = 500
        admin.wait_value("spillway_endpoint_healthy", 0, 3.0, "after A's /health turned 500",
                         cluster="engines", endpoint=a.address)
        failed = len(a.health_requests) - checks
        self.assertGreaterEqual(failed, 3, f"marked down after {failed} failed checks, threshold is 3")
        n = a.count()
        for i in range(10):
            self.assertEqual(one_request(p.port, f"/r/{i}").status, 200)
        self.assertEqual(a.count(), n)


if __name__ == "__main__":
    unittest.main()
