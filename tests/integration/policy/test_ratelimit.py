"""Rate limits (SPEC §2.1 routes[].rate_limit, §2.2 Traffic policy): a token bucket per key,
429 with Retry-After and X-RateLimit-* when it is empty; with `shared: true` two proxies count
against one limit in Redis, and a Redis that is down leaves each proxy on its local buckets
with no errors; a key whose token budget is spent is refused before anything goes upstream."""

import json
import math
import time
import unittest

from policy_support import PolicyTestCase, closed_port, cluster, metric, one, route


def limited_route(**rate_limit):
    return route("chat", "engines", rate_limit=rate_limit)


class LocalRateLimitTest(PolicyTestCase):
    def test_burst_then_429_per_key(self):
        u = self.upstream("A")
        p = self.proxy([cluster("engines", [u])],
                       [limited_route(key="header:x-tenant", rate="1/s", burst=5)])
        start = time.monotonic()
        statuses = [one(p, "GET", f"/r/{i}", [("X-Tenant", "t1")]) for i in range(12)]
        elapsed = time.monotonic() - start
        ok = [r for r in statuses if r.status == 200]
        refused = [r for r in statuses if r.status == 429]
        self.assertEqual(len(ok) + len(refused), 12, [r.status for r in statuses])
        # burst 5, plus at most one token per second refilled while the test ran
        self.assertGreaterEqual(len(ok), 5)
        self.assertLessEqual(len(ok), 5 + math.ceil(elapsed))
        self.assertEqual(len(u.requests), len(ok), "refused requests reached the upstream")
        first_ok = ok[0]
        self.assertEqual(first_ok.header("x-ratelimit-limit"), "5")
        self.assertEqual(first_ok.header("x-ratelimit-remaining"), "4")
        r = refused[0]
        self.assertOpenAIError(r, 429)
        self.assertGreaterEqual(int(r.header("retry-after")), 1)
        self.assertEqual(r.header("x-ratelimit-remaining"), "0")
        self.assertEqual(json.loads(r.body)["error"]["code"], "rate_limited")
        # another key has its own bucket
        self.assertEqual(one(p, "GET", "/other", [("X-Tenant", "t2")]).status, 200)
        self.assertEqual(metric(p, "spillway_rate_limited_total", route="chat", reason="requests"),
                         len(refused))


class TokenBudgetTest(PolicyTestCase):
    def test_spent_budget_refused_before_upstream(self):
        def answer(req, conn):
            body = json.dumps({"id": "x", "choices": [{"text": "hi"}],
                               "usage": {"prompt_tokens": 30, "completion_tokens": 50,
                                         "total_tokens": 80}})
            conn.respond(200, body, [("Content-Type", "application/json")])

        u = self.upstream("A", answer)
        p = self.proxy([cluster("engines", [u])],
                       [limited_route(key="header:authorization", tokens_per_minute=100)])
        auth = [("Authorization", "Bearer tenant-a")]
        body = b'{"prompt": "x"}'
        # 100 tokens: the first answer leaves 20, the second is still admitted and leaves a debt
        self.assertEqual(one(p, "POST", "/v1/completions", auth, body).status, 200)
        self.assertEqual(one(p, "POST", "/v1/completions", auth, body).status, 200)
        before = len(u.requests)
        r = one(p, "POST", "/v1/completions", auth, body)
        self.assertOpenAIError(r, 429)
        self.assertEqual(json.loads(r.body)["error"]["code"], "token_budget_exceeded")
        # the debt of 60 tokens refills at 100/min: about 36 s
        self.assertGreaterEqual(int(r.header("retry-after")), 30)
        self.assertEqual(len(u.requests), before, "a request over budget reached the upstream")
        self.assertEqual(metric(p, "spillway_rate_limit_tokens_total", route="chat"), 160)
        # another tenant is unaffected
        other = [("Authorization", "Bearer tenant-b")]
        self.assertEqual(one(p, "POST", "/v1/completions", other, body).status, 200)


    def test_streamed_tokens_are_counted(self):
        def stream(req, conn):
            events = b"".join(b'data: {"choices": [{"text": "t"}]}\n\n' for _ in range(30))
            body = events + b"data: [DONE]\n\n"
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 100):
                part = body[i:i + 100]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")

        u = self.upstream("A", stream)
        p = self.proxy([cluster("engines", [u])],
                       [limited_route(key="header:x-tenant", tokens_per_minute=50)])
        t = [("X-Tenant", "streamer")]
        body = b'{"prompt": "x", "stream": true}'
        # 30 events per answer, no usage: 50 -> 20 -> -10, then refused
        self.assertEqual(one(p, "POST", "/v1/completions", t, body).status, 200)
        self.assertEqual(one(p, "POST", "/v1/completions", t, body).status, 200)
        r = one(p, "POST", "/v1/completions", t, body)
        self.assertOpenAIError(r, 429)
        self.assertEqual(len(u.requests), 2)
        self.assertEqual(metric(p, "spillway_rate_limit_tokens_total", route="chat"), 60)


class SharedRateLimitTest(PolicyTestCase):
    def shared_proxy(self, u, redis_address, burst):
        return self.proxy([cluster("engines", [u])],
                          [limited_route(key="header:x-tenant", rate="1/s", burst=burst,
                                         shared=True)],
                          top={"cache": {"redis": {"address": redis_address, "timeout": "500ms"}}})

    def test_two_proxies_share_one_limit(self):
        redis = self.redis()
        u = self.upstream("A")
        p1 = self.shared_proxy(u, redis.address, 10)
        p2 = self.shared_proxy(u, redis.address, 10)
        start = time.monotonic()
        results = []
        for i in range(30):
            p = p1 if i % 2 == 0 else p2
            results.append((p, one(p, "GET", f"/r/{i}", [("X-Tenant", "shared")]).status))
        elapsed = time.monotonic() - start
        admitted = [p for p, s in results if s == 200]
        self.assertTrue(all(s in (200, 429) for _, s in results), results)
        # one bucket of 10 for both proxies (each alone would admit 10)
        self.assertGreaterEqual(len(admitted), 10)
        self.assertLessEqual(len(admitted), 10 + math.ceil(elapsed))
        self.assertGreater(admitted.count(p1), 0)
        self.assertGreater(admitted.count(p2), 0)
        self.assertEqual(len(u.requests), len(admitted))
        self.assertEqual(metric(p1, "spillway_rate_limit_redis_fallbacks_total", route="chat"), 0)
        self.assertEqual(metric(p2, "spillway_rate_limit_redis_fallbacks_total", route="chat"), 0)

    def test_redis_down_falls_back_to_local_buckets(self):
        u = self.upstream("A")
        p = self.shared_proxy(u, f"127.0.0.1:{closed_port()}", 3)
        start = time.monotonic()
        statuses = [one(p, "GET", f"/r/{i}", [("X-Tenant", "t")]).status for i in range(8)]
        elapsed = time.monotonic() - start
        self.assertTrue(all(s in (200, 429) for s in statuses), statuses)
        ok = statuses.count(200)
        self.assertGreaterEqual(ok, 3)
        self.assertLessEqual(ok, 3 + math.ceil(elapsed))
        self.assertGreaterEqual(metric(p, "spillway_rate_limit_redis_fallbacks_total", route="chat"), 8)


if __name__ == "__main__":
    unittest.main()
