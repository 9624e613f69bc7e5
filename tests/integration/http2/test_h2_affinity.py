"""Cookie session affinity over HTTP/2 (SPEC §2.2 affinity): the Set-Cookie the session adds
reaches an HTTP/2 client, and the cookie pins later streams, on another connection and over
HTTP/1.1, to the same endpoint."""

from h2support import Client, H2TestCase, cluster, route

COOKIE = "spillway_affinity"


class H2AffinityTest(H2TestCase):
    def test_cookie_set_over_h2_pins_later_streams_and_http1(self):
        ups = [self.upstream(n) for n in ("ua", "ub", "uc")]
        # balance_floor: concurrent streams of one session stay pinned instead of spilling over
        # the bounded-load limit (that spill is tested over HTTP/1.1 in the affinity suite).
        affinity = {"key": "cookie", "cookie": {"name": COOKIE, "ttl": "1h"}, "balance_floor": 64}
        p = self.h2proxy([cluster("c", ups, affinity=affinity)], [route("r", "c")],
                         [{"http2": True}])

        first = self.h2(p.port).get("/session/1")
        self.assertEqual(first.status, 200, first)
        set_cookies = [v for n, v in first.headers if n == "set-cookie"]
        self.assertEqual(len(set_cookies), 1, first.headers)
        self.assertTrue(set_cookies[0].startswith(COOKIE + "="), set_cookies)
        self.assertIn("HttpOnly", set_cookies[0])
        pair = set_cookies[0].split(";", 1)[0]
        pinned = first.body.split(b" ", 1)[0]
        self.assertIn(pinned, (b"ua", b"ub", b"uc"), first)

        # A new connection, several concurrent streams carrying the cookie: all on one endpoint.
        c = self.h2(p.port)
        sids = [c.request("GET", f"/session/{i}", [("cookie", f"other=1; {pair}")])
                for i in range(2, 12)]
        for st in c.wait_done(sids):
            self.assertEqual(st.status, 200, st)
            self.assertEqual(st.body.split(b" ", 1)[0], pinned, st)

        # HTTP/1.1 on the same port honours the cookie the HTTP/2 answer set.
        h1 = Client(p.port)
        self.addCleanup(h1.close)
        r = h1.request("GET", "/session/h1", headers=[("Cookie", pair)])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.split(b" ", 1)[0], pinned, r)

        # Without the cookie the other endpoints get streams too (the pin came from the cookie).
        c2 = self.h2(p.port)
        seen = {st.body.split(b" ", 1)[0]
                for st in c2.wait_done([c2.request("GET", f"/anon/{i}") for i in range(30)])}
        self.assertGreater(len(seen), 1, seen)
