#!/usr/bin/env python3
"""spillway-loadgen's own ceiling, next to wrk and h2load.

Layout: one nginx upstream ("ok", keep-alive, h2c) on core 1; each load generator in turn on core 0,
one thread, closed loop. For every run we read the client's CPU time from wait4() rusage, so two
figures come out even when the upstream is the bottleneck:
  - requests per CPU-second of the client ("ceiling from one core"),
  - client CPU microseconds per request ("overhead per request").
Runs alternate between tools; the report gives medians and the spread. A last open-loop run at half
of spillway-loadgen's ceiling checks that it keeps its schedule (late sends, send lag p99).
Prints a Markdown report and writes it to bench/results/loadgen-<timestamp>.md.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLIENT_CORE = "0"
SERVER_CORE = "1"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def timed(cmd, timeout):
    """Runs cmd pinned to the client core and returns its output (child_cpu() reads its CPU)."""
    p = subprocess.Popen(["taskset", "-c", CLIENT_CORE] + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out.decode(errors="replace")


class child_cpu:
    """CPU seconds used by children reaped inside the block."""

    def __enter__(self):
        import resource
        self.r = resource
        u = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.before = u.ru_utime + u.ru_stime
        return self

    def __exit__(self, *exc):
        u = self.r.getrusage(self.r.RUSAGE_CHILDREN)
        self.seconds = u.ru_utime + u.ru_stime - self.before


def run_loadgen(loadgen, url, duration, h2, tmp):
    out = os.path.join(tmp, "lg.json")
    cmd = [loadgen, url, "--duration", f"{duration}s", "--quiet", "--json", out]
    cmd += ["--http2", "--connections", "1", "--concurrency", "100"] if h2 else ["--concurrency", "32"]
    with child_cpu() as cpu:
        text = timed(cmd, duration + 30)
    try:
        j = json.load(open(out))
    except (OSError, ValueError):
        log("spillway-loadgen failed:\n" + text[-2000:])
        return None
    n = j["completed"] + j["failed"] + j.get("unfinished", 0)
    return {"rps": j["request_throughput"], "requests": n, "cpu": cpu.seconds}


def run_wrk(url, duration):
    with child_cpu() as cpu:
        text = timed(["wrk", "-t1", "-c32", f"-d{duration}s", url], duration + 30)
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    n = re.search(r"([0-9]+) requests in", text)
    if not rps or not n:
        log("wrk failed:\n" + text[-2000:])
        return None
    return {"rps": float(rps.group(1)), "requests": int(n.group(1)), "cpu": cpu.seconds}


def run_h2load(url, duration, h2):
    cmd = ["h2load", "-t1", "-D", str(duration)]
    cmd += ["-c1", "-m100"] if h2 else ["--h1", "-c32", "-m1"]
    with child_cpu() as cpu:
        text = timed(cmd + [url], duration + 30)
    rps = re.search(r"finished in [0-9.]+m?s, ([0-9.]+) req/s", text)
    n = re.search(r"requests: [0-9]+ total, [0-9]+ started, ([0-9]+) done", text)
    if not rps or not n:
        log("h2load failed:\n" + text[-2000:])
        return None
    return {"rps": float(rps.group(1)), "requests": int(n.group(1)), "cpu": cpu.seconds}


def summarize(samples):
    ok = [s for s in samples if s]
    if not ok:
        return None
    per_core = [s["requests"] / s["cpu"] for s in ok if s["cpu"] > 0]
    us = [s["cpu"] / s["requests"] * 1e6 for s in ok if s["requests"] > 0]
    rps = [s["rps"] for s in ok]
    return {
        "rps": statistics.median(rps),
        "rps_spread": (max(rps) - min(rps)) / statistics.median(rps) if len(rps) > 1 else 0,
        "per_core": statistics.median(per_core) if per_core else 0,
        "us": statistics.median(us) if us else 0,
        "runs": len(ok),
    }


def ensure_loadgen(path):
    if os.path.exists(path):
        return path
    build = os.path.join(REPO, "build-release")
    log(f"{path} missing: building spillway-loadgen in {build}")
    subprocess.run(["cmake", "-S", REPO, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "--target", "spillway-loadgen"], check=True)
    return os.path.join(build, "bin", "spillway-loadgen")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loadgen", default=os.path.join(REPO, "build-release", "bin", "spillway-loadgen"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="one 3-second run per figure")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.duration = 1, 3
    for tool in ("nginx", "wrk", "h2load", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: apt-get install nginx-light wrk nghttp2-client util-linux")
    loadgen = ensure_loadgen(args.loadgen)

    tmp = tempfile.mkdtemp(prefix="spillway-loadgen-bench-")
    os.makedirs(os.path.join(tmp, "tmp"))
    port, h2port = free_port(), free_port()
    conf = open(os.path.join(HERE, "upstream-nginx.conf.in")).read()
    conf = conf.replace("@DIR@", tmp).replace("@PORT@", str(port)).replace("@H2PORT@", str(h2port))
    conf_path = os.path.join(tmp, "nginx.conf")
    open(conf_path, "w").write(conf)
    nginx = subprocess.Popen(["taskset", "-c", SERVER_CORE, "nginx", "-c", conf_path, "-p", tmp],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not wait_port(port) or not wait_port(h2port):
            sys.exit("nginx did not start: " + open(os.path.join(tmp, "nginx.err")).read())
        h1 = f"http://127.0.0.1:{port}/"
        h2 = f"http://127.0.0.1:{h2port}/"
        tools = {
            "HTTP/1.1": [("spillway-loadgen", lambda: run_loadgen(loadgen, h1, args.duration, False, tmp)),
                         ("wrk", lambda: run_wrk(h1, args.duration)),
                         ("h2load --h1", lambda: run_h2load(h1, args.duration, False))],
            "HTTP/2": [("spillway-loadgen --http2", lambda: run_loadgen(loadgen, h2, args.duration, True, tmp)),
                       ("h2load", lambda: run_h2load(h2, args.duration, True))],
        }
        results = {}
        for proto, entries in tools.items():
            samples = {name: [] for name, _ in entries}
            for i in range(args.runs):
                for name, fn in entries:
                    log(f"{proto} run {i + 1}/{args.runs}: {name}")
                    samples[name].append(fn())
            results[proto] = {name: summarize(s) for name, s in samples.items()}

        # Open loop at half of what the closed loop reached: does it keep the schedule?
        closed = results["HTTP/1.1"].get("spillway-loadgen") or {}
        ceiling = min(closed.get("per_core", 0), closed.get("rps", 0))
        open_loop = None
        if ceiling:
            rate = int(ceiling / 2)
            out = os.path.join(tmp, "open.json")
            log(f"open loop at {rate} req/s")
            timed([loadgen, h1, "--rate", str(rate), "--duration", f"{args.duration}s",
                   "--quiet", "--json", out], args.duration + 30)
            try:
                j = json.load(open(out))
                open_loop = {"rate": rate, "achieved": j["request_throughput"], "sent": j["num_prompts"],
                             "late": j["late_sends"], "waited": j["waited_for_connection"], "lag_p99": j["send_lag"]["p99_ms"],
                             "p99": j["latency"]["p99_ms"], "failed": j["failed"]}
            except (OSError, ValueError, KeyError):
                pass
    finally:
        try:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(nginx.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [f"# spillway-loadgen ceiling ({datetime.datetime.now():%Y-%m-%d %H:%M})", "",
             f"Client on core {CLIENT_CORE}, one thread, closed loop; nginx upstream on core {SERVER_CORE}. "
             f"{args.runs} x {args.duration}s per tool, medians.", "",
             "| protocol | tool | req/s | spread | req per client CPU-second | client CPU µs/request |",
             "|---|---|---:|---:|---:|---:|"]
    for proto, tools_ in results.items():
        for name, s in tools_.items():
            if not s:
                lines.append(f"| {proto} | {name} | failed | | | |")
                continue
            lines.append(f"| {proto} | {name} | {s['rps']:,.0f} | {s['rps_spread'] * 100:.1f}% | "
                         f"{s['per_core']:,.0f} | {s['us']:.2f} |")
    if open_loop:
        lines += ["", f"Open loop at {open_loop['rate']:,} req/s (half the closed-loop rate): achieved "
                  f"{open_loop['achieved']:,.0f} req/s, {open_loop['late']} of {open_loop['sent']} sends later "
                  f"than 1 ms ({open_loop['waited']} waited for a connection), send lag p99 {open_loop['lag_p99']:.3f} ms, latency p99 {open_loop['p99']:.3f} ms, "
                  f"{open_loop['failed']} failed."]
    report = "\n".join(lines) + "\n"
    print(report)
    results_dir = os.path.join(REPO, "bench", "results")
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, f"loadgen-{datetime.datetime.now():%Y%m%d-%H%M%S}.md")
    open(path, "w").write(report)
    log(f"report written to {path}")


if __name__ == "__main__":
    main()
