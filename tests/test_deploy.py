"""deploy/: the manifests say what the server does (probes, bounds, retries), and the nginx
configuration that bench-scale runs is valid nginx."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bptt_studio.runner import memory_bound_mb
from bptt_studio.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
HEALTH = "/api/v1/health"


def load(name):
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def container():
    deployment = load("k8s/deployment.yaml")[0]
    return deployment, deployment["spec"]["template"]["spec"]["containers"][0]


def mebibytes(quantity):
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()
    return int(number) * (1024 if unit == "Gi" else 1)


def megabytes(quantity):
    number = re.fullmatch(r"(\d+)M", quantity).group(1)
    return int(number) * 1e6 / 2**20  # in MiB


def test_the_deployment_probes_liveness_and_readiness_on_health():
    _, app = container()
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert app[probe]["httpGet"]["path"] == HEALTH


def test_the_memory_limit_covers_the_documented_bound_of_a_worker():
    _, app = container()
    env = {item["name"]: item["value"] for item in app["env"]}
    settings = Settings(compute_processes=int(env["BPTT_COMPUTE_PROCESSES"]),
                        compute_memory_mb=int(env["BPTT_COMPUTE_MEMORY_MB"]),
                        response_cache_bytes=int(env["BPTT_RESPONSE_CACHE_BYTES"]))
    bound = memory_bound_mb(settings)
    limits, requests = app["resources"]["limits"], app["resources"]["requests"]
    assert env["WEB_CONCURRENCY"] == "1"
    assert mebibytes(limits["memory"]) >= bound
    assert mebibytes(requests["memory"]) <= mebibytes(limits["memory"])
    assert int(limits["cpu"]) == settings.compute_processes  # one computation per core


def test_the_service_the_autoscaler_and_the_budget_select_the_deployment():
    deployment, _ = container()
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = load("k8s/service.yaml")[0]
    assert service["spec"]["selector"].items() <= labels.items()
    hpa = load("k8s/hpa.yaml")[0]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = load("k8s/pdb.yaml")[0]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    kustomization = load("k8s/kustomization.yaml")[0]
    assert set(kustomization["resources"]) == {
        "deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "redis.yaml"}


def test_the_compose_file_runs_three_replicas_behind_nginx_with_its_configuration():
    compose = load("compose.yaml")[0]
    app, nginx = compose["services"]["app"], compose["services"]["nginx"]
    assert app["deploy"]["replicas"] == 3
    env = app["environment"]
    settings = Settings(compute_processes=int(env["BPTT_COMPUTE_PROCESSES"]),
                        compute_memory_mb=int(env["BPTT_COMPUTE_MEMORY_MB"]),
                        response_cache_bytes=int(env["BPTT_RESPONSE_CACHE_BYTES"]))
    assert megabytes(app["deploy"]["resources"]["limits"]["memory"]) >= memory_bound_mb(settings)
    assert "./nginx/bptt-studio.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]


def test_nginx_retries_a_failed_or_busy_computation_on_another_replica_but_not_a_504():
    conf = (DEPLOY / "nginx" / "bptt-studio.conf").read_text()
    retry = re.search(r"proxy_next_upstream ([^;]+);", conf).group(1).split()
    assert {"error", "timeout", "http_502", "http_503", "non_idempotent"} <= set(retry)
    assert "http_504" not in retry


def test_nginx_takes_the_same_largest_body_as_each_replica():
    conf = (DEPLOY / "nginx" / "bptt-studio.conf").read_text()
    size = re.search(r"client_max_body_size (\d+);", conf).group(1)
    assert int(size) == Settings().max_body_bytes


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx is not installed (apt-get install -y nginx-light)")
def test_the_nginx_configuration_bench_scale_runs_is_valid(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_scale import nginx_config
    finally:
        sys.path.pop(0)
    path = nginx_config(tmp_path, 18080, [18081, 18082, 18083])
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run([nginx, "-t", "-c", str(path), "-p", str(tmp_path)],
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr


def test_every_replica_keeps_its_classrooms_in_the_redis_the_manifests_start():
    _, app = container()
    env = {item["name"]: item["value"] for item in app["env"]}
    redis_deployment, redis_service = load("k8s/redis.yaml")
    assert env["BPTT_ROOMS_HUB"] == "redis"
    assert env["BPTT_ROOMS_REDIS_URL"].startswith(f"redis://{redis_service['metadata']['name']}:")
    labels = redis_deployment["spec"]["template"]["metadata"]["labels"]
    assert redis_service["spec"]["selector"].items() <= labels.items()
    compose = load("compose.yaml")[0]["services"]
    assert compose["app"]["environment"]["BPTT_ROOMS_HUB"] == "redis"
    assert compose["app"]["environment"]["BPTT_ROOMS_REDIS_URL"].startswith("redis://redis:")
    assert "redis-server" in compose["redis"]["command"]


def test_nginx_passes_a_rooms_event_stream_unbuffered_and_holds_it_past_a_heartbeat():
    conf = (DEPLOY / "nginx" / "bptt-studio.conf").read_text()
    block = re.search(r"location ~ \^/api/v1/rooms/\[\^/\]\+/events\$ \{(.*?)\n    \}",
                      conf, re.S).group(1)
    assert "proxy_buffering off;" in block
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", block).group(1))
    assert read_timeout > 2 * Settings().rooms_heartbeat_s
