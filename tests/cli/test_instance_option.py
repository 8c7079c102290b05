"""`--instance` names the ownership marker: a tag value, an IAM path element and part of a
tag key. Names AWS would refuse in any of those are a usage error, one line, before any AWS
call; so is a name in AWS's reserved `aws` prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import cli

REPO = Path(__file__).resolve().parents[2]
DESIRED = str(REPO / "desired" / "accounts.yaml")


@pytest.mark.parametrize(
    "value",
    ["", "a,b", "blue team", "aws", "AWS-prod", "x" * 65, "../etc", "$(id)", "--prune", "é"],
)
def test_an_instance_name_aws_would_refuse_is_a_usage_error(
    offline: None, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["plan", "--desired", DESIRED, f"--instance={value}"])

    assert exited.value.code == 64  # a usage error, never 2 (the plan's "changes found")
    (error,) = capsys.readouterr().err.splitlines()  # one line, no traceback
    assert error.startswith("reconciler plan: error: argument --instance: ")
    assert "is not an instance name" in error


@pytest.mark.parametrize("value", ["reconciler", "blue", "team.prod-2", "a@b", "x" * 64])
def test_names_aws_accepts_are_taken(value: str) -> None:
    args = cli._parser().parse_args(["apply", "--instance", value])
    assert args.instance == value


def test_the_environment_sets_it_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_INSTANCE", "green")
    assert cli._parser().parse_args(["run"]).instance == "green"
