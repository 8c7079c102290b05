"""`--partition` of `links` and `profiles`: only AWS's partitions, each with its console host;
anything else is a usage error before any AWS call, and nothing is printed to stdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import cli

REPO = Path(__file__).resolve().parents[2]
DESIRED = str(REPO / "desired" / "accounts.yaml")
ACCESS = REPO / "tests" / "fixtures" / "access.yaml"  # every account by id: no AWS lookup


@pytest.mark.parametrize("value", ["", "aws-evil", "AWS", "aws;id", "aws\nx", "-aws", "x" * 5000])
@pytest.mark.parametrize("command", ["links", "profiles"])
def test_a_partition_aws_does_not_have_is_a_usage_error(
    offline: None, capsys: pytest.CaptureFixture[str], command: str, value: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--desired", DESIRED, f"--partition={value}"])

    assert exited.value.code != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "invalid choice" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("partition", "host"),
    [
        ("aws", "signin.aws.amazon.com"),
        ("aws-us-gov", "signin.amazonaws-us-gov.com"),
        ("aws-cn", "signin.amazonaws.cn"),
    ],
)
def test_links_go_to_the_console_of_the_partition(
    offline: None, capsys: pytest.CaptureFixture[str], partition: str, host: str
) -> None:
    assert cli.main(["links", "--desired", str(ACCESS), f"--partition={partition}"]) == 0

    links = capsys.readouterr().out.splitlines()
    assert links and all(line.startswith(f"https://{host}/switchrole?") for line in links)
