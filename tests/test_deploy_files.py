"""docker-compose.yml and the Dockerfile, checked without a Docker engine: every command is a real
`papersift` command with valid options, every PAPERSIFT_* variable is a setting, and the volumes
and health checks are what docs/deploy.md relies on."""

from __future__ import annotations

import json
import re

import pytest
import typer.main
import yaml
from typer import TyperException

from papersift.cli import app
from papersift.settings import Settings
from tests.conftest import REPO_ROOT

COMPOSE_TEXT = (REPO_ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
SERVICES = COMPOSE["services"]


def resolve_command(argv: list[str]) -> str:
    """The name of the command `argv` runs (`db upgrade`), after parsing its options and arguments
    the way the CLI does (TyperException for an unknown command, option or a bad value)."""
    assert argv[0] == "papersift", argv
    command = typer.main.get_command(app)
    parent = command.make_context("papersift", [], resilient_parsing=True)
    args, names = list(argv[1:]), []
    while hasattr(command, "commands"):  # a group
        name = args.pop(0)
        names.append(name)
        sub = command.get_command(parent, name)
        if sub is None:
            raise TyperException(f"no such command {name!r} in {' '.join(argv)}")
        command = sub
        parent = command.make_context(name, [], parent=parent, resilient_parsing=True)
    command.make_context(names[-1], args, parent=parent.parent)
    return " ".join(names)


def dockerfile_commands() -> list[list[str]]:
    return [json.loads(line.split(None, 1)[1]) for line in DOCKERFILE.splitlines() if line.startswith("CMD [")]


def test_resolving_refuses_unknown_commands_and_options():
    assert resolve_command(["papersift", "serve", "--workers", "4"]) == "serve"
    assert resolve_command(["papersift", "db", "upgrade", "head"]) == "db upgrade"
    with pytest.raises(TyperException):
        resolve_command(["papersift", "serve", "--threads", "4"])
    with pytest.raises(TyperException):
        resolve_command(["papersift", "db", "migrate"])
    with pytest.raises(TyperException):
        resolve_command(["papersift", "serve", "--workers", "many"])


def test_every_compose_command_is_a_papersift_command():
    commands = {name: resolve_command(spec["command"]) for name, spec in SERVICES.items() if "command" in spec}
    assert commands == {"migrate": "db upgrade", "api": "serve", "scheduler": "schedule"}


def test_the_image_default_command_is_a_papersift_command():
    [command] = dockerfile_commands()
    assert resolve_command(command) == "serve"


def test_every_papersift_variable_referenced_is_a_setting():
    referenced = set(re.findall(r"PAPERSIFT_[A-Z_]+", COMPOSE_TEXT + DOCKERFILE))
    settings = {f"PAPERSIFT_{name.upper()}" for name in Settings.model_fields}
    assert referenced and referenced - settings == set()


def test_compose_runs_db_migrate_api_and_scheduler_with_their_roles():
    assert {"db", "migrate", "api", "scheduler"} <= set(SERVICES)
    assert SERVICES["migrate"]["command"][:3] == ["papersift", "db", "upgrade"]
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["api"]["command"][:2] == ["papersift", "serve"]
    assert int(SERVICES["api"]["command"][SERVICES["api"]["command"].index("--workers") + 1]) > 1
    assert SERVICES["scheduler"]["command"] == ["papersift", "schedule"]
    for name in ("api", "scheduler"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_api_reads_the_index_volume_and_only_the_scheduler_writes_it():
    data_dir = SERVICES["migrate"]["environment"]["PAPERSIFT_DATA_DIR"]
    assert SERVICES["api"]["volumes"] == [f"index:{data_dir}:ro"]
    assert SERVICES["scheduler"]["volumes"] == [f"index:{data_dir}"]
    assert "index" in COMPOSE["volumes"]


def test_the_database_has_a_health_check_and_a_named_volume():
    db = SERVICES["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]


def test_the_image_is_multi_stage_cpu_only_and_runs_as_a_non_root_user():
    stages = [line for line in DOCKERFILE.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE
    users = [line.split()[1] for line in DOCKERFILE.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


K8S_DIR = REPO_ROOT / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
K8S = {path.name: yaml.safe_load(path.read_text()) for path in sorted(K8S_DIR.glob("*.yaml"))
       if path.name != "kustomization.yaml"}
K8S_KINDS = {(doc["kind"], doc["metadata"]["name"]): doc for doc in K8S.values()}


def k8s_container(kind: str, name: str) -> dict:
    spec = K8S_KINDS[(kind, name)]["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return container


@pytest.mark.parametrize("name", sorted(K8S))
def test_every_k8s_manifest_validates_against_the_kubernetes_schema(name):
    """kubernetes-validate checks against the OpenAPI schemas it bundles (no download), strictly:
    an unknown or misspelt field fails too."""
    import kubernetes_validate

    kubernetes_validate.validate(K8S[name], kubernetes_validate.utils.latest_version(), strict=True)


def test_the_kustomization_applies_every_manifest():
    assert sorted(KUSTOMIZATION["resources"]) == sorted(K8S)


def test_k8s_runs_migrate_api_and_scheduler_with_real_commands_and_known_variables():
    commands = {kind_name: resolve_command(k8s_container(*kind_name)["command"])
                for kind_name in (("Job", "papersift-migrate"), ("Deployment", "papersift-api"),
                                  ("Deployment", "papersift-scheduler"))}
    assert list(commands.values()) == ["db upgrade", "serve", "schedule"]
    referenced = set(re.findall(r"PAPERSIFT_[A-Z0-9_]+", "".join((K8S_DIR / n).read_text() for n in K8S)))
    assert referenced - {f"PAPERSIFT_{name.upper()}" for name in Settings.model_fields} == set()
    config = K8S_KINDS[("ConfigMap", "papersift-config")]["data"]
    Settings(_env_file=None, **{k.removeprefix("PAPERSIFT_").lower(): v for k, v in config.items()
                                if k.startswith("PAPERSIFT_")})  # every value is accepted
    assert config["PAPERSIFT_INDEX_STORE"].startswith("s3://")
    secret = K8S_KINDS[("Secret", "papersift-secrets")]["stringData"]
    assert {"PAPERSIFT_DATABASE_URL", "PAPERSIFT_ADMIN_TOKEN", "PAPERSIFT_LLM_API_KEY",
            "PAPERSIFT_SMTP_URL"} <= set(secret)


def test_api_replicas_are_probed_autoscaled_and_served_and_the_scheduler_is_single():
    api = k8s_container("Deployment", "papersift-api")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    hpa = K8S_KINDS[("HorizontalPodAutoscaler", "papersift-api")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "papersift-api" and hpa["minReplicas"] >= 2
    service = K8S_KINDS[("Service", "papersift-api")]["spec"]
    assert service["selector"] == K8S_KINDS[("Deployment", "papersift-api")]["spec"]["selector"]["matchLabels"]
    scheduler = K8S_KINDS[("Deployment", "papersift-scheduler")]["spec"]
    assert scheduler["replicas"] == 1 and scheduler["strategy"]["type"] == "Recreate"
