"""Static checks of docker/: no Docker engine runs where the tests run, so the files are read."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jobs.settings import PROJECT_ROOT, Settings

DOCKER = PROJECT_ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"

AIRFLOW_COMPONENTS = {
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
ONE_SHOT = {"minio-init", "airflow-init"}
# An exact release: a version with at least major.minor (3.11.13, 16.10) or a dated release.
EXACT_TAG = re.compile(r"^(\d+\.\d+(\.\d+)?([-.][\w.-]+)?|RELEASE\.\d{4}-\d{2}-\d{2}T[\w-]+)$")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


@pytest.fixture(scope="module")
def env_example():
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


@pytest.fixture(scope="module")
def dockerfile_lines():
    """Instructions of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _image_tag(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    return (name, tag) if name and "/" not in tag else (image, "")


def test_compose_has_postgres_airflow_components_spark_and_an_object_store(services):
    assert {
        "postgres",
        "minio",
        "minio-init",
        "airflow-init",
        *AIRFLOW_COMPONENTS,
        "spark-master",
        "spark-worker",
    } <= set(services)


def test_every_image_is_pinned_to_an_exact_release(services):
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name} has no image (a built service is tagged too)"
        repository, tag = _image_tag(image)
        assert tag and tag != "latest" and EXACT_TAG.match(tag), f"{name}: {image} is not pinned"
        first = repository.split("/")[0]
        assert "/" not in repository or "." not in first, f"{name}: {image} names a registry host"


def test_built_services_use_the_govlake_image_of_this_version(services):
    import tomllib

    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]["version"]
    built = {name: s for name, s in services.items() if "build" in s}

    assert set(built) >= {"airflow-init", *AIRFLOW_COMPONENTS, "spark-master", "spark-worker"}
    for name, service in built.items():
        assert service["image"] == f"govlake:{version}", name
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert (
            context == PROJECT_ROOT and (context / service["build"]["dockerfile"]) == DOCKERFILE
        ), name


def test_airflow_services_run_their_component_against_postgres(services):
    for name, component in AIRFLOW_COMPONENTS.items():
        service = services[name]
        env = _environment(service)
        assert service["command"][:2] == ["airflow", component], name
        # docker/entrypoint.sh builds the database URL from the password file
        assert env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password", name
        assert "postgres_password" in service["secrets"], name
        assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env, name
        assert (
            env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
            == "http://airflow-api-server:8080/execution/"
        )
        assert (
            service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        )
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "ensure_pools" in init


def test_airflow_settings_are_real_airflow_options(services):
    spec = importlib.util.find_spec("airflow")
    options = yaml.safe_load(
        (Path(spec.submodule_search_locations[0]) / "config_templates" / "config.yml").read_text(
            encoding="utf-8"
        )
    )
    for name, service in services.items():
        for variable, value in _environment(service).items():
            if variable.startswith("AIRFLOW__"):
                section, key = variable.removeprefix("AIRFLOW__").lower().split("__", 1)
                option = key.removesuffix("_cmd")
                spec = (options.get(section) or {}).get("options", {}).get(option)
                assert spec is not None, f"{name}: {variable}"
                if key.endswith("_cmd"):  # Airflow runs a command only for a sensitive option
                    assert spec.get("sensitive"), f"{name}: {variable}"
                    assert value.startswith("cat /run/secrets/"), f"{name}: {variable}"
                    secret = value.removeprefix("cat /run/secrets/")
                    assert secret in service["secrets"], f"{name}: {variable} reads {secret}"


def test_govlake_settings_point_the_lake_at_the_object_store_and_spark_at_the_master(services):
    known = set(Settings.variable_names().values())
    for name, service in services.items():
        env = _environment(service)
        unknown = {v for v in env if v.startswith("GOVLAKE_") and v not in known} - {
            "GOVLAKE_LAKE_BUCKET",
            "GOVLAKE_LAKE_ACCESS_KEY",
        }
        assert not unknown, f"{name}: not settings of jobs/settings.py: {unknown}"
    env = _environment(services["airflow-scheduler"])
    assert env["GOVLAKE_LAKE_ROOT"].startswith("s3://")
    assert env["GOVLAKE_SPARK_MASTER"] == "spark://spark-master:7077"
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_CONDITIONAL_PUT"] == "etag"  # safe concurrent commits on MinIO without DynamoDB
    assert "spark-master" in " ".join(services["spark-master"]["command"])
    assert services["spark-worker"]["command"][-1] == env["GOVLAKE_SPARK_MASTER"]


def test_every_variable_the_compose_file_reads_is_defined_in_the_env_example(env_example):
    text = COMPOSE.read_text(encoding="utf-8")
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)\}", text))
    # ${NAME:-default}: optional (mail is off without a host); documented, commented out
    optional = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*):-", text))
    documented = ENV_EXAMPLE.read_text(encoding="utf-8")

    assert referenced, "the compose file reads no variables?"
    assert referenced <= set(env_example), sorted(referenced - set(env_example))
    assert all(v for v in env_example.values()), "every variable has a value in .env.example"
    assert [n for n in sorted(optional) if f"# {n}=" not in documented] == []


def test_env_file_holds_no_secret_and_secrets_are_ignored(env_example):
    secret_names = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$")
    # GOVLAKE_LAKE_ACCESS_KEY is the access key's name (a user name), its secret is a file
    assert [n for n in env_example if secret_names.search(n)] == ["GOVLAKE_LAKE_ACCESS_KEY"]
    assert not [v for v in env_example.values() if "change-me" in v]
    assert not {"POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} & set(env_example)
    assert not [
        n for n in env_example if n.startswith("GOVLAKE_") and "KEY" in n and "ACCESS" not in n
    ]
    assert {".env", "secrets/"} <= set((DOCKER / ".gitignore").read_text(encoding="utf-8").split())


def test_long_running_services_have_healthchecks_and_waits_use_them(services):
    for name, service in services.items():
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (
                    f"{name} waits on {dependency}'s health"
                )
            if rule["condition"] == "service_completed_successfully":
                assert dependency in ONE_SHOT


def test_postgres_and_the_object_store_keep_their_data_in_named_volumes(compose, services):
    declared = set(compose["volumes"])

    def mounts(service):
        return dict(v.split(":")[:2][::-1] for v in services[service].get("volumes", []))

    assert mounts("postgres")["/var/lib/postgresql/data"] in declared
    assert mounts("minio")["/data"] in declared
    assert services["minio"]["command"][:2] == ["server", "/data"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared, f"{name} mounts undeclared {source}"


def test_only_serve_publishes_a_port_beyond_loopback(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            if name == "serve":
                assert str(port) == "8800:8800"
            else:
                assert str(port).startswith("127.0.0.1:"), (
                    f"{name} publishes {port} beyond loopback"
                )
    assert not services["postgres"].get("ports") and not services["spark-worker"].get("ports")
    assert services["serve"]["command"] == [
        "govlake",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8800",
    ]


def test_every_secret_a_service_names_is_declared_and_exists_nowhere_in_the_environment(
    compose, services
):
    declared = compose["secrets"]
    for name, service in services.items():
        mounted = set(service.get("secrets", []))
        assert mounted <= set(declared), f"{name}: undeclared {mounted - set(declared)}"
        for variable, value in _environment(service).items():
            if variable.endswith("_FILE") and value.startswith("/run/secrets/"):
                assert value.removeprefix("/run/secrets/") in mounted, f"{name}: {variable}"
            assert not re.search(r"PASSWORD$|SECRET$|_KEY$", variable) or variable in {
                "GOVLAKE_LAKE_ACCESS_KEY",  # the access key's name, not its secret
            }, f"{name} gets {variable} in its environment"
    for secret in declared.values():
        assert secret["file"].startswith("./secrets/")
    used = {s for service in services.values() for s in service.get("secrets", [])}
    assert used == set(declared), f"declared but unused: {set(declared) - used}"


def test_mail_reaches_the_service_and_the_deadline_check_only(services):
    # serve mails after a decision; the scheduler's daily deadline check mails and retries
    wired = {
        name for name, service in services.items() if "GOVLAKE_SMTP_HOST" in _environment(service)
    }
    assert wired == {"serve", "airflow-scheduler"}
    for name in wired:
        env = _environment(services[name])
        assert env["GOVLAKE_SMTP_PASSWORD_FILE"] == "/run/secrets/smtp_password", name
        assert "smtp_password" in services[name]["secrets"], name


def test_object_store_root_credentials_reach_only_the_object_store(services):
    holders = {
        name
        for name, service in services.items()
        if {"minio_root_user", "minio_root_password"} & set(service.get("secrets", []))
        or any("MINIO_ROOT" in v for v in _environment(service))
    }

    assert holders == {"minio", "minio-init"}
    for name, service in services.items():
        env = _environment(service)
        if "AWS_ACCESS_KEY_ID" in env:
            assert env["AWS_ACCESS_KEY_ID"] == "${GOVLAKE_LAKE_ACCESS_KEY}", name
            assert env["AWS_SECRET_ACCESS_KEY_FILE"] == "/run/secrets/lake_secret_key", name
    init = services["minio-init"]["command"][0]
    assert "mc admin user add" in init and "arn:aws:s3:::%s/*" in init


def test_govlake_runs_in_production_with_each_key_only_where_it_is_used(services):
    built = {name: s for name, s in services.items() if "build" in s}
    for name, service in built.items():
        assert _environment(service)["GOVLAKE_ENV"] == "production", name
    keys = {
        name: {
            s
            for s in service.get("secrets", [])
            if s.endswith(("_key", "_secret")) and not s.startswith("airflow_")
        }
        for name, service in built.items()
    }

    assert keys["serve"] == {"lake_secret_key", "session_secret", "audit_key"}
    assert keys["airflow-scheduler"] == {"lake_secret_key", "share_key", "reident_key", "audit_key"}
    assert keys["spark-worker"] == {"lake_secret_key"}
    for name in (
        "spark-master",
        "airflow-api-server",
        "airflow-dag-processor",
        "airflow-triggerer",
    ):
        assert keys[name] == set(), name


def test_reidentification_data_lives_on_a_volume_where_it_is_written(compose, services):
    root = _environment(services["airflow-scheduler"])["GOVLAKE_REID_ROOT"]
    for name in ("airflow-scheduler", "spark-worker"):
        assert f"reid:{root}" in services[name]["volumes"], name
    assert "reid" in compose["volumes"]
    assert not any("reid:" in v for v in services["serve"].get("volumes", []))


def test_entrypoint_builds_the_database_urls_from_the_password_file(tmp_path):
    secret = tmp_path / "postgres_password"
    secret.write_text("p@ss/w:rd\n", encoding="utf-8")
    lake_key = tmp_path / "lake_secret_key"
    lake_key.write_text("lake-s3cret", encoding="utf-8")
    shown = subprocess.run(
        [
            "sh",
            str(DOCKER / "entrypoint.sh"),
            "python",
            "-c",
            "import os; print(os.environ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']); "
            "print(os.environ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC']); "
            "print(os.environ['GOVLAKE_DB_URL']); print(os.environ['AWS_SECRET_ACCESS_KEY']); "
            "print(oct(os.umask(0)))",
        ],
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "POSTGRES_USER": "airflow",
            "POSTGRES_DB": "airflow",
            "POSTGRES_STORE_DB": "govlake",
            "POSTGRES_PASSWORD_FILE": str(secret),
            "AWS_SECRET_ACCESS_KEY_FILE": str(lake_key),
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert shown == [
        "postgresql+psycopg://airflow:p%40ss%2Fw%3Ard@postgres:5432/airflow",
        "postgresql+psycopg_async://airflow:p%40ss%2Fw%3Ard@postgres:5432/airflow",
        "postgresql+psycopg://airflow:p%40ss%2Fw%3Ard@postgres:5432/govlake",
        "lake-s3cret",
        "0o27",
    ]


def test_dockerfile_base_image_is_pinned(dockerfile_lines):
    froms = [line.split()[1] for line in dockerfile_lines if line.upper().startswith("FROM ")]

    assert froms, "no FROM"
    for image in froms:
        _, tag = _image_tag(image)
        assert re.fullmatch(r"\d+\.\d+\.\d+-[\w.-]+", tag), f"{image} is not an exact version"


def test_dockerfile_installs_the_lock_with_exact_pins_and_no_index(dockerfile_lines):
    text = "\n".join(dockerfile_lines)

    assert any(re.match(r"COPY .*\brequirements\.lock\b", line) for line in dockerfile_lines)
    assert re.search(r"uv pip sync .*requirements\.lock", text)
    assert "pip check" in text
    assert not re.search(r"--(extra-)?index-url|\s-i\s|--find-links|https?://", text)
    # nothing beside the lock: every package the containers import is locked
    installs = re.findall(r"pip install [^&]*", text)
    assert [
        i for i in installs if "requirements-bootstrap.lock" not in i and " -e ." not in i
    ] == []


def test_dockerfile_installs_java_17_or_newer(dockerfile_lines):
    text = "\n".join(dockerfile_lines)
    versions = [int(v) for v in re.findall(r"openjdk-(\d+)-jre", text)]

    assert versions and min(versions) >= 17
    assert "JAVA_HOME=" in text


def test_dockerfile_copies_only_paths_that_exist(dockerfile_lines):
    for line in dockerfile_lines:
        if line.upper().startswith("COPY ") and "--from" not in line:
            *sources, _target = line.split()[1:]
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), f"COPY {source}: missing"


def test_urls_in_docker_files_reach_only_the_compose_services_and_localhost(services):
    allowed = {"localhost", *services}
    for path in DOCKER.rglob("*"):
        if path.is_file() and not path.name.endswith(".jar"):
            for host in re.findall(r"https?://([^/:\s'\"]+)", path.read_text(encoding="utf-8")):
                assert host in allowed, f"{path.name} names the outside host {host}"


def test_shell_commands_of_the_dockerfile_and_compose_parse(dockerfile_lines, services):
    scripts = [line[4:] for line in dockerfile_lines if line.upper().startswith("RUN ")]
    for name in ONE_SHOT:
        command = services[name]["command"]
        scripts.append(command[0] if len(command) == 1 else " ".join(command))
    snippets = re.findall(r"python -c '([^']*)'", " ".join(scripts))

    for script in scripts:
        checked = subprocess.run(
            ["bash", "-n", "-c", script.replace("$$", "$")], capture_output=True, text=True
        )
        assert checked.returncode == 0, f"{script}\n{checked.stderr}"
    assert snippets
    for snippet in snippets:
        compile(snippet, "<python -c>", "exec")


def _locked_packages() -> set[str]:
    return {
        re.split(r"[=\[]", line)[0].lower()
        for line in (PROJECT_ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith((" ", "#"))
    }


def test_database_urls_use_a_driver_the_lock_installs_for_airflow_sync_and_async():
    entrypoint = (DOCKER / "entrypoint.sh").read_text(encoding="utf-8")
    drivers = set(re.findall(r'"postgresql\+(\w+)://', entrypoint))
    packages = {"psycopg": "psycopg", "psycopg_async": "psycopg", "psycopg2": "psycopg2-binary"}

    assert drivers == {"psycopg", "psycopg_async"}
    assert {packages[d] for d in drivers} <= _locked_packages()
    # Airflow derives postgresql+asyncpg for its API server unless told: it must be told
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" in entrypoint
    assert "asyncpg" not in _locked_packages()


def test_make_secrets_writes_every_declared_secret_owner_only_and_a_fernet_key(compose, tmp_path):
    import base64
    import shutil
    import stat

    script = tmp_path / "make-secrets.sh"
    shutil.copy(DOCKER / "make-secrets.sh", script)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True)
    first = {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True)

    declared = {s["file"].removeprefix("./secrets/") for s in compose["secrets"].values()}
    assert set(first) == declared
    assert {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()} == first  # kept
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert len(base64.urlsafe_b64decode(first["airflow_fernet_key"].strip())) == 32
    generated = {k: v for k, v in first.items() if k not in {"minio_root_user", "smtp_password"}}
    assert all(len(v.strip()) >= 32 for v in generated.values())
    assert first["smtp_password"] == ""  # the operator's to fill in, never made up


def test_catalog_revisions_are_written_by_the_service_and_read_where_dags_are_parsed_and_run(
    compose, services
):
    root = _environment(services["serve"])["GOVLAKE_CATALOG_REVISIONS_ROOT"]
    assert f"catalog:{root}" in services["serve"]["volumes"]
    for name in ("airflow-dag-processor", "airflow-scheduler"):
        assert _environment(services[name])["GOVLAKE_CATALOG_REVISIONS_ROOT"] == root, name
        assert f"catalog:{root}:ro" in services[name]["volumes"], name
    assert "catalog" in compose["volumes"]
