"""fallback_response (SPEC §2.1 routes[].fallback_response): when no endpoint of the route's
cluster or its fallback clusters can answer, the configured static answer is served, marked with
X-Spillway-Fallback; while an endpoint answers it is not used."""

import os
import tempfile
import unittest

from policy_support import PolicyTestCase, closed_port, cluster, metric, one, route

DEGRADED = b'{"choices": [{"message": {"role": "assistant", "content": "busy, try later"}}]}'


class FallbackResponseTest(PolicyTestCase):
    def test_served_when_every_endpoint_is_down(self):
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "wb") as f:
            f.write(DEGRADED)
        self.addCleanup(os.unlink, path)
        down = [f"127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}"]
        fr = {"status": 200, "content_type": "application/json", "body_file": path}
        p = self.proxy([cluster("engines", down), cluster("small", [f"127.0.0.1:{closed_port()}"])],
                       [route("chat", "engines", fallback_clusters=["small"], fallback_response=fr,
                              retry={"attempts": 2, "on": ["connect_failure"],
                                     "backoff": {"base": "5ms", "max": "10ms"}})])
        for _ in range(3):
            r = one(p, "POST", "/v1/chat/completions", [], b'{"prompt": "x"}')
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.body, DEGRADED)
            self.assertEqual(r.header("content-type"), "application/json")
            self.assertEqual(r.header("x-spillway-fallback"), "response")
        self.assertEqual(metric(p, "spillway_fallback_responses_total", route="chat"), 3)

    def test_not_used_while_an_endpoint_answers(self):
        u = self.upstream("A")
        fr = {"status": 503, "content_type": "text/plain", "body": "degraded"}
        p = self.proxy([cluster("engines", [u])], [route("chat", "engines", fallback_response=fr)])
        r = one(p, "GET", "/x")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("x-spillway-fallback"))


if __name__ == "__main__":
    unittest.main()
