"""The worked example overlay (deploy/overlays/example) renders, sets what an installation must
choose (image, IAM role, git remote), keeps the git token out of git, and names exactly the
placeholders deploy/README.md's table lists.

test_kustomize.py renders it with the other overlays (every kind, hardening, strict schema);
this file checks what is particular to it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.kustomize import render

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
EXAMPLE = DEPLOY / "overlays" / "example"
GIT_TOKEN = EXAMPLE / "git-token"
DEPLOY_README = DEPLOY / "README.md"
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")
GENERIC = {"<PLACEHOLDER>"}  # the word the comments use for all of them


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = (o for o in objects if o["kind"] == kind)
    return found


def overlay_files() -> list[Path]:
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--", str(EXAMPLE.relative_to(REPO))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Files not yet committed count too; the operator's token file never does.
    found = {p for p in EXAMPLE.rglob("*") if p.is_file() and p != GIT_TOKEN / "token"}
    return sorted(found | {REPO / path for path in tracked})


def placeholders_in_overlay() -> set[str]:
    found: set[str] = set()
    for path in overlay_files():
        found |= set(PLACEHOLDER.findall(path.read_text()))
    return found - GENERIC


def placeholder_table() -> dict[str, dict[str, str]]:
    """The rows of deploy/README.md's placeholder table: each placeholder -> its row."""
    lines = DEPLOY_README.read_text().splitlines()
    (start,) = (i for i, line in enumerate(lines) if line.startswith("| placeholder |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        row = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for name in PLACEHOLDER.findall(row["placeholder"]):
            assert name not in rows, f"{name} has two rows"
            rows[name] = row
    return rows


def test_the_table_lists_every_placeholder_of_the_overlay_and_no_other() -> None:
    assert placeholders_in_overlay() == set(placeholder_table())


def test_each_row_says_where_its_placeholder_is_and_gives_an_example() -> None:
    for name, row in placeholder_table().items():
        assert row["what it is"], name
        assert row["example value"] and not PLACEHOLDER.search(row["example value"]), name
        files = re.findall(r"`(overlays/[^`]+)`", row["where it appears"])
        assert files, f"{name}: no file named"
        for file in files:
            assert name in (DEPLOY / file).read_text(), f"{name} is not in {file}"


def test_the_overlay_builds_on_the_base_and_sets_image_role_and_remote() -> None:
    """Structural, as kustomize reads it: no kubectl needed."""
    kustomization = yaml.safe_load((EXAMPLE / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../../base"]
    base = yaml.safe_load((DEPLOY / "base" / "kustomization.yaml").read_text())
    (base_image,) = base["images"]
    (image,) = kustomization["images"]
    # The base already renamed the image; an overlay's transformer sees the base's new name.
    assert image["name"] == base_image["newName"]
    assert image["newName"] == "<IMAGE_REPOSITORY>"
    assert image["digest"] == "<IMAGE_DIGEST>"
    (config,) = kustomization["configMapGenerator"]
    assert config["name"] == "reconciler-config"
    assert config["behavior"] == "merge"
    source = dict(
        line.split("=", 1) for line in (EXAMPLE / config["envs"][0]).read_text().splitlines()
    )
    assert source == {"RECONCILER_SOURCE_URL": "<DOCUMENT_REPOSITORY_URL>"}
    (patch,) = kustomization["patches"]
    account = yaml.safe_load((EXAMPLE / patch["path"]).read_text())
    assert (account["kind"], account["metadata"]["name"]) == ("ServiceAccount", "reconciler")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::<MANAGEMENT_ACCOUNT_ID>:role/reconciler"
    }
    assert "secretGenerator" not in kustomization, "the token Secret is applied on its own"


def test_the_overlay_renders_with_its_values() -> None:
    objects = render(EXAMPLE)
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "<IMAGE_REPOSITORY>@<IMAGE_DIGEST>"
    annotations = one(objects, "ServiceAccount")["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"] == (
        "arn:aws:iam::<MANAGEMENT_ACCOUNT_ID>:role/reconciler"
    )
    # The base's other annotation stays.
    assert annotations["eks.amazonaws.com/sts-regional-endpoints"] == "true"
    (config,) = (
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("reconciler-config")
    )
    assert config["data"]["RECONCILER_SOURCE_URL"] == "<DOCUMENT_REPOSITORY_URL>"
    # The rest of the configuration is the base's.
    assert config["data"]["RECONCILER_MODE"] == "apply"
    assert config["data"]["RECONCILER_SOURCE_REF"] == "main"
    assert not [o for o in objects if o["kind"] == "Secret"]
    (reference,) = (e["configMapRef"]["name"] for e in container["envFrom"])
    assert reference == config["metadata"]["name"]


def test_the_git_token_secret_is_made_from_the_operators_file(tmp_path: Path) -> None:
    copy = tmp_path / "git-token"
    shutil.copytree(GIT_TOKEN, copy)
    (copy / "token").write_text("not-a-real-token")
    (secret,) = render(copy)
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == "reconciler-git"  # as the Deployment names it
    assert secret["metadata"]["namespace"] == "reconciler"
    assert set(secret["data"]) == {"token"}


def test_no_token_is_in_git() -> None:
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--", str(GIT_TOKEN.relative_to(REPO))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert {Path(p).name for p in tracked} <= {"kustomization.yaml", ".gitignore"}
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", str(GIT_TOKEN / "token")], check=False
    )
    assert ignored.returncode == 0, "git-token/token is not ignored by git"
    kustomization = yaml.safe_load((GIT_TOKEN / "kustomization.yaml").read_text())
    (generator,) = kustomization["secretGenerator"]
    assert generator["files"] == ["token"]
    assert "literals" not in generator


def test_readme_and_deploy_kustomization_give_the_same_deployment_step() -> None:
    readme = (REPO / "README.md").read_text()
    deploy = (DEPLOY / "kustomization.yaml").read_text()
    for text in (readme, deploy):
        assert "overlays/example" in text
        assert "kubectl apply -k deploy/overlays/example" in text
        assert "deploy/README.md" in text or "README.md" in text
    assert "deploy/README.md" in readme


def test_relative_links_of_the_deploy_readme_exist() -> None:
    text = DEPLOY_README.read_text()
    for path in re.findall(r"`((?:base|overlays|iam|alerts|prometheus|grafana)/[^`\s]*)`", text):
        assert (DEPLOY / path.rstrip("/")).exists() or path.endswith("token"), path
