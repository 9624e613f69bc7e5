"""No retry storm (issue "Resilience", scenario 2): every upstream answers 429 with
Retry-After: 1; clients get 429 or 503 with Retry-After, and the retry budget (retries in flight
at most max(3, budget x active requests)) plus Retry-After keep the upstream load within
1.2 x the client requests."""

import time
import unittest

from resil import Behaviour, ResilienceTestCase, SteadyLoad, cluster, route


class RetryStormTest(ResilienceTestCase):
    def test_all_429_no_retry_storm(self):
        ups = [self.tracked(n, Behaviour(status=429, headers=[("Retry-After", "1")])) for n in "ABC"]
        p = self.proxy([cluster("engines", ups)],
                       [route("default", "engines", timeouts={"first_byte": "5s", "idle": "5s"},
                              retry={"attempts": 3,
                                     "on": ["connect_failure", "reset", 429, 502, 503, 504],
                                     "backoff": {"base": "25ms", "max": "1s"},
                                     "respect_retry_after": True, "max_retry_after": "2s",
                                     "budget": "20%"})],
                       top={"workers": 2})
        admin = self.admin(p)
        # 30 clients, each sending a request every 200 ms for 2.5 s (150 requests/s, open loop).
        outcomes = SteadyLoad(p.port, rate=150, duration=2.5, timeout=15.0).start().join()
        clients = len(outcomes)
        self.assertEqual(clients, 375)
        bad = [o for o in outcomes if o.status not in (429, 503)]
        self.assertEqual(bad, [], f"{len(bad)} answers other than 429/503")
        no_ra = [o for o in outcomes if "retry-after" not in o.headers]
        self.assertEqual(no_ra, [], f"{len(no_ra)} answers without Retry-After")
        upstream = sum(u.count() for u in ups)
        self.assertGreater(upstream, clients, "429s were never retried although `on` lists 429")
        self.assertLessEqual(upstream, 1.2 * clients,
                             f"retry storm: {upstream} upstream requests for {clients} client requests")
        retries = admin.total("spillway_retries_total", route="default")
        self.assertEqual(retries, upstream - clients,
                         f"spillway_retries_total says {retries}, upstreams saw {upstream - clients} extra requests")


if __name__ == "__main__":
    unittest.main()
