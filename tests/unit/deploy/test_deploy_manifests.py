"""Deploy room tests: Dockerfile, compose.yaml and deploy/k8s validated offline.

hadolint lints the Dockerfile, kubernetes-validate checks every manifest against the Kubernetes schemas
(strict: unknown fields fail), checkov scans both for security misconfigurations; each tool is also
shown a broken file to prove it really rejects. The rest checks what the layout promises: the core plan
(compose cpusets, whole CPUs in the trading pod), the shared /dev/shm, JetStream R3, the pinned wheels.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.unit.deploy._tools import K8S, ROOT, checkov, run, tool, yaml_docs

CRD_KINDS = {"Kustomization", "Cluster"}  # no schema in kubernetes-validate: checked structurally below
RING_PARTIES = {"engine", "marketdata", "conn-binance", "gateway", "bridge", "monitor"}


def _resources() -> list[Path]:
    kust = yaml_docs(K8S / "kustomization.yaml")[0]
    return [K8S / r for r in kust["resources"]]


def test_hadolint_passes_and_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    r = run(tool("hadolint"), "Dockerfile")
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\n")
    r = run(tool("hadolint"), str(bad))
    assert r.returncode != 0 and "DL3007" in r.stdout and "DL3002" in r.stdout, r.stdout


def test_manifests_match_the_kubernetes_schemas(tmp_path: Path) -> None:
    files = [p for p in _resources() if p.is_file()]
    assert {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"} == {p.name for p in files}
    r = run(tool("kubernetes-validate"), "--strict", *map(str, files))
    assert r.returncode == 0, r.stdout + r.stderr
    for line in r.stdout.splitlines():
        assert line.startswith("INFO") or any(f"kind {k} " in line for k in CRD_KINDS), line
    n_docs = sum(1 for p in files for d in yaml_docs(p) if d["kind"] not in CRD_KINDS)
    assert r.stdout.count(" passed for resource ") == n_docs
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec: {replicas: three, selector: {matchLabels: {a: b}}, template: {spec: {containerz: []}}}\n"
    )
    r = run(tool("kubernetes-validate"), "--strict", str(bad))
    assert r.returncode != 0 and "three" in r.stdout + r.stderr


def test_checkov_finds_nothing_and_catches_a_privileged_pod(tmp_path: Path) -> None:
    bad = tmp_path / "pod.yaml"  # scanned in the same run (one checkov start): it must be caught
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: oms}\nspec:\n  containers:\n"
        "    - {name: x, image: 'x:1', securityContext: {privileged: true}}\n"
    )
    reports = checkov(ROOT / "Dockerfile", *(p for p in _resources() if p.is_file()), bad)
    for kind in ("dockerfile", "kubernetes"):
        summary = reports[kind]["summary"]
        assert summary["parsing_errors"] == 0 and summary["passed"] > 50, summary
    assert reports["dockerfile"]["summary"]["failed"] == 0, reports["dockerfile"]["results"]["failed_checks"]
    failed = reports["kubernetes"]["results"]["failed_checks"]
    ours = [(c["check_id"], c["file_path"]) for c in failed if not c["file_path"].endswith("/pod.yaml")]
    assert ours == []  # deploy/k8s: nothing failed (skips carry their reason in checkov.io/skip)
    assert "CKV_K8S_16" in {c["check_id"] for c in failed}  # the privileged container was caught


def test_trading_pod_is_guaranteed_with_whole_cpus_and_shares_dev_shm() -> None:
    sts = next(d for d in yaml_docs(K8S / "trading.yaml") if d["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    assert pod["shareProcessNamespace"] is True
    dshm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert dshm["emptyDir"]["medium"] == "Memory"
    names = {c["name"] for c in pod["containers"]}
    assert names == RING_PARTIES
    for c in pod["containers"]:
        res = c["resources"]
        assert res["requests"] == res["limits"], c["name"]  # Guaranteed QoS
        assert str(res["limits"]["cpu"]).isdigit(), c["name"]  # whole CPUs for the static CPU manager
        assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"], c["name"]
        assert (
            c["securityContext"]["readOnlyRootFilesystem"]
            and not c["securityContext"]["allowPrivilegeEscalation"]
        )
        probe = c.get("readinessProbe", {}).get("httpGet", {})
        assert probe.get("path") == "/health" and probe.get("port") == 9464, c["name"]
    ann = sts["spec"]["template"]["metadata"]["annotations"]
    assert (
        ann["vault.hashicorp.com/agent-inject"] == "true" and ann["vault.hashicorp.com/role"] == "oms-trading"
    )
    assert ann["vault.hashicorp.com/agent-requests-cpu"] == ann["vault.hashicorp.com/agent-limits-cpu"]


def test_k8s_config_is_valid_and_asks_for_r3_streams(tmp_path: Path) -> None:
    from oms.config import load

    (tmp_path / "configs" / "k8s").mkdir(parents=True)
    (tmp_path / "configs" / "k8s" / "oms.toml").write_text((K8S / "oms.toml").read_text())
    (tmp_path / "configs" / "exchanges").symlink_to(ROOT / "configs" / "exchanges")
    cfg = load(tmp_path / "configs" / "k8s" / "oms.toml", env={})
    bus = cfg.section("bus")
    assert {k: v.replicas for k, v in bus.streams.items()} == dict.fromkeys(
        ("orders", "fills", "market", "positions", "risk", "audit"), 3
    )
    assert cfg.section("secrets").backend == "vault" and cfg.section("services").start == []
    base = load(ROOT / "configs" / "oms.toml", env={})
    assert cfg.section("risk") == base.section("risk")  # the cluster trades under the shipped limits
    values = yaml_docs(K8S / "nats" / "values.yaml")[0]
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    pg = yaml_docs(K8S / "postgres.yaml")[0]
    assert pg["apiVersion"] == "postgresql.cnpg.io/v1" and pg["spec"]["instances"] == 3


def test_network_policies_deny_by_default_and_pdbs_cover_the_workloads() -> None:
    pols = {d["metadata"]["name"]: d for d in yaml_docs(K8S / "networkpolicies.yaml")}
    deny = pols["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    gw = pols["trading"]["spec"]["ingress"][0]
    assert gw["ports"] == [{"protocol": "TCP", "port": 50051}] and gw["from"]  # only labelled clients
    pdbs = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for d in yaml_docs(K8S / "pdb.yaml")
    }
    assert {"oms-trading", "oms-recorder", "redis"} <= pdbs


def test_compose_cpusets_follow_the_core_plan() -> None:
    from oms.config import load

    cfg = load(ROOT / "configs" / "oms.toml", env={})
    services = yaml_docs(ROOT / "compose.yaml")[0]["services"]
    for name, spec in cfg.processes.items():
        assert name in services, f"compose.yaml has no container for [processes.{name}]"
        want = "0-1" if spec.core is None else str(spec.core)
        assert services[name]["cpuset"] == want, name
        if name.startswith("conn-") and not spec.enabled:
            assert services[name].get("profiles"), f"{name}: a venue not built must sit behind a profile"
    for name in RING_PARTIES:  # one /dev/shm and one PID namespace for every ring party
        assert services[name]["ipc"] == "service:shm-holder" and services[name]["pid"] == "service:shm-holder"
    assert services["shm-holder"]["ipc"] == "shareable" and services["shm-holder"]["shm_size"]
    assert "ipc" not in services["recorder"]
    images = {n: s["image"].split(":")[0] for n, s in services.items()}
    assert {images[n] for n in ("nats", "postgres", "redis", "openbao")} == {
        "nats",
        "postgres",
        "redis",
        "openbao/openbao",
    }
    assert all(s.get("user") == "10001:10001" for n, s in services.items() if images[n] == "oms")


def test_image_wheels_are_pinned_to_the_projects_versions() -> None:
    lock = {}
    for line in (ROOT / "deploy" / "docker" / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            lock[name] = version
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name, _, version = dep.partition("==")
        key = name.split("[")[0].lower().replace("_", "-")
        assert lock.get(key) == version, (
            f"{key}: pyproject pins {version}, the lock {lock.get(key)}; run `oms deploy lock`"
        )
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") == 2 and "USER 10001:10001" in text and "--no-index" in text
