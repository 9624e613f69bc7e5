"""Idempotency-Key (SPEC §2.1 routes[].idempotency, §2.2 Traffic policy): a request repeating a
key within `ttl` gets the first answer again, sampling requests included; concurrent repeats wait
for the first; records live in the cache tiers, so two proxies sharing Redis agree. The upstream
answers random text, so identical bodies prove a replay."""

import json
import os
import threading
import time
import urllib.request

import harness

from policy_support import PolicyTestCase, cluster, metric, one, route

SAMPLING = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                       "temperature": 0.9}).encode()


def random_answer(delay=0.0, status=200):
    def answer(req, conn):
        if delay:
            time.sleep(delay)
        body = json.dumps({"id": os.urandom(8).hex(),
                           "choices": [{"message": {"content": os.urandom(16).hex()}}]})
        conn.respond(status, body, [("Content-Type", "application/json")])
    return answer


def random_stream(req, conn):
    events = b"".join(b'data: {"choices": [{"delta": {"content": "%s"}}]}\n\n'
                      % os.urandom(6).hex().encode() for _ in range(5))
    body = events + b"data: [DONE]\n\n"
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(body), 64):
        part = body[i:i + 64]
        conn.send(b"%x\r\n%s\r\n" % (len(part), part))
    conn.send(b"0\r\n\r\n")


def counted(p, result):
    return metric(p, "spillway_idempotency_total", route="chat", result=result)


def settled(read, expected, timeout=5.0):
    """read() once it equals `expected` or the timeout passed: a request is counted just after
    its last byte is written, so the client may be ahead of the counter."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def idem_route(**extra):
    return route("chat", "engines", prefix="/v1", idempotency={"ttl": "60s"}, **extra)


def key(k, tenant="Bearer a"):
    return [("Idempotency-Key", k), ("Authorization", tenant), ("Content-Type", "application/json")]


def post(p, headers, body=SAMPLING, target="/v1/chat/completions"):
    return one(p, "POST", target, headers, body, timeout=20.0)


class IdempotencyTest(PolicyTestCase):
    def test_repeat_gets_first_answer(self):
        u = self.upstream("A", random_answer())
        p = self.proxy([cluster("engines", [u])], [idem_route()])
        first = post(p, key("k1"))
        self.assertEqual(first.status, 200, first.describe())
        self.assertFalse(first.has_header("idempotency-replayed"))
        again = post(p, key("k1"))
        self.assertEqual(again.status, 200, again.describe())
        self.assertEqual(again.body, first.body)
        self.assertEqual(again.header("idempotency-replayed"), "true")
        self.assertEqual(len(u.requests), 1)
        # another key, or the same key for another tenant, is a new request
        other = post(p, key("k2"))
        tenant = post(p, key("k1", "Bearer b"))
        self.assertEqual(len(u.requests), 3)
        self.assertNotEqual(other.body, first.body)
        self.assertNotEqual(tenant.body, first.body)
        self.assertFalse(tenant.has_header("idempotency-replayed"))
        self.assertEqual(settled(lambda: counted(p, "stored"), 3), 3)
        self.assertEqual(settled(lambda: counted(p, "replayed"), 1), 1)
        # the access log is written in batches
        deadline = time.monotonic() + 10
        while '"idempotency":"replayed"' not in p.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn('"idempotency":"replayed"', p.log_text())

    def test_concurrent_repeats_wait_for_the_first(self):
        u = self.upstream("A", random_answer(delay=1.5))
        p = self.proxy([cluster("engines", [u])], [idem_route()])
        results = [None] * 20

        def go(i):
            results[i] = post(p, key("same"))

        threads = [threading.Thread(target=go, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertTrue(all(r is not None and r.status == 200 for r in results),
                        [r and r.status for r in results])
        self.assertEqual(len({r.body for r in results}), 1)
        self.assertEqual(len(u.requests), 1)
        replayed = sum(r.header("idempotency-replayed") == "true" for r in results)
        self.assertEqual(replayed, 19)
        answered = settled(lambda: counted(p, "waited") + counted(p, "replayed"), 19)
        self.assertEqual(answered, 19)

    def test_same_key_other_body_is_refused(self):
        u = self.upstream("A", random_answer())
        p = self.proxy([cluster("engines", [u])], [idem_route()])
        self.assertEqual(post(p, key("k")).status, 200)
        other = json.dumps({"model": "m", "messages": [{"role": "user", "content": "bye"}]})
        r = post(p, key("k"), other.encode())
        self.assertOpenAIError(r, 422)
        self.assertEqual(json.loads(r.body)["error"]["code"], "idempotency_key_reused")
        # the same JSON spelled differently is the same request
        respaced = json.dumps(json.loads(SAMPLING), indent=2).encode()
        self.assertEqual(post(p, key("k"), respaced).header("idempotency-replayed"), "true")
        self.assertEqual(len(u.requests), 1)
        self.assertEqual(settled(lambda: counted(p, "conflict"), 1), 1)

    def test_concurrent_repeat_with_other_body_is_refused(self):
        u = self.upstream("A", random_answer(delay=1.5))
        p = self.proxy([cluster("engines", [u])], [idem_route()])
        first = []
        t = threading.Thread(target=lambda: first.append(post(p, key("k"))))
        t.start()
        self.assertTrue(u.wait_heads(1, timeout=10))
        r = post(p, key("k"), b'{"model": "m", "prompt": "other"}')
        t.join(30)
        self.assertOpenAIError(r, 422)
        self.assertEqual(first[0].status, 200)
        self.assertEqual(len(u.requests), 1)

    def test_error_answer_is_not_stored(self):
        u = self.upstream("A", random_answer(status=500))
        p = self.proxy([cluster("engines", [u])], [idem_route(retry={"attempts": 1})])
        self.assertEqual(post(p, key("k")).status, 500)
        n = len(u.requests)
        again = post(p, key("k"))
        self.assertEqual(again.status, 500)
        self.assertFalse(again.has_header("idempotency-replayed"))
        self.assertGreater(len(u.requests), n)
        self.assertEqual(settled(lambda: counted(p, "not_stored"), 2), 2)
        self.assertEqual(counted(p, "stored"), 0)

    def test_streamed_request_is_replayed(self):
        u = self.upstream("A", random_stream)
        p = self.proxy([cluster("engines", [u])], [idem_route()])
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                           "stream": True}).encode()
        first = post(p, key("s"), body)
        self.assertEqual(first.status, 200, first.describe())
        self.assertIn(b"[DONE]", first.body)
        again = post(p, key("s"), body)
        self.assertEqual(again.header("idempotency-replayed"), "true")
        self.assertTrue(again.header("content-type", "").startswith("text/event-stream"))
        self.assertEqual(again.body, first.body)
        self.assertEqual(len(u.requests), 1)

    def test_route_without_idempotency_is_unaffected(self):
        u = self.upstream("A", random_answer())
        p = self.proxy([cluster("engines", [u])],
                       [idem_route(), route("plain", "engines", prefix="/plain")])
        a = post(p, key("k"), target="/plain/x")
        b = post(p, key("k"), target="/plain/x")
        self.assertEqual((a.status, b.status), (200, 200))
        self.assertNotEqual(a.body, b.body)
        self.assertFalse(b.has_header("idempotency-replayed"))
        self.assertEqual(len(u.requests), 2)
        # and on the idempotent route, a request without a key is forwarded as usual
        c = post(p, [("Content-Type", "application/json")])
        d = post(p, [("Content-Type", "application/json")])
        self.assertNotEqual(c.body, d.body)
        self.assertEqual(len(u.requests), 4)

    def test_two_proxies_sharing_redis_agree(self):
        redis = self.redis()
        u = self.upstream("A", random_answer())
        top = {"cache": {"redis": {"address": redis.address, "timeout": "500ms"}}}
        p1 = self.proxy([cluster("engines", [u])], [idem_route()], top=top)
        p2 = self.proxy([cluster("engines", [u])], [idem_route()], top=top)
        first = post(p1, key("shared"))
        self.assertEqual(first.status, 200)
        deadline = time.monotonic() + 10
        while redis.command("DBSIZE") != ":1" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(redis.command("DBSIZE"), ":1")
        again = post(p2, key("shared"))
        self.assertEqual(again.body, first.body)
        self.assertEqual(again.header("idempotency-replayed"), "true")
        self.assertEqual(len(u.requests), 1)
        conflict = post(p2, key("shared"), b'{"model": "m", "prompt": "other"}')
        self.assertEqual(conflict.status, 422)

    def test_reload_that_adds_idempotency_asks_for_a_restart(self):
        u = self.upstream("A", random_answer())
        p = self.proxy([cluster("engines", [u])], [route("chat", "engines", prefix="/v1")])
        cfg = dict(p.config, routes=[idem_route()])
        with open(p.config_path, "w") as f:
            f.write(harness.to_yaml(cfg))
        req = urllib.request.Request(f"http://127.0.0.1:{p.admin_port}/admin/reload", data=b"",
                                     method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 200)
            warnings = json.loads(r.read()).get("warnings", [])
        self.assertTrue(any(w.startswith("routes[0].idempotency:") and "restart" in w
                            for w in warnings), warnings)
        # no tiers to keep records in: requests are forwarded as before
        a, b = post(p, key("k")), post(p, key("k"))
        self.assertEqual((a.status, b.status), (200, 200))
        self.assertNotEqual(a.body, b.body)
        self.assertEqual(len(u.requests), 2)
