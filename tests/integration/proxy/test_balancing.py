"""Balancing through the real proxy (SPEC §2.2 Balancing): weighted shares, and least_conn
steering away from an endpoint that holds in-flight requests, with counts shared by workers."""

import threading
import time
import unittest

from harness import ProxyTestCase, build_request, cluster, route


class BalancingTest(ProxyTestCase):
    def spread(self, balancer, n=1000):
        ups = [self.upstream(name) for name in ("A", "B", "C")]
        p = self.proxy([cluster("engines", [(ups[0], 5), (ups[1], 3), (ups[2], 2)],
                                balancer=balancer)],
                       [route("default", "engines")])
        c = self.client(p)
        for i in range(n):
            r = c.request("GET", f"/r/{i}")
            self.assertIsNotNone(r, f"connection closed at request {i}")
            self.assertEqual(r.status, 200)
        counts = [len(u.requests) for u in ups]
        self.assertEqual(sum(counts), n)
        return [x / n for x in counts]

    def test_weighted_round_robin_5_3_2(self):
        shares = self.spread("round_robin")
        for got, want in zip(shares, (0.5, 0.3, 0.2)):
            self.assertAlmostEqual(got, want, delta=0.03, msg=f"shares {shares}, want 5:3:2")

    def test_weighted_random_5_3_2(self):
        shares = self.spread("random")
        for got, want in zip(shares, (0.5, 0.3, 0.2)):
            self.assertAlmostEqual(got, want, delta=0.06, msg=f"shares {shares}, want 5:3:2")

    def test_least_conn_avoids_busy_endpoint(self):
        release = threading.Event()

        def handler(req, conn):
            if req.target.startswith("/slow"):
                release.wait(10.0)
            conn.respond(200, conn.upstream.name, [("X-Upstream", conn.upstream.name)])

        a = self.upstream("A", handler)
        b = self.upstream("B", handler)
        self.addCleanup(release.set)
        p = self.proxy([cluster("engines", [a, b], balancer="least_conn")],
                       [route("default", "engines", timeouts={"first_byte": "10s", "idle": "10s"})],
                       top={"workers": 2})
        slow = self.client(p, timeout=12.0)
        slow.send(build_request("GET", "/slow"))
        deadline = time.monotonic() + 3
        while not (a.requests or b.requests) and time.monotonic() < deadline:
            time.sleep(0.01)
        busy, idle = (a, b) if a.requests else (b, a)
        self.assertEqual(len(busy.requests), 1, "slow request not forwarded")
        # New connections may land on either worker: the in-flight count is per process.
        for i in range(10):
            c = self.client(p)
            r = c.request("GET", f"/fast/{i}")
            self.assertIsNotNone(r)
            self.assertEqual(r.header("x-upstream"), idle.name,
                             f"request {i} went to {r.header('x-upstream')}, which holds the slow one")
            c.close()
        release.set()
        r = slow.read_response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200)
        # With both idle again, traffic reaches both endpoints.
        c = self.client(p)
        seen = {c.request("GET", f"/after/{i}").header("x-upstream") for i in range(6)}
        self.assertEqual(seen, {"A", "B"})

    def test_failover_to_live_endpoint_on_connect_failure(self):
        from harness import closed_port
        live = self.upstream("live")
        dead = f"127.0.0.1:{closed_port()}"
        p = self.proxy([cluster("engines", [dead, live], balancer="round_robin")],
                       [route("default", "engines")])
        c = self.client(p)
        statuses = [c.request("GET", f"/f/{i}").status for i in range(6)]
        # connect_failure is retried on another endpoint by default (SPEC: retry).
        self.assertEqual(statuses, [200] * 6)
        self.assertEqual(len(live.requests), 6)


if __name__ == "__main__":
    unittest.main()
