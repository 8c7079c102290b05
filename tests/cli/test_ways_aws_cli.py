"""The profiles `reconciler profiles` writes, used by the real AWS CLI against the simulator:
the CLI asks for the MFA code of the device the profile names, assumes the role, and is the
role in the right account."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from reconciler import cli
from tests.aws.support import Aws
from tests.cli import test_ways_documents as documents

REPO = Path(__file__).resolve().parents[2]
# Its own virtualenv (`make test` builds it): awscli pins botocore exactly, and would move the
# product's boto3 if it shared the project's.
AWS_CLI = REPO / ".venv" / "tools" / "awscli" / "bin" / "aws"
MANAGEMENT = "123456789012"  # the simulator's management account, where alice's user lives

DOCUMENT = f"""\
organization:
  management_account_id: "{MANAGEMENT}"

access:
  roles:
    - name: DeveloperRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]

accounts:
  - name: workloads
    email: aws+workloads@example.com
    roles: [DeveloperRole]

groups:
  - name: Developers
    users: [alice]
    grants:
      - {{account: workloads, role: DeveloperRole}}
"""


@pytest.fixture
def aws_cli() -> Path:
    if not AWS_CLI.exists():
        pytest.fail(f"{AWS_CLI} is missing: `make test` installs it (target {AWS_CLI})")
    return AWS_CLI


def test_the_aws_cli_assumes_the_role_a_generated_profile_names(
    aws: Aws, aws_cli: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired = documents.write(tmp_path, DOCUMENT)
    assert cli.main(["apply", "--desired", str(desired), "--endpoint-url", aws.url]) == 0
    workloads = aws.account_id("aws+workloads@example.com")
    keys = aws.iam.create_access_key(UserName="alice")["AccessKey"]
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[alice-keys]\n"
        f"aws_access_key_id = {keys['AccessKeyId']}\n"
        f"aws_secret_access_key = {keys['SecretAccessKey']}\n",
        encoding="utf-8",
    )
    profiles = [
        *("profiles", "--desired", str(desired), "--endpoint-url", aws.url),
        *("--user", "alice", "--source-profile", "alice-keys", "--output", str(tmp_path / "aws")),
    ]
    assert cli.main(profiles) == 0  # the new account's id is looked up in Organizations
    capsys.readouterr()

    called = subprocess.run(
        [str(aws_cli), "sts", "get-caller-identity", "--profile", "workloads-developer"],
        input="123456\n",  # the MFA code, read from stdin as there is no terminal
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,  # no controlling terminal: the prompt falls back to stdin
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )

    assert called.returncode == 0, called.stderr
    assert f"Enter MFA code for arn:aws:iam::{MANAGEMENT}:mfa/alice" in called.stderr
    identity = json.loads(called.stdout)
    assert identity["Account"] == workloads
    assert identity["Arn"].startswith(f"arn:aws:sts::{workloads}:assumed-role/DeveloperRole/")
