#!/usr/bin/env python3
"""Prefix affinity against KV-cache-blind balancing, llm-d style.

Three CPU spillway-engines (small synthetic model, one compute thread each, prefix caching on, a
KV cache that holds the shared prompts of about a third of the tenants next to the running
batch) serve several tenants. Every request is one tenant's long shared system prompt (many KV
blocks) plus a short distinct user turn and a few output tokens, so prefill dominates and a
prefix-cache hit saves most of a request's work. A ladder of rising Poisson rates is run against:

  - spillway, affinity key `prefix` (bounded-load consistent hashing on the prompt's start),
  - spillway, balancer round_robin,
  - spillway, balancer least_conn,
  - nginx, round robin (upstream keepalive, proxy_buffering off),

each on freshly started engines (cold caches), in one run. spillway-loadgen drives it (open loop,
latency from the scheduled send time, streamed answers: TTFT is the first token). The engines'
prefix-cache hit rate (vllm:prefix_cache_hits_total / queries_total) shows why.

Prints a Markdown report and writes it to bench/results/affinity-<timestamp>.md.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=2.0):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except OSError:
        return None, ""


def wait_ready(port, path, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if http_get(port, path, 1.0)[0] == 200:
            return True
        time.sleep(0.1)
    return False


class Procs:
    """Every process started here, killed (process group) on exit."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, log_path):
        f = open(log_path, "ab")
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Engines:
    def __init__(self, args, procs, workdir, model, tok, ports):
        self.args, self.procs, self.workdir, self.model, self.tok = args, procs, workdir, model, tok
        self.ports = ports
        self.running = []

    def start(self):
        for i, port in enumerate(self.ports):
            cmd = [self.args.engine, "--model", self.model, "--tokenizer", self.tok,
                   "--listen", f"127.0.0.1:{port}", "--name", f"engine-{'abc'[i]}",
                   "--device", "cpu", "--threads", "1", "--io-threads", "1",
                   "--max-batch", str(self.args.max_batch), "--max-queue", "1024",
                   "--block-size", "16", "--kv-blocks", str(self.args.kv_blocks),
                   "--log-level", "warn"]
            self.running.append(self.procs.start(cmd, os.path.join(self.workdir, "engines.log")))
        for port in self.ports:
            if not wait_ready(port, "/health"):
                sys.exit(f"engine on {port} did not become healthy; see {self.workdir}/engines.log")

    def cache_counters(self):
        hits = queries = 0.0
        for port in self.ports:
            _, text = http_get(port, "/metrics")
            hits += metric_sum(text, "vllm:prefix_cache_hits_total")
            queries += metric_sum(text, "vllm:prefix_cache_queries_total")
        return hits, queries

    def wait_idle(self, timeout=90.0):
        """Waits until no engine runs or queues a request, so a saturated step does not carry
        its backlog into the next one."""
        end = time.time() + timeout
        while time.time() < end:
            busy = 0.0
            for port in self.ports:
                _, text = http_get(port, "/metrics")
                busy += metric_sum(text, "vllm:num_requests_running")
                busy += metric_sum(text, "vllm:num_requests_waiting")
            if busy == 0:
                return
            time.sleep(0.25)
        log("engines still busy after the step")

    def stop(self):
        for p in self.running:
            self.procs.stop(p)
        self.running = []


def spillway_config(port, admin, engine_ports, balancer, affinity, balance_factor, floor=0):
    cluster = {"name": "engines", "balancer": balancer,
               "endpoints": [f"127.0.0.1:{p}" for p in engine_ports],
               "connect_timeout": "2s", "pool": {"max_idle": 256}}
    if affinity:
        cluster["affinity"] = {"key": affinity, "balance_factor": balance_factor,
                               "balance_floor": floor}
    return {"workers": 1,
            "listeners": [{"name": "public", "address": f"127.0.0.1:{port}",
                           "timeouts": {"header": "10s", "idle": "120s"}}],
            "admin": {"address": f"127.0.0.1:{admin}"},
            "clusters": [cluster],
            "routes": [{"name": "chat", "match": {"path_prefix": "/"}, "cluster": "engines",
                        "timeouts": {"first_byte": "120s", "idle": "120s", "total": "10m"}}]}


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
user root;
error_log {dir}/nginx.err warn;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  keepalive_requests 1000000000;
  upstream engines {{
{servers}
    keepalive 256;
    keepalive_requests 1000000000;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://engines;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 600s;
    }}
  }}
}}
"""


def start_proxy(kind, args, procs, workdir, engine_ports):
    port = free_port()
    if kind == "nginx":
        d = os.path.join(workdir, "nginx")
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        servers = "\n".join(f"    server 127.0.0.1:{p};" for p in engine_ports)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=d, servers=servers, port=port))
        p = procs.start(["nginx", "-c", conf, "-p", d], os.path.join(workdir, "nginx.log"))
        health = "/health"
        admin = None
    else:
        balancer, affinity, factor, floor = {
            "spillway prefix": ("least_conn", "prefix", 1.25, 0),
            "spillway prefix bf2": ("least_conn", "prefix", 2.0, 0),
            "spillway prefix floor4": ("least_conn", "prefix", 1.25, 4),
            "spillway round_robin": ("round_robin", None, 1.25, 0),
            "spillway least_conn": ("least_conn", None, 1.25, 0)}[kind]
        admin = free_port()
        conf = os.path.join(workdir, f"spillway-{kind.replace(' ', '_')}.yaml")
        with open(conf, "w") as f:
            json.dump(spillway_config(port, admin, engine_ports, balancer, affinity, factor, floor),
                      f)
        p = procs.start([args.spillway, "--config", conf], os.path.join(workdir, "spillway.log"))
        health = "/health"
    if not wait_ready(port, health, 20.0):
        sys.exit(f"{kind} did not start; see {workdir}")
    return p, port, admin


def loadgen(args, port, rate, out_json):
    cmd = [args.loadgen, f"http://127.0.0.1:{port}/v1/chat/completions",
           "--rate", str(rate), "--arrival", "poisson", "--duration", f"{args.duration}s",
           "--openai", "--stream", "--max-tokens", str(args.max_tokens), "--temperature", "0",
           "--ignore-eos", "--tenants", str(args.tenants),
           "--system-prompt-words", str(args.system_words), "--tail-words", str(args.tail_words),
           "--seed", "7", "--timeout", "60s", "--warmup", f"{args.warmup}s", "--json", out_json, "--quiet", "--no-progress"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=args.warmup + args.duration + 120)
    if r.returncode != 0:
        log(f"loadgen exited {r.returncode}: {r.stdout.decode(errors='replace')[-2000:]}")
    try:
        with open(out_json) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def decisions(admin):
    """spillway_affinity_decisions_total by decision (empty without spillway or affinity)."""
    if admin is None:
        return {}
    _, text = http_get(admin, "/metrics")
    out = {}
    for m in re.finditer(r'^spillway_affinity_decisions_total\{[^}]*decision="(\w+)"\} (\S+)$', text,
                         re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def split(s):
    """Share of the answers each engine gave (X-Engine-Name), in engine order."""
    e = s.get("engines") or {}
    total = sum(e.values())
    return " / ".join(f"{e[k] / total:.0%}" for k in sorted(e)) if total else "–"


def errors_of(s):
    e = s.get("errors")
    if isinstance(e, dict):
        return int(sum(v for v in e.values() if isinstance(v, (int, float))))
    if isinstance(e, (int, float)):
        return int(e)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build-release", "bin"))
    ap.add_argument("--rates", default="8,16,24,30", help="request rates of the ladder (req/s)")
    ap.add_argument("--duration", type=int, default=12, help="measured seconds per step")
    ap.add_argument("--warmup", type=int, default=4, help="seconds of load before measuring")
    ap.add_argument("--tenants", type=int, default=18)
    ap.add_argument("--system-words", type=int, default=40)
    ap.add_argument("--tail-words", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=4)
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--kv-blocks", type=int, default=110)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--only", default="spillway prefix,spillway prefix floor4,spillway round_robin,"
                    "spillway least_conn,nginx")
    args = ap.parse_args()
    args.spillway = os.path.join(args.build, "spillway")
    args.engine = os.path.join(args.build, "spillway-engine")
    args.loadgen = os.path.join(args.build, "spillway-loadgen")
    for b in (args.spillway, args.engine, args.loadgen):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}: cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release"
                     " && cmake --build build-release --target spillway spillway-engine "
                     "spillway-loadgen")
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    if "nginx" in kinds and not shutil.which("nginx"):
        sys.exit("missing nginx: apt-get install nginx-light")
    rates = [float(r) for r in args.rates.split(",")]

    workdir = tempfile.mkdtemp(prefix="spillway-bench-affinity-")
    procs = Procs()
    started = time.time()
    try:
        model = os.path.join(workdir, "model.bin")
        tok = os.path.join(workdir, "tokenizer.bin")
        subprocess.run([args.engine, "make-model", "--preset", args.preset, "--seed", "1",
                        "--out", model, "--tokenizer-out", tok], check=True,
                       stdout=subprocess.DEVNULL)
        # The same ports for every column: the hash ring (built from the endpoint addresses), and
        # so each tenant's engine, is the same for both prefix columns.
        ports = [free_port() for _ in range(3)]
        # Columns rotate within each rate, so a change of the shared machine's load between
        # minutes hits every column of a rate alike. Each step starts from fresh engines (cold
        # caches) and warms them at the step's rate before measuring.
        results = {kind: [] for kind in kinds}
        for rate in rates:
            for kind in kinds:
                engines = Engines(args, procs, workdir, model, tok, ports)
                engines.start()
                proxy, port, admin = start_proxy(kind, args, procs, workdir, engines.ports)
                h0, q0 = engines.cache_counters()
                d0 = decisions(admin)
                out = os.path.join(workdir, f"{kind.replace(' ', '_')}-{rate}.json")
                s = loadgen(args, port, rate, out)
                h1, q1 = engines.cache_counters()
                hit = (h1 - h0) / (q1 - q0) if q1 > q0 else float("nan")
                d1 = decisions(admin)
                spill = {k: d1[k] - d0.get(k, 0) for k in d1}
                results[kind].append((rate, s, hit, spill))
                if s:
                    log(f"{kind:22s} {rate:5.2f} req/s: ttft p50 {s.get('median_ttft_ms', 0):8.0f} "
                        f"p90 {s.get('p90_ttft_ms', 0):8.0f} ms, {s.get('request_throughput', 0):.2f}"
                        f" req/s, errors {errors_of(s)}, prefix-cache hits {hit:.0%}"
                        + (f", affinity {spill}" if spill else ""))
                procs.stop(proxy)
                engines.stop()
    finally:
        procs.stop_all()

    report = render(args, kinds, rates, results, time.time() - started)
    print(report)
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    path = os.path.join(REPO, "bench", "results",
                        f"affinity-{datetime.datetime.now():%Y%m%d-%H%M%S}.md")
    with open(path, "w") as f:
        f.write(report)
    log(f"report written to {path}; work files in {workdir}")


def render(args, kinds, rates, results, elapsed):
    lines = [f"# Prefix affinity vs KV-cache-blind balancing ({datetime.datetime.now():%Y-%m-%d %H:%M})",
             "",
             f"Three `spillway-engine` (preset `{args.preset}`, CPU, `--threads 1`, "
             f"`--max-batch {args.max_batch}`, `--kv-blocks {args.kv_blocks}` of 16 tokens, prefix "
             f"caching on); {args.tenants} tenants, each a shared system prompt of "
             f"{args.system_words} words plus a distinct {args.tail_words}-word user turn; "
             f"{args.max_tokens} output tokens, streamed; Poisson arrivals; each step on fresh "
             f"engines, {args.warmup} s warm-up then {args.duration} s measured; columns rotate "
             f"within each rate. `bf2`: `balance_factor: 2` (default 1.25); `floor4`: `balance_floor: 4`. Machine: {os.cpu_count()} cores, shared and loaded. "
             f"Run took {elapsed / 60:.1f} min.",
             "",
             "| rate (req/s) | balancing | TTFT p50 (ms) | TTFT p90 (ms) | throughput (req/s) | errors | prefix-cache hits | requests per engine |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    for i, rate in enumerate(rates):
        for kind in kinds:
            r = results.get(kind, [])
            if i >= len(r) or not r[i][1]:
                lines.append(f"| {rate:g} | {kind} | – | – | – | – | – | – |")
                continue
            _, s, hit, _ = r[i]
            lines.append(f"| {rate:g} | {kind} | {s.get('median_ttft_ms', 0):.0f} | "
                         f"{s.get('p90_ttft_ms', 0):.0f} | {s.get('request_throughput', 0):.2f} | "
                         f"{errors_of(s)} | {hit:.0%} | {split(s)} |")
    bases = [k for k in kinds if k.startswith("spillway prefix")]
    others = [k for k in kinds if not k.startswith("spillway prefix")]
    for base_kind in bases:
        lines += ["", f"p90 TTFT of each balancing ÷ p90 TTFT of `{base_kind}` at the same rate "
                  "(higher: prefix affinity is better):", "",
                  "| rate (req/s) | " + " | ".join(others) + " |",
                  "|---:|" + "---:|" * len(others)]
        for i, rate in enumerate(rates):
            br = results.get(base_kind, [])
            base = br[i][1] if i < len(br) else None
            cells = []
            for kind in others:
                r = results.get(kind, [])
                other = r[i][1] if i < len(r) else None
                if base and other and base.get("p90_ttft_ms"):
                    cells.append(f"{other.get('p90_ttft_ms', 0) / base['p90_ttft_ms']:.1f}×")
                else:
                    cells.append("–")
            lines.append(f"| {rate:g} | " + " | ".join(cells) + " |")
    spills = []
    for kind in bases:
        for rate, s, _, d in results.get(kind, []):
            total = sum(d.values())
            if total:
                spills.append(f"`{kind}` at {rate:g} req/s: {d.get('hit', 0) / total:.0%} hit, "
                              f"{d.get('spill', 0) / total:.0%} spill")
    if spills:
        lines += ["", "Affinity decisions (spillway_affinity_decisions_total): " +
                  "; ".join(spills) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
