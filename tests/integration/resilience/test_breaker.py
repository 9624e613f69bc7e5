"""Circuit breaker and outlier detection per endpoint (SPEC §2.1 circuit_breaker,
outlier_detection; §2.4 spillway_circuit_breaker_state): the breaker opens on the error share in
its window, keeps traffic away while open, probes after open_duration and closes on success;
consecutive 5xx or connect failures eject an endpoint for base x n, never more than
max_ejection_percent of the cluster."""

import time
import unittest

from resil import (Background, Behaviour, ResilienceTestCase, build_request, closed_port, cluster,
                   ep_breaker, one_request, route)

BREAKER = {"window": "10s", "min_requests": 4, "error_rate": "50%", "open_duration": "1s",
           "half_open_requests": 1}
NO_RETRY = {"attempts": 1}


class BreakerTest(ResilienceTestCase):
    def state(self, admin, u):
        return admin.value("spillway_circuit_breaker_state", cluster="engines", endpoint=u.address)

    def send(self, p, n, prefix):
        return [one_request(p.port, f"{prefix}/{i}") for i in range(n)]

    def test_breaker_opens_probes_and_closes(self):
        a = self.tracked("A", Behaviour(status=500))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin", circuit_breaker=BREAKER)],
                       [route("default", "engines", retry=NO_RETRY)])
        admin = self.admin(p)
        self.assertEqual(self.state(admin, a), 0, "breaker not closed at start (or metric missing)")
        i = 0
        while a.count() < 4 and i < 20:
            one_request(p.port, f"/warm/{i}")
            i += 1
        self.assertEqual(a.count(), 4)
        opened_at = time.monotonic()
        admin.wait_value("spillway_circuit_breaker_state", 1, 1.0,
                         "after 4 errors of 4 (min_requests 4, error_rate 50%)",
                         cluster="engines", endpoint=a.address)
        self.assertEqual(self.state(admin, b), 0, "the healthy endpoint's breaker opened")
        self.assertEqual(ep_breaker(admin.endpoint("engines", a.address)), "open")
        # Open: no traffic at all.
        for o in self.send(p, 10, "/open"):
            self.assertEqual(o.status, 200, repr(o))
        self.assertEqual(a.count(), 4, "an open breaker let requests through")
        # After open_duration: exactly half_open_requests probes; the failed probe reopens it.
        time.sleep(max(0.0, opened_at + 1.3 - time.monotonic()))
        self.assertIn(self.state(admin, a), (1, 2))
        self.send(p, 10, "/half")
        self.assertEqual(a.count(), 5, f"half-open with half_open_requests 1 sent {a.count() - 4} probes")
        admin.wait_value("spillway_circuit_breaker_state", 1, 1.0, "after the failed probe",
                         cluster="engines", endpoint=a.address)
        # The endpoint recovers: the next probe succeeds and the breaker closes.
        a.behaviour.status = 200
        time.sleep(1.3)
        self.send(p, 10, "/recovered")
        admin.wait_value("spillway_circuit_breaker_state", 0, 1.0, "after a successful probe",
                         cluster="engines", endpoint=a.address)
        n = a.count()
        self.send(p, 10, "/closed")
        self.assertGreaterEqual(a.count() - n, 3, "a closed breaker still keeps traffic away")

    def test_half_open_admits_only_half_open_requests_at_once(self):
        a = self.tracked("A", Behaviour(status=500))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin", circuit_breaker=BREAKER)],
                       [route("default", "engines", retry=NO_RETRY,
                              timeouts={"first_byte": "5s", "idle": "5s"})])
        admin = self.admin(p)
        i = 0
        while a.count() < 4 and i < 20:
            one_request(p.port, f"/warm/{i}")
            i += 1
        admin.wait_value("spillway_circuit_breaker_state", 1, 1.0, cluster="engines", endpoint=a.address)
        a.behaviour.status = 200
        a.behaviour.delay = 0.8  # the probe stays in flight while the others arrive
        time.sleep(1.3)
        bg = Background(p.port)
        for j in range(10):
            bg.start(f"/burst/{j}")
            time.sleep(0.02)
        self.assertTrue(bg.join(10.0))
        for o in bg.outcomes:
            self.assertEqual(o.status, 200, repr(o))
        burst_at_a = [t for t in a.targets() if t.startswith("/burst/")]
        self.assertEqual(len(burst_at_a), 1,
                         f"half_open_requests 1 but A got {burst_at_a} while its probe was in flight")
        admin.wait_value("spillway_circuit_breaker_state", 0, 1.0, "after the successful probe",
                         cluster="engines", endpoint=a.address)

    def test_aborted_probe_does_not_wedge_half_open(self):
        a = self.tracked("A", Behaviour(status=500))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin", circuit_breaker=BREAKER)],
                       [route("default", "engines", retry=NO_RETRY,
                              timeouts={"first_byte": "5s", "idle": "5s"})])
        admin = self.admin(p)
        i = 0
        while a.count() < 4 and i < 20:
            one_request(p.port, f"/warm/{i}")
            i += 1
        admin.wait_value("spillway_circuit_breaker_state", 1, 1.0, cluster="engines", endpoint=a.address)
        a.behaviour.status = 200
        a.behaviour.delay = 3.0
        time.sleep(1.3)
        # Requests until one becomes A's probe; its client then goes away.
        heads = len(a.heads)
        for j in range(4):
            c = self.client(p)
            c.send(build_request("GET", f"/probe/{j}"))
            if a.wait_heads(heads + 1, 0.3):
                c.abort()
                break
            c.read_response()
            c.close()
        self.assertEqual(len(a.heads), heads + 1, "no probe reached A after open_duration")
        a.behaviour.delay = 0.0
        # The cancelled probe must not hold the only half-open slot for ever.
        deadline = time.monotonic() + 3.0
        n = a.count()
        k = 0
        while a.count() == n and time.monotonic() < deadline:
            self.assertEqual(one_request(p.port, f"/after/{k}").status, 200)
            k += 1
            time.sleep(0.05)
        self.assertGreater(a.count(), n, "after an aborted probe A never got another request")
        admin.wait_value("spillway_circuit_breaker_state", 0, 2.0, "after a later successful probe",
                         cluster="engines", endpoint=a.address)

    def test_breaker_counts_connect_failures(self):
        dead = f"127.0.0.1:{closed_port()}"
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [dead, b], balancer="round_robin",
                                circuit_breaker=dict(BREAKER, min_requests=3, open_duration="10s"))],
                       [route("default", "engines",
                              retry={"attempts": 2, "on": ["connect_failure"],
                                     "backoff": {"base": "10ms", "max": "20ms"}})])
        admin = self.admin(p)
        for o in self.send(p, 12, "/r"):
            self.assertEqual(o.status, 200, repr(o))
        admin.wait_value("spillway_circuit_breaker_state", 1, 1.0,
                         "after connect failures on every try of the dead endpoint",
                         cluster="engines", endpoint=dead)

    def test_breaker_counts_timeouts(self):
        a = self.tracked("A", Behaviour(delay=1.0))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin",
                                circuit_breaker=dict(BREAKER, min_requests=3, open_duration="10s"))],
                       [route("default", "engines", retry=NO_RETRY,
                              timeouts={"first_byte": "200ms", "idle": "2s"})])
        admin = self.admin(p)
        i = 0
        while a.count() + len(a.heads) < 3 and i < 10:
            one_request(p.port, f"/r/{i}")
            i += 1
        admin.wait_value("spillway_circuit_breaker_state", 1, 1.5,
                         "after 3 first-byte timeouts of 3", cluster="engines", endpoint=a.address)

    def test_breaker_window_forgets_old_errors(self):
        a = self.tracked("A", Behaviour(status=500))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin",
                                circuit_breaker=dict(BREAKER, window="1s"))],
                       [route("default", "engines", retry=NO_RETRY)])
        admin = self.admin(p)
        i = 0
        while a.count() < 3 and i < 20:
            one_request(p.port, f"/early/{i}")
            i += 1
        time.sleep(1.3)  # the three errors leave the 1 s window
        while a.count() < 5 and i < 40:
            one_request(p.port, f"/late/{i}")
            i += 1
        self.assertEqual(a.count(), 5)
        self.assertEqual(self.state(admin, a), 0,
                         "breaker opened on errors older than its window (2 errors in the window, min_requests 4)")

    def test_breaker_stays_closed_below_error_rate(self):
        # Every third answer of A fails: 33% < 50%.
        n = {"i": 0}
        a = self.tracked("A")
        orig = a.handler

        def flaky(req, conn):
            n["i"] += 1
            a.behaviour.status = 500 if n["i"] % 3 == 0 else 200
            return orig(req, conn)

        a.handler = flaky
        p = self.proxy([cluster("engines", [a], circuit_breaker=BREAKER)],
                       [route("default", "engines", retry=NO_RETRY)])
        admin = self.admin(p)
        self.send(p, 12, "/r")
        self.assertEqual(a.count(), 12)
        self.assertEqual(self.state(admin, a), 0, "breaker opened at a 33% error share (threshold 50%)")


class OutlierTest(ResilienceTestCase):
    def outlier(self, **kw):
        d = {"consecutive_5xx": 3, "interval": "100ms", "base_ejection_time": "1s",
             "max_ejection_time": "10s", "max_ejection_percent": "50%"}
        d.update(kw)
        return d

    def ejected(self, admin, ups):
        return [u.name for u in ups if admin.endpoint("engines", u.address).get("ejected") is True]

    def test_ejection_time_grows_with_each_ejection(self):
        a = self.tracked("A", Behaviour(status=500))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin",
                                # interval 1s: the ejection count decays only after 1 s back in
                                outlier_detection=self.outlier(interval="1s"))],
                       [route("default", "engines", retry=NO_RETRY)])
        admin = self.admin(p)
        end = time.monotonic() + 5.5
        i = 0
        while time.monotonic() < end:
            one_request(p.port, f"/r/{i}")
            i += 1
            time.sleep(0.02)
        times = [at for _, at, _, _ in a.served]
        self.assertGreaterEqual(len(times), 6, f"A got {len(times)} requests in 5.5 s")
        gaps = [t2 - t1 for t1, t2 in zip(times, times[1:]) if t2 - t1 > 0.5]
        self.assertGreaterEqual(len(gaps), 2, f"expected two ejections, A's gaps > 0.5 s: {gaps}")
        self.assertGreaterEqual(gaps[0], 0.9, f"first ejection {gaps[0]:.2f}s, base is 1s")
        self.assertLess(gaps[0], 1.8, f"first ejection {gaps[0]:.2f}s, base is 1s")
        self.assertGreaterEqual(gaps[1], 1.8, f"second ejection {gaps[1]:.2f}s, want 2 x base")
        # The first ejection comes after 3 consecutive 5xx (a few more when ejections are
        # decided on the interval sweep).
        first_burst = sum(1 for t in times if t < times[0] + 0.5)
        self.assertGreaterEqual(first_burst, 3, f"ejected after {first_burst} 5xx, consecutive_5xx is 3")
        self.assertLessEqual(first_burst, 6, f"ejected only after {first_burst} consecutive 5xx")

    def test_success_resets_consecutive_count(self):
        a = self.tracked("A")
        orig = a.handler
        n = {"i": 0}

        def two_fail_one_ok(req, conn):
            n["i"] += 1
            a.behaviour.status = 200 if n["i"] % 3 == 0 else 500
            return orig(req, conn)

        a.handler = two_fail_one_ok
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin",
                                outlier_detection=self.outlier(base_ejection_time="10s"))],
                       [route("default", "engines", retry=NO_RETRY)])
        admin = self.admin(p)
        self.send_n(p, 24)
        self.assertEqual(a.count(), 12)
        self.assertEqual(self.ejected(admin, [a, b]), [],
                         "ejected with never more than 2 5xx in a row (consecutive_5xx 3)")

    def test_at_most_max_ejection_percent_ejected(self):
        ups = [self.tracked(n, Behaviour(status=500)) for n in "ABCD"]
        p = self.proxy([cluster("engines", ups, balancer="round_robin",
                                outlier_detection=self.outlier(consecutive_5xx=2, base_ejection_time="10s"))],
                       [route("default", "engines", retry=NO_RETRY)])
        admin = self.admin(p)
        self.send_n(p, 40)
        self.assertEqual(len(self.ejected(admin, ups)), 2,
                         "4 failing endpoints with max_ejection_percent 50% must have exactly 2 ejected")

    def test_one_ejected_even_when_percent_allows_none(self):
        a = self.tracked("A", Behaviour(status=500))
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [a, b], balancer="round_robin",
                                outlier_detection=self.outlier(max_ejection_percent="10%",
                                                               base_ejection_time="10s"))],
                       [route("default", "engines", retry=NO_RETRY)])
        admin = self.admin(p)
        self.send_n(p, 12)
        self.assertEqual(self.ejected(admin, [a, b]), ["A"])
        n = a.count()
        self.send_n(p, 10)
        self.assertEqual(a.count(), n, "the ejected endpoint still got requests")

    def test_connect_failures_eject(self):
        dead = f"127.0.0.1:{closed_port()}"
        b = self.tracked("B")
        p = self.proxy([cluster("engines", [dead, b], balancer="round_robin",
                                outlier_detection=self.outlier(base_ejection_time="10s"))],
                       [route("default", "engines",
                              retry={"attempts": 2, "on": ["connect_failure"],
                                     "backoff": {"base": "10ms", "max": "20ms"}})])
        admin = self.admin(p)
        for i in range(12):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual(o.status, 200, repr(o))
        admin.wait_for(lambda: admin.endpoint("engines", dead).get("ejected") is True, 1.0,
                       "the endpoint with nothing listening ejected")

    def send_n(self, p, n):
        for i in range(n):
            one_request(p.port, f"/r/{i}")


if __name__ == "__main__":
    unittest.main()
