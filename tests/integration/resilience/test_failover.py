"""Failover under steady load (issue "Resilience", scenario 1): three upstreams at 40 req/s,
one dies mid-run: no client request fails, the dead one is taken out of rotation within the
configured thresholds (health check, outlier detection, circuit breaker), and traffic returns to
it once it is back."""

import time
import unittest

from resil import Behaviour, ResilienceTestCase, SteadyLoad, cluster, ep_breaker, ep_healthy, route

RETRY = {"attempts": 3, "on": ["connect_failure", "reset", 502, 503, 504],
         "backoff": {"base": "10ms", "max": "100ms"}}
OUTLIER = {"consecutive_5xx": 3, "interval": "200ms", "base_ejection_time": "1s",
           "max_ejection_time": "2s", "max_ejection_percent": "50%"}
BREAKER = {"window": "2s", "min_requests": 5, "error_rate": "50%", "open_duration": "1s",
           "half_open_requests": 1}
CHECK = {"path": "/health", "interval": "200ms", "timeout": "200ms", "healthy_threshold": 2,
         "unhealthy_threshold": 2}
RATE, DURATION, KILL_AT, REVIVE_AT = 40, 8.0, 2.0, 4.0


class FailoverTest(ResilienceTestCase):
    def out_of_rotation(self, admin, address):
        ep = admin.endpoint("engines", address)
        return (ep.get("ejected") is True or ep_breaker(ep) in ("open", "half_open")
                or ep_healthy(ep) is False)

    def run_scenario(self, extra, detect_within):
        # 50 ms per answer: the dead endpoint has requests in flight when it dies.
        ups = [self.tracked(n, Behaviour(delay=0.05)) for n in "ABC"]
        p = self.proxy([cluster("engines", ups, **extra)],
                       [route("default", "engines", retry=RETRY)])
        admin = self.admin(p)
        if "health_check" in extra:
            for u in ups:
                admin.wait_value("spillway_endpoint_healthy", 1, 3.0, "before the load starts",
                                 cluster="engines", endpoint=u.address)
        load = SteadyLoad(p.port, RATE, DURATION).start()
        time.sleep(KILL_AT)
        victim = ups[1]
        before_kill = victim.count()
        self.assertGreater(before_kill, 10, "B got almost no traffic before it died")
        victim.kill()
        killed_at = time.monotonic()
        problems = []
        try:
            admin.wait_for(lambda: self.out_of_rotation(admin, victim.address), detect_within,
                           f"the dead endpoint out of rotation within {detect_within}s")
            detected = f"{time.monotonic() - killed_at:.2f}s"
        except AssertionError as e:
            problems.append(str(e))
            detected = "never"
        time.sleep(max(0.0, load.started + REVIVE_AT - time.monotonic()))
        revived = self.revive(victim)
        outcomes = load.join()
        if len(outcomes) != int(RATE * DURATION):
            problems.append(f"load sent {len(outcomes)} requests, planned {int(RATE * DURATION)}")
        failed = [o for o in outcomes if o.status != 200]
        if failed:
            problems.append(f"{len(failed)} client requests failed (dead endpoint out of rotation "
                            f"after {detected}): {failed[:5]}")
        if revived.count() < 5:
            problems.append(f"traffic did not return to the revived endpoint within "
                            f"{DURATION - REVIVE_AT:.0f}s (it got {revived.count()})")
        if self.out_of_rotation(admin, victim.address):
            problems.append(f"still out of rotation at the end: {admin.endpoint('engines', victim.address)}")
        if problems:
            retries = [(n, lb, v) for n, lb, v in admin.metrics()
                       if n.startswith("spillway_retries") and v]
            log = [line for line in p.log_text(400000).splitlines()
                   if '"status":5' in line.replace(" ", "") or "error" in line.lower()][:10]
            self.fail("\n".join(problems) + f"\nretry metrics: {retries}\nproxy log: " + "\n".join(log))
        return p, admin, ups, revived

    def test_dead_endpoint_passive_detection(self):
        p, admin, ups, revived = self.run_scenario(
            {"balancer": "round_robin", "outlier_detection": OUTLIER, "circuit_breaker": BREAKER},
            detect_within=1.5)
        total = sum(u.count() for u in ups) + revived.count()
        self.assertGreaterEqual(total, int(RATE * DURATION))

    def test_dead_endpoint_active_health_check(self):
        p, admin, ups, revived = self.run_scenario(
            {"balancer": "round_robin", "health_check": CHECK, "outlier_detection": OUTLIER},
            detect_within=1.5)
        self.assertEqual(admin.value("spillway_endpoint_healthy", cluster="engines",
                                     endpoint=revived.address), 1)
        self.assertGreaterEqual(len(revived.health_requests), 2, "the revived endpoint was not re-checked")


if __name__ == "__main__":
    unittest.main()
