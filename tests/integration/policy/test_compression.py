"""Compressed request bodies (SPEC §2.1 routes[].compression): gzip and br prompts reach the
upstream decoded, with Content-Length and without Content-Encoding; a body that decodes past the
limit (a decompression bomb) is refused with 413 and never reaches the upstream."""

import gzip
import json
import unittest

from policy_support import PolicyTestCase, brotli_compress, cluster, metric, one, route

PROMPT = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello " * 400}]})


class RequestDecodeTest(PolicyTestCase):
    def setup(self):
        u = self.upstream("A")
        p = self.proxy([cluster("engines", [u])],
                       [route("chat", "engines",
                              compression={"request": ["br", "gzip"], "response": ["gzip"]})])
        return u, p

    def check_decoded(self, u, p, encoding, body):
        r = one(p, "POST", "/v1/chat/completions",
                [("Content-Type", "application/json"), ("Content-Encoding", encoding)], body)
        self.assertEqual(r.status, 200, r.describe())
        got = u.requests[-1]
        self.assertEqual(got.body, PROMPT.encode())
        self.assertIsNone(got.header("content-encoding"))
        self.assertEqual(got.header("content-length"), str(len(PROMPT)))

    def test_gzip_and_brotli_bodies_arrive_decoded(self):
        u, p = self.setup()
        self.check_decoded(u, p, "gzip", gzip.compress(PROMPT.encode()))
        self.check_decoded(u, p, "br", brotli_compress(PROMPT.encode()))
        self.assertEqual(metric(p, "spillway_compression_total", route="chat",
                                what="request_decoded"), 2)

    def test_decompression_bomb_gets_413(self):
        u, p = self.setup()
        bomb = gzip.compress(b"\0" * (10 * 1024 * 1024))
        self.assertLess(len(bomb), 64 * 1024)
        r = one(p, "POST", "/v1/chat/completions", [("Content-Encoding", "gzip")], bomb)
        self.assertOpenAIError(r, 413)
        bomb_br = brotli_compress(b"\0" * (10 * 1024 * 1024))
        r = one(p, "POST", "/v1/chat/completions", [("Content-Encoding", "br")], bomb_br)
        self.assertOpenAIError(r, 413)
        self.assertEqual(len(u.requests), 0)
        # a corrupt body is a 400, also without reaching the upstream
        r = one(p, "POST", "/v1/chat/completions", [("Content-Encoding", "gzip")], b"not gzip")
        self.assertOpenAIError(r, 400)
        self.assertEqual(len(u.requests), 0)


if __name__ == "__main__":
    unittest.main()
