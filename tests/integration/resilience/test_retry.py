"""Retries (SPEC §2.1 route retry, §2.2 Resilience): a retry goes to a different endpoint,
only while nothing was sent to the client, honours Retry-After up to max_retry_after; when every
try fails the client gets the last upstream status or a 503 with Retry-After; an upstream that
dies mid-stream ends the client's event stream with an SSE error event and counts as a failure."""

import time
import unittest

from resil import Behaviour, ResilienceTestCase, build_request, cluster, one_request, route

FAST_BACKOFF = {"base": "10ms", "max": "50ms"}


def sse_then_die(events=1, pause=0.3):
    """A streamed answer that sends its head and `events` events, then the process dies
    (the connection closes without the terminating chunk)."""

    def stream(req, conn):
        conn.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(events):
            ev = f'data: {{"index": {i}, "from": "{conn.upstream.name}"}}\n\n'.encode()
            conn.send(b"%x\r\n%s\r\n" % (len(ev), ev))
        time.sleep(pause)
        return False

    return stream


def sse_complete(req, conn):
    ev = f'data: {{"from": "{conn.upstream.name}"}}\n\n'.encode()
    done = b"data: [DONE]\n\n"
    conn.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    conn.send(b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(ev), ev, len(done), done))
    return True


class RetryTest(ResilienceTestCase):
    def proxy_for(self, ups, retry, balancer="round_robin", **cluster_extra):
        p = self.proxy([cluster("engines", ups, balancer=balancer, **cluster_extra)],
                       [route("default", "engines", retry=retry,
                              timeouts={"first_byte": "5s", "idle": "5s"})])
        return p, self.admin(p)

    def test_retry_goes_to_a_different_endpoint(self):
        a = self.tracked("A", Behaviour(status=503))
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [503], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": False})
        before = admin.total("spillway_retries_total", route="default")
        for i in range(10):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual(o.status, 200, f"request {i}: {o!r}")
            self.assertEqual(o.headers.get("x-upstream"), "B", repr(o))
        at_a, at_b = a.targets(), b.targets()
        self.assertGreater(len(at_a), 0, "round robin never tried A: nothing was retried")
        self.assertEqual(len(at_a), len(set(at_a)), f"a request was retried on the endpoint that failed it: {at_a}")
        self.assertEqual(sorted(at_b), sorted(f"/r/{i}" for i in range(10)))
        retries = admin.total("spillway_retries_total", route="default") - before
        self.assertEqual(retries, len(at_a),
                         f"spillway_retries_total{{route=default}} grew by {retries}, {len(at_a)} requests were retried")
        self.assertNothingInFlight(admin)

    def test_retry_releases_the_first_endpoint_slot(self):
        a = self.tracked("A", Behaviour(status=503))
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [503], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": False},
                                  max_concurrent=1, queue={"max_size": 10, "timeout": "2s"})
        for i in range(10):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual(o.status, 200, f"request {i}: {o!r}")
        self.assertGreater(a.count(), 2)
        self.assertNothingInFlight(admin)

    def test_reset_before_any_byte_is_retried(self):
        a = self.tracked("A")
        a.handler = lambda req, conn: False  # reads the request, closes without answering
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": ["reset"], "backoff": FAST_BACKOFF})
        for i in range(6):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual((o.status, o.headers.get("x-upstream")), (200, "B"), repr(o))
        self.assertGreater(len(a.requests), 0)
        self.assertGreaterEqual(admin.total("spillway_retries_total", route="default", reason="reset"),
                                len(a.requests))

    def test_each_retry_on_a_new_endpoint(self):
        a = self.tracked("A", Behaviour(status=503))
        b = self.tracked("B", Behaviour(status=502))
        c = self.tracked("C")
        p, admin = self.proxy_for([a, b, c], {"attempts": 3, "on": [502, 503], "backoff": FAST_BACKOFF,
                                              "respect_retry_after": False})
        for i in range(12):
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual(o.status, 200, f"request {i}: {o!r}")
        for u in (a, b, c):
            t = u.targets()
            self.assertEqual(len(t), len(set(t)), f"{u.name} got the same request twice: {t}")
        self.assertEqual(sorted(c.targets()), sorted(f"/r/{i}" for i in range(12)))

    def test_all_tries_fail_client_gets_last_status_with_retry_after(self):
        hdrs = [("Retry-After", "7")]
        a = self.tracked("A", Behaviour(status=429, headers=hdrs))
        b = self.tracked("B", Behaviour(status=429, headers=hdrs))
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [429], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": False})
        o = one_request(p.port, "/x")
        self.assertIn(o.status, (429, 503), repr(o))
        ra = self.assertRetryAfter(o)
        if o.status == 429:
            self.assertEqual(ra, 7, "the upstream's 429 lost its Retry-After")
        self.assertEqual((a.targets(), b.targets()), (["/x"], ["/x"]),
                         "attempts: 2 must try both endpoints once")

    def test_no_retry_for_status_not_listed(self):
        a = self.tracked("A", Behaviour(status=500))
        b = self.tracked("B", Behaviour(status=500))
        p, admin = self.proxy_for([a, b], {"attempts": 3, "on": [502, 503], "backoff": FAST_BACKOFF})
        o = one_request(p.port, "/x")
        self.assertEqual(o.status, 500, repr(o))
        self.assertEqual(a.count() + b.count(), 1, "a 500 was retried though `on` lists 502 and 503 only")

    def test_retry_after_delays_the_retry(self):
        a = self.tracked("A", Behaviour(status=503, headers=[("Retry-After", "1")]))
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [503], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": True, "max_retry_after": "5s"})
        i = 0
        while a.count() == 0 and i < 4:  # round robin: a request soon starts at A
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual(o.status, 200, repr(o))
            i += 1
        self.assertEqual(a.count(), 1, f"A got {a.targets()}, B got {b.targets()}, A's heads "
                                       f"{[h.target for h in a.heads]}")
        target, at_a, _, _ = a.served[0]
        at_b = [at for t, at, _, _ in b.served if t == target]
        self.assertEqual(len(at_b), 1)
        self.assertGreaterEqual(at_b[0] - at_a, 0.9,
                                f"retry sent {at_b[0] - at_a:.3f}s after a 503 with Retry-After: 1")
        self.assertLess(at_b[0] - at_a, 2.5)

    def test_retry_after_http_date(self):
        import email.utils
        when = email.utils.formatdate(time.time() + 2, usegmt=True)
        a = self.tracked("A", Behaviour(status=503, headers=[("Retry-After", when)]))
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [503], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": True, "max_retry_after": "5s"})
        i = 0
        while a.count() == 0 and i < 4:
            o = one_request(p.port, f"/r/{i}")
            self.assertEqual(o.status, 200, repr(o))
            i += 1
        self.assertEqual(a.count(), 1)
        target, at_a, _, _ = a.served[0]
        at_b = [at for t, at, _, _ in b.served if t == target][0]
        # The date has one-second resolution: it lies 1 to 2 s after A answered.
        self.assertGreaterEqual(at_b - at_a, 0.7, f"retry {at_b - at_a:.2f}s after Retry-After: {when}")
        self.assertLess(at_b - at_a, 3.0)

    def test_retry_after_capped_by_max_retry_after(self):
        a = self.tracked("A", Behaviour(status=503, headers=[("Retry-After", "30")]))
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [503], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": True, "max_retry_after": "300ms"})
        i = 0
        while a.count() == 0 and i < 4:
            t0 = time.monotonic()
            o = one_request(p.port, f"/r/{i}", timeout=40.0)
            elapsed = time.monotonic() - t0
            self.assertLess(elapsed, 2.0, f"waited {elapsed:.1f}s: Retry-After: 30 was not capped at 300ms")
            self.assertIn(o.status, (200, 503), repr(o))
            i += 1
        self.assertEqual(a.count(), 1)

    def test_backoff_exponential_with_full_jitter(self):
        a = self.tracked("A", Behaviour(status=503))
        b = self.tracked("B", Behaviour(status=503))
        c = self.tracked("C", Behaviour(status=503))
        p, admin = self.proxy_for([a, b, c], {"attempts": 3, "on": [503],
                                              "backoff": {"base": "100ms", "max": "1s"},
                                              "respect_retry_after": False})
        n = 20
        for i in range(n):
            self.assertEqual(one_request(p.port, f"/r/{i}").status, 503)
        tries = {}
        for u in (a, b, c):
            for target, at, _, _ in u.served:
                tries.setdefault(target, []).append(at)
        first, second = [], []
        for target, times in tries.items():
            self.assertEqual(len(times), 3, f"{target} tried {len(times)} times, attempts is 3")
            times.sort()
            first.append(times[1] - times[0])
            second.append(times[2] - times[1])
        # Full jitter: uniform in [0, 100ms] before the first retry, [0, 200ms] before the second.
        self.assertLessEqual(max(first), 0.1 + 0.08, f"first retry waits {sorted(first)}")
        self.assertLessEqual(max(second), 0.2 + 0.08, f"second retry waits {sorted(second)}")
        self.assertGreater(max(first) - min(first), 0.03, f"no jitter: {sorted(first)}")
        # Growth: some second retries wait beyond the first retry's 100 ms ceiling (each one has a
        # 40% chance to exceed 120 ms; all 20 missing it has a chance of 4e-5).
        self.assertGreater(max(second), 0.12,
                           f"backoff does not grow: first waits {sorted(first)}, second {sorted(second)}")

    def test_retry_replays_the_request_body(self):
        a = self.tracked("A", Behaviour(status=503))
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [503], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": False})
        body = b'{"model": "m", "prompt": "' + b"x" * 20000 + b'"}'
        for i in range(4):
            c = self.client(p)
            r = c.request("POST", f"/v1/completions/{i}", [("Content-Type", "application/json")], body)
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 200, r.describe())
            c.close()
        self.assertGreater(a.count(), 0)
        for req in b.requests:
            self.assertEqual(req.body, body, f"B got a different body for {req.target}")
            self.assertEqual(req.header("content-length"), str(len(body)))

    def test_body_beyond_replay_limit_never_truncated(self):
        a = self.tracked("A", Behaviour(status=503))
        b = self.tracked("B")
        p, admin = self.proxy_for([a, b], {"attempts": 2, "on": [503], "backoff": FAST_BACKOFF,
                                           "respect_retry_after": False})
        body = b"y" * 300000
        for i in range(4):
            c = self.client(p)
            r = c.request("POST", f"/big/{i}", [("Content-Type", "application/octet-stream")], body)
            self.assertIsNotNone(r)
            self.assertIn(r.status, (200, 503), r.describe())
            c.close()
        for u in (a, b):
            for req in u.requests:
                self.assertEqual(len(req.body), len(body), f"{u.name} got a cut body for {req.target}")

    def test_no_retry_once_the_response_started(self):
        a = self.tracked("A", Behaviour())
        b = self.tracked("B", Behaviour())
        a.behaviour.stream = b.behaviour.stream = sse_then_die()
        p, admin = self.proxy_for([a, b], {"attempts": 3, "on": ["connect_failure", "reset", 502, 503, 504],
                                           "backoff": FAST_BACKOFF})
        for i in range(4):
            c = self.client(p, timeout=10.0)
            c.send(build_request("GET", f"/s/{i}", [("Accept", "text/event-stream")]))
            r = c.read_response(timeout=10.0)
            self.assertIsNotNone(r, "no response head")
            self.assertEqual(r.status, 200, r.describe())
            self.assertIn(b'"index": 0', r.body, r.describe())
            c.close()
        seen = a.targets() + b.targets()
        self.assertEqual(sorted(seen), sorted(f"/s/{i}" for i in range(4)),
                         "a stream already sent to the client was retried on another endpoint")

    def test_upstream_death_mid_stream_gives_sse_error_event(self):
        a = self.tracked("A", Behaviour())
        a.behaviour.stream = sse_then_die(events=2)
        p, admin = self.proxy_for([a], {"attempts": 2, "on": ["connect_failure", "reset"],
                                        "backoff": FAST_BACKOFF})
        c = self.client(p, timeout=10.0)
        c.send(build_request("GET", "/v1/chat/completions", [("Accept", "text/event-stream")]))
        r = c.read_response(timeout=10.0)
        self.assertIsNotNone(r, "no response head")
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn("text/event-stream", r.header("content-type", ""))
        self.assertIn(b'"index": 1', r.body, "events sent before the death were lost: " + r.describe())
        tail = r.body[r.body.index(b'"index": 1'):]
        self.assertIn(b"event: error", tail, "no SSE error event after the last event: " + r.describe())
        self.assertTrue(r.chunked, r.describe())
        self.assertFalse(r.complete, "the stream ended with the terminating chunk, as if it succeeded")
        self.assertTrue(c.closed_within(2.0), "connection kept open after a broken stream")

    def test_mid_stream_death_counts_as_endpoint_failure(self):
        a = self.tracked("A", Behaviour())
        b = self.tracked("B", Behaviour())
        a.behaviour.stream = sse_then_die(pause=0.05)
        b.behaviour.stream = sse_complete
        p, admin = self.proxy_for(
            [a, b], {"attempts": 2, "on": ["connect_failure"], "backoff": FAST_BACKOFF},
            outlier_detection={"consecutive_5xx": 2, "interval": "100ms", "base_ejection_time": "10s",
                               "max_ejection_time": "20s", "max_ejection_percent": "50%"})
        i = 0
        while a.count() < 2 and i < 12:
            c = self.client(p, timeout=10.0)
            c.send(build_request("GET", f"/s/{i}", [("Accept", "text/event-stream")]))
            c.read_response(timeout=10.0)
            c.close()
            i += 1
        self.assertEqual(a.count(), 2, "A never got two streams")
        admin.wait_for(lambda: admin.endpoint("engines", a.address).get("ejected") is True, 2.0,
                       "A ejected after two streams it broke (consecutive_5xx: 2)")
        before = a.count()
        for j in range(6):
            c = self.client(p, timeout=10.0)
            c.send(build_request("GET", f"/after/{j}", [("Accept", "text/event-stream")]))
            r = c.read_response(timeout=10.0)
            self.assertIsNotNone(r)
            self.assertTrue(r.complete, r.describe())
            c.close()
        self.assertEqual(a.count(), before, "the ejected endpoint still got streams")


if __name__ == "__main__":
    unittest.main()
