"""Leftovers 2: instance.toml's documentation tables hold what docs/instance-format.md says:
every [assumptions] value is text, every [provenance] value text or a list of texts. A number,
a date or a nested table was kept unread; it is now refused, naming the file and the field."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

import optimiser
from optimiser.errors import InputError

REPO = Path(__file__).resolve().parents[1]
PUGH = REPO / "instances" / "pugh2021"


def with_toml(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "inst"
    shutil.copytree(PUGH, folder)
    with (folder / "instance.toml").open("a") as handle:
        handle.write("\n" + text)
    return folder


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[assumptions.more]\nbeds = 3\n", "field 'assumptions.more': must be text"),
        (
            "[provenance]\ninputs = ['a.csv', 2]\n",
            "field 'provenance.inputs': must be text or a list of texts",
        ),
        ("[provenance]\nbuilt = 2020-04-01\n", "field 'provenance.built': must be text"),
    ],
)
def test_a_value_that_is_not_text_is_refused_with_file_and_field(
    tmp_path: Path, toml: str, message: str
) -> None:
    folder = with_toml(tmp_path, toml)
    with pytest.raises(InputError) as caught:
        optimiser.load_instance(folder)
    [problem] = caught.value.problems
    assert problem.file == "instance.toml" and problem.message.startswith(message), problem


def test_a_number_among_the_assumptions_is_named(tmp_path: Path) -> None:
    text = (PUGH / "instance.toml").read_text()
    folder = with_toml(tmp_path, "")
    text = text.replace("[assumptions]\n", "[assumptions]\nbeds = 3\n")
    (folder / "instance.toml").write_text(text)
    with pytest.raises(InputError) as caught:
        optimiser.load_instance(folder)
    assert str(caught.value) == (
        "instance.toml: field 'assumptions.beds': must be text (a documentation table), got 3"
    )


def test_text_and_lists_of_text_are_kept(tmp_path: Path) -> None:
    folder = with_toml(tmp_path, "[provenance]\nscript = 'x.py'\ninputs = ['a.csv', 'b.csv']\n")
    instance = optimiser.load_instance(folder)
    assert instance.extra["provenance"] == {"script": "x.py", "inputs": ["a.csv", "b.csv"]}
    assert all(isinstance(v, str) for v in instance.extra["assumptions"].values())


def test_every_shipped_instance_keeps_to_the_rule() -> None:
    """The rule is what the shipped instances already do (so none of them is refused)."""
    for toml in sorted((REPO / "instances").glob("*/instance.toml")):
        meta = tomllib.loads(toml.read_text())
        for value in meta.get("assumptions", {}).values():
            assert isinstance(value, str), toml
        for value in meta.get("provenance", {}).values():
            assert isinstance(value, str) or all(isinstance(v, str) for v in value), toml


def test_json_names_the_field_and_the_service_its_path() -> None:
    from optimiser.service.errors import problem_field

    payload = optimiser.instance_to_dict(optimiser.load_instance(PUGH))
    payload["assumptions"] = {"survival": "as Table 1", "beds": {"icu": 3}}
    with pytest.raises(InputError) as caught:
        optimiser.instance_from_dict(payload)
    [problem] = caught.value.problems
    assert str(problem) == (
        "field 'assumptions.beds': must be text (a documentation table), got {'icu': 3}"
    )
    assert problem_field(problem) == "assumptions.beds"


def test_the_service_schema_says_the_same() -> None:
    from optimiser.instance_rules import DOC_TABLES
    from optimiser.service.schemas import InstanceFields

    schema = InstanceFields.model_json_schema()["properties"]
    assert schema["assumptions"]["additionalProperties"] == {"type": "string"}
    assert {"type": "array", "items": {"type": "string"}} in (
        schema["provenance"]["additionalProperties"]["anyOf"]
    )
    assert set(DOC_TABLES) == {"assumptions", "provenance"}
