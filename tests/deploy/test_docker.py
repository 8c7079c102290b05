"""The Dockerfile builds the production image: multi-stage on a base pinned by digest, the
production dependencies only, git included, tini as PID 1, a numeric non-root user, a read-only
root filesystem, `reconciler run`.

The image itself is built only where a Docker engine answers (`docker info`); elsewhere that
test is skipped and the Dockerfile is checked statically.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
WORKDIR = "/var/lib/reconciler"
FORBIDDEN = {"moto", "pytest", "hypothesis", "ruff", "mypy"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending.strip())
        pending = ""
    assert not pending, "Dockerfile ends with a continuation"
    return [(i.split(None, 1)[0].upper(), i.split(None, 1)[1]) for i in logical]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final(name: str) -> list[str]:
    return [args for op, args in stages()[-1] if op == name]


def test_multi_stage_on_slim_python() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    default_image = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text())
    assert default_image is not None
    for stage in all_stages:
        image = stage[0][1].split()[0].replace("${PYTHON_IMAGE}", default_image.group(1))
        # Pinned by digest: a tag moves, and the next build would get other bytes unreviewed.
        assert re.fullmatch(r"python:3\.1[2-9]-slim@sha256:[0-9a-f]{64}", image), image
    assert " AS builder" in all_stages[0][0][1]
    copies = final("COPY")
    assert any(c.startswith("--from=builder ") for c in copies)
    # Nothing from the build context reaches the final stage: only the built venv.
    assert all(c.startswith("--from=") for c in copies)


def test_installs_the_production_dependencies_only() -> None:
    text = "\n".join(f"{op} {args}" for op, args in instructions())  # comments left out
    builder = " ".join(args for op, args in stages()[0] if op == "RUN")
    assert "pip install" in builder
    assert "[sandbox]" not in text and "[dev]" not in text
    for name in FORBIDDEN:
        assert not re.search(rf"pip install[^\n&;]*\b{name}\b", text), name
    # The build context reaches the wheel: the package, its metadata and the readme it names.
    copied = " ".join(args for op, args in stages()[0] if op == "COPY")
    for needed in ("pyproject.toml", PYPROJECT["project"]["readme"], "reconciler"):
        assert needed in copied, needed


def test_production_dependency_set_excludes_simulator_and_test_tools() -> None:
    names = {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        for requirement in PYPROJECT["project"]["dependencies"]
    }
    assert names
    assert not names & FORBIDDEN, names & FORBIDDEN
    assert "moto[server]" in " ".join(PYPROJECT["project"]["optional-dependencies"]["sandbox"])


def test_git_and_ssh_installed_lean() -> None:
    runs = " ".join(final("RUN"))
    install = re.search(r"apt-get install ([^&]*)", runs)
    assert install, "the final stage installs nothing with apt-get"
    packages = install.group(1).split()
    assert "--no-install-recommends" in packages
    assert {"git", "openssh-client", "tini"} <= set(packages)
    assert "rm -rf /var/lib/apt/lists/*" in runs


def test_runs_as_numeric_non_root_user() -> None:
    (user,) = final("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, user
    assert not gid or (gid.isdigit() and int(gid) > 0), user
    assert int(uid) == 10001  # deploy/base/deployment.yaml runs as 10001 too


def test_entrypoint_and_command() -> None:
    (entrypoint,) = final("ENTRYPOINT")
    (command,) = final("CMD")
    # tini as PID 1 reaps the git children a timeout kills and forwards SIGTERM to the daemon.
    assert json.loads(entrypoint) == ["tini", "--", "reconciler"]
    assert json.loads(command) == ["run"]
    assert final("EXPOSE") == ["8080"]


def test_works_with_a_read_only_root_filesystem() -> None:
    env = " ".join(final("ENV"))
    assert f"HOME={WORKDIR}" in env  # ssh writes ~/.ssh/known_hosts
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert final("WORKDIR") == [WORKDIR]
    assert any(WORKDIR in v for v in final("VOLUME"))
    runs = " ".join(final("RUN"))
    assert re.search(rf"install -d -o 10001 -g 10001 [^&]*{WORKDIR}", runs)


def test_oci_labels() -> None:
    labels = " ".join(final("LABEL"))
    for key in ("title", "description", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    licence = PYPROJECT["project"]["license"]["text"]
    assert f'org.opencontainers.image.licenses="{licence}"' in labels


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()} - {
        ""
    }
    for excluded in (".venv", ".git", "tests", "bench", ".pytest_cache", ".mypy_cache"):
        assert excluded in patterns, excluded
    for needed in ("pyproject.toml", "README.md", "reconciler"):
        assert needed not in patterns and f"{needed}/" not in patterns, needed


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    return done.returncode == 0


@pytest.mark.timeout(1200)
def test_image_builds_and_runs() -> None:
    if not docker_engine():
        pytest.skip("no Docker engine answers here; the Dockerfile was checked statically")
    tag = "reconciler:test"
    subprocess.run(["docker", "build", "-t", tag, str(REPO)], check=True)
    version = subprocess.run(
        ["docker", "run", "--rm", "--read-only", tag, "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("reconciler ")
    user = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Config.User}}", tag],
        capture_output=True,
        text=True,
        check=True,
    )
    assert user.stdout.strip() == "10001:10001"
    for module in ("moto", "pytest"):
        probe = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "python", tag, "-c", f"import {module}"],
            capture_output=True,
            check=False,
        )
        assert probe.returncode != 0, f"{module} is in the production image"
