#!/usr/bin/env python3
"""Side-by-side HTTP/2 benchmark: Spillway, nginx and nghttpx in front of one HTTP/1.1 upstream.

Each proxy runs one worker on core 0 and speaks HTTP/2 to the client, h2c (prior knowledge) and
TLS (ALPN h2, one self-signed P-256 certificate for all three), and HTTP/1.1 keep-alive to the
shared nginx upstream (a small JSON body) on core 1, where h2load runs too. Rounds alternate the
proxies; every figure is the median over rounds: requests/s (closed loop), latency percentiles
from h2load's per-request log, CPU-ms per 1,000 requests of the proxy's processes
(/proc/PID/stat utime+stime) and their peak RSS (VmHWM). With --callgrind, Spillway also runs
under callgrind for a fixed number of requests (instructions per request, top functions).
Prints a Markdown report and writes it to bench/results/h2-<timestamp>.md.
"""

import argparse
import atexit
import datetime
import importlib.util
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Process, /proc and formatting helpers shared with the HTTP/1.1 benchmark.
_spec = importlib.util.spec_from_file_location("proxy_bench", os.path.join(REPO, "bench", "proxy", "run.py"))
pb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pb)
log, spawn, stop, run, tail = pb.log, pb.spawn, pb.stop, pb.run, pb.tail
process_tree, cpu_ticks, status_kb, free_port = pb.process_tree, pb.cpu_ticks, pb.status_kb, pb.free_port
fmt, med, spread, ratio, pct = pb.fmt, pb.med, pb.spread, pb.ratio, pb.pct

PROXIES = ("spillway", "nginx", "nghttpx")
MODES = ("h2c", "tls")
# "spillway-base" is a second Spillway binary (--baseline), run beside the first for A/B figures.
LABEL = {"spillway": "Spillway", "spillway-base": "Spillway (baseline)", "nginx": "nginx", "nghttpx": "nghttpx"}
MODE_LABEL = {"h2c": "h2c (prior knowledge)", "tls": "TLS (ALPN h2)"}
# With --same-headers the peers add what Spillway adds by default: X-Forwarded-For,
# X-Forwarded-Proto and Via upstream, and an X-Request-Id both ways (nghttpx has no per-request
# id: it sends a fixed one of the same length).
SAME_HEADERS = {
    "nginx": pb.SAME_HEADERS["nginx"],
    "nghttpx": """add-x-forwarded-for=yes
add-request-header=X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e
add-response-header=X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e""",
}

PROXY_CORE, LOAD_CORE = pb.PROXY_CORE, pb.LOAD_CORE
CLK_TCK = pb.CLK_TCK

# Targets from the issue: requests/s against each peer.
GOALS = {"nghttpx": 1.0, "nginx": 1.3}


def render(template, dest, subst):
    with open(os.path.join(HERE, "conf", template)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(f"@{k}@", str(v))
    with open(dest, "w") as f:
        f.write(text)
    return dest


def url(mode, port):
    return f"{'https' if mode == 'tls' else 'http'}://127.0.0.1:{port}/"


def h2load(mode, port, extra, timeout):
    out = run(["h2load", "-t1"] + extra + [url(mode, port)], timeout=timeout, core=LOAD_CORE)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", out)
    st = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    fin = re.search(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", out)
    if not m or not st or not fin:
        raise RuntimeError(f"cannot parse h2load output:\n{out}")
    proto = re.search(r"Application protocol: (\S+)", out)
    tls = re.search(r"TLS Protocol: (\S+)\s+Cipher: (\S+)", out)
    secs = float(fin.group(1)) / {"us": 1e6, "ms": 1e3, "s": 1.0}[fin.group(2)]
    ok2xx = int(st.group(1))
    bad = sum(int(m.group(i)) for i in (5, 6, 7)) + sum(int(st.group(i)) for i in (2, 3, 4))
    return {"requests": ok2xx, "seconds": secs, "rps": ok2xx / secs if secs else 0.0,
            "errors": bad, "proto": proto.group(1) if proto else "?",
            "tls": f"{tls.group(1)} {tls.group(2)}" if tls else None, "text": out}


def h2_ready(mode, port, proc, timeout):
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{tail(proc.logfile)}")
        try:
            r = h2load(mode, port, ["-n1", "-c1"], timeout=10)
            if r["requests"] == 1 and r["proto"] in ("h2", "h2c"):
                return
            last = r["text"]
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            last = str(e)
        time.sleep(0.2)
    raise RuntimeError(f"port {port} not answering over HTTP/2 after {timeout}s:\n{last}\n{tail(proc.logfile)}")


class Target:
    def __init__(self, name, mode, port, proc):
        self.name, self.mode, self.port, self.proc = name, mode, port, proc
        self.pids = process_tree(proc.pid)

    def refresh_pids(self):
        self.pids = process_tree(self.proc.pid)


class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, work
        os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
        self.upport = free_port()
        self.cert, self.key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", self.key, "-out", self.cert],
            timeout=60)
        if not (os.path.exists(self.cert) and os.path.exists(self.key)):
            raise RuntimeError("openssl could not make the test certificate")

    def start_upstream(self):
        conf = render("upstream-nginx.conf.in", os.path.join(self.work, "upstream.conf"),
                      {"DIR": self.work, "UPPORT": self.upport})
        p = spawn(["nginx", "-p", self.work, "-c", conf], LOAD_CORE, os.path.join(self.work, "upstream.log"))
        pb.wait_ready(self.upport, p, 10)
        self.upstream = p

    def start(self, name, mode, callgrind=False):
        port = free_port()
        tag = f"{name}-{mode}{'-cg' if callgrind else ''}-{port}"
        subst = {"DIR": self.work, "UPPORT": self.upport, "PORT": port, "TAG": tag, "ADMINPORT": free_port(),
                 "CERT": self.cert, "KEY": self.key, "MASTER": "off" if callgrind else "on",
                 "HEADERS": SAME_HEADERS.get(name, "") if self.args.same_headers else ""}
        if name == "nginx":
            subst["LISTEN"] = "ssl http2" if mode == "tls" else "http2"
            cmd = ["nginx", "-p", self.work, "-c", render("nginx.conf.in", f"{self.work}/{tag}.conf", subst)]
        elif name == "nghttpx":
            subst["FRONTEND"] = f"127.0.0.1,{port}" + ("" if mode == "tls" else ";no-tls")
            cmd = ["nghttpx", f"--conf={render('nghttpx.conf.in', f'{self.work}/{tag}.conf', subst)}"]
            if callgrind:
                cmd.append("--single-process")
        else:
            subst["TLS"] = (f"    tls: {{certificate: {self.cert}, private_key: {self.key}}}"
                            if mode == "tls" else "")
            binary = self.args.baseline if name == "spillway-base" else self.args.spillway
            cmd = [binary, "--config", render("spillway.yaml.in", f"{self.work}/{tag}.yaml", subst)]
        if callgrind:
            cmd = ["valgrind", "--tool=callgrind", "--vgdb=yes",
                   f"--callgrind-out-file={self.work}/callgrind.{tag}.%p"] + cmd
        p = spawn(cmd, PROXY_CORE, os.path.join(self.work, f"{tag}.log"))
        h2_ready(mode, port, p, 120 if callgrind else 20)
        time.sleep(0.2)
        return Target(name, mode, port, p)


# ---------------------------------------------------------------- phases

def load_run(bench, t, seconds):
    """One closed-loop h2load run with the proxy's CPU, the upstream's CPU (what the proxy's way of
    writing costs the server behind it) and the latency percentiles."""
    a = bench.args
    logfile = os.path.join(bench.work, f"h2load-{t.name}-{t.mode}.log")
    t.refresh_pids()
    up_pids = process_tree(bench.upstream.pid)
    c0, b0, w0 = cpu_ticks(t.pids), pb.core_busy_ticks(PROXY_CORE), time.monotonic()
    up0 = cpu_ticks(up_pids)
    u0 = cpu_ticks(t.pids, (11,))
    res = h2load(t.mode, t.port, [f"-c{a.conns}", f"-m{a.streams}", f"-D{seconds}", f"--log-file={logfile}"],
                 timeout=seconds + 60)
    ticks, wall = cpu_ticks(t.pids) - c0, time.monotonic() - w0
    up_ticks = cpu_ticks(up_pids) - up0
    user = cpu_ticks(t.pids, (11,)) - u0
    busy = pb.core_busy_ticks(PROXY_CORE) - b0
    lat = []
    with open(logfile) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1] != "-1":
                lat.append(int(parts[2]))
    os.unlink(logfile)
    lat.sort()
    res.pop("text")
    res.update({"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "max": lat[-1] if lat else None,
                "cpu_ms_per_1k": ticks * 1000.0 / CLK_TCK / res["requests"] * 1000.0 if res["requests"] else None,
                "upstream_ms_per_1k": up_ticks * 1000.0 / CLK_TCK / res["requests"] * 1000.0
                if res["requests"] else None,
                "proxy_pct": 100.0 * ticks / CLK_TCK / wall,
                "user_share": user / ticks if ticks else None,
                "others_pct": 100.0 * max(0, busy - ticks) / CLK_TCK / wall,
                "hwm_kb": status_kb(t.pids, "VmHWM"), "rss_kb": status_kb(t.pids, "VmRSS")})
    return res


def phase_load(bench, names, results):
    a = bench.args
    targets = {}
    for mode in a.modes:
        for n in names:
            targets[(n, mode)] = bench.start(n, mode)
            log(f"started {n} {mode} on port {targets[(n, mode)].port}")
    for (n, mode), t in targets.items():
        log(f"warm-up {n} {mode}")
        load_run(bench, t, a.warmup)
    for r in range(a.runs):
        for mode in a.modes:
            for n in pb.rotated(names, r):
                res = load_run(bench, targets[(n, mode)], a.duration)
                results.setdefault((n, mode), []).append(res)
                log(f"run {r + 1}/{a.runs} {mode} {n}: {res['rps']:.0f} req/s, p50 {res['p50']} us, "
                    f"p99 {res['p99']} us, errors {res['errors']}, cpu-ms/1k {fmt(res['cpu_ms_per_1k'], 3)}, "
                    f"upstream cpu-ms/1k {fmt(res['upstream_ms_per_1k'], 3)}, "
                    f"others on core {PROXY_CORE} {res['others_pct']:.0f}%, {res['proto']}"
                    f"{', ' + res['tls'] if res['tls'] else ''}")
    for t in targets.values():
        stop(t.proc)


def phase_callgrind(bench, names, results):
    """Each proxy under callgrind: user-space instructions per request over a fixed request count
    (nginx with master_process off, nghttpx with --single-process, so one process holds it all)."""
    a = bench.args
    for mode in a.modes:
        for n in names:
            t = bench.start(n, mode, callgrind=True)
            pid = t.proc.pid
            try:
                h2load(mode, t.port, ["-n200", "-c4", f"-m{a.streams}"], timeout=300)
                time.sleep(0.5)
                run(["callgrind_control", "-z", str(pid)], timeout=60)
                r = h2load(mode, t.port, [f"-n{a.cg_requests}", "-c4", f"-m{a.streams}"], timeout=600)
                if r["requests"] != a.cg_requests:
                    raise RuntimeError(f"callgrind run: {r['requests']} of {a.cg_requests} answered")
                before = set(os.listdir(bench.work))
                run(["callgrind_control", "-d", str(pid)], timeout=60)
                dumps = sorted(f for f in set(os.listdir(bench.work)) - before if f.startswith("callgrind."))
                if not dumps:
                    raise RuntimeError(f"no callgrind dump for {n} in {bench.work}")
                ir = 0
                for fname in dumps:
                    with open(os.path.join(bench.work, fname)) as f:
                        for line in f:
                            if line.startswith("summary:"):
                                ir += int(line.split()[1])
                res = {"instr": ir / a.cg_requests}
                if n == "spillway":
                    os.makedirs(bench.keep_dir, exist_ok=True)
                    keep = os.path.join(bench.keep_dir, f"callgrind.spillway-{mode}.out")
                    shutil.copyfile(os.path.join(bench.work, dumps[0]), keep)
                    res.update({"file": keep, "top": pb.top_functions(keep, a.cg_requests, n=15)})
                results[(n, mode)] = res
                log(f"callgrind {n} {mode}: {ir / a.cg_requests:,.0f} instructions per request")
            finally:
                stop(t.proc, timeout=30)


# ---------------------------------------------------------------- report

def versions(args):
    v = {"spillway": "?", "commit": "?"}
    try:
        v["spillway"] = run([args.spillway, "--version"], 10).strip().splitlines()[0].replace("spillway ", "")
        v["commit"] = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], 10).strip()
    except Exception:  # noqa: BLE001 - report only
        pass
    v["nginx"] = run(["nginx", "-v"], 10).strip().replace("nginx version: nginx/", "")
    v["nghttpx"] = run(["nghttpx", "--version"], 10).strip().split()[-1]
    v["h2load"] = run(["h2load", "--version"], 10).strip().replace("h2load ", "")
    v["openssl"] = run(["openssl", "version"], 10).split()[1]
    return v


def report(args, names, results, cg, vers, started, notes):
    L = [f"### HTTP/2 run of {started:%Y-%m-%d %H:%M}", ""]
    L.append(f"Command: `bench/h2/run.sh{''.join(' ' + x for x in args.argv)}`")
    L.append(f"Load: `h2load -t1 -c{args.conns} -m{args.streams} -D{args.duration}` per run, {args.runs} round(s), "
             f"proxies alternated within each round after a {args.warmup} s warm-up each; medians over rounds.")
    L.append(f"Layout: proxy on core {PROXY_CORE} (one worker); upstream nginx (small JSON body, HTTP/1.1 "
             f"keep-alive) and h2load on core {LOAD_CORE}. Host: {os.cpu_count()} cores, Linux "
             f"{platform.release()}, load average {results['load_start']} at start, "
             f"{results.get('load_end', '?')} at end.")
    L.append("Versions: " + "; ".join(f"{k} {v}" for k, v in vers.items()) + ".")
    L.append("Headers: every proxy adds X-Forwarded-For, X-Forwarded-Proto, Via and X-Request-Id upstream "
             "and X-Request-Id downstream, as Spillway does (`--same-headers`)." if args.same_headers else
             "Headers: Spillway adds X-Forwarded-For, X-Forwarded-Proto, Via and X-Request-Id upstream; "
             "nghttpx adds Via and X-Forwarded-Proto; nginx adds nothing (`--same-headers` makes the peers "
             "add what Spillway adds).")
    for note in notes:
        L.append(f"Note: {note}")
    L.append("")
    load = results["load"]
    for mode in args.modes if load else ():
        rps = {n: med(x["rps"] for x in load.get((n, mode), [])) for n in names}
        cpu = {n: med(x["cpu_ms_per_1k"] for x in load.get((n, mode), [])) for n in names}
        per_core = {n: 1e6 / cpu[n] if cpu[n] else None for n in names}
        L.append(f"**{MODE_LABEL[mode]}**")
        L.append("")
        head = ["", "req/s: median (min–max)", "× nghttpx", "× nginx", "p50 µs", "p99 µs", "CPU-ms / 1k req",
                "of which user", "req/s per core", "× nghttpx", "× nginx", "proxy core busy", "peak RSS kB", "errors"]
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "---|" * len(head))
        for n in names:
            rs = load.get((n, mode), [])
            row = [LABEL[n], fmt(rps[n]) + spread([x["rps"] for x in rs])]
            row += [ratio(rps[n], rps.get(b)) if b in names else "–" for b in ("nghttpx", "nginx")]
            row += [fmt(med(x["p50"] for x in rs)), fmt(med(x["p99"] for x in rs)) + spread([x["p99"] for x in rs])]
            us = med(x["user_share"] for x in rs)
            row += [fmt(cpu[n], 3) + spread([x["cpu_ms_per_1k"] for x in rs], 3),
                    f"{us * 100:.0f}%" if us is not None else "–", fmt(per_core[n])]
            row += [ratio(per_core[n], per_core.get(b)) if b in names else "–" for b in ("nghttpx", "nginx")]
            row += [f"{fmt(med(x['proxy_pct'] for x in rs))}%",
                    fmt(med(x["upstream_ms_per_1k"] for x in rs), 3) + spread([x["upstream_ms_per_1k"] for x in rs], 3),
                    fmt(max((x["hwm_kb"] for x in rs), default=None)),
                    str(sum(x["errors"] for x in rs))]
            L.append("| " + " | ".join(row) + " |")
        L.append("")
        if "spillway" in names:
            for base, goal in GOALS.items():
                if base in names and rps["spillway"] and rps[base]:
                    x = rps["spillway"] / rps[base]
                    y = (per_core["spillway"] or 0) / (per_core[base] or 1)
                    L.append(f"- {MODE_LABEL[mode]}: req/s ≥ {goal}× {LABEL[base]}: {x:.2f}× closed loop "
                             f"({'met' if x >= goal else 'NOT met'}), {y:.2f}× per core "
                             f"({'met' if y >= goal else 'NOT met'})")
            if "spillway-base" in names and rps["spillway"] and rps["spillway-base"]:
                L.append(f"- {MODE_LABEL[mode]}: Spillway ÷ baseline: "
                         f"{rps['spillway'] / rps['spillway-base']:.3f}× closed loop, "
                         f"{(per_core['spillway'] or 0) / (per_core['spillway-base'] or 1):.3f}× per core")
            L.append("")
    if cg:
        L.append(f"User-space instructions per request under callgrind ({args.cg_requests:,} requests over 4 "
                 f"connections × {args.streams} streams, after 200; counters zeroed in between):")
        L.append("")
        L.append("| | " + " | ".join(MODE_LABEL[m] for m in args.modes) + " |")
        L.append("|---|" + "---|" * len(args.modes))
        for n in names:
            L.append(f"| {LABEL[n]} | " + " | ".join(fmt(cg[(n, m)]["instr"]) if (n, m) in cg else "–"
                                                   for m in args.modes) + " |")
        L.append("")
        for (n, mode), c in cg.items():
            if "top" not in c:
                continue
            L.append(f"Spillway, {MODE_LABEL[mode]}: functions with the most own instructions per request:")
            L.append("")
            L.append("| instr / req | share | function |")
            L.append("|---|---|---|")
            for per, share, name in c["top"]:
                cell = name.replace("|", "\\|")
                L.append(f"| {per:,.0f} | {share:.1f}% | `{cell}` |")
            L.append("")
            L.append(f"Dump: `{os.path.relpath(c['file'], REPO)}` (`callgrind_annotate` reads it).")
            L.append("")
    if not load:
        return "\n".join(L)
    L.append("<details><summary>Per run</summary>")
    L.append("")
    L.append("| mode | proxy | req/s per run | p99 µs per run | CPU-ms / 1k per run | others on proxy core | TLS |")
    L.append("|---|---|---|---|---|---|---|")
    for mode in args.modes:
        for n in names:
            rs = load.get((n, mode), [])
            tls = sorted({x["tls"] for x in rs if x["tls"]})
            L.append(f"| {mode} | {LABEL[n]} | {', '.join(fmt(x['rps']) for x in rs)} | "
                     f"{', '.join(fmt(x['p99']) for x in rs)} | {', '.join(fmt(x['cpu_ms_per_1k'], 3) for x in rs)} | "
                     f"{fmt(med(x['others_pct'] for x in rs))}% | {', '.join(tls) or '–'} |")
    L.append("")
    L.append("</details>")
    return "\n".join(L)


# ---------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one round of shorter runs")
    ap.add_argument("--spillway", default=os.path.join(REPO, "build-release", "bin", "spillway"))
    ap.add_argument("--baseline", metavar="PATH",
                    help="a second Spillway binary, run in the same rounds as 'Spillway (baseline)' (A/B)")
    ap.add_argument("--only", default=",".join(PROXIES), help="comma-separated subset of " + ",".join(PROXIES))
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of h2c,tls")
    ap.add_argument("--runs", type=int, help="rounds (default 5, quick 1)")
    ap.add_argument("--duration", type=int, help="seconds per run (default 8, quick 4)")
    ap.add_argument("--conns", type=int, default=16, help="h2load connections (default 16)")
    ap.add_argument("--streams", type=int, default=8, help="h2load streams per connection (default 8)")
    ap.add_argument("--callgrind", action="store_true", help="also count Spillway's instructions per request")
    ap.add_argument("--same-headers", action="store_true",
                    help="the peers add the headers Spillway adds (X-Forwarded-For, X-Request-Id, ...)")
    ap.add_argument("--cg-requests", type=int, default=5000)
    ap.add_argument("--nice", type=int, metavar="N",
                    help="autogroup nice (-20..19) for every process the benchmark starts, as in bench/proxy "
                         "(on a shared machine this slows the others)")
    ap.add_argument("--skip-load", action="store_true", help="only the callgrind phase")
    args = ap.parse_args(argv)
    args.argv = argv
    args.runs = args.runs or (1 if args.quick else 5)
    args.duration = args.duration or (4 if args.quick else 8)
    args.warmup = 2
    args.only = [x for x in args.only.split(",") if x]
    args.modes = [x for x in args.modes.split(",") if x]
    for x in args.only:
        if x not in PROXIES:
            ap.error(f"unknown proxy {x!r}")
    for x in args.modes:
        if x not in MODES:
            ap.error(f"unknown mode {x!r}")
    return args


def main(argv):
    args = parse_args(argv)
    atexit.register(pb._cleanup)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, pb._on_signal)
    for tool in ("taskset", "h2load", "nginx", "nghttpx", "openssl") + \
            (("valgrind", "callgrind_control", "callgrind_annotate") if args.callgrind else ()):
        if not shutil.which(tool):
            sys.exit(f"missing tool: {tool} (Debian: nginx-light nghttp2-client nghttp2-proxy openssl "
                     "valgrind util-linux)")
    global LOAD_CORE
    notes = []
    if args.nice is not None:
        if not os.path.exists("/proc/self/autogroup"):
            sys.exit("--nice needs scheduler autogroups (/proc/sys/kernel/sched_autogroup_enabled)")
        pb.AUTOGROUP_NICE = args.nice
        notes.append(f"every benchmark process ran in its own session with autogroup nice {args.nice}.")
    if os.cpu_count() < 2:
        LOAD_CORE = pb.LOAD_CORE = PROXY_CORE
        notes.append("single core: proxy, upstream and load generator share core 0.")
    if "spillway" in args.only and not os.access(args.spillway, os.X_OK):
        if not pb.build_spillway(args.spillway):
            notes.append(f"Spillway left out: no binary at {args.spillway} (build failed or not built).")
            args.only = [x for x in args.only if x != "spillway"]
    names = [x for x in PROXIES if x in args.only]
    if args.baseline:
        if not os.access(args.baseline, os.X_OK):
            sys.exit(f"--baseline {args.baseline}: not an executable")
        names.insert(1, "spillway-base")

    started = datetime.datetime.now()
    work = tempfile.mkdtemp(prefix="spillway-h2bench-")
    results = {"load": {}, "load_start": " ".join(open("/proc/loadavg").read().split()[:3])}
    cg = {}
    vers = versions(args)
    bench = Bench(args, work)
    bench.keep_dir = os.path.join(REPO, "bench", "results", f"h2-{started:%Y%m%d-%H%M%S}")
    log(f"work dir {work}; proxies {', '.join(names)}; modes {', '.join(args.modes)}; {args.runs} round(s)")
    try:
        bench.start_upstream()
        if not args.skip_load:
            phase_load(bench, names, results["load"])
        if args.callgrind:
            phase_callgrind(bench, names, cg)
    except SystemExit:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except Exception:
        log(f"failed; logs and configs kept in {work}")
        raise
    finally:
        pb._cleanup()
    results["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])

    text = report(args, names, results, cg, vers, started, notes)
    print(text)
    outdir = os.path.join(REPO, "bench", "results")
    os.makedirs(outdir, exist_ok=True)
    outfile = os.path.join(outdir, f"h2-{started:%Y%m%d-%H%M%S}.md")
    with open(outfile, "w") as f:
        f.write(text + "\n")
    log(f"written {outfile}; {time.time() - started.timestamp():.0f} s in all")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
