"""What the simulation middlewares read from and write on the wire: the service and operation
of a request, and AWS errors in the two protocols the reconciler's services speak.

IAM and STS speak the query protocol (form-encoded requests, XML errors); Organizations speaks
JSON (the operation in X-Amz-Target, errors as `__type`).
"""

from __future__ import annotations

import html
import http
import json
import re
import urllib.parse
from typing import Any

XML_SERVICES = ("iam", "sts")
JSON_CONTENT = "application/x-amz-json-1.1"


def identify(environ: dict[str, Any], body: bytes) -> tuple[str, str]:
    """The service and operation of a request: JSON protocols name it in X-Amz-Target, query
    protocols (IAM, STS) in the Action form field; the service is in the signature scope."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
    service = scope.group(1) if scope else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    return service, action or environ.get("PATH_INFO", "")


def status_line(code: int) -> str:
    return f"{code} {http.HTTPStatus(code).phrase}"


def error_body(service: str, code: str, message: str) -> tuple[str, bytes]:
    """The content type and body of an AWS error `code` from `service`."""
    if service in XML_SERVICES:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{html.escape(message)}</Message></Error>"
            "<RequestId>simulated</RequestId></ErrorResponse>"
        )
        return "text/xml", body.encode()
    return JSON_CONTENT, json.dumps({"__type": code, "Message": message}).encode()
