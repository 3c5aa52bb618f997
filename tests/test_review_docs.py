"""The docs' examples that tests/test_docs.py does not run, because they are data, a synopsis or
output rather than commands, checked against the code here:

- every `triage COMMAND ... --option` written in README.md and docs/*.md is an option of
  that command (a renamed or removed option leaves no stale text behind);
- the `instance.toml` of docs/instance-format.md and the `[uncertainty]` table of
  docs/scenarios.md (and its commented alternatives) load and do what the page says;
- the `triage serve` synopsis of docs/service.md lists the command's options;
- the signature of `plan_under_uncertainty` in docs/stochastic.md is the function's;
- the saa job body of docs/stochastic.md names only options the service accepts;
- the error object of docs/service.md is the service's answer to that request;
- the output shown for `triage bedside allocate` in docs/bedside.md is what it prints.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from test_docs import ALL, REPO, Block, environment, workspace

from optimiser.cli import app

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def block(page: str, lang: str, containing: str) -> Block:
    """The one fenced block of `page` in `lang` whose body contains `containing`."""
    found = [b for b in ALL if b.page == REPO / page and b.lang == lang and containing in b.body]
    assert len(found) == 1, f"{page}: {len(found)} {lang} block(s) with {containing!r}"
    return found[0]


def command_options() -> dict[str, set[str]]:
    """Every leaf command ('solve', 'bedside allocate', ...) and its option names."""
    out: dict[str, set[str]] = {}

    def walk(command: object, path: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, sub in children.items():
                walk(sub, [*path, name])
            return
        out[" ".join(path)] = {
            o for p in command.params for o in (*p.opts, *p.secondary_opts)  # type: ignore[attr-defined]
        }

    walk(typer.main.get_command(app), [])
    return out


def written_commands(text: str) -> list[tuple[int, str, str]]:
    """(line, command, rest) for each `triage COMMAND ...` in a code span or a code line."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        spans = re.findall(r"`([^`]*)`", line)
        if re.match(r"\s*(\$ )?(\.venv/bin/)?triage ", line):
            spans.append(line)
        for span in spans:
            for m in re.finditer(r"\btriage (-*[a-z-]+)(?: ([a-z-]+))?", span):
                rest = re.split(r"\btriage |&&|\|", span[m.end():])[0]
                found.append((number, m.group(1), f"{m.group(2) or ''} {rest}"))
    return found


# `triage service on http://...`: the server's first line of output, not a command
NOT_COMMANDS = {"service"}


def stale_commands(text: str, where: str) -> tuple[int, list[str]]:
    """(commands checked, each `triage ...` of `text` naming a command or option that does
    not exist, with its place)."""
    options = command_options()
    groups = {name.split()[0] for name in options if " " in name}
    top = {name.split()[0] for name in options}
    root = {o for p in typer.main.get_command(app).params for o in (*p.opts, *p.secondary_opts)}
    checked, stale = 0, []
    for line, name, rest in written_commands(text):
        here = f"{where}:{line}: triage {name}"
        if name.startswith("-"):  # `triage --version`: an option of the program itself
            if name not in root:
                stale.append(here)
            continue
        if name not in top:
            if name not in NOT_COMMANDS:
                stale.append(f"{here} (no such command)")
            continue
        if name in groups:
            sub = rest.split()[0] if rest.split() else ""
            if f"{name} {sub}" not in options:  # the group named alone (`triage bedside`)
                if re.search(r"(?<![\w-])--?[a-zA-Z]", rest):
                    stale.append(f"{here} {sub} (no such command)")
                continue
            name = f"{name} {sub}"
        checked += 1
        for option in re.findall(r"(?<![\w-])(--?[a-zA-Z][a-z0-9-]*)", rest):
            if option not in options[name] | {"--help"}:
                stale.append(f"{where}:{line}: triage {name} {option}")
    return checked, stale


def test_every_command_and_option_the_docs_write_exists() -> None:
    checked, stale = 0, []
    for page in DOCS:
        n, found = stale_commands(page.read_text(encoding="utf-8"), str(page.relative_to(REPO)))
        checked, stale = checked + n, stale + found
    assert checked >= 100  # the docs' commands are still found
    assert not stale, "commands or options that do not exist:\n" + "\n".join(stale)


def test_the_stale_command_check_can_fail() -> None:
    text = "\n".join([
        "Run `triage solve DIR --supply 3` or `triage bedside` or `triage --version`.",
        "Run `triage solve DIR --vary supply=1:2`.",  # an option of sweep, not solve
        "Run `triage bedside allocte DIR --out x`.",
        "Run `triage solver DIR`.",
        "Run `triage --versions`.",
    ])
    checked, stale = stale_commands(text, "page")
    assert checked == 2
    assert stale == [
        "page:2: triage solve --vary",
        "page:3: triage bedside allocte (no such command)",
        "page:4: triage solver (no such command)",
        "page:5: triage --versions",
    ]


def test_the_instance_toml_example_loads_as_described(tmp_path: Path) -> None:
    import optimiser

    folder = tmp_path / "example"
    shutil.copytree(REPO / "instances" / "pugh2021", folder)
    example = block("docs/instance-format.md", "toml", 'name = "example"')
    (folder / "instance.toml").write_text(example.body, encoding="utf-8")
    instance = optimiser.load_instance(folder)
    assert instance.name == "example" and instance.supply == 1000
    assert instance.horizon_days == 14
    assert (instance.regions["survival_with"] == 0.5).all()  # [defaults] fills the columns
    assert (instance.regions["survival_without"] == 0.05).all()
    result = optimiser.solve(instance)  # the [[constraints]] table is active by default
    assert any("coverage_floor" in c for c in result.constraints), result.constraints


def uncertainty_instance(tmp_path: Path, table: str) -> Path:
    folder = tmp_path / "bt"
    shutil.copytree(REPO / "instances" / "backtest-us-vent-apr2020", folder)
    toml = folder / "instance.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n" + table, encoding="utf-8")
    return folder


def test_the_uncertainty_table_example_generates_its_scenarios(tmp_path: Path) -> None:
    from optimiser.multiperiod import load_multiperiod
    from optimiser.scenarios import instance_scenarios

    table = block("docs/scenarios.md", "toml", "[uncertainty]").body
    inst = load_multiperiod(uncertainty_instance(tmp_path / "lognormal", table))
    scenarios = instance_scenarios(inst)
    assert len(scenarios.ids) == 200 and scenarios.sampled

    # the commented alternatives, uncommented as their comments say
    lines = [ln for ln in table.splitlines() if not ln.startswith(("base ", "#"))]
    forecast = re.search(r'# (forecast = "[^"]+")', table)
    forecasts = re.search(r"# (forecasts = \[[^\]]+\])", table)
    weights = re.search(r"# (weights = \[[^\]]+\])", table)
    assert forecast and forecasts and weights
    intervals = "\n".join(lines).replace('"lognormal"', '"intervals"')
    intervals = re.sub(r"\n(sigma0|sigma_growth|peak_shift_sd|center) =.*", "", intervals)
    inst = load_multiperiod(uncertainty_instance(tmp_path / "intervals",
                                                 intervals + "\n" + forecast.group(1)))
    assert len(instance_scenarios(inst).ids) == 200
    mix = "\n".join(ln for ln in intervals.splitlines() if not ln.startswith("scenarios"))
    mix = mix.replace('"intervals"', '"forecasts"')
    inst = load_multiperiod(uncertainty_instance(
        tmp_path / "forecasts", f"{mix}\n{forecasts.group(1)}\n{weights.group(1)}"))
    mixed = instance_scenarios(inst)
    assert len(mixed.ids) == 2 and not mixed.sampled  # each forecast is one scenario


def test_the_serve_synopsis_lists_the_commands_options() -> None:
    synopsis = block("docs/service.md", "", "triage serve [").body
    written = set(re.findall(r"--[a-z-]+", synopsis))
    assert written == command_options()["serve"] - {"--help"}


def test_the_plan_under_uncertainty_signature_is_the_functions() -> None:
    """The page's signature, read as a Python def: the same parameters, in the same order and
    kind, with the same defaults (it lacked relax_recourse, deadline and method before)."""
    from optimiser.stochastic import plan_under_uncertainty

    text = block("docs/stochastic.md", "text", "plan_under_uncertainty(").body
    written = ast.parse(f"def {text.strip()}: pass").body[0]
    assert isinstance(written, ast.FunctionDef)
    actual = inspect.signature(plan_under_uncertainty)
    args = written.args
    positional = [a.arg for a in args.args]
    keyword = [a.arg for a in args.kwonlyargs]
    assert positional + keyword == list(actual.parameters)
    for name in keyword:
        assert actual.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    defaults = dict(zip(positional[len(positional) - len(args.defaults):],
                        args.defaults, strict=True))
    defaults |= {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
    for name, parameter in actual.parameters.items():
        if parameter.default is inspect.Parameter.empty:
            assert name not in defaults, name
        else:
            assert ast.literal_eval(defaults[name]) == parameter.default, name
    assert ast.unparse(written.returns) == actual.return_annotation == "StochasticResult"


def test_the_saa_job_body_names_only_options_the_service_accepts() -> None:
    from optimiser.service.saa_schemas import SaaJob, SaaOptions, SaaRequest

    body = json.loads(block("docs/stochastic.md", "json", '"kind": "saa"').body)
    assert set(body) <= set(SaaJob.model_fields)
    assert set(body["request"]) <= set(SaaRequest.model_fields)
    assert set(body["request"]["options"]) <= set(SaaOptions.model_fields)
    SaaOptions.model_validate(body["request"]["options"])


def test_the_error_example_is_the_services_answer() -> None:
    """What POST /v1/solve checks before it accepts a request (the service's own validation,
    in process): the page's error object, to the letter."""
    from optimiser.service.errors import ApiError
    from optimiser.service.tasks import validate_solve

    shown = json.loads(block("docs/service.md", "json", '"invalid_input"').body)
    request = {
        "supply": 10,
        "regions": [
            {"region": "A", "population": 100, "capacity": 0, "peak_demand": 5},
            {"region": "B", "population": -5, "capacity": 0, "peak_demand": 5},
        ],
    }
    with pytest.raises(ApiError) as refused:
        validate_solve(request)
    assert refused.value.status == shown["error"]["status"] == 422
    assert refused.value.payload() == shown


def test_the_bedside_output_shown_is_what_allocate_prints(tmp_path: Path) -> None:
    command = block("docs/bedside.md", "sh", "allocate instances/bedside-synthetic --out wave")
    shown = block("docs/bedside.md", "text", "horizon: 296 candidates")
    assert command.line < shown.line
    args = command.body.split()[1:]
    proc = subprocess.run([sys.executable, "-m", "optimiser", *args], cwd=workspace(tmp_path),
                          capture_output=True, text=True, timeout=300, env=environment())
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = proc.stdout.splitlines()
    for line in shown.body.splitlines():  # each shown line begins a printed one (abridged)
        assert any(p.startswith(line) for p in printed), (line, printed[:6])


SECTION_REFERENCE = re.compile(
    r"\b(?:docs/)?([\w-]+\.md)[,:]?\s*\(?\s*\"([A-Z\[][^\"]{2,60})\"", re.S
)


def section_references(text: str) -> list[tuple[int, str, str]]:
    """(line, page, section) for each `docs/PAGE.md, "Section"` in `text`."""
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1), " ".join(m.group(2).split()))
        for m in SECTION_REFERENCE.finditer(text)
    ]


def missing_sections(text: str, where: str) -> list[str]:
    """The section references of `text` that name no heading (nor bold term) of their page."""
    missing = []
    for line, page, section in section_references(text):
        path = REPO / "docs" / page
        if not path.is_file():
            continue
        doc = path.read_text(encoding="utf-8")
        headings = [h.lstrip("#").strip().lower() for h in doc.splitlines() if h.startswith("#")]
        flat = " ".join(doc.split()).lower()
        wanted = section.lower()
        if not any(wanted in h for h in headings) and f"*{wanted}" not in flat:
            missing.append(f'{where}:{line}: docs/{page}, "{section}"')
    return missing


def test_every_docs_section_the_code_names_exists() -> None:
    """Docstrings, comments and help say where a rule is written (docs/multiperiod.md,
    "Waiting"): the section must exist, or the pointer leads nowhere."""
    files = [*(REPO / "optimiser").rglob("*.py"), *(REPO / "models").rglob("*.py"),
             *(REPO / "tests").rglob("*.py"), *DOCS]
    checked, missing = 0, []
    for path in files:
        text = path.read_text(encoding="utf-8")
        checked += len(section_references(text))
        missing += missing_sections(text, str(path.relative_to(REPO)))
    assert checked >= 80  # the references are still found
    assert not missing, "sections that do not exist:\n" + "\n".join(missing)


def test_the_section_check_can_fail() -> None:
    page = "docs/scenarios"  # split, so that this file names no missing section itself
    text = f'See docs/multiperiod.md, "Waiting" and ({page}' + '.md, "Metrics").'
    assert missing_sections(text, "x") == [f'x:1: {page}' + '.md, "Metrics"']
