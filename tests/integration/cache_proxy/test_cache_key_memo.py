"""The cache key memo in the proxy (cache/key_memo.hpp): byte-identical repeats take their key
from the memo, and still get exactly the answers the canonical key gives — per tenant, per
route and path, not past expiry or a purge."""

import time

from cachetest import CHAT, CacheTestCase, chat_body, route

HIT = "spillway; hit"
STORED = "spillway; fwd=miss; stored"
MEMO_HIT = 'spillway_cache_key_memo_total{result="hit"}'
MEMO_MISS = 'spillway_cache_key_memo_total{result="miss"}'


class KeyMemoTest(CacheTestCase):
    def test_repeats_use_the_memo_without_crossing_tenants_or_paths(self):
        m = self.model()
        rc = {"ttl": "5m"}
        p = self.cached_proxy(m, routes=[route("chat", "m", prefix="/v1/chat", cache=rc),
                                         route("other", "m", prefix="/v1/", cache=rc)])
        body = chat_body("memo")
        ta, tb = [("Authorization", "Bearer tenant-a")], [("Authorization", "Bearer tenant-b")]
        first = self.post(p, body, ta)
        self.assertEqual(first.header("cache-status"), STORED, first.describe())
        for _ in range(3):
            r = self.post(p, body, ta)
            self.assertEqual(r.header("cache-status"), HIT, r.describe())
            self.assertEqual(r.body, first.body)
        self.assertEqual(self.metric(p, MEMO_HIT), 3)
        self.assertEqual(self.metric(p, MEMO_MISS), 1)
        self.assertGreater(self.metric(p, "spillway_cache_key_memo_bytes"), 0)
        # The same bytes from another tenant, without Authorization, on another route or path:
        # each its own entry, never tenant a's answer.
        rb = self.post(p, body, tb)
        self.assertEqual(rb.header("cache-status"), STORED)
        self.assertNotEqual(rb.body, first.body)
        self.assertEqual(self.post(p, body).header("cache-status"), STORED)
        ro = self.post(p, body, ta, target="/v1/completions")
        self.assertEqual(ro.header("cache-status"), STORED)
        rq = self.post(p, body, ta, target=CHAT + "?v=2")
        self.assertEqual(rq.header("cache-status"), STORED)
        self.assertEqual(m.count, 5)
        self.assertEqual(self.metric(p, MEMO_HIT), 3)
        # A purge of the route: the repeat goes upstream again, then hits again.
        status, _, out = self.admin_post(p, "/admin/cache/purge?route=chat")
        self.assertEqual(status, 200, out)
        self.assertEqual(self.post(p, body, ta).header("cache-status"), STORED)
        self.assertEqual(self.post(p, body, ta).header("cache-status"), HIT)
        self.assertEqual(self.post(p, body, ta, target="/v1/completions").header("cache-status"),
                         HIT)
        self.assertEqual(m.count, 6)

    def test_memoised_key_does_not_outlive_the_entry(self):
        m = self.model()
        p = self.cached_proxy(m, route_cache={"ttl": "1s", "stale_if_error": "0s"})
        body = chat_body("short")
        self.assertEqual(self.post(p, body).header("cache-status"), STORED)
        self.assertEqual(self.post(p, body).header("cache-status"), HIT)
        time.sleep(1.3)
        r = self.post(p, body)
        self.assertEqual(r.header("cache-status"), STORED, r.describe())
        self.assertEqual(m.count, 2)
        self.assertGreaterEqual(self.metric(p, MEMO_HIT), 2)
