"""Response cache in the proxy with a real Redis and concurrency (SPEC §2.2 Cache): replicas
share entries through Redis, a dead Redis costs no errors, Redis coming back is used again,
identical concurrent requests go upstream once, stale_if_error."""

import threading
import time

from cachetest import CacheTestCase, chat_body, sse_content

HIT = "spillway; hit"
STORED = "spillway; fwd=miss; stored"
COLLAPSED = "spillway; fwd=miss; collapsed"


class RedisCacheTest(CacheTestCase):
    def test_second_proxy_gets_hit_from_redis(self):
        r = self.redis()
        m = self.model()
        a = self.cached_proxy(m, redis=r)
        b = self.cached_proxy(m, redis=r)
        first = self.post(a, chat_body("shared"))
        self.assertEqual(first.header("cache-status"), STORED)
        self.assertTrue(r.wait_keys(1), "entry never reached redis")
        keys = r.keys()
        self.assertEqual(len(keys), 1)
        self.assertTrue(keys[0].startswith("spillway:chat:"), keys)
        hit = self.post(b, chat_body("shared"))
        self.assertEqual(hit.header("cache-status"), HIT, hit.describe())
        self.assertEqual(hit.body, first.body)
        self.assertEqual(m.count, 1)
        # The Redis hit filled b's memory tier: still a hit with Redis purged behind its back.
        r.command("FLUSHALL")
        self.assertEqual(self.post(b, chat_body("shared")).header("cache-status"), HIT)

    def test_purge_reaches_redis(self):
        r = self.redis()
        m = self.model()
        a = self.cached_proxy(m, redis=r)
        b = self.cached_proxy(m, redis=r)
        self.post(a, chat_body("gone"))
        self.assertTrue(r.wait_keys(1))
        status, _, body = self.admin_post(a, "/admin/cache/purge?prefix=chat:")
        self.assertEqual(status, 200, body)
        self.assertIn('"redis":1', body)
        self.assertEqual(r.keys(), [])
        self.assertEqual(self.post(b, chat_body("gone")).header("cache-status"), STORED)

    def test_redis_down_then_back(self):
        r = self.redis()
        m = self.model()
        p = self.cached_proxy(m, redis=r)
        self.assertEqual(self.post(p, chat_body("before")).header("cache-status"), STORED)
        self.assertTrue(r.wait_keys(1))
        # Traffic runs while Redis is killed: no request may fail.
        outcomes = []
        stop = threading.Event()

        def traffic():
            i = 0
            while not stop.is_set():
                try:
                    resp = self.post(p, chat_body(f"during {i % 7}"))
                    outcomes.append((resp.status, resp.header("cache-status")))
                except Exception as e:  # asserted below
                    outcomes.append((repr(e), None))
                i += 1

        t = threading.Thread(target=traffic)
        t.start()
        time.sleep(0.3)
        r.stop()
        time.sleep(0.7)
        stop.set()
        t.join(30)
        self.assertGreater(len(outcomes), 7)
        self.assertEqual([s for s, _ in outcomes if s != 200], [], outcomes)
        # Memory still serves while Redis is gone.
        self.assertEqual(self.post(p, chat_body("before")).header("cache-status"), HIT)
        self.assertEqual(self.post(p, chat_body("during 1")).header("cache-status"), HIT)
        r.start()
        deadline = time.monotonic() + 15
        n = 0
        while time.monotonic() < deadline:
            n += 1
            resp = self.post(p, chat_body(f"after {n}"))
            self.assertEqual(resp.status, 200)
            if r.wait_keys(1, timeout=0.3):
                break
        self.assertTrue(r.keys(), "no entry stored after redis came back")
        self.assertIn("spillway_cache_redis_up 1", p.metrics()[2].decode())

    def test_fifty_identical_requests_one_upstream_trip(self):
        m = self.model()
        m.delay = 0.5
        p = self.cached_proxy(m)
        results = [None] * 50
        start = threading.Event()

        def one(i):
            start.wait()
            try:
                results[i] = self.post(p, chat_body("crowd"), timeout=30)
            except Exception as e:  # recorded, asserted below
                results[i] = e

        threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        start.set()
        for t in threads:
            t.join(60)
        bad = [r for r in results if not hasattr(r, "status") or r.status != 200]
        self.assertEqual(bad, [], [getattr(r, "describe", lambda: r)() for r in bad[:3]])
        self.assertEqual(m.count, 1)
        self.assertEqual(len({r.body for r in results}), 1)
        statuses = [r.header("cache-status") for r in results]
        self.assertEqual(statuses.count(STORED), 1, statuses)
        self.assertIn(COLLAPSED, statuses)
        self.assertEqual(set(statuses) - {STORED, COLLAPSED, HIT}, set(), statuses)

    def test_followers_stream_the_leaders_event_stream(self):
        m = self.model()
        m.delay = 0.5
        p = self.cached_proxy(m)
        results = [None] * 5

        def one(i):
            results[i] = self.post(p, chat_body("flow", stream=True), timeout=30)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(m.count, 1)
        self.assertIn(COLLAPSED, [r.header("cache-status") for r in results])
        for r in results:
            self.assertEqual(r.status, 200, r.describe())
            text, done = sse_content(r.body)
            self.assertEqual(text, "answer 1 from m")
            self.assertTrue(done)

    def test_stale_if_error_when_upstream_down(self):
        m = self.model()
        p = self.cached_proxy(m, route_cache={"ttl": "1s", "stale_if_error": "1h"})
        first = self.post(p, chat_body("old"))
        self.assertEqual(first.header("cache-status"), STORED)
        time.sleep(1.3)
        fresh = self.post(p, chat_body("old"))  # expired: goes upstream again
        self.assertEqual(fresh.header("cache-status"), STORED)
        self.assertEqual(m.count, 2)
        time.sleep(1.3)
        m.close()
        r = self.post(p, chat_body("old"))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("cache-status"), "spillway; hit; detail=stale")
        self.assertEqual(r.body, fresh.body)
        self.assertEqual(self.metric(p, 'spillway_cache_requests_total{result="stale"}'), 1)
        # Without a stale entry the failure reaches the client as usual.
        r = self.post(p, chat_body("never stored"))
        self.assertGreaterEqual(r.status, 500)

    def test_stale_if_error_on_upstream_5xx(self):
        m = self.model()
        p = self.cached_proxy(m, route_cache={"ttl": "1s", "stale_if_error": "1h"})
        first = self.post(p, chat_body("five"))
        self.assertEqual(first.header("cache-status"), STORED)
        time.sleep(1.3)
        m.status = 503
        r = self.post(p, chat_body("five"))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("cache-status"), "spillway; hit; detail=stale")
        self.assertEqual(r.body, first.body)
        self.assertEqual(m.count, 2)
        # The same connection carries on.
        m.status = 200
        c = self.client(p)
        for _ in range(2):
            again = c.request("POST", "/v1/chat/completions",
                              [("Content-Type", "application/json")], chat_body("five"))
            self.assertEqual(again.status, 200)
        self.assertEqual(again.header("cache-status"), HIT)
