"""The deployment as shipped, read the way the cluster and Docker read it.

- ``k8s/`` is rendered by kustomize (``kubectl kustomize``, as ``kubectl apply -k`` does) and
  every object of a Kubernetes API kind is validated, strictly, by ``kubernetes-validate``
  against the Kubernetes version we support; the operators' kinds (RabbitMQ, Prometheus) have
  no schema there and are held to their own checks below.
- The rules the platform promises of every pod it runs: read-only root filesystem, non-root,
  no privilege escalation, no capabilities, RuntimeDefault seccomp, no service-account token,
  limits, our image by digest, probes on /health/ready and /health/live, a grace period that
  fits the preStop pause and a clean stop; a NetworkPolicy for every pod; no Secret applied.
- RabbitMQ: a supported release; the delivery-limit policy of k8s and of docker compose are the
  same and cover every queue the services consume from, and no reply or dead-letter queue.
  (tests/service/test_rabbitmq_topology.py declares them on a broker booted with the policy.)
- ``deploy/docker-compose.yml`` against the Compose specification's JSON schema (the copy
  check-jsonschema ships, ``vendor.compose-spec``), and the image (deploy/Dockerfile) against
  what the manifests assume of it.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"

KUBERNETES_VERSION = "1.33"  # the oldest Kubernetes the manifests are written for
# kinds of the operators the cluster needs (deploy/README.md); no schema in kubernetes-validate
OPERATOR_KINDS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("rabbitmq.com/v1beta1", "User"),
    ("rabbitmq.com/v1beta1", "Permission"),
    ("rabbitmq.com/v1beta1", "Policy"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
DIGEST_IMAGE = re.compile(r"^[a-z0-9.-]+(?::\d+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")
CLEAN_STOP_SECONDS = 10  # a service stops within this of SIGTERM (issue 21, item 7)
SERVICES = ("gateway", "intake", "dispatch", "parts", "settlement", "certification", "qa", "notify")


# ---------------------------------------------------------------------------- rendering
def kubectl() -> str:
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: it renders k8s/ (kubectl kustomize); scripts/ensure_tools.sh installs it")
    return found


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    out = subprocess.run([kubectl(), "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    objects = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    assert objects, "kustomize rendered nothing"
    return objects


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict], kind: str, name: str) -> dict:
    found = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] in WORKLOADS]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def ours(container: dict) -> bool:
    """A container running the fieldservice image (not postgres)."""
    return "fieldservice" in container["image"]


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- schema
def test_every_object_is_valid_for_kubernetes(rendered):
    errors, unchecked = [], set()
    for obj in rendered:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unchecked.add((obj["apiVersion"], obj["kind"]))
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
    assert errors == []
    # only the operators' kinds go without a schema: a typo in a core kind does not slip through
    assert unchecked <= OPERATOR_KINDS, unchecked - OPERATOR_KINDS


def test_the_validator_rejects_a_broken_manifest(rendered):
    """The check above can fail: a field in the wrong place is an error, not a pass."""
    deployment = json.loads(json.dumps(by_kind(rendered, "Deployment")[0]))
    pod_spec(deployment)["containers"][0]["readOnlyRootFileSystem"] = True  # misspelt, wrong level
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_everything_lands_in_the_namespace(rendered):
    for obj in rendered:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "fieldservice", obj["metadata"]["name"]


# ---------------------------------------------------------------------------- secrets
def test_no_secret_is_applied(rendered):
    """The template stays out: `kubectl apply -k` never deploys CHANGE_ME."""
    assert "secret.example.yaml" not in kustomization()["resources"]
    assert by_kind(rendered, "Secret") == []
    assert "CHANGE_ME" not in yaml.safe_dump_all(rendered)


def secret_template() -> dict[str, dict]:
    docs = yaml.safe_load_all((K8S / "secret.example.yaml").read_text(encoding="utf-8"))
    return {d["metadata"]["name"]: d for d in docs if d}


def test_the_secret_template_has_every_key_the_pods_read(rendered):
    template = secret_template()
    missing = []
    for workload in workloads(rendered):
        for container in pod_spec(workload)["containers"]:
            refs = [env["valueFrom"]["secretKeyRef"] for env in container.get("env", []) if "valueFrom" in env] + [
                {"name": src["secretRef"]["name"], "key": None}
                for src in container.get("envFrom", [])
                if "secretRef" in src
            ]
            for ref in refs:
                secret = template.get(ref["name"])
                if secret is None or (ref["key"] and ref["key"] not in secret["stringData"]):
                    missing.append(f"{workload['metadata']['name']}: {ref['name']}/{ref['key']}")
    assert missing == []


def test_the_migrate_job_migrates_every_service_with_migrations(rendered):
    """`fsm migrate` with no service named finds services/*/migrations itself; the Job hands it
    the whole Secret, which must hold a database URL for each (the gateway's included)."""
    job = named(rendered, "Job", "fieldservice-migrate")
    (container,) = pod_spec(job)["containers"]
    assert container["command"] == ["fsm", "migrate"]
    assert {"secretRef": {"name": "fieldservice-env"}} in container["envFrom"]
    with_migrations = sorted(p.parent.name for p in (ROOT / "services").glob("*/migrations"))
    assert {"intake", "dispatch", "parts", "settlement", "certification", "qa", "notify"} <= set(with_migrations)
    keys = secret_template()["fieldservice-env"]["stringData"]
    for name in [*with_migrations, "gateway"]:
        assert f"DATABASE_URL_{name.upper()}" in keys, name


@pytest.mark.slow  # a process importing every service's models: several seconds
def test_fsm_migrate_finds_every_migrations_package(tmp_path):
    """What the Job runs, on SQLite files: every service with migrations is brought to head."""
    out = subprocess.run(
        [sys.executable, "-m", "fsm.main", "migrate"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "FSM_DEV": "1", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    migrated = sorted(line.split(":")[0] for line in out.stdout.splitlines() if "up to date" in line)
    assert migrated == sorted(p.parent.name for p in (ROOT / "services").glob("*/migrations"))
    assert sorted(p.stem for p in tmp_path.glob("*.db")) == migrated


# ---------------------------------------------------------------------------- pods
def test_every_pod_is_locked_down(rendered):
    problems = []
    for workload in workloads(rendered):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: service-account token mounted")
        for container in spec.get("initContainers", []) + spec["containers"]:
            sc = container.get("securityContext", {})
            where = f"{name}/{container['name']}"

            def effective(key, sc=sc, pod_sc=pod_sc):
                return sc.get(key, pod_sc.get(key))

            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem writable")
            if effective("runAsNonRoot") is not True:
                problems.append(f"{where}: may run as root")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation allowed")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []) or sc.get("capabilities", {}).get("add"):
                problems.append(f"{where}: capabilities not all dropped")
            if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: no RuntimeDefault seccomp profile")
            limits = container.get("resources", {}).get("limits", {})
            if not {"cpu", "memory"} <= set(limits) or not container["resources"].get("requests"):
                problems.append(f"{where}: no cpu/memory limits or requests")
    assert problems == []


def test_writable_paths_are_empty_dirs(rendered):
    """A read-only root filesystem: the image's VAR_DIR and /tmp are emptyDirs in every pod of ours."""
    var_dir = re.search(r"^\s*VAR_DIR=(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.M).group(1)
    assert named(rendered, "ConfigMap", "fieldservice-config")["data"]["VAR_DIR"] == var_dir
    for workload in workloads(rendered):
        spec = pod_spec(workload)
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in filter(ours, spec["containers"]):
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            for path in (var_dir, "/tmp"):
                assert mounts.get(path) in empty_dirs, f"{workload['metadata']['name']}: {path} not an emptyDir"


def test_services_read_the_holiday_calendar_from_its_config_map(rendered):
    """FSM_CALENDAR_DIR is where every service mounts the ConfigMap `fsm calendar import` feeds
    (optional: the services start before the first import); a whole-folder mount, not subPath,
    so the kubelet's updates reach the running pods."""
    directory = named(rendered, "ConfigMap", "fieldservice-config")["data"]["FSM_CALENDAR_DIR"]
    for deployment in by_kind(rendered, "Deployment"):
        spec = pod_spec(deployment)
        volumes = {v["name"]: v for v in spec["volumes"]}
        (container,) = spec["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == directory]
        assert "subPath" not in mount and mount.get("readOnly") is True
        assert volumes[mount["name"]]["configMap"] == {"name": "fieldservice-calendar", "optional": True}


def test_our_image_by_digest_only(rendered):
    images = [c["image"] for w in workloads(rendered) for c in pod_spec(w)["containers"] if ours(c)]
    assert len(images) == len(SERVICES) + 1  # the eight services and the migrate Job
    for image in images:
        assert DIGEST_IMAGE.match(image), image
    (entry,) = [i for i in kustomization()["images"] if i["name"] == "fieldservice"]
    assert "newTag" not in entry and re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"])


def test_services_probe_their_health_endpoints_and_stop_in_time(rendered):
    deployments = {d["metadata"]["name"]: d for d in by_kind(rendered, "Deployment")}
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        spec = pod_spec(deployment)
        (container,) = spec["containers"]
        ports = {p["name"] for p in container["ports"]}
        for probe, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
            get = container[probe]["httpGet"]
            assert (get["path"], get["port"] in ports) == (path, True), f"{name} {probe}"
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep", name
        grace = spec["terminationGracePeriodSeconds"]
        # endpoints drop the pod during the pause, then SIGTERM and a clean stop, with margin
        assert int(pre_stop[1]) + CLEAN_STOP_SECONDS < grace <= 60, f"{name}: grace {grace}"


# ---------------------------------------------------------------------------- network
def selects(selector: dict, labels: dict) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present, value = expr["key"] in labels, labels.get(expr["key"])
        ok = {
            "In": present and value in expr.get("values", []),
            "NotIn": not present or value not in expr.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expr["operator"]]
        if not ok:
            return False
    return True


def test_a_network_policy_for_every_pod(rendered):
    policies = by_kind(rendered, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert deny and "Ingress" in deny[0]["spec"]["policyTypes"], "no default deny of ingress"
    allow = [p for p in policies if p["spec"].get("ingress")]
    for workload in workloads(rendered):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        listens = any(c.get("ports") for c in pod_spec(workload)["containers"])
        selected = [p["metadata"]["name"] for p in allow if selects(p["spec"]["podSelector"], labels)]
        assert bool(selected) == listens, f"{workload['metadata']['name']}: allowed by {selected}"
    # the operator's RabbitMQ pods (not in these manifests) carry these labels
    assert any(
        selects(
            p["spec"]["podSelector"], {"app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/component": "rabbitmq"}
        )
        for p in allow
    )


def sources(policy: dict) -> list[dict]:
    return [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]


def test_who_may_connect(rendered):
    policies = {p["metadata"]["name"]: p for p in by_kind(rendered, "NetworkPolicy")}
    fsm_pod = {"app.kubernetes.io/part-of": "fieldservice", "app.kubernetes.io/name": "intake"}
    # the gateway: from another namespace only (the ingress controller, Prometheus)
    assert all("namespaceSelector" in peer for peer in sources(policies["gateway"]))
    # the other services: Prometheus only; the gateway reaches them through RabbitMQ
    for peer in sources(policies["services-metrics"]):
        assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    # the broker and the database: AMQP and SQL from our pods
    for name, port in (("rabbitmq", 5672), ("postgres", "postgres")):
        rules = [
            r for r in policies[name]["spec"]["ingress"] if {"port": port, "protocol": "TCP"} in r.get("ports", [])
        ]
        assert rules and all(
            "namespaceSelector" not in peer and selects(peer["podSelector"], fsm_pod)
            for r in rules
            for peer in r["from"]
        ), name


# ---------------------------------------------------------------------------- RabbitMQ
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def definitions() -> dict:
    return json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))


def rabbitmq_series(image: str) -> tuple[int, int]:
    major, minor = re.match(r"rabbitmq:(\d+)\.(\d+)", image).groups()
    return int(major), int(minor)


def test_a_supported_rabbitmq_everywhere(rendered):
    cluster = named(rendered, "RabbitmqCluster", "rabbitmq")
    assert rabbitmq_series(cluster["spec"]["image"]) >= (3, 13)
    assert cluster["spec"]["replicas"] >= 3  # a quorum queue survives one node down
    assert compose()["services"]["rabbitmq"]["image"] == cluster["spec"]["image"]


def test_the_services_declare_quorum_queues_in_both_deployments(rendered):
    assert named(rendered, "ConfigMap", "fieldservice-config")["data"]["QUEUE_TYPE"] == "quorum"
    services = compose()["services"]
    for name in SERVICES:
        assert services[name]["environment"]["QUEUE_TYPE"] == "quorum", name
    from shared.broker import queue_arguments

    assert queue_arguments({"QUEUE_TYPE": "quorum"}) == {"x-queue-type": "quorum"}


def the_policy(rendered) -> dict:
    (policy,) = by_kind(rendered, "Policy")
    spec = policy["spec"]
    return {
        "vhost": spec["vhost"],
        "name": spec["name"],
        "pattern": spec["pattern"],
        "apply-to": spec["applyTo"],
        "priority": spec["priority"],
        "definition": spec["definition"],
    }


def test_compose_and_k8s_have_the_same_policy(rendered):
    (policy,) = definitions()["policies"]
    assert policy == the_policy(rendered)
    assert isinstance(policy["definition"]["delivery-limit"], int) and policy["definition"]["delivery-limit"] > 0
    # nothing but the policy in the definitions the node imports: the services declare the rest
    assert set(definitions()) == {"users", "vhosts", "permissions", "policies"}


def consumed_queues() -> dict[str, str]:
    """Queue name -> kind, for the queues named in the code (RPC and plain-AMQP consumers);
    the event queues' names are built when a service starts (the service test sees them)."""
    from fsm.common import service_classes
    from shared.messaging import SchemaConsumer
    from shared.rpc import Rpc

    queues = {}
    for cls in service_classes(strict=True):
        for attr in vars(cls).values():
            for entrypoint in getattr(attr, "nameko_entrypoints", ()):
                if isinstance(entrypoint, SchemaConsumer):
                    queues[entrypoint.queue_name] = "plain AMQP"
                elif isinstance(entrypoint, Rpc):
                    queues[f"rpc-{cls.name}"] = "rpc"
    return queues


def test_the_policy_covers_every_queue_the_services_consume_from(rendered):
    from shared.messaging import dead_letter_names

    pattern = re.compile(the_policy(rendered)["pattern"])
    queues = consumed_queues()
    assert {"intake.bridge-requests", "parts.receipts"} <= set(queues)
    assert {f"rpc-{s}" for s in SERVICES if s != "gateway"} <= set(queues)
    evt = "evt-dispatch-visit.started--intake.on_visit_started"
    assert [q for q in [*queues, evt] if not pattern.search(q)] == []
    # not the dead-letter queues (read by fetch-and-requeue) nor the RPC reply queues
    for service in SERVICES:
        assert not pattern.search(dead_letter_names(service)[1])
    assert not pattern.search("rpc.reply-standalone_rpc_proxy-0a1b2c")


# ---------------------------------------------------------------------------- compose
def check_jsonschema() -> list[str]:
    found = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("check-jsonschema not installed (pip install -c constraints.txt -e '.[test]')")
    return [found, "--builtin-schema", "vendor.compose-spec"]


def test_compose_file_follows_the_compose_specification():
    out = subprocess.run([*check_jsonschema(), str(COMPOSE)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_compose_schema_check_can_fail(tmp_path):
    broken = compose()
    broken["services"]["gateway"]["cap_drop"] = {"all": True}
    broken["services"]["intake"]["helthcheck"] = broken["services"]["intake"].pop("healthcheck")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    out = subprocess.run([*check_jsonschema(), str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "services.gateway.cap_drop" in out.stdout and "'helthcheck' was unexpected" in out.stdout


def test_compose_runs_the_services_as_k8s_does():
    services = compose()["services"]
    var_dir = services["gateway"]["environment"]["VAR_DIR"]
    for name in [*SERVICES, "migrate"]:
        svc = services[name]
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
        assert {"/tmp", var_dir} <= set(svc["tmpfs"]), name
        assert "no-new-privileges:true" in svc["security_opt"], name
    for name in SERVICES:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "/health/ready" in " ".join(services[name]["healthcheck"]["test"]), name
    assert services["migrate"]["command"] == ["fsm", "migrate"]
    mounts = services["rabbitmq"]["volumes"]
    assert "./rabbitmq/definitions.json:/etc/rabbitmq/definitions.json:ro" in mounts
    conf = (DEPLOY / "rabbitmq" / "20-fsm.conf").read_text(encoding="utf-8")
    assert "definitions.local.path = /etc/rabbitmq/definitions.json" in conf


# ---------------------------------------------------------------------------- the image
def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


def test_the_image_carries_the_fonts_and_the_front_end_assets():
    text = dockerfile()
    assert re.search(r"apt-get install [^\n]*fonts-wqy-zenhei fonts-droid-fallback", text)
    assert re.search(r"RUN npm ci --ignore-scripts", text)
    assert "COPY --from=assets /build/node_modules /app/node_modules" in text
    assert "node_modules" in (DEPLOY / "Dockerfile.dockerignore").read_text().split()  # never the host's


def test_the_image_runs_as_the_pods_user_with_writable_volumes_only(rendered):
    text = dockerfile()
    user = re.search(r"^USER (\d+):(\d+)$", text, re.M).groups()
    volumes = set(json.loads(re.search(r"^VOLUME (\[.*\])$", text, re.M).group(1)))
    for workload in workloads(rendered):
        spec = pod_spec(workload)
        if any(map(ours, spec["containers"])):
            sc = spec["securityContext"]
            assert (str(sc["runAsUser"]), str(sc["runAsGroup"])) == user
            mounted = {m["mountPath"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
            assert volumes <= mounted, workload["metadata"]["name"]


def test_the_image_command_starts_each_service_class(tmp_path):
    """The CMD names module:Class as nameko wants it (the gateway's module also holds route
    mixins): run with a stand-in `nameko` that records its arguments, which nameko's own
    loader then turns into exactly one service class each."""
    from nameko.cli.run import import_service

    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile(), re.M).group(1))
    stand_in = tmp_path / "nameko"
    stand_in.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stand_in.chmod(0o755)
    for service in SERVICES:
        out = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=30,
            env={"PATH": f"{tmp_path}:/usr/bin:/bin", "SERVICE": service},
        )
        assert out.returncode == 0, out.stderr
        args = out.stdout.split()
        assert args[:3] == ["run", "--config", "config.yml"], args
        (found,) = import_service(args[3])
        assert found.name == service, shlex.join(args)
