#!/usr/bin/env python3
"""Deployment files agree with each other: docker-compose.yml with deploy/spillway.compose.yaml
and deploy/prometheus.yml, and the Kubernetes manifests in deploy/kubernetes/ with the proxy
configuration they mount (names, ports, probes, the generated ConfigMap).

Usage: check_manifests.py REPO_ROOT. Exit 77 (skipped) when PyYAML is not installed."""
import os
import re
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("PyYAML not installed; skipped")
    sys.exit(77)

ROOT = sys.argv[1]
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)
    return ok


def load(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_all(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def env_default(text):
    """'${VAR:-default}' -> 'default'; plain text unchanged."""
    m = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-(.*)\}", text)
    return m.group(1) if m else text


def host_port(address):
    host, _, port = env_default(address).rpartition(":")
    return host, int(port)


def flag(command, name):
    """The value after `name` in an argument list."""
    return command[command.index(name) + 1] if name in command else None


# ---------------------------------------------------------------- docker-compose

def check_compose():
    compose = load("docker-compose.yml")
    services = compose["services"]
    proxy_config = load("deploy/spillway.compose.yaml")

    proxy = services["proxy"]
    mounts = dict(v.split(":")[:2] for v in proxy["volumes"])
    check(mounts.get("./deploy/spillway.compose.yaml") == flag(proxy["command"], "--config"),
          "compose: the proxy must run with the mounted deploy/spillway.compose.yaml")
    admin_port = host_port(proxy_config["admin"]["address"])[1]
    published = [p.split(":")[-1] for p in proxy["ports"]]
    check(str(admin_port) in published, "compose: the proxy's admin port is not published")
    listen_port = host_port(proxy_config["listeners"][0]["address"])[1]
    check(str(listen_port) in published, "compose: the proxy's listener port is not published")

    weights = []
    for cluster in proxy_config["clusters"]:
        for e in cluster["endpoints"]:
            host, port = host_port(e["address"])
            weights.append(e.get("weight", 1))
            if not check(host in services, f"compose: endpoint {e['address']} is not a service"):
                continue
            command = services[host]["command"]
            check(flag(command, "--listen") == f"0.0.0.0:{port}",
                  f"compose: {host} does not listen on port {port}")
            check(flag(command, "--name") == host, f"compose: {host} runs under another --name")
    check(len(set(weights)) == len(weights) == 3, "compose: expected three engines of different weights")

    redis_host, _ = host_port(proxy_config["cache"]["redis"]["address"])
    check(redis_host in services, "compose: the cache's Redis is not a service")

    prometheus = services["prometheus"]
    check("./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"],
          "compose: Prometheus must mount deploy/prometheus.yml")
    targets = {}
    for job in load("deploy/prometheus.yml")["scrape_configs"]:
        for sc in job["static_configs"]:
            for t in sc["targets"]:
                targets[t] = job.get("metrics_path", "/metrics")
    check(targets.get(f"proxy:{admin_port}") == "/metrics", "prometheus: not scraping the proxy admin")
    for cluster in proxy_config["clusters"]:
        for e in cluster["endpoints"]:
            check(e["address"] in targets, f"prometheus: not scraping {e['address']}")

    dockerfile = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read()
    check(re.search(r"^FROM debian:bookworm AS build", dockerfile, re.M),
          "Dockerfile: the build stage must be Debian 12")
    check(len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2, "Dockerfile: expected a multi-stage build")
    for binary in ("spillway", "spillway-engine", "spillway-loadgen"):
        check(f"/build/bin/{binary} " in dockerfile or f"/build/bin/{binary}\n" in dockerfile,
              f"Dockerfile: the runtime stage lacks {binary}")


# ---------------------------------------------------------------- Kubernetes

def container_port(container, name_or_number):
    for p in container.get("ports", []):
        if name_or_number in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    return None


def check_kubernetes():
    base = "deploy/kubernetes"
    kustomization = load(f"{base}/kustomization.yaml")
    docs = []
    for resource in kustomization["resources"]:
        if check(os.path.exists(os.path.join(ROOT, base, resource)), f"kustomization: no {resource}"):
            docs += load_all(f"{base}/{resource}")
    for d in docs:
        check(all(k in d for k in ("apiVersion", "kind", "metadata")) and d["metadata"].get("name"),
              f"k8s: a document without apiVersion/kind/metadata.name: {str(d)[:80]}")

    generator = kustomization["configMapGenerator"][0]
    config_file = generator["files"][0]
    proxy_config = load(f"{base}/{config_file}")

    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}

    for name, d in deployments.items():
        template = d["spec"]["template"]
        labels = template["metadata"]["labels"]
        check(d["spec"]["selector"]["matchLabels"].items() <= labels.items(),
              f"k8s: deployment {name}'s selector does not match its pods")
        for c in template["spec"]["containers"]:
            check("readinessProbe" in c, f"k8s: {name}/{c['name']} has no readiness probe")

    def pods_of(service):
        selector = service["spec"]["selector"]
        return [d for d in deployments.values()
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]

    for name, s in services.items():
        pods = pods_of(s)
        if not check(pods, f"k8s: service {name} selects no deployment"):
            continue
        container = pods[0]["spec"]["template"]["spec"]["containers"][0]
        for p in s["spec"]["ports"]:
            check(container_port(container, p["targetPort"]) is not None,
                  f"k8s: service {name} targets port {p['targetPort']} its pods do not have")

    for hpa in (d for d in docs if d["kind"] == "HorizontalPodAutoscaler"):
        check(hpa["spec"]["scaleTargetRef"]["name"] in deployments,
              f"k8s: HPA {hpa['metadata']['name']} scales no deployment")

    # The proxy: replicas, probes on the admin port, the generated ConfigMap mounted where
    # --config points.
    proxy = deployments.get("spillway")
    if check(proxy is not None, "k8s: no spillway deployment"):
        spec = proxy["spec"]["template"]["spec"]
        c = spec["containers"][0]
        check(proxy["spec"]["replicas"] >= 2, "k8s: the proxy should run at least 2 replicas")
        admin_port = host_port(proxy_config["admin"]["address"])[1]
        probe = c["readinessProbe"]["httpGet"]
        check(probe["path"] == "/readyz" and container_port(c, probe["port"]) == admin_port,
              "k8s: the proxy's readiness probe must be /readyz on the admin port")
        volumes = {v["name"]: v for v in spec["volumes"]}
        mount = next(m for m in c["volumeMounts"] if "configMap" in volumes[m["name"]])
        check(volumes[mount["name"]]["configMap"]["name"] == generator["name"],
              "k8s: the proxy does not mount the generated ConfigMap")
        check(flag(c["command"], "--config") == f"{mount['mountPath']}/{os.path.basename(config_file)}",
              "k8s: --config does not point at the mounted configuration")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        redis = env.get("SPILLWAY_REDIS_ADDRESS") or env_default(proxy_config["cache"]["redis"]["address"])
        check(host_port(redis)[0] in services, f"k8s: the cache's Redis {redis} is not a service")

    # Engines: every endpoint of the proxy's config is a Service in front of engine pods that
    # listen on the endpoint's port and are ready on /health.
    for cluster in proxy_config["clusters"]:
        for e in cluster["endpoints"]:
            host, port = host_port(e["address"])
            s = services.get(host)
            if not check(s is not None, f"k8s: endpoint {e['address']} is not a service"):
                continue
            check(any(p["port"] == port for p in s["spec"]["ports"]),
                  f"k8s: service {host} does not expose port {port}")
            for d in pods_of(s):
                c = d["spec"]["template"]["spec"]["containers"][0]
                check(flag(c["command"], "--listen") == f"0.0.0.0:{container_port(c, 'http')}",
                      f"k8s: {host}'s engine listens elsewhere than its http port")
                check(c["readinessProbe"]["httpGet"]["path"] == "/health",
                      f"k8s: {host}'s readiness probe must be /health")
                init = d["spec"]["template"]["spec"].get("initContainers", [])
                check(any("make-model" in i["command"] for i in init),
                      f"k8s: {host} has no make-model init container")

    kubectl = shutil.which("kubectl")
    if kubectl:
        r = subprocess.run([kubectl, "kustomize", os.path.join(ROOT, base)],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"kubectl kustomize failed: {r.stderr.strip()}")


check_compose()
check_kubernetes()
for p in problems:
    print(p)
print("deployment manifests: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
sys.exit(1 if problems else 0)
