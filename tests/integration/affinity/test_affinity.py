"""Session affinity end to end (SPEC §2.1 affinity, §2.2 Affinity): the real proxy in front of
real spillway-engine processes (tiny model); which engine served is read from X-Engine-Name."""

import json
import time

from engines import EngineTestCase, chat, completion, metric_value
from harness import cluster, route

HEALTH = {"path": "/health", "interval": "300ms", "timeout": "300ms", "healthy_threshold": 1,
          "unhealthy_threshold": 1}
RETRY = {"attempts": 3, "on": ["connect_failure", "reset", "502", "503"],
         "backoff": {"base": "10ms", "max": "50ms"}}
# Longer than one 256-byte prefix block, short enough for the tiny model's 256-token context.
SYSTEM = ("You are the support assistant of a small bicycle shop. Answer politely, in short "
          "sentences, and never invent prices. The shop opens at nine and closes at six; it "
          "repairs bicycles, sells parts and rents city bikes by the hour or the day. "
          "Warranty questions go to the manager. ")


class AffinityTest(EngineTestCase):

    def start(self, engines, affinity, retry=True, **extra):
        c = cluster("engines", [e.address for e in engines], health_check=HEALTH,
                    affinity=affinity, **extra)
        r = route("all", "engines", timeouts={"first_byte": "20s", "idle": "20s"},
                  **({"retry": RETRY} if retry else {}))
        p = self.proxy([c], [r])
        self.wait_for(lambda: all(ep["available"] for ep in
                                  self.clusters_view(p)["clusters"][0]["endpoints"]),
                      15.0, "every engine healthy")
        return p

    def decisions(self, p, decision, at_least=0, wait=3.0):
        """The decision counter; waits up to `wait` seconds for it to reach `at_least`, since
        an exchange is counted once its last byte is written, just after the client read it."""
        deadline = time.monotonic() + wait
        while True:
            v = metric_value(p.metrics()[2].decode(), "spillway_affinity_decisions_total",
                             {"cluster": "engines", "decision": decision}) or 0
            if v >= at_least or time.monotonic() >= deadline:
                return v
            time.sleep(0.05)

    def test_session_header_sticks_and_repins_once(self):
        engines = self.engines(3)
        p = self.start(engines, {"key": "header:x-session-id"})
        served = [completion(p.port, headers={"X-Session-ID": "alice"}) for _ in range(5)]
        self.assertEqual([a.status for a in served], [200] * 5)
        first = {a.engine for a in served}
        self.assertEqual(len(first), 1, f"one session spread over {first}")
        home = first.pop()
        others = {completion(p.port, headers={"X-Session-ID": f"s{i}"}).engine for i in range(12)}
        self.assertGreater(len(others), 1, "twelve sessions all landed on one engine")

        next(e for e in engines if e.name == home).kill()
        after = [completion(p.port, headers={"X-Session-ID": "alice"}) for _ in range(6)]
        self.assertEqual([a.status for a in after], [200] * 6)
        moved = {a.engine for a in after}
        self.assertEqual(len(moved), 1, f"re-pinned session spread over {moved}")
        self.assertNotEqual(moved.pop(), home)
        self.assertGreaterEqual(self.decisions(p, "hit", 5), 5)
        self.assertGreaterEqual(self.decisions(p, "repin", 1), 1)
        self.assertIn('"affinity":"hit"', p.log_text(200000))

    def test_cookie_pins_and_tampered_cookie_is_replaced(self):
        engines = self.engines(3)
        p = self.start(engines, {"key": "cookie", "cookie": {"name": "sw", "secret": "integration-test-secret-0123"}})
        first = completion(p.port)
        self.assertEqual(first.status, 200)
        set_cookie = first.header("set-cookie")
        self.assertIsNotNone(set_cookie, "first answer sets no cookie")
        self.assertTrue(set_cookie.startswith("sw="), set_cookie)
        self.assertIn("HttpOnly", set_cookie)
        cookie = set_cookie.split(";")[0]
        for _ in range(5):
            a = completion(p.port, headers={"Cookie": cookie})
            self.assertEqual((a.status, a.engine), (200, first.engine))
            self.assertIsNone(a.header("set-cookie"), "a valid fresh cookie is set again")

        value = cookie.split("=", 1)[1]
        i = len(value) - 10  # inside the MAC
        flipped = value[:i] + ("A" if value[i] != "A" else "g") + value[i + 1:]
        a = completion(p.port, headers={"Cookie": "sw=" + flipped})
        self.assertEqual(a.status, 200)
        replaced = a.header("set-cookie")
        self.assertIsNotNone(replaced, "a tampered cookie is not replaced")
        self.assertNotIn(flipped, replaced)
        b = completion(p.port, headers={"Cookie": replaced.split(";")[0]})
        self.assertEqual((b.status, b.engine), (200, a.engine))
        self.assertGreaterEqual(self.decisions(p, "new_pin", 2), 2)

    def test_prefix_key_follows_the_shared_prompt(self):
        engines = self.engines(3)
        p = self.start(engines, {"key": "prefix"})
        served = set()
        for i in range(6):
            a = chat(p.port, [{"role": "system", "content": SYSTEM},
                              {"role": "user", "content": f"q{i}: open?"}])
            self.assertEqual(a.status, 200, a.body)
            served.add(a.engine)
        self.assertEqual(len(served), 1, f"one prefix spread over {served}")
        self.assertGreaterEqual(self.decisions(p, "hit", 6), 6)

        # A body that arrives after the head, in two pieces: the key waits for all of it.
        body = json.dumps({"model": "tiny", "max_tokens": 2, "temperature": 0, "messages": [
            {"role": "system", "content": SYSTEM}, {"role": "user", "content": "late?"}]}).encode()
        c = self.client(p, timeout=20.0)
        c.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
               b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        time.sleep(0.2)
        c.send(body[:100])
        time.sleep(0.2)
        c.send(body[100:])
        r = c.read_response("POST")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("x-engine-name"), served.pop())

    def test_jwt_key_with_malformed_token_is_served(self):
        engines = self.engines(2)
        p = self.start(engines, {"key": "jwt:sub"})
        a = completion(p.port, headers={"Authorization": "Bearer not-a.jwt!!.token"})
        self.assertEqual(a.status, 200)
        self.assertGreaterEqual(self.decisions(p, "none", 1), 1)

    def test_on_unavailable_fail_answers_503(self):
        engines = self.engines(2)
        p = self.start(engines, {"key": "header:x-session-id", "on_unavailable": "fail"},
                       retry=False)
        home = completion(p.port, headers={"X-Session-ID": "bob"}).engine
        victim = next(e for e in engines if e.name == home)
        victim.kill()
        self.wait_for(lambda: not next(ep for ep in
                                       self.clusters_view(p)["clusters"][0]["endpoints"]
                                       if ep["address"] == victim.address)["available"],
                      10.0, "the killed engine marked down")
        a = completion(p.port, headers={"X-Session-ID": "bob"})
        self.assertEqual(a.status, 503, a.body)
        self.assertIsNotNone(a.header("retry-after"))
        self.assertIn("error", json.loads(a.body))
        self.assertGreaterEqual(self.decisions(p, "failed", 1), 1)


class AffinityQueueTest(EngineTestCase):

    def test_queued_session_requests_are_served_after_dequeue(self):
        # Slowed engines and one slot each: a session's third concurrent request finds both
        # engines full, waits in the queue and is picked again through the affinity picker.
        import threading
        engines = self.engines(2, ["--slowdown", "40"])
        c = cluster("engines", [e.address for e in engines], max_concurrent=1,
                    queue={"max_size": 8, "timeout": "30s"},
                    affinity={"key": "header:x-session-id"})
        p = self.proxy([c], [route("all", "engines",
                                   timeouts={"first_byte": "30s", "idle": "30s"})])
        answers = []
        lock = threading.Lock()

        def one():
            a = completion(p.port, "hello", 60, {"X-Session-ID": "carol"}, timeout=60.0)
            with lock:
                answers.append(a)

        threads = [threading.Thread(target=one) for _ in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join(90.0)
        self.assertEqual(sorted(a.status for a in answers), [200, 200, 200])
        self.assertEqual({a.engine for a in answers}, {e.name for e in engines})
        text = p.metrics()[2].decode()
        decided = sum(metric_value(text, "spillway_affinity_decisions_total",
                                   {"cluster": "engines", "decision": d}) or 0
                      for d in ("hit", "spill"))
        self.assertGreaterEqual(decided, 3)


class LeastLoadTest(EngineTestCase):

    def test_least_load_prefers_the_idle_engine(self):
        # One sequence at a time and slowed steps: a few long requests sent straight to one
        # engine keep it running one and queueing the rest for seconds.
        engines = self.engines(2, ["--max-batch", "1", "--slowdown", "40"])
        busy, idle = engines
        c = cluster("engines", [e.address for e in engines], balancer="least_load",
                    load_report={"interval": "100ms"})
        p = self.proxy([c], [route("all", "engines",
                                   timeouts={"first_byte": "30s", "idle": "30s"})])

        import threading
        loaders = [threading.Thread(target=completion, args=(busy.port, "load", 200),
                                    kwargs={"timeout": 60.0}) for _ in range(4)]
        for t in loaders:
            t.start()
        try:
            def busy_reported():
                eps = self.clusters_view(p)["clusters"][0]["endpoints"]
                rep = next(ep for ep in eps if ep["address"] == busy.address)["reported_load"]
                return rep is not None and rep["fresh"] and rep["waiting"] >= 1
            self.wait_for(busy_reported, 20.0, "the busy engine's queue in its report")
            served = [completion(p.port).engine for _ in range(6)]
            self.assertEqual(served, [idle.name] * 6)
        finally:
            for t in loaders:
                t.join(90.0)


if __name__ == "__main__":
    import unittest
    unittest.main()
