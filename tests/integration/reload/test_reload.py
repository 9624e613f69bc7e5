"""Configuration reload (SPEC §2 signals, §2.2 Reload, §2.4 POST /admin/reload): weights and
endpoints change under load with no failed request and with streams in flight finishing; a
broken file changes nothing and answers 400 with file, line and key; endpoint state (breaker,
ejection, health, drain, in-flight count) carries over; listener changes need a restart.

The real binary on loopback against scripted upstreams, on top of the resilience helpers."""

import copy
import json
import os
import re
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "resilience"))

from resil import (LOOPBACK, Background, Behaviour, Client, ResilienceTestCase, SteadyLoad,  # noqa: E402
                   build_request, cluster, ep_breaker, ep_health, harness, one_request, route)

EVENTS = 6
EVENT_GAP = 0.25  # a stream lasts EVENTS * EVENT_GAP seconds


def slow_sse_or_plain(req, conn):
    """/stream/...: an event stream of EVENTS events EVENT_GAP apart, then [DONE];
    anything else: a plain 200 naming the upstream."""
    if not req.target.startswith("/stream"):
        return conn.respond(200, f"{conn.upstream.name} {req.target}",
                            [("Content-Type", "text/plain"), ("X-Upstream", conn.upstream.name)])
    conn.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              f"X-Upstream: {conn.upstream.name}\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(EVENTS):
        ev = f'data: {{"index": {i}}}\n\n'.encode()
        conn.send(b"%x\r\n%s\r\n" % (len(ev), ev))
        time.sleep(EVENT_GAP)
    done = b"data: [DONE]\n\n"
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
    return True


class StreamClient:
    """One event stream read on its own thread; `result` is (status, body, complete, upstream)."""

    def __init__(self, port, target):
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(port, target), daemon=True)
        self.thread.start()

    def _run(self, port, target):
        try:
            c = Client(port, 20.0)
            try:
                c.send(build_request("GET", target, [("Accept", "text/event-stream")]))
                r = c.read_response(timeout=20.0)
                if r is None:
                    self.error = "no response"
                else:
                    self.result = (r.status, r.body, r.complete, r.header("x-upstream"))
            finally:
                c.close()
        except (OSError, TimeoutError, ValueError) as e:
            self.error = f"{type(e).__name__}: {e}"

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


def admin_post(proxy, path, token=None, timeout=10.0):
    """POST on the admin listener; (status, parsed JSON body or raw text)."""
    c = Client(proxy.admin_port, timeout)
    try:
        headers = [("Connection", "close"), ("Content-Length", "0")]
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        r = c.request("POST", path, headers, host=f"{LOOPBACK}:{proxy.admin_port}")
        if r is None:
            raise AssertionError(f"POST {path}: no response")
        try:
            return r.status, json.loads(r.body.decode("utf-8"))
        except ValueError:
            return r.status, r.body.decode("utf-8", "replace")
    finally:
        c.close()


class ReloadTest(ResilienceTestCase):
    def write_config(self, proxy, cfg):
        tmp = proxy.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(harness.to_yaml(cfg))
        os.replace(tmp, proxy.config_path)

    def write_text(self, proxy, text):
        with open(proxy.config_path, "w") as f:
            f.write(text)

    def reloads(self, admin, result):
        return admin.value("spillway_config_reloads_total", result=result) or 0

    def sighup_and_wait(self, proxy, admin):
        before = self.reloads(admin, "ok")
        proxy.signal(signal.SIGHUP)
        admin.wait_value("spillway_config_reloads_total", before + 1, timeout=10.0,
                         what="after SIGHUP", result="ok")

    def split(self, ups, since, until):
        """Requests of the load run (/load/...) each upstream received in [since, until)."""
        out = {}
        for u in ups:
            with u.lock:
                out[u.name] = sum(1 for t, at, _, _ in u.served
                                  if t.startswith("/load/") and since <= at < until)
        return out

    def test_weights_and_endpoints_change_under_load(self):
        ups = [self.tracked(n) for n in ("A", "B", "C")]
        for u in ups:
            u.behaviour.stream = slow_sse_or_plain
        a, b, c = ups
        p = self.proxy([cluster("engines", [(a, 1), (b, 1), (c, 1)], balancer="round_robin")],
                       [route("default", "engines", timeouts={"first_byte": "5s", "idle": "5s"})])
        admin = self.admin(p)
        first = copy.deepcopy(p.config)

        streams = [StreamClient(p.port, f"/stream/{i}") for i in range(6)]
        for u in ups:  # every upstream holds at least one stream while the reloads happen
            self.assertTrue(admin.wait_for(lambda u=u: u.in_flight > 0, 5.0,
                                           f"a stream in flight on {u.name}"))
        load = SteadyLoad(p.port, rate=40, duration=7.0, prefix="/load", timeout=15.0).start()
        time.sleep(1.0)

        # 1: SIGHUP. C goes away while it streams; A gets three times B's share.
        second = copy.deepcopy(first)
        second["clusters"][0]["endpoints"] = [{"address": a.address, "weight": 3},
                                              {"address": b.address, "weight": 1}]
        self.write_config(p, second)
        self.sighup_and_wait(p, admin)
        t1 = time.monotonic()
        ep = admin.endpoint("engines", a.address)
        self.assertEqual(ep["weight"], 3, ep)
        time.sleep(2.5)

        # 2: POST /admin/reload. Now B gets three times A's share.
        third = copy.deepcopy(second)
        third["clusters"][0]["endpoints"] = [{"address": a.address, "weight": 1},
                                             {"address": b.address, "weight": 3}]
        self.write_config(p, third)
        status, body = admin_post(p, "/admin/reload")
        self.assertEqual(status, 200, body)
        self.assertEqual(body.get("status"), "reloaded", body)
        t2 = time.monotonic()

        outcomes = load.join()
        for s in streams:
            self.assertTrue(s.join(20.0), "a stream did not finish")
        failed = [o for o in outcomes if o.status != 200]
        self.assertEqual(failed, [], f"{len(failed)} of {len(outcomes)} requests failed")
        self.assertGreaterEqual(len(outcomes), 250)
        for s in streams:
            self.assertIsNone(s.error, s.error)
            status, body, complete, who = s.result
            self.assertEqual(status, 200, body)
            self.assertTrue(complete, f"stream from {who} cut short: {body!r}")
            self.assertEqual(body.count(b'"index"'), EVENTS, body)
            self.assertIn(b"[DONE]", body)

        # The removed endpoint got no request once the reload was in (the margin covers a
        # request the worker had routed just before it took the new runtime).
        late_c = [t for t, at, _, _ in c.served if at >= t1 + 0.05 and t.startswith("/load/")]
        self.assertEqual(late_c, [], "the removed endpoint still got requests")
        s1 = self.split(ups, t1 + 0.05, t2)
        s2 = self.split(ups, t2 + 0.05, t2 + 10)
        self.assertGreater(s1["A"] + s1["B"], 40, s1)
        self.assertGreater(s2["A"] + s2["B"], 20, s2)
        share1 = s1["A"] / (s1["A"] + s1["B"])
        share2 = s2["B"] / (s2["A"] + s2["B"])
        self.assertTrue(0.6 <= share1 <= 0.9, f"A's share after weights 3:1 is {share1:.2f} {s1}")
        self.assertTrue(0.6 <= share2 <= 0.9, f"B's share after weights 1:3 is {share2:.2f} {s2}")
        print(f"requests per upstream after weights 3:1 {s1}, after 1:3 {s2}")
        self.assertNothingInFlight(admin, timeout=5.0)
        endpoints = [e["address"] for e in admin.clusters()["clusters"][0]["endpoints"]]
        self.assertEqual(endpoints, [a.address, b.address])
        self.assertEqual(self.reloads(admin, "ok"), 2)

    def test_repeated_reloads_under_load(self):
        """Many reloads in a row while requests and streams run: clusters, routes, endpoints and
        policies come and go; nothing fails and every replaced runtime is freed."""
        ups = [self.tracked(n) for n in ("A", "B", "C")]
        for u in ups:
            u.behaviour.stream = slow_sse_or_plain
        a, b, c = ups
        retry = {"attempts": 2, "on": ["connect_failure", "reset", 503],
                 "backoff": {"base": "10ms", "max": "50ms"}}
        p = self.proxy([cluster("engines", [a, b], balancer="least_conn")],
                       [route("default", "engines", retry=retry,
                              timeouts={"first_byte": "5s", "idle": "5s"})])
        admin = self.admin(p)
        first = copy.deepcopy(p.config)
        variants = []
        for i in range(12):
            cfg = copy.deepcopy(first)
            eng = cfg["clusters"][0]
            eng["balancer"] = ["least_conn", "round_robin", "p2c", "random"][i % 4]
            eng["endpoints"] = [{"address": u.address, "weight": 1 + (i + k) % 3}
                                for k, u in enumerate(ups) if (i + k) % 3 != 2]
            if i % 2:
                eng["circuit_breaker"] = {"min_requests": 5 + i % 3, "error_rate": "90%"}
                eng["outlier_detection"] = {"consecutive_5xx": 50}
            if i % 3 == 0:
                eng["health_check"] = {"path": "/health", "interval": "1s", "timeout": "1s",
                                       "healthy_threshold": 1, "unhealthy_threshold": 3}
            if i % 2 == 0:
                cfg["clusters"].insert(0, cluster("side", [c]))
                cfg["routes"].insert(0, route("side", "side", prefix="/side"))
            variants.append(cfg)
        streams = [StreamClient(p.port, f"/stream/{i}") for i in range(4)]
        load = SteadyLoad(p.port, rate=30, duration=5.0, prefix="/load", timeout=15.0).start()
        for i, cfg in enumerate(variants):
            self.write_config(p, cfg)
            if i % 2:
                self.sighup_and_wait(p, admin)
            else:
                status, body = admin_post(p, "/admin/reload")
                self.assertEqual(status, 200, body)
            time.sleep(0.3)
        outcomes = load.join()
        for s in streams:
            self.assertTrue(s.join(20.0), "a stream did not finish")
            self.assertIsNone(s.error, s.error)
            self.assertTrue(s.result[2], f"stream cut short: {s.result!r}")
        failed = [o for o in outcomes if o.status != 200]
        self.assertEqual(failed, [], f"{len(failed)} of {len(outcomes)} requests failed")
        self.assertEqual(self.reloads(admin, "ok"), len(variants))
        self.assertNothingInFlight(admin, timeout=5.0)
        admin.wait_value("spillway_config_retired_runtimes", 0, timeout=5.0,
                         what="once the last exchange on a replaced config ended")

    def test_broken_config_changes_nothing(self):
        a = self.tracked("A")
        p = self.proxy([cluster("engines", [a])], [route("default", "engines")])
        admin = self.admin(p)
        good = harness.to_yaml(p.config)
        broken = good.replace('"weight"', '"weigth"') if '"weight"' in good else None
        if broken is None:  # endpoints written without a weight: add a misspelt key
            broken = good.replace(f'"address": "{a.address}"',
                                  f'"address": "{a.address}", "weigth": 3')
        self.write_text(p, broken)
        status, body = admin_post(p, "/admin/reload")
        self.assertEqual(status, 400, body)
        self.assertEqual(body.get("status"), "failed", body)
        errors = body.get("errors", [])
        self.assertTrue(any(re.search(r"spillway\.yaml:\d+:\d+: clusters\[0\]\.endpoints\[0\]"
                                      r"\.weigth", e) for e in errors), errors)
        self.assertEqual(self.reloads(admin, "error"), 1)
        self.assertEqual(self.reloads(admin, "ok"), 0)
        for i in range(5):
            o = one_request(p.port, f"/after/{i}")
            self.assertEqual(o.status, 200, repr(o))
        # SIGHUP with the same file: logged with file, line and key, counted, nothing changes.
        p.signal(signal.SIGHUP)
        admin.wait_value("spillway_config_reloads_total", 2, timeout=10.0, result="error")
        self.assertTrue(admin.wait_for(lambda: "endpoints[0].weigth" in p.log_text(), 5.0,
                                       "the error in the log"))
        self.assertEqual(one_request(p.port, "/still").status, 200)
        # A YAML syntax error is refused the same way.
        self.write_text(p, good + "clusters: [\n")
        status, body = admin_post(p, "/admin/reload")
        self.assertEqual(status, 400, body)
        self.assertTrue(any("spillway.yaml:" in e for e in body.get("errors", [])), body)
        self.write_text(p, good)
        status, body = admin_post(p, "/admin/reload")
        self.assertEqual(status, 200, body)
        self.assertEqual(one_request(p.port, "/fixed").status, 200)

    def test_endpoint_state_carries_over(self):
        a = self.tracked("A", Behaviour(status=503))    # breaker opens, outlier ejects
        b = self.tracked("B")                           # drained through the admin API
        c = self.tracked("C", Behaviour(health=503))    # health checks fail
        d = self.tracked("D")                           # added by the reload
        extra = {"balancer": "round_robin",
                 "health_check": {"path": "/health", "interval": "500ms", "timeout": "500ms",
                                  "healthy_threshold": 1, "unhealthy_threshold": 2},
                 "circuit_breaker": {"window": "60s", "min_requests": 3, "error_rate": "50%",
                                     "open_duration": "60s"},
                 "outlier_detection": {"consecutive_5xx": 3, "interval": "60s",
                                       "base_ejection_time": "60s", "max_ejection_percent": 100}}
        p = self.proxy([cluster("engines", [a, b, c], **extra)], [route("default", "engines")])
        admin = self.admin(p)
        admin.wait_for(lambda: ep_health(admin.endpoint("engines", c.address)) == "unhealthy",
                       15.0, "C unhealthy")
        admin.wait_for(lambda: ep_health(admin.endpoint("engines", a.address)) == "healthy",
                       15.0, "A healthy")
        status, _ = admin_post(p, f"/admin/clusters/engines/endpoints/{b.address}/drain")
        self.assertEqual(status, 200)
        for i in range(6):
            one_request(p.port, f"/fail/{i}")
        ep = admin.endpoint("engines", a.address)
        self.assertEqual(ep_breaker(ep), "open", ep)
        self.assertTrue(ep["ejected"], ep)

        cfg = copy.deepcopy(p.config)
        cfg["clusters"][0]["endpoints"] = [{"address": u.address, "weight": w}
                                           for u, w in ((a, 2), (b, 3), (c, 4), (d, 1))]
        self.write_config(p, cfg)
        status, body = admin_post(p, "/admin/reload")
        self.assertEqual(status, 200, body)
        ea, eb, ec = (admin.endpoint("engines", u.address) for u in (a, b, c))
        self.assertEqual(ep_breaker(ea), "open", ea)
        self.assertTrue(ea["ejected"], ea)
        self.assertEqual(ea["weight"], 2, ea)
        self.assertTrue(eb["draining"], eb)
        self.assertEqual(eb["weight"], 3, eb)
        self.assertEqual(ep_health(ec), "unhealthy", ec)
        admin.wait_for(lambda: ep_health(admin.endpoint("engines", d.address)) == "healthy",
                       15.0, "D healthy")
        served_before = (a.count(), b.count(), c.count())
        for i in range(8):
            o = one_request(p.port, f"/after/{i}")
            self.assertEqual(o.status, 200, repr(o))
            self.assertEqual(o.headers.get("x-upstream"), "D", repr(o))
        self.assertEqual((a.count(), b.count(), c.count()), served_before)

    def test_in_flight_count_carries_over(self):
        gate = threading.Event()
        a = self.tracked("A", Behaviour())
        a.behaviour.gate, a.behaviour.gate_prefix = gate, "/block"
        self.addCleanup(gate.set)
        p = self.proxy([cluster("engines", [a])],
                       [route("default", "engines", timeouts={"first_byte": "10s", "idle": "10s"})])
        admin = self.admin(p)
        bg = Background(p.port, timeout=15.0)
        for i in range(3):
            bg.start(f"/block/{i}")
        admin.wait_for(lambda: admin.endpoint("engines", a.address)["active"] == 3, 5.0,
                       "3 requests in flight")
        cfg = copy.deepcopy(p.config)
        cfg["clusters"][0]["endpoints"] = [{"address": a.address, "weight": 5}]
        self.write_config(p, cfg)
        self.sighup_and_wait(p, admin)
        ep = admin.endpoint("engines", a.address)
        self.assertEqual((ep["active"], ep["weight"]), (3, 5), ep)
        self.assertEqual(admin.value("spillway_config_retired_runtimes"), 1,
                         "the replaced config is not held by the requests in flight")
        self.assertEqual(one_request(p.port, "/new").status, 200)
        gate.set()
        self.assertTrue(bg.join(15.0))
        self.assertEqual([o.status for o in bg.outcomes], [200, 200, 200], bg.outcomes)
        self.assertNothingInFlight(admin, timeout=5.0)
        admin.wait_value("spillway_config_retired_runtimes", 0, timeout=5.0)
        self.assertEqual(
            admin.value("spillway_upstream_requests_total", cluster="engines",
                        endpoint=a.address, code="200"), 4,
            "requests that straddled the reload were not counted on the endpoint")

    def test_queued_requests_survive_reload(self):
        """Requests waiting in the cluster queue when the config is replaced are served once a
        slot frees up (on the shared endpoint), not left to time out."""
        gate = threading.Event()
        a = self.tracked("A", Behaviour())
        a.behaviour.gate, a.behaviour.gate_prefix = gate, "/block"
        self.addCleanup(gate.set)
        p = self.proxy([cluster("engines", [a], max_concurrent=1,
                                queue={"max_size": 10, "timeout": "20s"})],
                       [route("default", "engines", timeouts={"first_byte": "20s", "idle": "20s"})])
        admin = self.admin(p)
        bg = Background(p.port, timeout=25.0)
        bg.start("/block/0")
        admin.wait_for(lambda: admin.endpoint("engines", a.address)["active"] == 1, 5.0, "1 in flight")
        for i in range(1, 3):
            bg.start(f"/block/{i}")
        admin.wait_value("spillway_queue_depth", 2, timeout=5.0, cluster="engines")
        cfg = copy.deepcopy(p.config)
        cfg["clusters"][0]["endpoints"] = [{"address": a.address, "weight": 2}]
        self.write_config(p, cfg)
        self.sighup_and_wait(p, admin)
        started = time.monotonic()
        gate.set()
        self.assertTrue(bg.join(20.0))
        self.assertEqual([o.status for o in bg.outcomes], [200, 200, 200], bg.outcomes)
        self.assertLess(time.monotonic() - started, 10.0, "queued requests waited for a timeout")
        self.assertEqual(a.max_in_flight, 1, "max_concurrent was not kept across the reload")
        self.assertNothingInFlight(admin, timeout=5.0)

    def test_listener_change_needs_restart_and_token_is_honoured(self):
        a = self.tracked("A")
        p = self.proxy([cluster("engines", [a])], [route("default", "engines")], start=False)
        p.config["admin"] = {"address": f"{LOOPBACK}:{p.admin_port}", "token": "s3cret"}
        self.write_config(p, p.config)
        p.start()
        admin = self.admin(p)
        self.assertEqual(admin_post(p, "/admin/reload")[0], 401)
        self.assertEqual(admin_post(p, "/admin/reload", token="wrong")[0], 401)
        self.assertEqual(self.reloads(admin, "ok") + self.reloads(admin, "error"), 0)

        cfg = copy.deepcopy(p.config)
        with socket.socket() as s:
            s.bind((LOOPBACK, 0))
            other = s.getsockname()[1]
        cfg["listeners"][0]["address"] = f"{LOOPBACK}:{other}"
        cfg["workers"] = 2
        self.write_config(p, cfg)
        status, body = admin_post(p, "/admin/reload", token="s3cret")
        self.assertEqual(status, 200, body)
        warnings = body.get("warnings", [])
        self.assertTrue(any(w.startswith("listeners[0].address:") and "needs a restart" in w
                            for w in warnings), warnings)
        self.assertTrue(any(w.startswith("workers:") and "needs a restart" in w
                            for w in warnings), warnings)
        self.assertEqual(one_request(p.port, "/old-port").status, 200)
        self.assertFalse(p._port_open(other), "the new listener address was bound without a restart")
        self.assertIn("needs a restart", p.log_text())


if __name__ == "__main__":
    import unittest
    unittest.main()
