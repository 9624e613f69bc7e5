"""Response cache in the proxy, memory tier (SPEC §2.2 Cache, §2.3 Cache-Status, §2.4 purge):
miss then hit, canonical keys, vary_headers, client opt-out, what is not stored, JSON <-> event
stream replay, purge."""

import json
import time

from cachetest import CHAT, CacheTestCase, chat_body, route, sse_content, sse_payloads
from harness import chunked

HIT = "spillway; hit"
STORED = "spillway; fwd=miss; stored"
MISS = "spillway; fwd=miss"
BYPASS = "spillway; fwd=bypass"


class BasicCacheTest(CacheTestCase):
    def test_miss_then_hit(self):
        m = self.model()
        p = self.cached_proxy(m)
        first = self.post(p, chat_body("hi"))
        self.assertEqual(first.status, 200, first.describe())
        self.assertEqual(first.header("cache-status"), STORED)
        second = self.post(p, chat_body("hi"))
        self.assertEqual(second.status, 200, second.describe())
        self.assertEqual(second.header("cache-status"), HIT)
        self.assertEqual(second.body, first.body)
        self.assertEqual(second.json()["choices"][0]["message"]["content"], "answer 1 from m")
        self.assertEqual(m.count, 1)
        self.assertEqual(self.metric(p, 'spillway_cache_requests_total{result="hit"}'), 1)
        self.assertEqual(self.metric(p, 'spillway_cache_requests_total{result="miss"}'), 1)
        # The access log is written in batches (worker tick): wait for the lines.
        deadline = time.monotonic() + 5
        while '"cache":"hit"' not in p.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn('"cache":"hit"', p.log_text())
        self.assertIn('"cache":"stored"', p.log_text())

    def test_equivalent_json_bodies_hit(self):
        m = self.model()
        p = self.cached_proxy(m)
        a = '{"model": "tiny", "temperature": 0, "messages": [{"role": "user", "content": "x"}]}'
        b = '{ "messages":[{"content":"x","role":"user"}],\n "temperature":0.0,"model":"tiny" }'
        self.assertEqual(self.post(p, a).header("cache-status"), STORED)
        r = self.post(p, b)
        self.assertEqual(r.header("cache-status"), HIT, r.describe())
        self.assertEqual(m.count, 1)

    def test_authorization_varies(self):
        m = self.model()
        p = self.cached_proxy(m)
        ra = self.post(p, chat_body("v"), [("Authorization", "Bearer tenant-a")])
        rb = self.post(p, chat_body("v"), [("Authorization", "Bearer tenant-b")])
        self.assertEqual(ra.header("cache-status"), STORED)
        self.assertEqual(rb.header("cache-status"), STORED)
        self.assertNotEqual(ra.body, rb.body)
        self.assertEqual(m.count, 2)
        again = self.post(p, chat_body("v"), [("Authorization", "Bearer tenant-a")])
        self.assertEqual(again.header("cache-status"), HIT)
        self.assertEqual(again.body, ra.body)

    def test_client_no_cache_bypasses(self):
        m = self.model()
        p = self.cached_proxy(m)
        self.post(p, chat_body("b"))
        for cc in ("no-cache", "max-age=0, no-store"):
            r = self.post(p, chat_body("b"), [("Cache-Control", cc)])
            self.assertEqual(r.header("cache-status"), BYPASS, r.describe())
        self.assertEqual(m.count, 3)
        self.assertEqual(self.post(p, chat_body("b")).header("cache-status"), HIT)
        self.assertEqual(self.metric(p, 'spillway_cache_requests_total{result="bypass"}'), 2)

    def test_nondeterministic_request_bypasses(self):
        m = self.model()
        p = self.cached_proxy(m)
        body = json.dumps({"model": "tiny", "messages": [], "temperature": 0.7})
        for _ in range(2):
            self.assertEqual(self.post(p, body).header("cache-status"), BYPASS)
        self.assertEqual(m.count, 2)

    def test_errors_and_non_json_not_stored(self):
        m = self.model()
        p = self.cached_proxy(m)
        m.status = 500
        for _ in range(2):
            r = self.post(p, chat_body("e"))
            self.assertEqual(r.status, 500)
            self.assertEqual(r.header("cache-status"), MISS)
        m.status, m.content_type = 200, "text/plain"
        for _ in range(2):
            r = self.post(p, chat_body("t"))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("cache-status"), MISS)
        self.assertEqual(m.count, 4)

    def test_stream_request_served_from_json_entry(self):
        m = self.model()
        p = self.cached_proxy(m)
        first = self.post(p, chat_body("s"))
        self.assertEqual(first.header("cache-status"), STORED)
        r = self.post(p, chat_body("s", stream=True))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("cache-status"), HIT)
        self.assertTrue(r.header("content-type").startswith("text/event-stream"), r.describe())
        text, done = sse_content(r.body)
        self.assertTrue(done, r.body)
        self.assertEqual(text, first.json()["choices"][0]["message"]["content"])
        for payload in sse_payloads(r.body)[:-1]:
            self.assertEqual(json.loads(payload)["object"], "chat.completion.chunk")
        self.assertEqual(m.count, 1)

    def test_json_request_served_from_stream_entry(self):
        m = self.model()
        p = self.cached_proxy(m)
        first = self.post(p, chat_body("j", stream=True))
        self.assertEqual(first.header("cache-status"), STORED)
        text, done = sse_content(first.body)
        self.assertTrue(done)
        again = self.post(p, chat_body("j", stream=True))
        self.assertEqual(again.header("cache-status"), HIT)
        self.assertEqual(sse_payloads(again.body), sse_payloads(first.body))
        r = self.post(p, chat_body("j"))
        self.assertEqual(r.header("cache-status"), HIT)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        body = r.json()
        self.assertEqual(body["object"], "chat.completion")
        self.assertEqual(body["choices"][0]["message"]["content"], text)
        self.assertEqual(m.count, 1)

    def test_purge_by_route_and_all(self):
        m = self.model()
        rc = {"ttl": "5m"}
        p = self.cached_proxy(m, routes=[route("chat", "m", prefix="/v1/chat", cache=rc),
                                         route("other", "m", prefix="/v1/", cache=rc)])
        other = "/v1/completions"
        self.post(p, chat_body("p"))
        self.post(p, chat_body("p"), target=other)
        status, _, body = self.admin_post(p, "/admin/cache/purge?route=chat")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["purged"]["memory"], 1)
        self.assertEqual(self.post(p, chat_body("p")).header("cache-status"), STORED)
        self.assertEqual(self.post(p, chat_body("p"), target=other).header("cache-status"), HIT)
        status, _, body = self.admin_post(p, "/admin/cache/purge", json.dumps({"prefix": "other:"}))
        self.assertEqual(json.loads(body)["purged"]["memory"], 1)
        self.assertEqual(self.post(p, chat_body("p"), target=other).header("cache-status"), STORED)
        status, _, body = self.admin_post(p, "/admin/cache/purge")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["purged"]["memory"], 2)
        self.assertEqual(self.post(p, chat_body("p")).header("cache-status"), STORED)
        self.assertEqual(self.post(p, chat_body("p"), target=other).header("cache-status"), STORED)
        self.assertEqual(m.count, 6)

    def test_purge_needs_admin_token(self):
        m = self.model()
        p = self.cached_proxy(m, admin_token="s3cret")
        self.post(p, chat_body("t"))
        status, _, _ = self.admin_post(p, "/admin/cache/purge")
        self.assertEqual(status, 401)
        self.assertEqual(self.post(p, chat_body("t")).header("cache-status"), HIT)
        status, _, body = self.admin_post(p, "/admin/cache/purge",
                                          headers=[("Authorization", "Bearer s3cret")])
        self.assertEqual(status, 200, body)
        self.assertEqual(self.post(p, chat_body("t")).header("cache-status"), STORED)

    def test_chunked_request_body_is_keyed_and_forwarded(self):
        m = self.model()
        p = self.cached_proxy(m)
        body = chat_body("chunks").encode()
        framed = chunked([body[:10], body[10:]])
        c = self.client(p)
        hdrs = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
        r = c.request("POST", CHAT, hdrs, framed)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("cache-status"), STORED)
        self.assertEqual(json.loads(m.requests[-1].body), json.loads(body))
        # Same request with Content-Length on the same connection: the same entry.
        r2 = c.request("POST", CHAT, [("Content-Type", "application/json")], body)
        self.assertEqual(r2.header("cache-status"), HIT)
        self.assertEqual(r2.body, r.body)
        self.assertEqual(m.count, 1)

    def test_answers_over_max_object_bytes_not_stored(self):
        m = self.model()
        p = self.cached_proxy(m)  # max_object_bytes: 64KiB
        m.pad = 70 * 1024
        for _ in range(2):
            r = self.post(p, chat_body("big"))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("cache-status"), MISS)  # declared length too large
            self.assertGreater(len(r.body), 70 * 1024)
        m.chunked = True  # no length: found too large while it streams
        for _ in range(2):
            r = self.post(p, chat_body("big chunked"))
            self.assertEqual(r.status, 200)
            self.assertGreater(len(r.json()["choices"][0]["message"]["content"]), 70 * 1024)
            self.assertNotEqual(r.header("cache-status"), HIT)
        self.assertEqual(m.count, 4)
        m.pad, m.chunked = 0, False
        self.assertEqual(self.post(p, chat_body("small")).header("cache-status"), STORED)
