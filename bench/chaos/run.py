#!/usr/bin/env python3
"""Resilience ("chaos") benchmark: Spillway, nginx and HAProxy in front of three engines while one
engine is killed and restarted and another is slow, at a fixed open-loop rate (see bench/README.md,
"Resilience (chaos)").

Per proxy and run: three spillway-engine processes (tiny model, one compute thread, equal weights;
engine c slow the whole time), the proxy on core 0, the engines and spillway-loadgen on core 1.
The load generator sends non-streamed completions at a fixed Poisson rate; at --kill-at engine b is
SIGKILLed, at --restart-at it is started again on the same port. Measured: success rate (2xx / sent),
latency percentiles from the scheduled send (successful requests), the same per phase, upstream
amplification (completion requests the engines received / client requests, from the engines'
/metrics) and the proxy's own count of upstream tries, the time until b serves again after it is
back, and, where the proxy exposes it, when it marked b down and up.
Prints a Markdown report and writes it to bench/results/chaos-<timestamp>.md (+ raw files).
"""

import argparse
import atexit
import csv
import datetime
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROXIES = ("spillway", "nginx", "haproxy")
LABEL = {"spillway": "Spillway", "nginx": "nginx", "haproxy": "HAProxy"}
ENGINES = ("a", "b", "c")
PROXY_CORE = "0"
LOAD_CORE = "1"


def log(msg):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

_children = []
AUTOGROUP_NICE = None


def _new_session():
    """preexec_fn: the child leads a new session (its own autogroup); with --nice, weight it."""
    if AUTOGROUP_NICE is not None:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(AUTOGROUP_NICE))


def spawn(cmd, core, logfile):
    """Start cmd pinned to core in its own process group; every one is killed at exit."""
    out = open(logfile, "ab")
    p = subprocess.Popen(["taskset", "-c", core] + cmd, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_new_session)
    out.close()
    p.logfile = logfile
    _children.append(p)
    return p


def kill(p, sig=signal.SIGKILL):
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass


def stop(p, timeout=5.0):
    if p.poll() is None:
        kill(p, signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    kill(p, signal.SIGKILL)  # and whatever is left in its group (nginx worker)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    if p in _children:
        _children.remove(p)


def _cleanup():
    for p in list(reversed(_children)):
        stop(p, timeout=3.0)


def _on_signal(signum, _frame):
    log(f"signal {signum}: stopping")
    sys.exit(128 + signum)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=1.0):
    """(status, body) of a GET on loopback, or (None, '') when nothing answered."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (OSError, ValueError):
        return None, ""


def wait_health(port, proc, timeout, path="/health"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{tail(proc.logfile)}")
        if http_get(port, path, 0.5)[0] == 200:
            return time.time()
        time.sleep(0.02)
    raise RuntimeError(f"port {port} not answering 200 on {path} after {timeout}s:\n"
                       f"{tail(proc.logfile) if proc else ''}")


def wait_port(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{tail(proc.logfile)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not open after {timeout}s:\n{tail(proc.logfile)}")


def render(template, dest, subst):
    with open(os.path.join(HERE, "conf", template)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(f"@{k}@", str(v))
    with open(dest, "w") as f:
        f.write(text)
    return dest


# ---------------------------------------------------------------- engine counters

def prom_samples(text):
    """{(name, labels-string): value} of a Prometheus text page."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([^\s{]+)(\{[^}]*\})?\s+(\S+)", line)
        if m:
            try:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def prom_sum(samples, name, label_filter=""):
    return sum(v for (n, l), v in samples.items() if n == name and label_filter in l)


def engine_count(port):
    """Completion requests an engine has taken in (finished for any reason, refused, failed, or
    still running or waiting), or None when it does not answer."""
    status, body = http_get(port, "/metrics", 1.0)
    if status != 200:
        return None
    s = prom_samples(body)
    return (prom_sum(s, "vllm:request_success_total") + prom_sum(s, "spillway_engine_requests_rejected_total")
            + prom_sum(s, "spillway_engine_requests_errored_total") + prom_sum(s, "vllm:num_requests_running")
            + prom_sum(s, "vllm:num_requests_waiting"))


# ---------------------------------------------------------------- the proxies' own views

def haproxy_cmd(sock, cmd):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1.0)
            s.connect(sock)
            s.sendall(cmd.encode() + b"\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")
    except OSError:
        return ""


def haproxy_stat(sock):
    text = haproxy_cmd(sock, "show stat")
    if not text.startswith("# "):
        return {}
    rows = csv.DictReader(io.StringIO(text[2:]))
    return {(r["pxname"], r["svname"]): r for r in rows}


class Proxy:
    """One proxy under test: start, its view of engine b, its own count of upstream tries."""

    def __init__(self, name, bench, ports):
        self.name, self.bench, self.ports = name, bench, ports
        self.port = free_port()
        self.admin = free_port()
        self.tag = f"{name}-{self.port}"
        w = bench.work
        subst = {"DIR": w, "TAG": self.tag, "PORT": self.port, "ADMINPORT": self.admin,
                 "PORT_A": ports["a"], "PORT_B": ports["b"], "PORT_C": ports["c"]}
        if name == "nginx":
            conf = render("nginx.conf.in", os.path.join(w, f"{self.tag}.conf"), subst)
            cmd = ["nginx", "-p", w, "-c", conf]
            self.access = os.path.join(w, f"nginx-{self.tag}.access")
        elif name == "haproxy":
            conf = render("haproxy.cfg.in", os.path.join(w, f"{self.tag}.cfg"), subst)
            cmd = ["haproxy", "-db", "-f", conf]
            self.sock = os.path.join(w, f"haproxy-{self.tag}.sock")
        else:
            conf = render("spillway.yaml.in", os.path.join(w, f"{self.tag}.yaml"), subst)
            cmd = [bench.args.spillway, "--config", conf]
        self.proc = spawn(cmd, PROXY_CORE, os.path.join(w, f"{self.tag}.log"))
        wait_port(self.port, self.proc, 15)
        self.b_address = f"127.0.0.1:{ports['b']}"

    def b_state(self):
        """A short text of how the proxy sees engine b now, or None when it does not say."""
        if self.name == "spillway":
            status, body = http_get(self.admin, "/admin/clusters", 0.5)
            if status != 200:
                return None
            for cl in json.loads(body)["clusters"]:
                for e in cl["endpoints"]:
                    if e["address"] == self.b_address:
                        return (f"{'available' if e['available'] else 'unavailable'} health={e['health']} "
                                f"breaker={e['breaker']} ejected={str(e['ejected']).lower()}")
            return None
        if self.name == "haproxy":
            row = haproxy_stat(self.sock).get(("engines", "b"))
            return row["status"] if row else None
        return None

    def b_usable(self, state):
        if state is None:
            return None
        if self.name == "spillway":
            return state.startswith("available")
        return state.startswith("UP")  # "UP", or "UP 1/2" while failing checks

    def tries(self):
        """The proxy's own count of upstream tries so far (connect failures included), and extra
        counters worth showing; None where it keeps no such count."""
        if self.name == "spillway":
            status, body = http_get(self.admin, "/metrics", 1.0)
            if status != 200:
                return None
            s = prom_samples(body)
            extra = {k[1]: v for k, v in s.items() if k[0] == "spillway_retries_total"}
            extra.update({"denied " + k[1]: v for k, v in s.items() if k[0] == "spillway_retries_denied_total"})
            return {"tries": prom_sum(s, "spillway_upstream_requests_total"), "extra": extra}
        if self.name == "haproxy":
            st = haproxy_stat(self.sock)
            be = st.get(("engines", "BACKEND"), {})
            servers = [st.get(("engines", n), {}) for n in ENGINES]

            def num(r, k):
                try:
                    return float(r.get(k) or 0)
                except ValueError:
                    return 0.0
            # stot counts every stream assigned to a server, including the tries that failed.
            return {"tries": sum(num(r, "stot") for r in servers),
                    "extra": {"retries": num(be, "wretr"), "redispatches": num(be, "wredis"),
                              "conn errors": num(be, "econ"), "resp errors": num(be, "eresp")}}
        if self.name == "nginx":
            n = 0
            try:
                with open(self.access) as f:
                    for line in f:
                        m = re.search(r'"([^"]*)"', line)
                        if m and m.group(1) not in ("", "-"):
                            n += len(re.split(r",\s*|\s*:\s+", m.group(1)))
            except OSError:
                return None
            return {"tries": float(n), "extra": {}}
        return None


# ---------------------------------------------------------------- one trial

class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
        self.model = os.path.join(work, "model.bin")
        self.tokenizer = os.path.join(work, "tokenizer.bin")
        subprocess.run([args.engine, "make-model", "--preset", "tiny", "--seed", "1", "--out", self.model,
                        "--tokenizer-out", self.tokenizer], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)

    def engine_cmd(self, name, port):
        a = self.args
        slowdown = a.slowdown * (a.slow_factor if name == "c" else 1.0)
        return [a.engine, "--model", self.model, "--tokenizer", self.tokenizer,
                "--listen", f"127.0.0.1:{port}", "--device", "cpu", "--threads", "1",
                "--max-batch", str(a.max_batch), "--name", name, "--slowdown", f"{slowdown:g}",
                "--log-level", "warn"]

    def start_engine(self, name, port, tag):
        p = spawn(self.engine_cmd(name, port), LOAD_CORE, os.path.join(self.work, f"{tag}-engine-{name}.log"))
        ready = wait_health(port, p, 20)
        return p, ready

    def loadgen_cmd(self, port, duration, out_prefix, seed):
        a = self.args
        cmd = [a.loadgen, f"http://127.0.0.1:{port}/v1/completions", "--openai",
               "--max-tokens", str(a.max_tokens), "--prompts", os.path.join(HERE, "prompts.jsonl"),
               "--rate", f"{a.rate:g}", "--arrival", "poisson", "--seed", str(seed),
               "--duration", f"{duration:g}s", "--timeout", f"{a.client_timeout:g}s", "--quiet", "--no-progress"]
        if out_prefix:
            cmd += ["--json", out_prefix + ".json", "--requests-out", out_prefix + ".jsonl"]
        return cmd

    def trial(self, name, run_index):
        a = self.args
        ports = {e: free_port() for e in ENGINES}
        tag = f"{name}-r{run_index}"
        engines = {}
        proxy = None
        res = {"proxy": name, "run": run_index}
        try:
            for e in ENGINES:
                engines[e], _ = self.start_engine(e, ports[e], tag)
            proxy = Proxy(name, self, ports)
            # Let active checks see every engine up (rise 2 at 500 ms), then warm the pools.
            time.sleep(1.5)
            warm = spawn(self.loadgen_cmd(proxy.port, a.warmup, None, 99), LOAD_CORE,
                         os.path.join(self.work, f"{tag}-warmup.log"))
            warm.wait(a.warmup + 30)
            _children.remove(warm)
            time.sleep(0.5)
            base = {e: engine_count(ports[e]) for e in ENGINES}
            tries0 = proxy.tries()
            off0 = None

            states = []
            stop_mon = threading.Event()

            def monitor():
                last = object()
                while not stop_mon.is_set():
                    s = proxy.b_state()
                    if s != last:
                        states.append((time.time(), s))
                        last = s
                    stop_mon.wait(0.1)
            mon = threading.Thread(target=monitor, daemon=True)
            mon.start()

            prefix = os.path.join(self.work, tag)
            t_spawn = time.time()
            lg = spawn(self.loadgen_cmd(proxy.port, a.duration, prefix, a.seed), LOAD_CORE,
                       os.path.join(self.work, f"{tag}-loadgen.log"))
            # Chaos timeline, relative to the load generator's start.
            time.sleep(max(0.0, t_spawn + a.kill_at - time.time()))
            b_before = engine_count(ports["b"])
            kill(engines["b"])
            t_kill = time.time()
            engines["b"].wait(5)
            _children.remove(engines["b"])
            time.sleep(max(0.0, t_spawn + a.restart_at - time.time()))
            t_restart = time.time()
            engines["b"], t_ready = self.start_engine("b", ports["b"], tag + "-restart")
            try:
                lg.wait(a.duration + a.client_timeout + 30)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"load generator did not finish:\n{tail(lg.logfile)}")
            if lg.returncode != 0:
                raise RuntimeError(f"load generator exited {lg.returncode}:\n{tail(lg.logfile)}")
            _children.remove(lg)
            time.sleep(1.0)
            stop_mon.set()
            mon.join(2)
            final = {e: engine_count(ports[e]) for e in ENGINES}
            tries1 = proxy.tries()

            with open(prefix + ".json") as f:
                summary = json.load(f)
            t0 = summary["date_unix_ms"] / 1000.0
            res.update(self.analyse(prefix + ".jsonl", summary, t0, t_kill, t_restart, t_ready, states, proxy))
            res["t0_minus_spawn_ms"] = (t0 - t_spawn) * 1000.0
            if None in base.values() or None in final.values() or b_before is None:
                res["upstream"] = None
            else:
                per = {"a": final["a"] - base["a"], "b": (b_before - base["b"]) + final["b"],
                       "c": final["c"] - base["c"]}
                res["upstream_per_engine"] = per
                res["upstream"] = sum(per.values())
            if tries0 is not None and tries1 is not None:
                res["proxy_tries"] = tries1["tries"] - tries0["tries"]
                res["proxy_extra"] = {k: v - tries0["extra"].get(k, 0.0) for k, v in tries1["extra"].items()}
            res["amplification"] = res["upstream"] / res["sent"] if res.get("upstream") is not None and res["sent"] else None
            res["proxy_amplification"] = res["proxy_tries"] / res["sent"] if "proxy_tries" in res and res["sent"] else None
        finally:
            if proxy is not None:
                stop(proxy.proc)
            for p in engines.values():
                stop(p)
        return res

    def analyse(self, jsonl, summary, t0, t_kill, t_restart, t_ready, states, proxy):
        a = self.args
        kill_us, restart_us, ready_us = ((t - t0) * 1e6 for t in (t_kill, t_restart, t_ready))
        reqs = []
        with open(jsonl) as f:
            for line in f:
                reqs.append(json.loads(line))
        phases = {"steady": (0, kill_us), "b down": (kill_us, restart_us), "b back": (restart_us, float("inf"))}
        out = {"sent": len(reqs), "kill_s": kill_us / 1e6, "restart_s": restart_us / 1e6,
               "b_ready_s": ready_us / 1e6, "late_sends": summary.get("late_sends"),
               "p50_ms": summary["latency"]["p50_ms"], "p99_ms": summary["latency"]["p99_ms"],
               "status_codes": summary.get("status_codes", {}),
               "errors": {k: v for k, v in summary.get("errors", {}).items() if v}}

        def ok(r):
            return r.get("error") in (None, "", "none") and r.get("status") is not None and 200 <= r["status"] < 300

        out["ok"] = sum(1 for r in reqs if ok(r))
        per_phase = {}
        for ph, (lo, hi) in phases.items():
            sel = [r for r in reqs if lo <= r["scheduled_us"] < hi]
            lat = sorted((r["done_us"] - r["scheduled_us"]) / 1000.0 for r in sel if ok(r))
            per_phase[ph] = {"sent": len(sel), "ok": sum(1 for r in sel if ok(r)),
                             "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                             "served_c": sum(1 for r in sel if ok(r) and r.get("engine") == "c")}
        out["phases"] = per_phase
        served = {}
        for r in reqs:
            if ok(r):
                served[r.get("engine") or "?"] = served.get(r.get("engine") or "?", 0) + 1
        out["served"] = served
        # Failed requests: when, relative to the load generator's start.
        fails = sorted(r["scheduled_us"] / 1e6 for r in reqs if not ok(r))
        out["fail_times"] = fails
        # Re-admission: the first request b answered that was sent after it was ready again.
        back = [r["sent_us"] for r in reqs if ok(r) and r.get("engine") == "b" and r["sent_us"] is not None
                and r["sent_us"] >= ready_us]
        out["readmit_s"] = (min(back) - ready_us) / 1e6 if back else None
        # Last request b answered before the kill (the kill lands mid-request for some).
        out["b_states"] = [((t - t0), s) for t, s in states]
        down = [t for t, s in out["b_states"] if proxy.b_usable(s) is False and t >= kill_us / 1e6]
        up = [t for t, s in out["b_states"] if proxy.b_usable(s) and t >= ready_us / 1e6]
        out["marked_down_s"] = (down[0] - kill_us / 1e6) if down else None
        out["marked_up_s"] = (up[0] - ready_us / 1e6) if up else None
        return out


def pct(sorted_vals, p):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


# ---------------------------------------------------------------- report

def fmt(v, nd=1, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float) and v != v:
        return "–"
    return f"{v:,.{nd}f}{unit}"


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def spread(vals, nd=1, unit=""):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt(m, nd, unit)
    return f"{fmt(m, nd, unit)} ({fmt(min(vals), nd)}–{fmt(max(vals), nd)})"


def report(args, results, notes, started, command):
    lines = []
    p = lines.append
    p(f"# Resilience (chaos) benchmark {started}")
    p("")
    p(f"Command: `{command}`")
    p("")
    p(f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}; "
      f"load average at start {os.getloadavg()[0]:.1f}. Proxy on core {PROXY_CORE}; engines and "
      f"load generator on core {LOAD_CORE}.")
    p("")
    p(f"Scenario: {args.rate:g} req/s Poisson, {args.duration:g} s per run, non-streamed "
      f"`/v1/completions` with max_tokens {args.max_tokens}; engines a, b, c (tiny model, --threads 1, "
      f"--max-batch {args.max_batch}, --slowdown {args.slowdown:g}; c --slowdown "
      f"{args.slowdown * args.slow_factor:g}, {args.slow_factor:g}x slower, all run long); "
      f"SIGKILL b at {args.kill_at:g} s, restart at {args.restart_at:g} s; client timeout "
      f"{args.client_timeout:g} s. {args.runs} run(s) per proxy, alternated; medians with min–max.")
    p("")
    names = [n for n in PROXIES if n in results]
    p("| proxy | success (2xx/sent) | p50 ms | p99 ms | upstream amplification | proxy-counted tries / req "
      "| b re-admitted after | b marked down / up | served by slow c |")
    p("|---|---|---|---|---|---|---|---|---|")
    for n in names:
        rs = results[n]
        succ = [100.0 * r["ok"] / r["sent"] for r in rs if r["sent"]]
        share_c = [100.0 * r["served"].get("c", 0) / max(1, r["ok"]) for r in rs]
        md = med([r["marked_down_s"] for r in rs])
        mu = med([r["marked_up_s"] for r in rs])
        p(f"| {LABEL[n]} | {spread(succ, 2, '%')} | {spread([r['p50_ms'] for r in rs], 0)} "
          f"| {spread([r['p99_ms'] for r in rs], 0)} | {spread([r['amplification'] for r in rs], 3)} "
          f"| {spread([r.get('proxy_amplification') for r in rs], 3)} "
          f"| {spread([r['readmit_s'] for r in rs], 2, ' s')} "
          f"| {fmt(md, 2, ' s')} / {fmt(mu, 2, ' s')} | {spread(share_c, 1, '%')} |")
    p("")
    p("Per phase (medians over the runs; latency of successful requests from the scheduled send):")
    p("")
    p("| proxy | phase | sent | success | p50 ms | p99 ms |")
    p("|---|---|---|---|---|---|")
    for n in names:
        rs = results[n]
        for ph in ("steady", "b down", "b back"):
            sent = med([r["phases"][ph]["sent"] for r in rs])
            succ = [100.0 * r["phases"][ph]["ok"] / r["phases"][ph]["sent"] for r in rs if r["phases"][ph]["sent"]]
            p(f"| {LABEL[n]} | {ph} | {fmt(sent, 0)} | {spread(succ, 2, '%')} "
              f"| {spread([r['phases'][ph]['p50_ms'] for r in rs], 0)} "
              f"| {spread([r['phases'][ph]['p99_ms'] for r in rs], 0)} |")
    p("")
    p("Each run:")
    p("")
    for n in names:
        for r in results[n]:
            fails = r["fail_times"]
            when = ""
            if fails:
                when = f"; failures scheduled between {fails[0]:.2f} s and {fails[-1]:.2f} s"
            extra = ", ".join(f"{k} {v:g}" for k, v in sorted(r.get("proxy_extra", {}).items()) if v)
            per = r.get("upstream_per_engine") or {}
            p(f"- {LABEL[n]} run {r['run'] + 1}: sent {r['sent']}, ok {r['ok']}, statuses {r['status_codes']}, "
              f"errors {r['errors'] or 'none'}{when}; served {dict(sorted(r['served'].items()))}; "
              f"engines received {', '.join(f'{k} {v:g}' for k, v in per.items())}; "
              f"proxy tries {fmt(r.get('proxy_tries'), 0)}{' (' + extra + ')' if extra else ''}; "
              f"kill at {r['kill_s']:.2f} s, restart at {r['restart_s']:.2f} s, b ready at {r['b_ready_s']:.2f} s; "
              f"late sends {r['late_sends']}.")
            if r["b_states"]:
                p("  b as the proxy saw it: " + "; ".join(f"{t:.2f} s {s}" for t, s in r["b_states"]))
    if notes:
        p("")
        for x in notes:
            p(f"- {x}")
    p("")
    p("Definitions: success = 2xx answers / requests sent (timeouts and resets count as failures). "
      "Upstream amplification = completion requests the three engines took in (finished, aborted, "
      "refused or in flight, from their /metrics; b's count is read just before the kill) / client "
      "requests. Proxy-counted tries = the proxy's own count of upstream tries (Spillway "
      "spillway_upstream_requests_total, HAProxy per-server stot, nginx $upstream_addr entries in the "
      "access log), connect failures included. Re-admitted after = from b answering /health again to "
      "the first request b served. Marked down / up = from the kill (from b ready) until the proxy's "
      "own view said so (Spillway /admin/clusters, HAProxy stats; nginx OSS has no such view).")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main

def build(args):
    build_dir = os.path.join(REPO, "build-chaos")
    wanted = {args.spillway: "spillway", args.engine: "spillway-engine", args.loadgen: "spillway-loadgen"}
    missing = [t for pth, t in wanted.items() if not os.path.exists(pth)]
    if not missing:
        return
    if any(os.path.dirname(pth) != os.path.join(build_dir, "bin") for pth, t in wanted.items() if t in missing):
        raise SystemExit(f"missing binaries: {', '.join(missing)}")
    log(f"building {', '.join(missing)} in {build_dir} (Release)")
    subprocess.run(["cmake", "-S", REPO, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DSPILLWAY_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["nice", "cmake", "--build", build_dir, "--target"] + missing + ["-j2"], check=True)


def parse(argv):
    bin_dir = os.path.join(REPO, "build-chaos", "bin")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 run per proxy of 35 s (about 2.5 minutes)")
    ap.add_argument("--only", default=",".join(PROXIES))
    ap.add_argument("--runs", type=int, default=None, help="runs per proxy (default 3, --quick 1)")
    ap.add_argument("--rate", type=float, default=40.0)
    ap.add_argument("--duration", type=float, default=None, help="seconds per run (default 50, --quick 35)")
    ap.add_argument("--kill-at", type=float, default=10.0)
    ap.add_argument("--restart-at", type=float, default=25.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--slowdown", type=float, default=40.0, help="every engine's --slowdown")
    ap.add_argument("--slow-factor", type=float, default=10.0, help="engine c is this much slower")
    ap.add_argument("--client-timeout", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nice", type=int, default=None,
                    help="autogroup nice of every process started (e.g. -10), as bench/proxy")
    ap.add_argument("--spillway", default=os.path.join(bin_dir, "spillway"))
    ap.add_argument("--engine", default=os.path.join(bin_dir, "spillway-engine"))
    ap.add_argument("--loadgen", default=os.path.join(bin_dir, "spillway-loadgen"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, configs)")
    args = ap.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.duration = args.duration or (35.0 if args.quick else 50.0)
    if not args.kill_at < args.restart_at < args.duration:
        ap.error("need --kill-at < --restart-at < --duration")
    return args


def main(argv):
    global AUTOGROUP_NICE
    args = parse(argv)
    AUTOGROUP_NICE = args.nice
    names = [n for n in args.only.split(",") if n]
    for n in names:
        if n not in PROXIES:
            raise SystemExit(f"unknown proxy {n}")
    for tool in ("taskset", "nginx", "haproxy"):
        if shutil.which(tool) is None and (tool == "taskset" or tool in names):
            raise SystemExit(f"{tool} not found")
    build(args)
    atexit.register(_cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    started = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = os.path.join(REPO, "bench", "results")
    os.makedirs(results_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="spillway-chaos-")
    command = "bench/chaos/run.sh " + " ".join(argv)
    notes = []
    results = {}
    try:
        bench = Bench(args, work)
        for r in range(args.runs):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                log(f"run {r + 1}/{args.runs}: {n}")
                res = bench.trial(n, r)
                results.setdefault(n, []).append(res)
                log(f"  {n}: ok {res['ok']}/{res['sent']}, p99 {fmt(res['p99_ms'], 0)} ms, amplification "
                    f"{fmt(res['amplification'], 3)}, proxy tries/req {fmt(res.get('proxy_amplification'), 3)}, "
                    f"b re-admitted after {fmt(res['readmit_s'], 2)} s, errors {res['errors']}")
        offs = [r["t0_minus_spawn_ms"] for rs in results.values() for r in rs]
        notes.append(f"The load generator's clock started {min(offs):.0f}–{max(offs):.0f} ms after it was spawned; "
                     "phase boundaries use its own start time (date_unix_ms).")
        text = report(args, results, notes, started, command)
        print(text)
        out = os.path.join(results_dir, f"chaos-{started}.md")
        with open(out, "w") as f:
            f.write(text)
        raw = os.path.join(results_dir, f"chaos-{started}")
        os.makedirs(raw, exist_ok=True)
        with open(os.path.join(raw, "results.json"), "w") as f:
            json.dump(results, f, indent=1, default=str)
        for fn in os.listdir(work):
            if fn.endswith((".json", ".jsonl", ".log", ".yaml", ".cfg", ".conf", ".access", ".err")):
                shutil.copy(os.path.join(work, fn), raw)
        log(f"report: {out}; raw files: {raw}")
    finally:
        _cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work folder kept: {work}")


if __name__ == "__main__":
    main(sys.argv[1:])
