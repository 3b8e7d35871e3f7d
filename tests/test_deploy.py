"""deploy/: the manifests say what the server does (probes, bounds, retries), and the nginx
configuration that bench-scale runs is valid nginx."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bptt_studio.core.settings import Settings
from bptt_studio.serving.memory import memory_bound_mb, memory_terms_mb

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


def deployment_settings(env: dict[str, str]) -> Settings:
    return Settings(compute_processes=int(env["BPTT_COMPUTE_PROCESSES"]),
                    compute_memory_mb=int(env["BPTT_COMPUTE_MEMORY_MB"]),
                    response_cache_bytes=int(env["BPTT_RESPONSE_CACHE_BYTES"]))


def k8s_settings() -> Settings:
    _, app = container()
    return deployment_settings({item["name"]: item["value"] for item in app["env"]})


# A limit is derived from the bound: above it, and less than 10 % more (a limit far above the
# bound would say nothing about it).
DERIVED = 1.10


def test_the_memory_limit_is_derived_from_the_bound_of_a_worker():
    _, app = container()
    bound = memory_bound_mb(k8s_settings())
    limits, requests = app["resources"]["limits"], app["resources"]["requests"]
    assert {item["name"]: item["value"] for item in app["env"]}["WEB_CONCURRENCY"] == "1"
    assert bound <= mebibytes(limits["memory"]) <= DERIVED * bound
    assert mebibytes(requests["memory"]) <= mebibytes(limits["memory"])


def test_the_cpu_limit_covers_the_computation_processes_and_the_worker():
    _, app = container()
    assert int(app["resources"]["limits"]["cpu"]) == k8s_settings().compute_processes + 1


def test_the_documented_arithmetic_is_the_bound_the_code_computes():
    doc = (ROOT / "docs" / "serving-memory.md").read_text()
    rows = dict(re.findall(r"^\| \**([a-z][^|]*?)\** \| \**([\d,]+)\** \|", doc, flags=re.M))
    terms = memory_terms_mb(k8s_settings())
    assert {name: int(rows[name].replace(",", "")) for name in terms} == {
        name: round(value) for name, value in terms.items()}
    assert int(rows["the bound"].replace(",", "")) == round(memory_bound_mb(k8s_settings()))
    limit = mebibytes(container()[1]["resources"]["limits"]["memory"])
    assert f"{limit:,} Mi" in doc


def test_the_pods_hold_no_api_token_and_spread_over_nodes():
    deployment, app = container()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} >= {
        "kubernetes.io/hostname"}
    env = {item["name"]: item["value"] for item in app["env"]}
    assert "*" not in env["FORWARDED_ALLOW_IPS"]


def test_the_liveness_probe_waits_longer_than_health_takes_under_attack():
    _, app = container()
    health_p99_s = 1.9  # bench-api's attacks: 6,000 connections from one address
    assert app["livenessProbe"]["timeoutSeconds"] > 2 * health_p99_s
    assert app["readinessProbe"]["timeoutSeconds"] > health_p99_s


def test_the_image_is_pinned_by_digest():
    kustomization = load("k8s/kustomization.yaml")[0]
    (image,) = kustomization["images"]
    assert image["name"] == container()[1]["image"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"])


def test_the_pods_take_connections_from_the_ingress_only_and_open_none():
    policy = load("k8s/networkpolicy.yaml")[0]
    deployment, _ = container()
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["spec"]["egress"] == []
    assert [port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]] == [
        "http"]


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
        "deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "networkpolicy.yaml",
        "redis.yaml"}


def test_the_compose_file_runs_three_replicas_behind_nginx_with_its_configuration():
    compose = load("compose.yaml")[0]
    app, nginx = compose["services"]["app"], compose["services"]["nginx"]
    assert app["deploy"]["replicas"] == 3
    bound = memory_bound_mb(deployment_settings(app["environment"]))
    assert bound <= megabytes(app["deploy"]["resources"]["limits"]["memory"]) <= DERIVED * bound
    assert "*" not in app["environment"]["FORWARDED_ALLOW_IPS"]
    assert "./nginx/bptt-studio.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]


def test_nginx_retries_a_failed_computation_on_another_replica_but_not_a_busy_one_or_a_504():
    # nginx counts every case it retries on as a failure of the replica: a 503 there ejected
    # busy replicas, and nginx then answered 502 to everything
    conf = (DEPLOY / "nginx" / "bptt-studio.conf").read_text()
    retry = re.search(r"proxy_next_upstream ([^;]+);", conf).group(1).split()
    assert {"error", "timeout", "non_idempotent"} <= set(retry)
    assert not {"http_503", "http_504"} & set(retry)


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


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_nginx = pytest.mark.skipif(not Path(NGINX).exists(),
                                 reason="nginx is not installed (apt-get install -y nginx-light)")


@pytest.fixture
def behind_nginx(tmp_path):
    """deploy/nginx's configuration in front of two replicas, each with one computation
    process and no queue (so a computation while one runs is answered 503, busy); yields
    (nginx's base URL, the replicas' processes, their own base URLs). (With one replica nginx
    never ejects it.)"""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_scale import nginx_config
    finally:
        sys.path.pop(0)
    from tests.conftest import free_port, start_server, stop_server, wait_healthy

    started = [start_server({"BPTT_COMPUTE_PROCESSES": "1", "BPTT_COMPUTE_QUEUE": "0",
                             "BPTT_MAX_CPU_SECONDS": "60", "BPTT_COMPUTE_DEADLINE_S": "60"})
               for _ in range(2)]
    tmp_path.chmod(0o755)  # nginx's workers may run as another user when started as root
    listen = free_port()
    config = nginx_config(tmp_path, listen, [int(base.rsplit(":", 1)[1]) for _, base in started])
    proxy = subprocess.Popen([NGINX, "-c", str(config), "-p", str(tmp_path)],
                             start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{listen}", proxy, 20)
        yield (f"http://127.0.0.1:{listen}", [proc for proc, _ in started],
               [replica for _, replica in started])
    finally:
        proxy.terminate()
        proxy.wait(10)
        for proc, _ in started:
            stop_server(proc)


# An occupying client (a process of its own) asks one replica, directly, for a slow computation
# again and again until it is killed, so that the replica is busy but for the instants between
# two requests. Asked once, through nginx, it raced the test's own requests: on a loaded machine
# those took its replica first, it was answered 503 and left (or its one computation ended
# before the test came), nothing held the replicas again, and the test saw 200 answers to its
# 200 requests on a correct server. Held this way, the test's request finds both replicas busy
# as soon as both clients have started, on a slow machine or a fast one.
OCCUPY = """
import httpx, json, sys, time
while True:
    httpx.post(sys.argv[1] + '/api/v1/train', json=json.loads(sys.argv[2]), timeout=120)
    time.sleep(0.01)
"""


def occupy(replica: str, seed: int) -> subprocess.Popen[bytes]:
    """A client that keeps one replica's computation process busy until it is killed."""
    from tests.serving_support import slow_train

    return subprocess.Popen([sys.executable, "-c", OCCUPY, replica,
                             json.dumps(slow_train(40, seed))])


@needs_nginx
def test_busy_replicas_answer_503_through_nginx_and_stay_in_the_pool(behind_nginx):
    import httpx

    from tests.serving_support import slow_train

    base, _, replicas = behind_nginx
    running = [occupy(replica, seed) for seed, replica in enumerate(replicas, start=1)]
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            statuses = []
            deadline = time.monotonic() + 120  # the clients start in about a second
            while time.monotonic() < deadline:
                busy = client.post("/api/v1/train", json=slow_train(2, seed=1000 + len(statuses)))
                statuses.append(busy.status_code)
                if busy.status_code == 503:
                    break
            assert statuses[-1] == 503 and 502 not in statuses
            assert busy.json()["detail"][0]["type"] == "busy"  # a replica's own answer
            assert int(busy.headers["retry-after"]) >= 1
            health = [client.get("/api/v1/health").status_code for _ in range(20)]
    finally:
        for proc in running:
            proc.kill()
            proc.wait()
    assert health == [200] * 20  # no replica was taken for a dead one (both were: 502)


@needs_nginx
def test_nginx_own_502_when_no_replica_answers_is_json_with_retry_after(behind_nginx):
    import httpx

    from tests.conftest import stop_server

    base, replicas, _ = behind_nginx
    for proc in replicas:
        stop_server(proc)
    response = httpx.get(base + "/api/v1/health", timeout=30)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["detail"][0]["type"] == "unavailable"
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
