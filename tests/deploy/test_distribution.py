"""The distribution's name is ours: `reconciler` on PyPI is someone else's project, so a
`pip install reconciler` anywhere would run a stranger's code. The import name and the command
stay `reconciler`, and the version is looked up by the distribution's name."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import reconciler

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# Where an install command could name the package: the build, the docs, the deploy examples.
INSTALLERS = [REPO / "Makefile", REPO / "Dockerfile", REPO / "README.md", REPO / ".ci" / "run"]
INSTALLERS += sorted((REPO / "deploy").rglob("*.yml")) + sorted((REPO / "deploy").rglob("*.md"))


def test_distribution_name_is_not_the_taken_one() -> None:
    assert PROJECT["name"] == reconciler.DISTRIBUTION
    assert PROJECT["name"] != "reconciler"
    assert PROJECT["scripts"] == {"reconciler": "reconciler.cli:main"}


def test_version_is_read_by_the_distribution_name() -> None:
    assert reconciler.__version__ == metadata.version(PROJECT["name"]) == PROJECT["version"]


def test_nothing_installs_reconciler_by_name() -> None:
    for path in INSTALLERS:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            assert not re.search(r"pip3? install\b[^\n#]*[\s\"']reconciler\b(?![-/])", line), (
                f"{path.relative_to(REPO)}: {line.strip()}"
            )
