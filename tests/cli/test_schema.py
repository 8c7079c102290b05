"""`reconciler schema`: the document's JSON Schema, for editors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # installed with moto[server], a dev dependency
import pytest

from reconciler import cli


def test_schema_is_json_describing_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["schema"])

    schema = json.loads(capsys.readouterr().out)
    assert status == 0
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {"organization", "access", "accounts", "groups", "policy"}
    assert set(schema["required"]) == {"organization", "access"}
    assert schema["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_is_printed_as_the_committed_file_is_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli.main(["schema"])

    assert capsys.readouterr().out == json.dumps(cli.json_schema(), indent=2) + "\n"


def test_schema_needs_no_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["schema", "--desired", str(tmp_path / "missing.yaml")])

    assert status == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("reconciler desired state")
