"""An organization in another partition (AWS GovCloud: `arn:aws-us-gov:`): every ARN, trust
principal and link is built in the partition of the credentials; the simulator refuses ARNs of
the `aws` partition there, as AWS does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler import cli
from tests.aws.support import EXAMPLE_TEXT, Aws, failures, run_pass
from tests.faults.support import CREATED_NAMES
from tests.simulation.strict import StrictAws

GOV = "aws-us-gov"
GOV_TEXT = EXAMPLE_TEXT.replace("arn:aws:iam::aws:policy/", f"arn:{GOV}:iam::aws:policy/")


def test_apply_converges_in_govcloud(aws: Aws, strict: StrictAws) -> None:
    strict.settings.partition = GOV
    aws.partition = GOV
    assert aws.client("sts").get_caller_identity()["Arn"].startswith(f"arn:{GOV}:")

    result = run_pass(aws.url, GOV_TEXT, apply=True)

    assert result.converged, failures(result)
    assert strict.injected["wrong_partition"] == 0
    account_id = aws.account_id("aws+acme-dev@example.com")
    role = aws.client("iam", account_id).get_role(RoleName="AccountAccessRole")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:{GOV}:iam::123456789012:root"}
    grants = aws.iam.get_group_policy(GroupName="AcmeDevelopers", PolicyName="reconciler-grants")
    document = grants["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert all(arn.startswith(f"arn:{GOV}:iam::") for arn in document["Statement"][0]["Resource"])
    assert run_pass(aws.url, GOV_TEXT, apply=False).plan.empty


def test_links_and_profiles_use_the_partition_of_the_credentials(
    aws: Aws, strict: StrictAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict.settings.partition = GOV
    assert run_pass(aws.url, GOV_TEXT, apply=True).converged
    path = tmp_path / "accounts.yaml"
    path.write_text(GOV_TEXT)

    assert cli.main(["links", "--endpoint-url", aws.url, "--desired", str(path)]) == 0
    links = capsys.readouterr().out.splitlines()
    assert len(links) >= len(CREATED_NAMES)
    assert all(line.startswith("https://signin.amazonaws-us-gov.com/switchrole?") for line in links)

    assert (
        cli.main(["profiles", "--endpoint-url", aws.url, "--desired", str(path), "--user", "alice"])
        == 0
    )
    profiles = capsys.readouterr().out
    assert f"role_arn = arn:{GOV}:iam::" in profiles
    assert f"mfa_serial = arn:{GOV}:iam::123456789012:mfa/alice" in profiles
    assert "arn:aws:" not in profiles
