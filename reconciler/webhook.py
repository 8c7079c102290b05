"""`POST /hooks/git`: a push to the followed branch starts a pass at once.

GitHub signs the raw body with the shared secret (`X-Hub-Signature-256: sha256=<hex HMAC>`);
GitLab sends the secret itself (`X-Gitlab-Token`). Both are compared in constant time, and
nothing of the body is looked at before it is authentic. The body is read only when its
`Content-Length` is given and at most `MAX_BODY`; a request is refused with one word, and why
is logged from a fixed text, never from what the client sent.

`Hook.handle` takes a WSGI environ and says what to answer, whether a pass should start, and how
the request counts in `reconciler_triggers_total` (accepted, rejected, or not at all: a ping, a
push to another ref, another event).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("reconciler")

PATH = "/hooks/git"
MAX_BODY = 1024 * 1024  # far above any push event; a larger body is refused unread
_LENGTH = re.compile(r"[0-9]{1,16}")  # ASCII digits: int() takes "1_0", " 1"
GITHUB_PUSH = "push"
GITLAB_PUSH = "Push Hook"


@dataclass(frozen=True)
class Answer:
    """What to answer one request, and what it starts."""

    status: str
    body: str
    start: bool = False  # start a pass
    counted: str | None = None  # "accepted", "rejected", or None: counted nowhere
    headers: tuple[tuple[str, str], ...] = ()


ACCEPTED = Answer("202 Accepted", "accepted\n", start=True, counted="accepted")
IGNORED = Answer("202 Accepted", "ignored\n")
NOT_ALLOWED = Answer("405 Method Not Allowed", "method not allowed\n", headers=(("Allow", "POST"),))
UNAUTHORIZED = Answer("401 Unauthorized", "unauthorized\n", counted="rejected")
LENGTH_REQUIRED = Answer("411 Length Required", "length required\n", counted="rejected")
TOO_LARGE = Answer("413 Content Too Large", "too large\n", counted="rejected")
BAD_REQUEST = Answer("400 Bad Request", "bad request\n", counted="rejected")


@dataclass(frozen=True)
class Hook:
    """The endpoint for one daemon: its shared secret and the branch it follows (a name, as
    `--source-ref` gives it, or a full ref)."""

    secret: bytes = field(repr=False)
    ref: str

    @property
    def followed(self) -> str:
        return self.ref if self.ref.startswith("refs/") else f"refs/heads/{self.ref}"

    def handle(self, environ: dict[str, Any]) -> Answer:
        if environ.get("REQUEST_METHOD") != "POST":
            return NOT_ALLOWED
        length = environ.get("CONTENT_LENGTH") or ""
        if not length:
            return _refused(LENGTH_REQUIRED, "no Content-Length")
        if not _LENGTH.fullmatch(length):
            return _refused(BAD_REQUEST, "a Content-Length that is not a number")
        if int(length) > MAX_BODY:
            return _refused(TOO_LARGE, "a body over 1 MiB")
        body = _read(environ, int(length))
        if body is None:
            return _refused(BAD_REQUEST, "a body shorter than its Content-Length")
        platform = self._authentic(environ, body)
        if platform is None:
            return _refused(UNAUTHORIZED, "no valid signature or token")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: JSON nested beyond the stack
            return _refused(BAD_REQUEST, f"a signed {platform} request whose body is not JSON")
        return self._event(platform, environ, payload)

    def _authentic(self, environ: dict[str, Any], body: bytes) -> str | None:
        """ "GitHub" or "GitLab" when the request carries that platform's proof of the secret."""
        signature = environ.get("HTTP_X_HUB_SIGNATURE_256")
        if signature is not None:
            digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            expected = f"sha256={digest}".encode()
            return "GitHub" if hmac.compare_digest(expected, _raw(signature)) else None
        token = environ.get("HTTP_X_GITLAB_TOKEN")
        if token is not None:
            return "GitLab" if hmac.compare_digest(self.secret, _raw(token)) else None
        return None

    def _event(self, platform: str, environ: dict[str, Any], payload: Any) -> Answer:
        if platform == "GitHub":
            event = environ.get("HTTP_X_GITHUB_EVENT", "")
            push = event == GITHUB_PUSH
        else:
            event = environ.get("HTTP_X_GITLAB_EVENT", "")
            push = event == GITLAB_PUSH
        if not push:  # a ping, or an event the hook should not have been sent
            log.info("%s webhook event %r: nothing to do", platform, event[:64])
            return IGNORED
        ref = payload.get("ref") if isinstance(payload, dict) else None
        if not isinstance(ref, str):
            return _refused(BAD_REQUEST, f"a signed {platform} push without a ref")
        if ref != self.followed:
            log.info("%s push to %r, not %s: nothing to do", platform, ref[:256], self.followed)
            return IGNORED
        log.info("%s push to %s: a pass starts", platform, self.followed)
        return ACCEPTED


def _read(environ: dict[str, Any], length: int) -> bytes | None:
    """The body, or None when the client sent less, stalled or went away."""
    try:
        body: bytes = environ["wsgi.input"].read(length) if length else b""
    except OSError:  # the connection's idle timeout or deadline; a reset
        return None
    return body if len(body) == length else None


def _raw(header: str) -> bytes:
    """A header's bytes as sent: WSGI gives them decoded as Latin-1."""
    return header.encode("latin-1", "replace")


def _refused(answer: Answer, why: str) -> Answer:
    log.warning("webhook request refused: %s", why)
    return answer
