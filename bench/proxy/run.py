#!/usr/bin/env python3
"""Side-by-side benchmark of the proxy core (HTTP/1.1): Spillway, nginx and HAProxy, and direct.

Layout (see bench/README.md): the proxy under test on core 0, one worker; the shared nginx upstream
and the load generators on core 1. Measures closed-loop throughput (wrk), added latency at fixed
rates (openloop.cpp, proxied minus direct), CPU-ms per 1,000 requests (/proc/PID/stat),
user-space instructions per request (callgrind) and RSS per idle keep-alive connection.
Prints a Markdown report and writes it to bench/results/<timestamp>.md.
"""

import argparse
import atexit
import datetime
import os
import platform
import re
import resource
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
PROXIES = ("spillway", "nginx", "haproxy")
LABEL = {"direct": "direct (no proxy)", "spillway": "Spillway", "nginx": "nginx", "haproxy": "HAProxy"}
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets from the issue.
GOAL_VS_NGINX = 1.5
GOAL_VS_HAPROXY = 1.15
GOAL_INSTR = 15000
GOAL_IDLE_BYTES = 10 * 1000

# With --same-headers the peers add what Spillway adds by default: X-Forwarded-For,
# X-Forwarded-Proto and Via upstream, and an X-Request-Id both ways.
SAME_HEADERS = {
    "nginx": """      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Via "1.1 nginx";
      proxy_set_header X-Request-Id $request_id;
      add_header X-Request-Id $request_id;""",
    "haproxy": """  option forwardfor
  http-request set-var(txn.rid) uuid
  http-request set-header X-Forwarded-Proto http
  http-request add-header Via "1.1 haproxy"
  http-request set-header X-Request-Id %[var(txn.rid)]
  http-response set-header X-Request-Id %[var(txn.rid)]""",
}

PROXY_CORE = "0"
LOAD_CORE = "1"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

_children = []
AUTOGROUP_NICE = None  # --nice: scheduler weight of every session the benchmark starts


def _new_session():
    """preexec_fn: the child already leads a new session (start_new_session), so it has an autogroup
    of its own; with --nice, give that group the requested weight."""
    if AUTOGROUP_NICE is not None:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(AUTOGROUP_NICE))


def spawn(cmd, core, logfile):
    """Start cmd pinned to core in its own process group; it is killed at exit."""
    out = open(logfile, "ab")
    p = subprocess.Popen(["taskset", "-c", core] + cmd, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_new_session)
    out.close()
    p.logfile = logfile
    _children.append(p)
    return p


def stop(p, timeout=10.0):
    if p.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue
    # Workers left in the group after the leader exited (nginx master gone first).
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if p in _children:
        _children.remove(p)


def _cleanup():
    for p in list(reversed(_children)):
        stop(p, timeout=5.0)


def _on_signal(signum, _frame):
    log(f"signal {signum}: stopping")
    sys.exit(128 + signum)


def run(cmd, timeout, core=None):
    """Run a bounded command (pinned when core is given); return its stdout+stderr text."""
    if core is not None:
        cmd = ["taskset", "-c", core] + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_new_session)
    return r.stdout.decode(errors="replace")


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------- /proc readings

def _children_of():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(d))
    return kids


def process_tree(pid):
    kids = _children_of()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pids, which=(11, 12)):
    """utime+stime (or just one of them) of every process (all threads) in pids, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(fields[i]) for i in which)
        except OSError:
            pass
    return total


def status_kb(pids, key):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def core_busy_ticks(core):
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                return sum(v) - v[3] - v[4]  # minus idle and iowait
    return 0


# ---------------------------------------------------------------- setup

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get_ok(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while len(data) < 12:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_ready(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{tail(proc.logfile)}")
        if http_get_ok(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} not answering 200 after {timeout}s:\n"
                       f"{tail(proc.logfile) if proc else ''}")


def render(template, dest, subst):
    with open(os.path.join(HERE, "conf", template)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(f"@{k}@", str(v))
    with open(dest, "w") as f:
        f.write(text)
    return dest


class Running:
    def __init__(self, name, port, proc):
        self.name, self.port, self.proc = name, port, proc
        self.pids = process_tree(proc.pid) if proc else []

    def refresh_pids(self):
        if self.proc:
            self.pids = process_tree(self.proc.pid)


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
        self.upport = free_port()
        self.upstream = None
        self.openloop = os.path.join(work, "openloop")
        subprocess.run(["g++", "-O2", "-std=c++20", "-o", self.openloop, os.path.join(HERE, "openloop.cpp")],
                       check=True, timeout=120)

    def start_upstream(self):
        conf = render("upstream-nginx.conf.in", os.path.join(self.work, "upstream.conf"),
                      {"DIR": self.work, "UPPORT": self.upport})
        p = spawn(["nginx", "-p", self.work, "-c", conf], LOAD_CORE, os.path.join(self.work, "upstream.log"))
        wait_ready(self.upport, p, 10)
        self.upstream = p

    def start(self, name, callgrind=False):
        """Start one proxy on PROXY_CORE; under callgrind when asked."""
        if name == "direct":
            return Running("direct", self.upport, None)
        port = free_port()
        tag = f"{name}{'-cg' if callgrind else ''}-{port}"
        subst = {"DIR": self.work, "UPPORT": self.upport, "PORT": port,
                 "MASTER": "off" if callgrind else "on", "ADMINPORT": free_port(),
                 "MAXCONN": self.args.maxconn,
                 "HEADERS": SAME_HEADERS.get(name, "") if self.args.same_headers else ""}
        if name == "nginx":
            conf = render("nginx.conf.in", os.path.join(self.work, f"{tag}.conf"), subst)
            cmd = ["nginx", "-p", self.work, "-c", conf]
        elif name == "haproxy":
            conf = render("haproxy.cfg.in", os.path.join(self.work, f"{tag}.cfg"), subst)
            cmd = ["haproxy", "-db", "-f", conf]
        else:
            conf = render("spillway.yaml.in", os.path.join(self.work, f"{tag}.yaml"), subst)
            cmd = [self.args.spillway, "--config", conf]
        if callgrind:
            cmd = ["valgrind", "--tool=callgrind", "--vgdb=yes",
                   f"--callgrind-out-file={self.work}/callgrind.{tag}.%p"] + cmd
        p = spawn(cmd, PROXY_CORE, os.path.join(self.work, f"{tag}.log"))
        wait_ready(port, p, 90 if callgrind else 15)
        r = Running(name, port, p)
        time.sleep(0.2)
        r.refresh_pids()
        return r


# ---------------------------------------------------------------- load

def url(port):
    return f"http://127.0.0.1:{port}/"


def wrk(port, seconds, conns=32):
    out = run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", url(port)],
              timeout=seconds + 30, core=LOAD_CORE)
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m or not rps:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    errors = 0
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if se:
        errors += sum(int(x) for x in se.groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        errors += int(bad.group(1))
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)), "errors": errors}


def fixed_rate(openloop, port, rate, conns, seconds):
    """Open-loop run at `rate` req/s over `conns` keep-alive connections (openloop.cpp)."""
    out = run([openloop, str(port), str(rate), str(conns), str(seconds), "1"],
              timeout=seconds + 30, core=LOAD_CORE)
    kv = dict(x.split("=", 1) for x in out.split() if "=" in x)
    if "p50_us" not in kv:
        raise RuntimeError(f"cannot parse openloop output:\n{out}")
    return {"requests": int(kv["done"]), "rps": float(kv["achieved_rps"]), "errors": int(kv["errors"]),
            "late": int(kv["late"]), "due": int(kv["due"]), "samples": int(kv["samples"]),
            "p50": int(kv["p50_us"]), "p90": int(kv["p90_us"]), "p99": int(kv["p99_us"]),
            "p999": int(kv["p999_us"])}


def pct(sorted_vals, p):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def h2load_count(port, n, conns=4):
    out = run(["h2load", "--h1", f"-n{n}", f"-c{conns}", url(port)], timeout=300, core=LOAD_CORE)
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded", out)
    if not m or int(m.group(2)) != n:
        raise RuntimeError(f"h2load -n{n} did not succeed:\n{out}")


# ---------------------------------------------------------------- phases

def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measured(target, fn, upstream_pids=()):
    """Run fn() and return its result with CPU figures added: the proxy's, the load side's (the
    load generator, a waited-for child, plus the upstream) and the busy time of both cores."""
    t0, u0, w0 = cpu_ticks(target.pids), cpu_ticks(target.pids, (11,)), time.monotonic()
    c0, up0 = children_cpu_s(), cpu_ticks(upstream_pids)
    b0, l0 = core_busy_ticks(PROXY_CORE), core_busy_ticks(LOAD_CORE)
    res = fn()
    res["cpu_ticks"] = cpu_ticks(target.pids) - t0
    res["user_ticks"] = cpu_ticks(target.pids, (11,)) - u0
    gen_ms = (children_cpu_s() - c0) * 1000.0
    up_ms = (cpu_ticks(upstream_pids) - up0) * 1000.0 / CLK_TCK
    k = 1000.0 / res["requests"] if res["requests"] else None
    res["gen_cpu_ms_per_1k"] = gen_ms * k if k else None
    res["up_cpu_ms_per_1k"] = up_ms * k if k else None
    res["user_share"] = res["user_ticks"] / res["cpu_ticks"] if res["cpu_ticks"] else None
    res["wall"] = time.monotonic() - w0
    busy, load_busy = core_busy_ticks(PROXY_CORE) - b0, core_busy_ticks(LOAD_CORE) - l0
    res["proxy_pct"] = 100.0 * res["cpu_ticks"] / CLK_TCK / res["wall"] if target.pids else None
    res["others_pct"] = 100.0 * max(0, busy - res["cpu_ticks"]) / CLK_TCK / res["wall"]
    res["load_core_pct"] = 100.0 * load_busy / CLK_TCK / res["wall"]
    res["cpu_ms_per_1k"] = (res["cpu_ticks"] * 1000.0 / CLK_TCK) / res["requests"] * 1000.0 \
        if target.pids and res["requests"] else None
    return res


def rotated(names, r):
    k = r % len(names)
    return names[k:] + names[:k]


def phase_load(bench, names, results):
    a = bench.args
    running = {n: bench.start(n) for n in names}
    up_pids = process_tree(bench.upstream.pid)
    for n in names:
        log(f"warm-up {n}")
        wrk(running[n].port, a.warmup)

    for r in range(a.runs):
        for n in rotated(names, r):
            res = measured(running[n], lambda: wrk(running[n].port, a.duration), up_pids)
            results["closed"].setdefault(n, []).append(res)
            log(f"closed loop run {r + 1}/{a.runs} {n}: {res['rps']:.0f} req/s, "
                f"errors {res['errors']}, cpu-ms/1k {fmt(res['cpu_ms_per_1k'], 3)}, "
                f"others on core {PROXY_CORE} {res['others_pct']:.0f}%")

    proxied = [n for n in names if n != "direct"]
    slowest = min(statistics.median(x["rps"] for x in results["closed"][n]) for n in proxied) \
        if proxied else statistics.median(x["rps"] for x in results["closed"]["direct"])
    rates = [(1000, 4, "1,000 req/s")]
    for frac in a.fractions:
        rate = max(1000, int(slowest * frac / 100) // 100 * 100)
        rates.append((rate, 32, f"{frac}% of slowest = {rate:,} req/s"))
    results["rates"] = rates
    results["slowest"] = slowest

    for r in range(a.runs):
        for rate, conns, _ in rates:
            for n in rotated(names, r):
                res = measured(running[n], lambda: fixed_rate(bench.openloop, running[n].port, rate,
                                                               conns, a.latency_duration), up_pids)
                results["fixed"].setdefault((rate, n), []).append(res)
                log(f"fixed rate run {r + 1}/{a.runs} {rate} req/s {n}: p50 {res['p50']} us, "
                    f"p99 {res['p99']} us, got {res['rps']:.0f} req/s, late sends {res['late']}, "
                    f"errors {res['errors']}")

    for n in names:
        if running[n].proc:
            stop(running[n].proc)


def phase_callgrind(bench, names, results):
    for n in names:
        if n == "direct":
            continue
        t = bench.start(n, callgrind=True)
        pid = t.proc.pid
        try:
            h2load_count(t.port, 200)
            time.sleep(0.5)
            run(["callgrind_control", "-z", str(pid)], timeout=60)
            h2load_count(t.port, bench.args.cg_requests)
            before = set(os.listdir(bench.work))
            run(["callgrind_control", "-d", str(pid)], timeout=60)
            dumps = sorted(f for f in set(os.listdir(bench.work)) - before if f.startswith("callgrind."))
            ir = None
            for fname in dumps:
                with open(os.path.join(bench.work, fname)) as f:
                    for line in f:
                        if line.startswith("summary:"):
                            ir = (ir or 0) + int(line.split()[1])
            if ir is None:
                raise RuntimeError(f"no callgrind dump for {n} in {bench.work}")
            results["instr"][n] = ir / bench.args.cg_requests
            for i, fname in enumerate(dumps):
                keep = os.path.join(bench.keep_dir, f"callgrind.{n}{'.' + str(i) if i else ''}.out")
                os.makedirs(bench.keep_dir, exist_ok=True)
                shutil.copyfile(os.path.join(bench.work, fname), keep)
                results.setdefault("cg_files", []).append(keep)
            if n == "spillway" and dumps:
                results["cg_top"] = top_functions(os.path.join(bench.work, dumps[0]), bench.args.cg_requests)
            log(f"callgrind {n}: {ir / bench.args.cg_requests:,.0f} instructions per request")
        finally:
            stop(t.proc, timeout=30)


def phase_syscalls(bench, names, results):
    """System calls per request: strace -c attached to every process and thread of the proxy
    while it answers the same fixed load as under callgrind."""
    for n in names:
        if n == "direct":
            continue
        t = bench.start(n)
        out = os.path.join(bench.work, f"strace-{n}.txt")
        try:
            h2load_count(t.port, 200)
            cmd = ["strace", "-f", "-c", "-o", out]
            for pid in t.pids:
                cmd += ["-p", str(pid)]
            tracer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True, preexec_fn=_new_session)
            tracer.logfile = os.devnull
            _children.append(tracer)
            attached = 0
            deadline = time.monotonic() + 10
            while attached < len(t.pids) and time.monotonic() < deadline:
                line = tracer.stderr.readline()
                attached += "attached" in line
            time.sleep(0.3)
            h2load_count(t.port, bench.args.cg_requests)
            os.killpg(tracer.pid, signal.SIGINT)
            tracer.wait(30)
            _children.remove(tracer)
            calls, errors = {}, 0
            with open(out) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 5 and parts[-1] != "total" and re.match(r"^[\d.]+$", parts[0]):
                        has_err = len(parts) == 6
                        calls[parts[-1]] = int(parts[3])
                        errors += int(parts[4]) if has_err else 0
            total = sum(calls.values())
            per = {k: v / bench.args.cg_requests for k, v in sorted(calls.items(), key=lambda kv: -kv[1])}
            results["syscalls"][n] = {"per_req": total / bench.args.cg_requests,
                                      "errors_per_req": errors / bench.args.cg_requests, "by_call": per}
            log(f"syscalls {n}: {total / bench.args.cg_requests:.2f} per request: " +
                ", ".join(f"{k} {v:.2f}" for k, v in list(per.items())[:6]))
        finally:
            stop(t.proc)


def top_functions(dump, requests, n=12):
    """Functions with the most self instructions per request, from callgrind_annotate.

    Functions that were on the stack when the counters were zeroed show the whole total as their
    own; they are skipped."""
    out = run(["callgrind_annotate", "--inclusive=no", "--threshold=100", dump], timeout=120)
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line or float(m.group(2)) >= 50.0:
            continue
        name = re.sub(r" \[[^\]]*\]$", "", m.group(3)).split(":", 1)[-1]
        name = name.replace("std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
                            "std::string")
        if "(" in name:
            name = name[:name.index("(")] + "(…)"
        rows.append((int(m.group(1).replace(",", "")) / requests, float(m.group(2)), name[:120]))
    return rows[:n]


def phase_idle(bench, names, results):
    a = bench.args
    for n in names:
        if n == "direct":
            continue
        t = bench.start(n)
        try:
            h2load_count(t.port, 1000)
            time.sleep(0.5)
            t.refresh_pids()
            rss0 = status_kb(t.pids, "VmRSS")
            cli = subprocess.Popen(["taskset", "-c", LOAD_CORE, sys.executable,
                                    os.path.join(HERE, "idle_conns.py"), "--port", str(t.port),
                                    "--count", str(a.idle_conns)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   start_new_session=True, preexec_fn=_new_session)
            cli.logfile = os.devnull
            _children.append(cli)
            ready = cli.stdout.readline().split()
            if len(ready) != 3 or ready[0] != "ready":
                raise RuntimeError(f"idle client failed: {ready}")
            opened, failed = int(ready[1]), int(ready[2])
            time.sleep(1.0)
            rss1 = status_kb(t.pids, "VmRSS")
            hwm = status_kb(t.pids, "VmHWM")
            cli.stdin.write("check\n")
            cli.stdin.flush()
            alive = int(cli.stdout.readline().split()[1])
            cli.wait(30)
            _children.remove(cli)
            per = (rss1 - rss0) * 1024.0 / opened if opened else float("nan")
            results["idle"][n] = {"rss0_kb": rss0, "rss1_kb": rss1, "hwm_kb": hwm, "opened": opened,
                                  "failed": failed, "alive": alive, "bytes_per_conn": per}
            log(f"idle {n}: {opened} open ({failed} failed, {alive} alive at the end), "
                f"RSS {rss0} -> {rss1} kB, {per:,.0f} B per connection")
        finally:
            stop(t.proc)


# ---------------------------------------------------------------- report

def pct_cell(v):
    return "–" if v is None else f"{v:,.0f}%"


def fmt(v, digits=0):
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{v:,.{digits}f}"


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def spread(vals, digits=0):
    vals = [v for v in vals if v is not None]
    if len(vals) < 2:
        return ""
    return f" ({fmt(min(vals), digits)}–{fmt(max(vals), digits)})"


def versions(args, names):
    v = {}
    v["nginx"] = run(["nginx", "-v"], 10).strip().replace("nginx version: nginx/", "")
    if "haproxy" in names:
        v["haproxy"] = run(["haproxy", "-v"], 10).splitlines()[0].split(" - ")[0].split()[2]
    if "spillway" in names:
        try:
            v["spillway"] = run([args.spillway, "--version"], 10).strip().splitlines()[0].replace("spillway ", "")
        except Exception:  # noqa: BLE001 - report only
            v["spillway"] = "?"
    try:
        v["commit"] = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], 10).strip()
    except Exception:  # noqa: BLE001
        v["commit"] = "?"
    v["wrk"] = (run(["wrk", "-v"], 10).splitlines() or ["?"])[0].split(" [")[0].replace("wrk ", "")
    v["h2load"] = run(["h2load", "--version"], 10).strip().replace("h2load ", "")
    v["valgrind"] = run(["valgrind", "--version"], 10).strip().replace("valgrind-", "")
    return v


def ratio(x, y):
    return f"{x / y:.2f}" if x and y else "–"


def report(args, names, results, vers, started, notes):
    L = []
    closed, fixed, rates = results["closed"], results["fixed"], results.get("rates", [])
    proxied = [n for n in names if n != "direct"]
    rps = {n: med(x["rps"] for x in closed.get(n, [])) for n in names}
    cpu = {n: med(x["cpu_ms_per_1k"] for x in closed.get(n, [])) for n in proxied}
    per_core = {n: 1e6 / cpu[n] if cpu.get(n) else None for n in proxied}

    L.append(f"### Run of {started:%Y-%m-%d %H:%M}")
    L.append("")
    L.append(f"Command: `bench/proxy/run.sh{''.join(' ' + x for x in args.argv)}`")
    L.append(f"Mode: {'quick' if args.quick else 'full'}; {args.runs} run(s) per figure, targets alternated; "
             f"closed loop `wrk -t1 -c32 -d{args.duration}s`; fixed rate `openloop` "
             f"{args.latency_duration} s after 1 s warm-up; callgrind over {args.cg_requests:,} requests on "
             f"4 connections after 200; {args.idle_conns:,} idle connections.")
    L.append(f"Layout: proxy on core {PROXY_CORE} (one worker); upstream nginx and load generators on core "
             f"{LOAD_CORE}. Host: {os.cpu_count()} cores, Linux {platform.release()}, load average "
             f"{results['load_start']} at start, {results.get('load_end', '?')} at end.")
    L.append("Versions: " + "; ".join(f"{k} {v}" for k, v in vers.items()) + ".")
    L.append("Headers: " + ("nginx and HAProxy add X-Forwarded-For, X-Forwarded-Proto, Via and X-Request-Id "
                            "as Spillway does." if args.same_headers else
                            "peers as configured in the issue (nothing added); Spillway adds X-Forwarded-For, "
                            "X-Forwarded-Proto, Via and X-Request-Id (`--same-headers` makes the peers do so too)."))
    for note in notes:
        L.append(f"Note: {note}")
    L.append("")

    head = ["", "req/s closed loop: median (min–max)", "× nginx", "× HAProxy", "proxy core busy",
            "CPU-ms / 1k req", "of which user", "req/s per core (10⁶ / CPU-ms per 1k)", "× nginx", "× HAProxy",
            "instr / req", "syscalls / req", "bytes / idle conn"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for n in names:
        c = closed.get(n, [])
        idle = results["idle"].get(n)
        row = [LABEL[n], fmt(rps[n]) + spread([x["rps"] for x in c])]
        row += [ratio(rps[n], rps.get(b)) if n != "direct" else "–" for b in ("nginx", "haproxy")]
        row.append(pct_cell(med(x["proxy_pct"] for x in c)) if n != "direct" else "–")
        row.append(fmt(cpu.get(n), 2) + spread([x["cpu_ms_per_1k"] for x in c], 2) if n != "direct" else "–")
        us = med(x["user_share"] for x in c) if n != "direct" else None
        row.append(f"{us * 100:.0f}%" if us is not None else "–")
        row.append(fmt(per_core.get(n)))
        row += [ratio(per_core.get(n), per_core.get(b)) if n != "direct" else "–" for b in ("nginx", "haproxy")]
        row.append(fmt(results["instr"].get(n)))
        sc = results["syscalls"].get(n)
        row.append(fmt(sc["per_req"], 2) if sc else "–")
        row.append(fmt(idle["bytes_per_conn"]) if idle else "–")
        L.append("| " + " | ".join(row) + " |")
    L.append("")

    if rates:
        L.append("Added latency over direct, µs (median of runs; open loop, from each request's due time):")
        L.append("")
        head = [""] + [f"p50 / p99 @ {label}" for _, _, label in rates]
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "---|" * len(head))
        for n in names:
            row = [LABEL[n] + (" (absolute)" if n == "direct" else "")]
            for rate, _, _ in rates:
                f = fixed.get((rate, n), [])
                if n == "direct":
                    row.append(f"{fmt(med(x['p50'] for x in f))} / {fmt(med(x['p99'] for x in f))}")
                else:
                    row.append(added(fixed, rate, n))
            L.append("| " + " | ".join(row) + " |")
        L.append("")

    if "spillway" in names:
        L.append("Targets for Spillway:")
        checks = []
        for base, goal in (("nginx", GOAL_VS_NGINX), ("haproxy", GOAL_VS_HAPROXY)):
            if rps.get("spillway") and rps.get(base):
                x, y = rps["spillway"] / rps[base], (per_core["spillway"] or 0) / (per_core[base] or 1)
                checks.append((f"throughput ≥ {goal}× {LABEL[base]}",
                               f"{x:.2f}× closed loop, {y:.2f}× per core", x >= goal, y >= goal))
        if results["instr"].get("spillway"):
            x = results["instr"]["spillway"]
            checks.append((f"≤ {GOAL_INSTR:,} instructions per request", f"{x:,.0f}", x <= GOAL_INSTR, None))
        if results["idle"].get("spillway"):
            x = results["idle"]["spillway"]["bytes_per_conn"]
            checks.append((f"≤ {GOAL_IDLE_BYTES:,} bytes per idle connection", f"{x:,.0f}",
                           x <= GOAL_IDLE_BYTES, None))
        for what, got, ok, ok2 in checks:
            verdict = "met" if ok else "NOT met"
            if ok2 is not None and ok2 != ok:
                verdict = f"{verdict} closed loop, {'met' if ok2 else 'NOT met'} per core"
            L.append(f"- {what}: {got} — {verdict}")
        L.append("")

    L.append("<details><summary>Detail</summary>")
    L.append("")
    L.append("Closed loop, per run. Busy = share of one core; \"others\" = CPU on the proxy core used by "
             "processes outside the benchmark; load core = everything on the load-generator core; wrk and "
             "upstream CPU = what the load side spent per request (a proxy that makes them work harder is "
             "slower in the closed loop when the load core is the bottleneck).")
    L.append("")
    L.append("| | req/s per run | errors | proxy busy | others on proxy core | load core busy "
             "| wrk CPU-ms / 1k req | upstream CPU-ms / 1k req |")
    L.append("|---|---|---|---|---|---|---|---|")
    for n in names:
        c = closed.get(n, [])
        L.append(f"| {LABEL[n]} | {', '.join(fmt(x['rps']) for x in c)} | {sum(x['errors'] for x in c)} | "
                 f"{pct_cell(med(x['proxy_pct'] for x in c))} | {pct_cell(med(x['others_pct'] for x in c))} | "
                 f"{pct_cell(med(x['load_core_pct'] for x in c))} | "
                 f"{fmt(med(x['gen_cpu_ms_per_1k'] for x in c), 2)} | {fmt(med(x['up_cpu_ms_per_1k'] for x in c), 2)} |")
    L.append("")
    if rates:
        L.append("Fixed rate, absolute latency in µs (median of runs, p99 range across runs); late = sent "
                 "more than 1 ms after the due time (load generator or connection backlog).")
        L.append("")
        L.append("| rate | target | p50 | p90 | p99 | p99.9 | achieved req/s | samples per run | late | errors "
                 "| CPU-ms / 1k | others on proxy core |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for rate, conns, label in rates:
            for n in names:
                f = fixed.get((rate, n), [])
                if not f:
                    continue
                L.append(f"| {label}, {conns} conns | {LABEL[n]} | {fmt(med(x['p50'] for x in f))} | "
                         f"{fmt(med(x['p90'] for x in f))} | {fmt(med(x['p99'] for x in f))}"
                         f"{spread([x['p99'] for x in f])} | {fmt(med(x['p999'] for x in f))} | "
                         f"{fmt(med(x['rps'] for x in f))} | {fmt(med(x['samples'] for x in f))} | "
                         f"{sum(x['late'] for x in f)} | {sum(x['errors'] for x in f)} | "
                         f"{fmt(med(x['cpu_ms_per_1k'] for x in f), 2)} | {pct_cell(med(x['others_pct'] for x in f))} |")
        L.append("")
    if results["idle"]:
        L.append("Idle keep-alive connections (one request each, then silent): VmRSS of all the proxy's "
                 "processes before and after, 1 s after the last one was answered.")
        L.append("")
        L.append("| | opened | failed | still open at the end | RSS before kB | RSS after kB | VmHWM kB "
                 "| bytes / conn |")
        L.append("|---|---|---|---|---|---|---|---|")
        for n, i in results["idle"].items():
            L.append(f"| {LABEL[n]} | {i['opened']:,} | {i['failed']} | {i['alive']:,} | {i['rss0_kb']:,} | "
                     f"{i['rss1_kb']:,} | {i['hwm_kb']:,} | {fmt(i['bytes_per_conn'])} |")
        L.append("")
    if results["syscalls"]:
        L.append(f"System calls per request (strace -c -f, {args.cg_requests:,} requests on 4 connections after "
                 "200); failed calls are mostly EAGAIN:")
        L.append("")
        L.append("| | total | failed | by call |")
        L.append("|---|---|---|---|")
        for n, sc in results["syscalls"].items():
            by = ", ".join(f"{k} {v:.2f}" for k, v in sc["by_call"].items() if v >= 0.01)
            L.append(f"| {LABEL[n]} | {sc['per_req']:.2f} | {sc['errors_per_req']:.2f} | {by} |")
        L.append("")
    if results.get("cg_top"):
        L.append("Spillway, functions with the most own instructions per request (callgrind):")
        L.append("")
        L.append("| instr / req | share | function |")
        L.append("|---|---|---|")
        for per, share, name in results["cg_top"]:
            cell = name.replace("|", "\\|")
            L.append(f"| {per:,.0f} | {share:.1f}% | `{cell}` |")
        L.append("")
    if results.get("cg_files"):
        L.append("Callgrind dumps (zeroed after warm-up, requests only): " +
                 ", ".join(f"`{os.path.relpath(f, REPO)}`" for f in results["cg_files"]) +
                 "; read them with `callgrind_annotate`.")
        L.append("")
    L.append("</details>")
    return "\n".join(L)


def added(fixed, rate, n):
    d, p = fixed.get((rate, "direct"), []), fixed.get((rate, n), [])
    if not d or not p:
        return "–"
    a50 = med(x["p50"] for x in p) - med(x["p50"] for x in d)
    a99 = med(x["p99"] for x in p) - med(x["p99"] for x in d)
    return f"{a50:+,.0f} / {a99:+,.0f}"


# ---------------------------------------------------------------- main

def build_spillway(path):
    build = os.path.join(REPO, "build-release")
    if os.path.abspath(path) != os.path.join(build, "bin", "spillway"):
        return False
    log("spillway binary missing: building build-release (Release)")
    try:
        subprocess.run(["cmake", "-S", REPO, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
                       check=True, timeout=300, stdout=sys.stderr)
        subprocess.run(["nice", "cmake", "--build", build, "--target", "spillway"],
                       check=True, timeout=3600, stdout=sys.stderr)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        log(f"build failed: {e}")
        return False
    return os.access(path, os.X_OK)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one run per figure, shorter runs (~3 minutes)")
    ap.add_argument("--spillway", default=os.path.join(REPO, "build-release", "bin", "spillway"))
    ap.add_argument("--only", default="spillway,nginx,haproxy",
                    help="comma-separated subset of spillway,nginx,haproxy (direct always runs)")
    ap.add_argument("--runs", type=int, help="runs per figure (default 5, quick 1)")
    ap.add_argument("--same-headers", action="store_true",
                    help="make nginx and HAProxy add the headers Spillway adds (X-Forwarded-*, Via, X-Request-Id)")
    ap.add_argument("--nice", type=int, metavar="N",
                    help="autogroup nice (-20..19) for every process the benchmark starts; e.g. -10 on a "
                         "shared machine, where each session is scheduled as one group (this slows others)")
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: load,callgrind,syscalls,idle")
    args = ap.parse_args(argv)
    args.argv = argv
    if args.runs is None:
        args.runs = 1 if args.quick else 5
    args.duration = 5 if args.quick else 8
    args.warmup = 2
    args.latency_duration = 5 if args.quick else 6
    args.fractions = [25, 50]
    args.cg_requests = 2000
    args.idle_conns = 10000
    args.only = [x for x in args.only.split(",") if x]
    for x in args.only:
        if x not in PROXIES:
            ap.error(f"unknown proxy {x!r}")
    args.skip = [x for x in args.skip.split(",") if x]
    return args


def main(argv):
    args = parse_args(argv)
    atexit.register(_cleanup)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # HAProxy reserves two descriptors per connection and refuses to start past the hard limit,
    # which an unprivileged container cannot raise.
    args.maxconn = min(100000, (hard - 200) // 2)
    if args.maxconn < args.idle_conns + 100:
        args.idle_conns = max(1000, (args.maxconn - 100) // 1000 * 1000)

    for tool in ("taskset", "g++", "strace", "wrk", "h2load", "nginx", "valgrind", "callgrind_control") + \
            (("haproxy",) if "haproxy" in args.only else ()):
        if not shutil.which(tool):
            sys.exit(f"missing tool: {tool} (Debian: nginx-light haproxy wrk nghttp2-client valgrind util-linux)")
    global LOAD_CORE, AUTOGROUP_NICE
    notes = []
    if args.nice is not None:
        if not os.path.exists("/proc/self/autogroup"):
            sys.exit("--nice needs scheduler autogroups (/proc/sys/kernel/sched_autogroup_enabled)")
        AUTOGROUP_NICE = args.nice
        try:
            run(["true"], 10)
        except (OSError, subprocess.SubprocessError) as e:
            sys.exit(f"--nice {args.nice}: cannot set the autogroup weight ({e})")
        notes.append(f"every benchmark process ran in its own session with autogroup nice {args.nice}.")
    if os.cpu_count() < 2:
        LOAD_CORE = PROXY_CORE
        notes.append("single core: proxy, upstream and load generator share core 0.")
    if args.idle_conns != 10000:
        notes.append(f"hard open-file limit {hard} (HAProxy needs 2 per connection): {args.idle_conns:,} "
                     "idle connections instead of 10,000; bytes per connection are comparable.")

    if "spillway" in args.only and not os.access(args.spillway, os.X_OK):
        if not build_spillway(args.spillway):
            notes.append(f"Spillway left out: no binary at {args.spillway} (build failed or not built).")
            args.only = [x for x in args.only if x != "spillway"]
    names = ["direct"] + [x for x in PROXIES if x in args.only]

    started = datetime.datetime.now()
    work = tempfile.mkdtemp(prefix="spillway-bench-")
    results = {"closed": {}, "fixed": {}, "instr": {}, "idle": {}, "syscalls": {},
               "load_start": " ".join(open("/proc/loadavg").read().split()[:3])}
    vers = versions(args, names)
    bench = Bench(args, work)
    bench.keep_dir = os.path.join(REPO, "bench", "results", f"{started:%Y%m%d-%H%M%S}")
    log(f"work dir {work}; targets {', '.join(names)}; {args.runs} run(s)")
    try:
        bench.start_upstream()
        if "load" not in args.skip:
            phase_load(bench, names, results)
        if "callgrind" not in args.skip:
            phase_callgrind(bench, names, results)
        if "syscalls" not in args.skip:
            phase_syscalls(bench, names, results)
        if "idle" not in args.skip:
            phase_idle(bench, names, results)
    except SystemExit:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except Exception:
        log(f"failed; logs and configs kept in {work}")
        raise
    finally:
        _cleanup()
    results["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])

    text = report(args, names, results, vers, started, notes)
    print(text)
    outdir = os.path.join(REPO, "bench", "results")
    os.makedirs(outdir, exist_ok=True)
    outfile = os.path.join(outdir, f"{started:%Y%m%d-%H%M%S}.md")
    with open(outfile, "w") as f:
        f.write(text + "\n")
    log(f"written {outfile}; {time.time() - started.timestamp():.0f} s in all")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
