"""Probe 5: instance.toml as a user writes it. Failed on main 98e5f6b: `resource = ""` (or
spaces) was accepted and every answer read "1,000 s for 4 regions (...)", "one  that reaches
a patient"; a `[[constraints]]` table with no `kind` was "unknown constraint kind None".
"""

from __future__ import annotations

import pytest

import optimiser


@pytest.mark.parametrize("value", ['""', '"  "'])
def test_a_blank_resource_is_refused(instance_dir, run_cli, value):
    (instance_dir / "instance.toml").write_text(f"supply = 1000\nresource = {value}\n")
    run = run_cli("solve", instance_dir)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "error: instance.toml: field 'resource': must be a non-empty string" in run.stderr


def test_a_resource_named_is_still_used(instance_dir, run_cli):
    (instance_dir / "instance.toml").write_text('supply = 1000\nresource = "ECMO circuit"\n')
    run = run_cli("solve", instance_dir)
    assert run.returncode == 0, run.stderr
    assert "1,000 ECMO circuits for 4 regions" in run.stdout, run.stdout


def test_a_constraint_table_without_kind_says_so(instance_dir):
    (instance_dir / "instance.toml").write_text("supply = 1000\n[[constraints]]\nlevel = 0.5\n")
    with pytest.raises(optimiser.InputError, match=r"constraints\[0\]: no 'kind' \(known: "):
        optimiser.load_instance(instance_dir)
