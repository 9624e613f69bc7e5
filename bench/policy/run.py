#!/usr/bin/env python3
"""Cost of the traffic policies (SPEC §2.2): one Spillway worker (core 0) in front of a fast
nginx upstream answering a 2 KiB JSON body (core 1, with the load generator and Redis), in five
configurations measured side by side in one run:

  plain            no policy
  ratelimit-local  rate_limit keyed by a header, local buckets (limit never reached)
  ratelimit-shared the same with shared: true (one Redis Lua script per request)
  compression      gzip responses for a client sending Accept-Encoding: gzip
  local+compress   both of the above

For each: closed-loop throughput (wrk, 32 keep-alive connections; the configurations run side by
side and their runs alternate) and user-space instructions
per request (valgrind callgrind over a fixed number of requests, h2load --h1). Every request
carries X-Tenant and Accept-Encoding: gzip, so the configurations see the same traffic.
Prints a Markdown table and writes it to bench/results/policy-<timestamp>.md.
"""

import argparse
import datetime
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROXY_CORE, LOAD_CORE = "0", "1"
HEADERS = [("X-Tenant", "tenant-1"), ("Accept-Encoding", "gzip")]
BODY = '{"id": "cmpl-1", "object": "text_completion", "choices": [{"index": 0, "text": "' + \
    " ".join(f"word{i % 50}" for i in range(300)) + \
    '"}], "usage": {"prompt_tokens": 12, "completion_tokens": 300, "total_tokens": 312}}'

RATE = {"key": "header:x-tenant", "rate": "1000000/s", "burst": 1000000}
CONFIGS = [
    ("plain", {}),
    ("ratelimit-local", {"rate_limit": RATE}),
    ("ratelimit-shared", {"rate_limit": dict(RATE, shared=True)}),
    ("compression", {"compression": {"request": ["gzip"], "response": ["gzip"], "min_bytes": "1KiB"}}),
    ("local+compress", {"rate_limit": RATE,
                        "compression": {"request": ["gzip"], "response": ["gzip"], "min_bytes": "1KiB"}}),
]

children = []


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} not open after {timeout}s")


def spawn(cmd, core, logfile):
    p = subprocess.Popen(["taskset", "-c", core] + cmd, stdout=open(logfile, "ab"),
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    children.append(p)
    return p


def stop(p, timeout=15):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(cmd, timeout, core=LOAD_CORE):
    r = subprocess.run(["taskset", "-c", core] + cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def start_upstream(work, port):
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    conf = os.path.join(work, "upstream.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
master_process off;
worker_processes 1;
error_log {work}/upstream.err warn;
pid {work}/upstream.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/tmp/b; proxy_temp_path {work}/tmp/p; fastcgi_temp_path {work}/tmp/f;
  uwsgi_temp_path {work}/tmp/u; scgi_temp_path {work}/tmp/s;
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ default_type application/json; return 200 '{BODY}'; }}
  }}
}}
""")
    p = spawn(["nginx", "-p", work, "-c", conf], LOAD_CORE, os.path.join(work, "upstream.log"))
    wait_port(port, p, 10)
    return p


def start_redis(work, port):
    p = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", work], LOAD_CORE, os.path.join(work, "redis.log"))
    wait_port(port, p, 10)
    return p


def write_config(work, name, extra, upport, redis_port):
    port, admin = free_port(), free_port()
    route = {"name": "all", "match": {"path_prefix": "/"}, "cluster": "up"}
    route.update(extra)
    cfg = {"workers": 1, "drain_timeout": "2s",
           "listeners": [{"name": "bench", "address": f"127.0.0.1:{port}",
                          "limits": {"max_connections": 100000}}],
           "admin": {"address": f"127.0.0.1:{admin}"},
           "clusters": [{"name": "up", "endpoints": [{"address": f"127.0.0.1:{upport}"}],
                         "pool": {"max_idle": 256}}],
           "routes": [route],
           # a generous timeout: under callgrind Redis answers late, and a fallback to local
           # buckets would measure the wrong path
           "cache": {"redis": {"address": f"127.0.0.1:{redis_port}", "timeout": "2s"}}}
    path = os.path.join(work, f"{name}.yaml")
    import json
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path, port, admin


def metric(admin, name):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def check_answer(port, compressed):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", headers=dict(HEADERS))
    with urllib.request.urlopen(req, timeout=5) as r:
        enc = r.headers.get("Content-Encoding")
        if (enc == "gzip") != compressed:
            raise RuntimeError(f"Content-Encoding {enc!r}, expected compressed={compressed}")


def wrk(port, seconds):
    cmd = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--timeout", "5s"]
    for n, v in HEADERS:
        cmd += ["-H", f"{n}: {v}"]
    out = run(cmd + [f"http://127.0.0.1:{port}/v1/completions"], seconds + 30)
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, se.groups())) if se else 0)
    return rps, errors


def h2load(port, n):
    cmd = ["h2load", "--h1", f"-n{n}", "-c4"]
    for k, v in HEADERS:
        cmd += ["-H", f"{k}: {v}"]
    out = run(cmd + [f"http://127.0.0.1:{port}/v1/completions"], 600)
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded", out)
    if not m or int(m.group(2)) != n:
        raise RuntimeError(f"h2load -n{n} did not succeed:\n{out}")


def start_proxy(args, work, name, extra, upport, redis_port, callgrind=False):
    tag = name + ("-cg" if callgrind else "")
    path, port, admin = write_config(work, tag, extra, upport, redis_port)
    cmd = [args.spillway, "--config", path]
    if callgrind:
        cmd = ["valgrind", "--tool=callgrind", "--vgdb=yes",
               f"--callgrind-out-file={os.path.join(work, f'callgrind.{name}.%p')}"] + cmd
    p = spawn(cmd, PROXY_CORE, os.path.join(work, f"{tag}.log"))
    wait_port(port, p, 120 if callgrind else 15)
    return p, port, admin


def throughput(args, work, upport, redis_port, results):
    """Every configuration runs at once (idle while another is measured); the wrk runs
    alternate between them, so a change in the machine's load hits all of them alike."""
    procs = {}
    try:
        for name, extra in CONFIGS:
            procs[name] = start_proxy(args, work, name, extra, upport, redis_port)
            check_answer(procs[name][1], "compression" in extra)
            wrk(procs[name][1], 1)  # warm-up: pools filled, Redis script loaded
        for i in range(args.runs):
            for name, _ in CONFIGS:
                r, errors = wrk(procs[name][1], args.seconds)
                if errors:
                    raise RuntimeError(f"{name}: {errors} errors under wrk")
                results[name].setdefault("runs", []).append(r)
                log(f"run {i + 1}/{args.runs} {name}: {r:,.0f} req/s")
        for name, _ in CONFIGS:
            runs = sorted(results[name]["runs"])
            results[name]["rps"] = runs[len(runs) // 2]
            results[name]["fallbacks"] = metric(procs[name][2],
                                                "spillway_rate_limit_redis_fallbacks_total")
            results[name]["limited"] = metric(procs[name][2], "spillway_rate_limited_total")
    finally:
        for p, _, _ in procs.values():
            stop(p)


def instructions(args, work, name, extra, upport, redis_port, res):
    """User-space instructions per request: callgrind over a fixed number of requests."""
    p, port, admin = start_proxy(args, work, name, extra, upport, redis_port, callgrind=True)
    try:
        h2load(port, 200)
        time.sleep(0.5)
        subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, timeout=60)
        h2load(port, args.cg_requests)
        before = set(os.listdir(work))
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, timeout=60)
        dumps = [f for f in set(os.listdir(work)) - before if f.startswith(f"callgrind.{name}.")]
        ir = 0
        for d in dumps:
            with open(os.path.join(work, d)) as f:
                for line in f:
                    if line.startswith("summary:"):
                        ir += int(line.split()[1])
        res["instr"] = ir / args.cg_requests if ir else None
        res["cg_fallbacks"] = metric(admin, "spillway_rate_limit_redis_fallbacks_total")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for i, d in enumerate(dumps):
                shutil.copyfile(os.path.join(work, d), os.path.join(args.keep, f"callgrind.{name}.{i}.out"))
    finally:
        stop(p, 60)
    log(f"{name}: {res.get('instr') or 0:,.0f} instructions per request")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spillway", default=os.path.join(REPO, "build-release", "bin", "spillway"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cg-requests", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="3 s runs, 1 run each, 1000 requests under callgrind")
    ap.add_argument("--keep", default="", help="copy the callgrind dumps to this folder")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.runs, args.cg_requests = 3, 1, 1000
    for tool in ("wrk", "h2load", "nginx", "redis-server", "valgrind", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed")
    if not os.path.exists(args.spillway):
        sys.exit(f"no spillway binary at {args.spillway} (build build-release first)")
    work = tempfile.mkdtemp(prefix="spillway-policy-bench-")
    try:
        upport, redis_port = free_port(), free_port()
        start_upstream(work, upport)
        start_redis(work, redis_port)
        results = {name: {} for name, _ in CONFIGS}
        throughput(args, work, upport, redis_port, results)
        for name, extra in CONFIGS:
            instructions(args, work, name, extra, upport, redis_port, results[name])
    finally:
        for p in children:
            stop(p)
    base = results["plain"]
    lines = [f"Traffic-policy cost, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} cores (machine shared and loaded); `{' '.join(sys.argv[1:]) or 'defaults'}`; "
             f"wrk -t1 -c32 {args.seconds}s x{args.runs} alternated (median), callgrind over {args.cg_requests} requests.",
             "",
             "| configuration | req/s | vs plain | instructions/request | vs plain |",
             "|---|---:|---:|---:|---:|"]
    for name, _ in CONFIGS:
        r = results[name]
        instr = r.get("instr")
        lines.append(f"| {name} | {r['rps']:,.0f} | {r['rps'] / base['rps']:.2f} | "
                     + (f"{instr:,.0f} | {instr / base['instr']:.2f} |" if instr and base.get("instr") else "n/a | n/a |"))
    shared = results["ratelimit-shared"]
    lines += ["", f"Shared limit: Redis fallbacks during the wrk runs {shared.get('fallbacks')}, "
              f"under callgrind {shared.get('cg_fallbacks')} (0 means every check went to Redis)."]
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results",
                           f"policy-{datetime.datetime.utcnow():%Y%m%d-%H%M%S}.md"), "w") as f:
        f.write(report)
    shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
