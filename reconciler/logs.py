"""Logging: one JSON object per line (or plain text), with the pass id and revision on each
line, and credentials masked wherever they might appear (botocore's debug output included).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Any

PASS_ID: contextvars.ContextVar[str] = contextvars.ContextVar("pass_id", default="")
REVISION: contextvars.ContextVar[str] = contextvars.ContextVar("revision", default="")

_SECRETS = [
    # Access key ids (long-term AKIA, temporary ASIA).
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{12,}\b"), r"\1****"),
    # Secret keys and session tokens in XML, JSON, query strings and headers.
    (
        re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*(</)", re.IGNORECASE),
        r"\1****\3",
    ),
    # The value may be a bytes literal (b'...'), as in botocore's debug dump of request
    # headers: without `b?` here the mask took only the `b` and left the token itself.
    (
        re.compile(
            r"""(["']?(?:aws_)?(?:secret_?access_?key|session_?token|SecretAccessKey|SessionToken|"""
            r"""Token|Password)["']?\s*[:=]\s*(?:b?["'])?)[^"',\s}&]+""",
            re.IGNORECASE,
        ),
        r"\1****",
    ),
    (
        re.compile(
            r"(X-Amz-Security-Token['\"]?\s*[:=]\s*['\"]?b?['\"]?)[^'\",\s}&]+", re.IGNORECASE
        ),
        r"\1****",
    ),
    (re.compile(r"(Signature=)[0-9a-f]+", re.IGNORECASE), r"\1****"),
    (re.compile(r"(?<=://)[^/@\s]+@"), "***@"),  # user:token@ in URLs
]


def redact(text: str) -> str:
    """The text with every credential-looking value masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pass_id": PASS_ID.get(),
            "revision": REVISION.get(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        # Masked before encoding too: json.dumps escapes the quotes of a JSON body inside a
        # message (botocore's debug dump of an SSO or other JSON response), and the patterns,
        # written for `"key": "value"`, no longer recognise `\"key\": \"value\"`.
        return redact(json.dumps(_masked(entry), default=str))


def _masked(value: Any) -> Any:
    """The value with every string in it redacted, through lists and dicts."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{k}={v}" for k, v in (("pass", PASS_ID.get()), ("rev", REVISION.get()[:12])) if v
        )
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        stamp = self.formatTime(record)
        line = f"{stamp} {record.levelname:<7} {record.getMessage()} {fields} {context}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line.rstrip())


def configure(fmt: str = "json", level: str = "info") -> None:
    """Send every log record to stdout, one line each, masked."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # botocore and urllib3 narrate every request at INFO/DEBUG; keep them to warnings unless
    # debugging (set either way: configuring twice must not keep the first choice).
    quiet = logging.NOTSET if level.lower() == "debug" else logging.WARNING
    for noisy in ("botocore", "boto3", "urllib3", "apscheduler"):
        logging.getLogger(noisy).setLevel(quiet)
