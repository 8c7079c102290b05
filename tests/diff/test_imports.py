"""The pure core imports nothing from the AWS, git or scheduler code (HOUSE_STYLE "pure core")."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PURE = ["diff", "state", "plan", "policies", "safety", "render"]
# Top-level names the pure core must not import, directly or through `from ... import`.
FORBIDDEN = {"boto3", "botocore", "apscheduler", "git", "subprocess", "moto"}
FORBIDDEN_OURS = {
    "reconciler.aws",
    "reconciler.reconcile",
    "reconciler.cli",
    "reconciler.simulator",
}


def _source(module: str) -> Path:
    found = importlib.util.find_spec(f"reconciler.{module}")
    assert found is not None and found.origin is not None
    return Path(found.origin)


def _imported(path: Path) -> set[str]:
    """Every module an import statement in the file names, `from a import b` giving a and a.b."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "reconciler" if node.level else (node.module or "")
            base = f"{base}.{node.module}" if node.level and node.module else base
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return name.split(".")[0] in FORBIDDEN or any(
        name == ours or name.startswith(ours + ".") for ours in FORBIDDEN_OURS
    )


@pytest.mark.parametrize("module", PURE)
def test_source_imports_nothing_from_the_edges(module: str) -> None:
    imported = _imported(_source(module))

    assert imported, "the parser found no import at all: the check would be vacuous"
    assert sorted(n for n in imported if _forbidden(n)) == []


def test_the_check_recognises_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import boto3\nfrom reconciler.aws import read\nfrom . import aws\n")

    assert {n for n in _imported(sample) if _forbidden(n)} == {
        "boto3",
        "reconciler.aws",
        "reconciler.aws.read",
    }


@pytest.mark.parametrize("module", PURE)
def test_importing_loads_no_aws_or_scheduler_module(module: str) -> None:
    # A fresh interpreter: this test process has boto3 loaded already (tests/conftest.py).
    probe = (
        f"import json, sys\nimport reconciler.{module}\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout))

    assert f"reconciler.{module}" in loaded
    assert "boto3" not in loaded
    assert "botocore" not in loaded
    assert "reconciler.aws" not in loaded
    assert sorted(n for n in loaded if _forbidden(n)) == []
