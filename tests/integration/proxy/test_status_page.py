"""The status page (SPEC §2.4 `GET /`) in a real browser: headless Chromium loads the page from a
running proxy with three upstreams, one failing its health checks, while traffic flows. After
the page's script ran, the DOM must list every endpoint with its state and a request rate that
matches the traffic; a screenshot (decoded here with zlib) must show the rendered page."""

import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

from harness import Client, ProxyTestCase, cluster, route
from test_admin import admin_call, health_handler

CHROMIUM = os.environ.get("SPILLWAY_CHROMIUM", "/usr/bin/chromium")
HEALTH = {"path": "/health", "interval": "500ms", "timeout": "500ms", "healthy_threshold": 1,
          "unhealthy_threshold": 2}
WIDTH, HEIGHT = 1100, 720


class EndpointRows(html.parser.HTMLParser):
    """Collects the status page's endpoint rows: {address: {"health", "badges", cell class: text}}."""

    def __init__(self):
        super().__init__()
        self.rows = {}
        self.row = None
        self.cell = None
        self.badge = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "tr" and "endpoint" in classes:
            self.row = {"health": a.get("data-health"), "badges": []}
            self.rows[a.get("data-address")] = self.row
        elif tag == "td" and self.row is not None:
            self.cell = classes[0] if classes else ""
            self.row[self.cell] = ""
        elif tag == "span" and "badge" in classes and self.row is not None:
            self.badge = ""

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None
        elif tag == "td":
            self.cell = None
        elif tag == "span" and self.badge is not None:
            self.row["badges"].append(self.badge)
            self.badge = None

    def handle_data(self, data):
        if self.row is not None and self.cell is not None:
            self.row[self.cell] += data
        if self.badge is not None:
            self.badge += data


def decode_png(data):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


class StatusPageTest(ProxyTestCase):
    def setUp(self):
        if not os.access(CHROMIUM, os.X_OK):
            self.skipTest(f"{CHROMIUM} not found: install chromium (scripts/install-deps.sh) "
                          "to run the status page browser test")
        self.profile = tempfile.mkdtemp(prefix="spillway-chromium-")
        self.addCleanup(shutil.rmtree, self.profile, True)

    def chromium(self, *args):
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
               "--force-device-scale-factor=1", f"--user-data-dir={self.profile}",
               f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=4000", *args]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-3000:])
        return r.stdout.decode("utf-8", "replace")

    def status(self, p):
        return json.loads(admin_call(p.admin_port, "GET", "/admin/status")[2])

    def test_page_lists_endpoints_with_state_and_rate(self):
        good = [self.upstream("A", health_handler(200)), self.upstream("B", health_handler(200))]
        bad = self.upstream("C", health_handler(503))
        p = self.proxy([cluster("engines", good + [bad], health_check=HEALTH)],
                       [route("chat", "engines")])
        deadline = time.monotonic() + 20
        while True:
            eps = {e["address"]: e["health"] for e in self.status(p)["clusters"][0]["endpoints"]}
            if eps == {good[0].address: "healthy", good[1].address: "healthy",
                       bad.address: "unhealthy"}:
                break
            self.assertLess(time.monotonic(), deadline, f"health states not reached: {eps}")
            time.sleep(0.1)

        # Traffic keeps flowing while the browser loads the page.
        stop = threading.Event()
        sent = [0]

        def load():
            c = Client(p.port)
            try:
                while not stop.is_set():
                    r = c.request("GET", f"/v1/completions?n={sent[0]}")
                    if r is None or r.status != 200:
                        break
                    sent[0] += 1
                    time.sleep(0.01)
            finally:
                c.close()
        t = threading.Thread(target=load, daemon=True)
        t.start()
        self.addCleanup(t.join, 10)
        self.addCleanup(stop.set)
        end = time.monotonic() + 10
        while sent[0] < 20 and time.monotonic() < end:
            time.sleep(0.05)
        self.assertGreaterEqual(sent[0], 20, "traffic thread made no progress")

        dom = self.chromium("--dump-dom", f"http://127.0.0.1:{p.admin_port}/")
        parser = EndpointRows()
        parser.feed(dom)
        rows = parser.rows
        self.assertEqual(set(rows), {u.address for u in good + [bad]},
                         "endpoint rows after the page's script ran:\n" + dom[-4000:])
        for u in good:
            row = rows[u.address]
            self.assertEqual(row["health"], "healthy", row)
            self.assertIn("healthy", row["badges"], row)
            m = re.match(r"([0-9.]+)/s$", row["rate"].strip())
            self.assertIsNotNone(m, f"rate cell {row['rate']!r}")
            self.assertGreater(float(m.group(1)), 0, f"{u.name} shows no request rate: {row}")
        row = rows[bad.address]
        self.assertEqual(row["health"], "unhealthy", row)
        self.assertIn("unhealthy", row["badges"], row)
        self.assertEqual(row["rate"].strip(), "0.00/s", row)
        self.assertIn("—", row["p50"], "an endpoint without traffic shows a latency")
        self.assertIn("—", row["load"], "reported load shown while none is collected")
        self.assertRegex(dom, r'id="version">[0-9]+\.[0-9]+', "version not filled in")
        self.assertIn('class="live"', dom, "the page did not reach /admin/status")

        shot = os.path.join(self.profile, "status.png")
        self.chromium(f"--screenshot={shot}", f"http://127.0.0.1:{p.admin_port}/")
        stop.set()
        if os.environ.get("SPILLWAY_STATUS_SHOT"):  # keep the screenshot, e.g. for the docs
            shutil.copy(shot, os.environ["SPILLWAY_STATUS_SHOT"])
        with open(shot, "rb") as f:
            width, height, px = decode_png(f.read())
        self.assertEqual((width, height), (WIDTH, HEIGHT))
        # Header band drawn in the page's dark header colour (#1f2a44): CSS applied.
        self.assertEqual(px[5][5], (0x1F, 0x2A, 0x44), "header not styled")
        # The cluster table region: background plus text, badges and lines in many colours.
        background = px[HEIGHT - 5][WIDTH // 2]
        region = [c for y in range(160, 400) for c in px[y][20:WIDTH - 20]]
        inked = sum(1 for c in region if c != background)
        self.assertGreater(len(set(region)), 30, "table region nearly uniform: page not rendered")
        self.assertGreater(inked / len(region), 0.05, "table region almost blank")
        # The green healthy badge and the red unhealthy badge are both painted.
        colours = set(region)
        self.assertIn((0xE3, 0xF5, 0xEA), colours, "no healthy badge painted")
        self.assertIn((0xFD, 0xE7, 0xE5), colours, "no unhealthy badge painted")

    def test_reported_engine_load_shown(self):
        def engine(req, conn):
            if req.target == "/metrics":
                conn.respond(200, "# TYPE vllm:num_requests_waiting gauge\n"
                                  "vllm:num_requests_waiting{model_name=\"m\"} 3\n"
                                  "vllm:num_requests_running{model_name=\"m\"} 5\n"
                                  "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\n")
            else:
                conn.respond(200, b"ok")
        e = self.upstream("E", engine)
        p = self.proxy([cluster("engines", [e], load_report={"interval": "200ms"})],
                       [route("chat", "engines")])
        clusters = json.loads(admin_call(p.admin_port, "GET", "/admin/clusters")[2])
        if "reported_load" not in clusters["clusters"][0]["endpoints"][0]:
            self.skipTest("/admin/clusters has no reported_load: load reports are not collected "
                          "by this build (SPEC §2.1 load_report pending)")
        deadline = time.monotonic() + 20
        while True:
            load = self.status(p)["clusters"][0]["endpoints"][0]["reported_load"]
            if load and load.get("fresh"):
                break
            self.assertLess(time.monotonic(), deadline, f"no fresh load report: {load}")
            time.sleep(0.1)
        self.assertEqual((load["waiting"], load["running"]), (3, 5), load)
        self.assertAlmostEqual(load["kv_cache_usage"], 0.25, places=3)
        parser = EndpointRows()
        parser.feed(self.chromium("--dump-dom", f"http://127.0.0.1:{p.admin_port}/"))
        self.assertEqual(parser.rows[e.address]["load"].strip(), "5 run / 3 wait",
                         parser.rows[e.address])


if __name__ == "__main__":
    unittest.main()
