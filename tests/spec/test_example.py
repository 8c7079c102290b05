"""The committed example and its JSON Schema: valid, in step with the code, wired to editors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema  # installed with moto[server], a dev dependency
import pytest
import yaml

from reconciler import cli, source

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "desired" / "accounts.yaml"
SCHEMA = ROOT / "desired" / "accounts.schema.json"


@pytest.fixture(scope="module")
def example_data() -> Any:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_example_is_valid() -> None:
    document = source.read_document(EXAMPLE)

    assert document.accounts  # it is an example of something
    assert document.groups


def test_committed_schema_is_what_the_code_prints() -> None:
    printed = json.dumps(cli.json_schema(), indent=2) + "\n"

    assert SCHEMA.read_text(encoding="utf-8") == printed, (
        "desired/accounts.schema.json is stale: run "
        "`reconciler schema > desired/accounts.schema.json`"
    )


def test_example_points_editors_at_the_schema() -> None:
    first_line = EXAMPLE.read_text(encoding="utf-8").splitlines()[0]

    assert first_line == "# yaml-language-server: $schema=./accounts.schema.json"
    assert (EXAMPLE.parent / "accounts.schema.json").is_file()


def test_schema_accepts_the_example(
    validator: jsonschema.protocols.Validator, example_data: Any
) -> None:
    errors = [error.message for error in validator.iter_errors(example_data)]

    assert errors == []


def test_schema_rejects_what_an_editor_should_flag(
    validator: jsonschema.protocols.Validator, example_data: Any
) -> None:
    misspelt = copy.deepcopy(example_data)
    misspelt["accounts"][0]["emial"] = misspelt["accounts"][0].pop("email")

    messages = sorted(error.message for error in validator.iter_errors(misspelt))

    assert messages == [
        "'email' is a required property",
        "Additional properties are not allowed ('emial' was unexpected)",
    ]
