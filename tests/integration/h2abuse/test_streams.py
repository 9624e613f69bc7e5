"""Per-stream abuse against the real proxy: an HPACK bomb (a small header block that decodes to
far more than the header list cap) and more streams than max_concurrent_streams."""

import threading
import time

import h2abuse as ha

BOMB_VALUE = b"b" * 4000  # one dynamic table entry of 4038 bytes (of the default 4096)


def hpack_int(value, prefix_bits, first_byte_flags):
    """An HPACK integer (RFC 7541 §5.1) with `first_byte_flags` in the bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def bomb_block(references, insert):
    """GET / whose block (optionally) inserts x-bomb into the dynamic table and then refers to
    it `references` times with one byte each (indexed field 62, RFC 7541 §6.1)."""
    block = b"\x82\x86\x84"  # :method GET, :scheme http, :path /
    block += b"\x01" + hpack_int(len(b"spillway.test"), 7, 0) + b"spillway.test"  # :authority
    if insert:  # literal with incremental indexing, new name (§6.2.1)
        block += b"\x40" + hpack_int(6, 7, 0) + b"x-bomb" + hpack_int(len(BOMB_VALUE), 7, 0) + \
            BOMB_VALUE
    return block + b"\xbe" * references


class HpackBombTest(ha.H2TestCase):
    # The harness listener caps header bytes at 8 KiB: the HTTP/2 header list cap follows it.

    def test_hpack_bomb(self):
        pid = self.px.proc.pid
        conn = ha.RawConn(self.px.port)
        self.addCleanup(conn.close)
        conn.start()
        # Stream 1: 3 references decode to ~16 KiB, past the cap but a plausible mistake: 431.
        conn.send(ha.frame(ha.HEADERS, ha.END_HEADERS | ha.END_STREAM, 1, bomb_block(3, True)))
        self.assertIsNotNone(conn.wait_for(lambda f: f.stream == 1 and f.type in
                                           (ha.HEADERS, ha.RST_STREAM), 10.0), "no answer")
        st = conn.status(1)
        if st is not None:
            self.assertEqual(st, 431)
        rss0 = ha.rss_bytes(pid)
        cpu0 = ha.cpu_seconds(pid)
        # Then 40 streams whose 16,000 references each would decode to 64 MB (2.5 GB in all):
        # each must be refused (431 or reset) without the proxy decoding, let alone buffering, it.
        streams = list(range(3, 3 + 2 * 40, 2))
        for sid in streams:
            if not conn.send(ha.frame(ha.HEADERS, ha.END_HEADERS | ha.END_STREAM, sid,
                                      bomb_block(16000, False))):
                break
            conn.wait_for(lambda f: f.stream == sid and f.type in (ha.HEADERS, ha.RST_STREAM)
                          or f.type == ha.GOAWAY, 10.0)
            if conn.eof or conn.of_type(ha.GOAWAY):
                break
        answered = {f.stream for f in conn.frames if f.type in (ha.HEADERS, ha.RST_STREAM)}
        cpu = ha.cpu_seconds(pid) - cpu0
        growth = ha.rss_bytes(pid) - rss0
        kinds = sorted({(f.type, f.error_code()) for f in conn.frames if f.stream in streams})
        print(f"HPACK bomb: {len(answered)} streams answered {kinds}, first: {conn.status(1)}, "
              f"RSS growth {growth >> 10} KiB, "
              f"proxy CPU {cpu:.2f}s")
        if not conn.of_type(ha.GOAWAY):
            self.assertTrue(set(streams) <= answered, "a bomb stream was not refused")
        for sid in answered:
            st = conn.status(sid)
            self.assertIn(st, (None, 431), f"stream {sid} answered {st}")
        self.assertEqual(len(self.up.heads), 0, "a bomb reached the upstream")
        self.assertLess(growth, 64 << 20, "the proxy's RSS grew with the decoded size")
        self.assertLess(cpu, 10.0, "decoding the bombs took the proxy too long")
        conn.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and ha.metric(
                self.px, "spillway_http2_abuse_total", {"reason": "header_list_too_large"}) < 1:
            time.sleep(0.1)
        self.assertGreaterEqual(ha.metric(self.px, "spillway_http2_abuse_total",
                                          {"reason": "header_list_too_large"}), 1)
        self.assertStillServing()


class ConcurrentStreamsTest(ha.H2TestCase):
    """An upstream that holds every request until the test lets it answer."""

    OPEN = 200  # streams the client tries to keep open; the proxy allows 128

    def setUp(self):
        self.release = threading.Event()
        self.addCleanup(self.release.set)

        def hold(req, conn):
            self.release.wait(20)
            conn.respond(200, b"held " + req.target.encode())

        self.handler = hold
        super().setUp()

    def open_streams(self, conn):
        out = b"".join(conn.headers(1 + 2 * i, ha.request_headers(f"/cs/{1 + 2 * i}"))
                       for i in range(self.OPEN))
        conn.send(out)

    def reached_ids(self):
        return sorted(int(r.target.rsplit("/", 1)[1]) for r in self.up.heads
                      if r.target.startswith("/cs/"))

    def test_extra_streams_refused(self):
        # A client that opens streams before it acknowledged our SETTINGS: the streams past
        # max_concurrent_streams are refused one by one (REFUSED_STREAM, safe to retry).
        conn = ha.RawConn(self.px.port)
        self.addCleanup(conn.close)
        conn.send(ha.PREFACE + ha.settings())
        self.open_streams(conn)
        refused = set()
        deadline = time.monotonic() + 15
        while len(refused) < self.OPEN - 128 and time.monotonic() < deadline and conn.poll(0.5):
            refused = {f.stream for f in conn.of_type(ha.RST_STREAM)
                       if f.error_code() == ha.REFUSED_STREAM}
        self.assertGreaterEqual(len(refused), self.OPEN - 128, f"refused: {len(refused)}")
        self.assertFalse(conn.of_type(ha.GOAWAY), "GOAWAY instead of refused streams")
        self.up.wait_heads(128, 10.0)
        reached = self.reached_ids()
        self.assertLessEqual(len(reached), 128)
        self.assertFalse(refused & set(reached), "a refused stream reached the upstream")
        conn.send(ha.settings(ack=True))
        self.release.set()
        # Every stream that was not refused is answered.
        want = {1 + 2 * i for i in range(self.OPEN)} - refused
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ended = {f.stream for f in conn.of_type(ha.DATA) if f.flags & ha.END_STREAM}
            if want <= ended or not conn.poll(0.5):
                break
            # Keep the connection window open for the answers.
            conn.send(ha.frame(ha.WINDOW_UPDATE, 0, 0, (1 << 20).to_bytes(4, "big")))
        ended = {f.stream for f in conn.of_type(ha.DATA) if f.flags & ha.END_STREAM}
        self.assertEqual(want - ended, set(), "accepted streams left unanswered")
        self.assertStillServing()

    def test_limit_ignored_after_ack(self):
        # A client that acknowledged max_concurrent_streams and still exceeds it breaks the
        # protocol: the connection ends (nghttp2: GOAWAY PROTOCOL_ERROR); no extra stream
        # reaches the upstream.
        conn = self.attacker()
        self.open_streams(conn)
        g = conn.goaway(10.0)
        self.assertIsNotNone(g, "no GOAWAY")
        self.assertIn(g.error_code(), (ha.PROTOCOL_ERROR, ha.REFUSED_STREAM, ha.ENHANCE_YOUR_CALM))
        self.assertTrue(conn.closed_within(10.0))
        if g.error_code() == ha.PROTOCOL_ERROR:
            self.assertGreaterEqual(self.goaway_reason("protocol_error"), 1)
        time.sleep(0.3)
        reached = self.reached_ids()
        self.assertLessEqual(len(reached), 128)
        self.assertTrue(all(i <= 255 for i in reached), f"streams past 128 reached: {reached}")
        self.release.set()
        self.assertStillServing()
