"""A token reaches the remote's own host, and never another host after a redirect."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from reconciler.core.errors import SourceError
from reconciler.source import GitSource
from tests.daemon.https_support import Recorder, recording_server, tls_context

TOKEN = "ghp_redirect0test0token"


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    monkeypatch.setenv("GIT_SSL_NO_VERIFY", "1")  # the test certificate is self-signed
    return tls_context(tmp_path)


def _source(url: str, tmp_path: Path) -> GitSource:
    return GitSource(url, "main", "desired/accounts.yaml", tmp_path / "work", token=TOKEN)


def test_the_token_is_sent_to_the_remote_itself(context: ssl.SSLContext, tmp_path: Path) -> None:
    recorder = Recorder()
    with recording_server(context, recorder) as port, pytest.raises(SourceError, match="not found"):
        _source(f"https://127.0.0.1:{port}/acme.git", tmp_path).fetch()
    assert recorder.authorizations(port)  # so the test below can see a leak if there is one


def test_a_redirect_is_not_followed_and_carries_no_token(
    context: ssl.SSLContext, tmp_path: Path
) -> None:
    recorder = Recorder()
    with recording_server(context, recorder) as other:
        elsewhere = f"https://localhost:{other}"
        with (
            recording_server(context, recorder, redirect_to=elsewhere) as port,
            pytest.raises(SourceError) as refused,
        ):
            _source(f"https://127.0.0.1:{port}/acme.git", tmp_path).fetch()
    assert str(refused.value).startswith(
        f"git fetch failed for https://127.0.0.1:{port}/acme.git#main: "
    )
    assert "302" in str(refused.value)
    assert TOKEN not in str(refused.value)
    assert [s.port for s in recorder.requests] == [port]
    assert recorder.authorizations(other) == []


def test_plain_http_is_refused_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as refused:
        _source("http://127.0.0.1:9/acme.git", tmp_path)
    assert str(refused.value) == (
        "--source-url 'http://127.0.0.1:9/acme.git': only https://, ssh://, user@host:path and "
        "file:// remotes are allowed"
    )
