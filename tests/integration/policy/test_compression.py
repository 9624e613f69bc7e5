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


ANSWER = json.dumps({"choices": [{"message": {"content": "word " * 600}}],
                     "usage": {"total_tokens": 610}}).encode()


def brotli_decompress(data):
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("brotlidec") or "libbrotlidec.so.1")
    size = ctypes.c_size_t(1 << 22)
    out = ctypes.create_string_buffer(size.value)
    ok = lib.BrotliDecoderDecompress(ctypes.c_size_t(len(data)), data, ctypes.byref(size), out)
    if ok != 1:
        raise AssertionError("not valid brotli")
    return out.raw[:size.value]


class ResponseCompressionTest(PolicyTestCase):
    def setup(self):
        def answer(req, conn):
            if req.target == "/small":
                return conn.respond(200, b'{"ok": true}', [("Content-Type", "application/json")])
            if req.target == "/stream":
                events = b"".join(b"data: {\"t\": \"%d\"}\n\n" % i for i in range(200))
                return conn.respond(200, events, [("Content-Type", "text/event-stream")])
            return conn.respond(200, ANSWER, [("Content-Type", "application/json")])

        u = self.upstream("A", answer)
        p = self.proxy([cluster("engines", [u])],
                       [route("chat", "engines",
                              compression={"request": ["gzip"], "response": ["br", "gzip"],
                                           "min_bytes": "1KiB"})])
        return u, p

    def test_compressed_for_clients_that_accept_it(self):
        _, p = self.setup()
        r = one(p, "GET", "/answer", [("Accept-Encoding", "gzip")])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        self.assertEqual(gzip.decompress(r.body), ANSWER)
        self.assertLess(len(r.body), len(ANSWER))
        r = one(p, "GET", "/answer", [("Accept-Encoding", "gzip, br")])
        self.assertEqual(r.header("content-encoding"), "br")
        self.assertEqual(brotli_decompress(r.body), ANSWER)
        self.assertEqual(metric(p, "spillway_compression_total", route="chat",
                                what="response_encoded"), 2)

    def test_left_alone_when_not_wanted(self):
        _, p = self.setup()
        r = one(p, "GET", "/answer")  # no Accept-Encoding
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.body, ANSWER)
        r = one(p, "GET", "/answer", [("Accept-Encoding", "deflate")])
        self.assertIsNone(r.header("content-encoding"))
        r = one(p, "GET", "/small", [("Accept-Encoding", "gzip")])  # under min_bytes
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.body, b'{"ok": true}')
        r = one(p, "GET", "/stream", [("Accept-Encoding", "gzip, br")])  # never event streams
        self.assertIsNone(r.header("content-encoding"))
        self.assertTrue(r.body.startswith(b"data: "))


if __name__ == "__main__":
    unittest.main()
