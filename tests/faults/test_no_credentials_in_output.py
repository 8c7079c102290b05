"""Credentials never reach the daemon's logs or metrics, even at debug level, where botocore
narrates every request and response, and even when an AWS error message echoes them."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from moto.sts.models import sts_backends

from reconciler import logs
from tests.aws.support import Aws, run_pass
from tests.daemon.support import Daemon
from tests.faults.support import Endpoint, document
from tests.simulation.faults import Fault

KEY = "AKIAFAKEFAKEFAKE1234"
SECRET = "SECRETsecretSECRETsecret+/SECRETsecret12"
TOKEN = "FwoGZXIvYXdzEFAKEsessionTOKENsessionTOKEN/x+y0123456789abcdefFAKEtokenTAIL=="
# What real AWS echoes in a SignatureDoesNotMatch message: the canonical request, with the
# session token among its headers, and the access key id.
ECHOING = (
    "The request signature we calculated does not match the signature you provided. "
    "The Canonical String for this request should have been 'POST\n/\n\n"
    f"host:127.0.0.1\nx-amz-date:20250101T000000Z\nx-amz-security-token:{TOKEN}\n' "
    f"(AWSAccessKeyId: {KEY})"
)


def _issued() -> list[str]:
    """Every temporary credential the simulator handed out for AssumeRole (it runs in this
    process: moto keeps them in its STS backends)."""
    found = []
    for by_partition in sts_backends.values():
        for backend in by_partition.values():
            for role in backend.assumed_roles:
                found += [role.access_key_id, role.secret_access_key, role.session_token]
    return found


def _leaks(text: str, secrets: list[str]) -> list[str]:
    """Secrets (or any 12 characters in a row of one) found in the text."""
    leaks = [
        secret
        for secret in secrets
        if any(secret[i : i + 12] in text for i in range(len(secret) - 11))
    ]
    leaks += re.findall(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", text)
    return leaks


def test_credentials_are_masked_in_debug_logs_and_metrics(
    faulty: Endpoint, fresh: Aws, tmp_path: Path
) -> None:
    assert run_pass(faulty.url, apply=True).converged
    denied = fresh.account_id("aws+acme-dev@example.com")
    faulty.inject(
        Fault("organizations:ListTagsForResource", code="TooManyRequestsException", fraction=0.3),
        Fault(
            "iam:GetAccountAuthorizationDetails",
            code="SignatureDoesNotMatch",
            status=403,
            times=3,
            message=ECHOING,
        ),
        Fault(
            "sts:AssumeRole",
            code="AccessDenied",
            status=403,
            body_contains=denied,
            message=f"not authorized to assume a role in {denied} with {KEY}",
        ),
    )
    before = set(_issued())
    daemon = Daemon(
        ["run", "--desired", str(document(tmp_path)), "--log-level", "debug"],
        faulty.url,
        tmp_path,
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_SESSION_TOKEN=TOKEN,
        RECONCILER_INTERVAL="1",
    )
    try:
        daemon.wait_for_passes(2, timeout=90)
        _, metrics = daemon.get("/metrics")
    finally:
        code, _ = daemon.stop()
    output = daemon.output()
    issued = [c for c in _issued() if c not in before]

    assert code == 0
    # The run exercised what could leak: botocore's debug narration, assumed roles, the
    # injected errors with their echoing messages, throttling retries.
    assert '"logger": "botocore' in output
    assert "SignatureDoesNotMatch" in output and "AccessDenied" in output
    assert faulty.injector.injected["iam:GetAccountAuthorizationDetails"] == 3
    assert len(issued) >= 3 * 3  # three members' key, secret and token (cached across passes)
    assert "****" in output  # and masking did happen
    assert _leaks(output, [KEY, SECRET, TOKEN, *issued]) == []
    assert _leaks(metrics, [KEY, SECRET, TOKEN, *issued]) == []


# Shapes in which credentials reach a log line: botocore's debug dumps of request headers
# (bytes values), of XML and JSON response bodies, of canonical requests; config reprs;
# query strings; error messages.
SHAPES = [
    f"headers={{'X-Amz-Security-Token': b'{TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 "
    f"Credential={KEY}/20250101/us-east-1/sts/aws4_request'}}",
    f"Response body: b'<Credentials><AccessKeyId>{KEY}</AccessKeyId><SecretAccessKey>{SECRET}"
    f"</SecretAccessKey><SessionToken>{TOKEN}</SessionToken></Credentials>'",
    f"""Response body: b'{{"roleCredentials":{{"accessKeyId":"{KEY}","""
    f""""secretAccessKey":"{SECRET}","sessionToken":"{TOKEN}"}}}}'""",
    f"CanonicalRequest:\nPOST\n/\n\nhost:sts.amazonaws.com\nx-amz-security-token:{TOKEN}\n",
    f"{{'aws_access_key_id': '{KEY}', 'aws_secret_access_key': '{SECRET}', "
    f"'aws_session_token': '{TOKEN}'}}",
    f"Action=GetSessionToken&SessionToken={TOKEN}&SecretAccessKey={SECRET}",
    f"An error occurred (SignatureDoesNotMatch): {ECHOING}",
]


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_of_credential_is_masked(
    fmt: str, shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.configure(fmt, "debug")
    try:
        logging.getLogger("botocore.endpoint").debug("%s", shape)
        logging.getLogger("reconciler").error("failed", extra={"fields": {"errors": [shape]}})
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    written = capsys.readouterr().out
    assert written.count("****") >= 2
    assert _leaks(written, [KEY, SECRET, TOKEN]) == []
