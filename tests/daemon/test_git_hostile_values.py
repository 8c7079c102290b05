"""Hostile remotes, refs, paths and files are refused before git runs, with one line each,
and nothing they carry is ever executed."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.errors import SourceError
from reconciler.source import GitSource
from tests.daemon.support import EXAMPLE_TEXT, serving_remote

PATH = "desired/accounts.yaml"
URL_RULE = "only https://, ssh://, user@host:path and file:// remotes are allowed"
REF_RULE = (
    "is not a branch or tag name: up to 255 of A-Z a-z 0-9 . _ / -, starting with a letter, "
    "digit or _, without .. or //"
)


@pytest.fixture
def remote(tmp_path: Path) -> str:
    return serving_remote(tmp_path / "repo")


def _marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


@pytest.mark.parametrize(
    "ref",
    [
        "--upload-pack=touch {marker}",
        "-c",
        "+main:refs/heads/other",
        "main:refs/heads/other",
        "main..other",
        "refs//heads",
        ".hidden",
        "main.lock",
        "main/",
        "HEAD@{1}",
        "main^",
        "ma in",
        "main\n",
        "ma\u0456n",  # a Cyrillic i: not the branch it looks like
        "",
        "a" * 256,
    ],
)
def test_refs_are_refused(remote: str, tmp_path: Path, ref: str) -> None:
    ref = ref.replace("{marker}", str(_marker(tmp_path)))
    with pytest.raises(SourceError) as refused:
        GitSource(remote, ref, PATH, tmp_path / "work").fetch()
    assert str(refused.value) == f"--source-ref {ref[:100]!r} {REF_RULE}"
    assert not _marker(tmp_path).exists()
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("ref", ["main", "release/2026-12", "v1.2.3", "refs/heads/main", "_x"])
def test_ordinary_refs_are_accepted(tmp_path: Path, ref: str) -> None:
    GitSource("file:///srv/repo.git", ref, PATH, tmp_path / "work")


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% {marker}",
        "ext::touch",
        "fd::3",
        "http://example.com/acme.git",
        "ftp://example.com/acme.git",
        "git://example.com/acme.git",
        "--upload-pack=touch",
        "-oProxyCommand=touch:x",
        "ssh://-oProxyCommand=touch/acme.git",
        "https://-x/acme.git",
        "https:///acme.git",
        "https://example.com:port/acme.git",
        "file://remotehost/srv/acme.git",
        "/srv/acme.git",
        "https://example.com/acme.git\nhost=evil.example",
        "https://example.com/" + "a" * 2100,
    ],
)
def test_remotes_are_refused(tmp_path: Path, url: str) -> None:
    url = url.replace("{marker}", str(_marker(tmp_path)))
    with pytest.raises(SourceError) as refused:
        GitSource(url, "main", PATH, tmp_path / "work").fetch()
    if len(url) > 2048 or "\n" in url or " " in url:
        expected = "--source-url is too long or contains spaces or control characters"
    else:
        expected = f"--source-url {url[:100]!r}: {URL_RULE}"
    assert str(refused.value) == expected
    assert not _marker(tmp_path).exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/aws-access.git",
        "https://x-access-token:secret@github.com:443/acme/aws-access.git",
        "ssh://git@github.com/acme/aws-access.git",
        "git@github.com:acme/aws-access.git",
        "file:///srv/acme.git",
    ],
)
def test_https_ssh_and_file_remotes_are_accepted(tmp_path: Path, url: str) -> None:
    GitSource(url, "main", PATH, tmp_path / "work")


def test_a_refused_remote_never_shows_its_credentials(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as refused:
        GitSource("http://me:s3cret@example.com/acme.git", "main", PATH, tmp_path / "work")
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "../outside.yaml", "desired/../../x", "desired//x", "a\x00b"]
)
def test_paths_outside_the_tree_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(SourceError) as refused:
        GitSource("file:///srv/acme.git", "main", path, tmp_path / "work")
    assert str(refused.value) == (
        f"--source-path {path!r} is not a file path relative to the repository root"
    )


@pytest.mark.parametrize("token", ["", "two words", "line\nbreak", "tab\there"])
def test_tokens_that_would_break_the_credential_protocol_are_refused(
    tmp_path: Path, token: str
) -> None:
    with pytest.raises(SourceError) as refused:
        GitSource("https://example.com/a.git", "main", PATH, tmp_path / "work", token=token)
    assert str(refused.value) == "the git token is empty or contains spaces or control characters"


@pytest.mark.parametrize("option", ["ssh_key_file", "known_hosts_file", "allowed_signers"])
def test_files_named_for_ssh_must_exist_and_be_plain_paths(tmp_path: Path, option: str) -> None:
    flag = {"ssh_key_file": "--git-ssh-key-file", "known_hosts_file": "--git-known-hosts-file"}
    flag_name = flag.get(option, "--allowed-signers")
    hostile = str(tmp_path / "x; touch PWNED")
    missing = str(tmp_path / "missing")
    url = "ssh://git@127.0.0.1:9/acme.git"
    with pytest.raises(SourceError) as refused:
        GitSource(url, "main", PATH, tmp_path / "work", **{option: hostile})  # type: ignore[arg-type]
    assert str(refused.value) == f"{flag_name} {hostile!r} contains spaces, % or control characters"
    with pytest.raises(SourceError) as refused:
        GitSource(url, "main", PATH, tmp_path / "work", **{option: missing})  # type: ignore[arg-type]
    assert str(refused.value) == f"{flag_name} {missing!r} is not a readable file"


def test_a_work_directory_that_looks_like_an_option_is_a_directory(
    remote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    workdir = Path(f"--upload-pack=touch {_marker(tmp_path)}")
    revision = GitSource(remote, "main", PATH, workdir).fetch()
    assert revision.text == EXAMPLE_TEXT
    assert (tmp_path / workdir / "repository.git" / "HEAD").exists()
    assert not _marker(tmp_path).exists()


def test_ssh_file_paths_reach_ssh_quoted_not_run(tmp_path: Path) -> None:
    marker = _marker(tmp_path)
    key = tmp_path / f"key';touch${{IFS}}{marker.name};'"
    key.write_text("not a key\n")
    known = tmp_path / "known_hosts"
    known.write_text("")
    source = GitSource(
        "ssh://git@127.0.0.1:9/acme.git",
        "main",
        PATH,
        tmp_path / "work",
        ssh_key_file=str(key),
        known_hosts_file=str(known),
    )
    with pytest.raises(SourceError) as refused:
        source.fetch()
    assert str(refused.value) == (
        "git fetch failed for ssh://***@127.0.0.1:9/acme.git#main: "
        "ssh: connect to host 127.0.0.1 port 9: Connection refused"
    )
    assert not list(tmp_path.rglob(marker.name))
    assert not (Path.cwd() / marker.name).exists()
    assert known.read_text() == ""
