"""Weighted cluster split (SPEC §2.1 routes[].clusters with weights): traffic divides in
proportion to the weights, and a request with an affinity key always lands in the same cluster."""

import unittest

from policy_support import PolicyTestCase, cluster, one


class SplitTest(PolicyTestCase):
    def test_80_20_split_and_sticky_keys(self):
        a = self.upstream("A")
        b = self.upstream("B")
        r = {"name": "canary", "match": {"path_prefix": "/"},
             "clusters": [{"name": "main", "weight": 80}, {"name": "canary", "weight": 20}],
             "timeouts": {"first_byte": "2s", "idle": "2s"}}
        affinity = {"key": "header:x-session"}
        p = self.proxy([cluster("main", [a], affinity=affinity),
                        cluster("canary", [b], affinity=affinity)], [r])
        n = 500
        c = self.client(p)
        for i in range(n):
            resp = c.request("GET", f"/r/{i}")
            self.assertEqual(resp.status, 200)
        share = len(a.requests) / n
        # binomial sd at n=500, p=0.8 is 1.8 %; 6 points is over 3 sd
        self.assertAlmostEqual(share, 0.8, delta=0.06, msg=f"main got {share:.3f}")
        self.assertEqual(len(a.requests) + len(b.requests), n)
        # each session key stays in one cluster
        for s in range(20):
            seen = set()
            for _ in range(5):
                resp = c.request("GET", "/chat", [("X-Session", f"session-{s}")])
                seen.add(resp.header("x-upstream"))
            self.assertEqual(len(seen), 1, f"session-{s} went to {seen}")


if __name__ == "__main__":
    unittest.main()
