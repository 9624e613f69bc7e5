"""Runs one .vtc scenario against the spillway binary (for ctest).

Picks free loopback ports, writes the default config (below) and calls varnishtest with:
  ${spillway}    the binary            ${config}      the default config file (a test may rewrite it)
  ${proxy_port}  the public listener   ${admin_port}  the admin listener
  ${check_port}  upstream of /check/*  ${sink_port}   upstream of every other path
  ${pidfile}     where the test writes the proxy's pid, so a run cut short still kills it
  ${wait_ready}  a command that waits until the listener accepts connections
A line "# run_vtc: http2" in the .vtc adds `http2: true` to the listener (h2c with prior
knowledge on the same port as HTTP/1.1).
Usage: run_vtc.py --spillway BIN [--varnishtest PATH] FILE.vtc
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = """\
workers: 1
drain_timeout: 2s
listeners:
  - name: public
    address: 127.0.0.1:{proxy_port}
    limits: {{max_header_bytes: 8KiB, max_body_bytes: 1MiB}}
    timeouts: {{header: 3s, idle: 10s}}
{listener_extra}admin: {{address: 127.0.0.1:{admin_port}}}
access_log: {{path: stderr, format: text}}
clusters:
  - name: check
    connect_timeout: 500ms
    endpoints: [{{address: 127.0.0.1:{check_port}}}]
  - name: sink
    connect_timeout: 500ms
    endpoints: [{{address: 127.0.0.1:{sink_port}}}]
routes:
  - {{name: check, match: {{path_prefix: /check}}, cluster: check, timeouts: {{first_byte: 3s, idle: 3s}}}}
  - {{name: sink, match: {{path_prefix: /}}, cluster: sink, timeouts: {{first_byte: 3s, idle: 3s}}}}
"""


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def kill_leftover(pidfile, binary):
    try:
        pid = int(open(pidfile).read().strip())
    except (OSError, ValueError):
        return
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return
    if os.path.realpath(exe) == os.path.realpath(binary):
        os.kill(pid, signal.SIGKILL)


def directives(path):
    """The words after "# run_vtc:" on the lines of the .vtc that have it."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return {w for line in f for m in [re.match(r"\s*#\s*run_vtc:(.*)", line)] if m
                for w in m.group(1).split()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spillway", required=True)
    ap.add_argument("--varnishtest", default=shutil.which("varnishtest") or "/usr/bin/varnishtest")
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("vtc")
    args = ap.parse_args()
    if not os.path.exists(args.varnishtest):
        print("varnishtest not found (Debian package varnish)")
        return 77
    work = tempfile.mkdtemp(prefix="spillway-vtc-")
    proxy_port, admin_port, check_port, sink_port = free_ports(4)
    config = os.path.join(work, "spillway.yaml")
    with open(config, "w") as f:
        extra = "    http2: true\n" if "http2" in directives(args.vtc) else ""
        f.write(CONFIG.format(proxy_port=proxy_port, admin_port=admin_port,
                              check_port=check_port, sink_port=sink_port, listener_extra=extra))
    pidfile = os.path.join(work, "spillway.pid")
    wait_ready = f"/usr/bin/python3 -B {HERE}/wait_ready.py {proxy_port}"
    cmd = [args.varnishtest, "-t", str(args.timeout),
           "-D", f"spillway={os.path.abspath(args.spillway)}", "-D", f"config={config}",
           "-D", f"proxy_port={proxy_port}", "-D", f"admin_port={admin_port}",
           "-D", f"check_port={check_port}", "-D", f"sink_port={sink_port}",
           "-D", f"pidfile={pidfile}", "-D", f"wait_ready={wait_ready}",
           "-D", f"workdir={work}", args.vtc]
    try:
        rc = subprocess.run(cmd, timeout=args.timeout + 20).returncode
    except subprocess.TimeoutExpired:
        print("varnishtest did not finish in time")
        rc = 1
    finally:
        kill_leftover(pidfile, args.spillway)
    if rc == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"config and logs kept in {work}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
