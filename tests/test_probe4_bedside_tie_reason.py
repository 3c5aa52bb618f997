"""Probe 4: six identical patients, four free units. Those left without a unit were told "served
with the same benefit: T01 (ranked 3), T02 (ranked 1), ... (ties go to the reserves'
beneficiaries, then to the higher priority)" -- but every priority score was the same: the
seeded lottery alone ordered them, and the reason never said so (docs/bedside.md: the reason is
what the officer tells a patient's family). Failed on main 4dd34f7.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from optimiser.bedside import allocate, load_inputs

REPO = Path(__file__).resolve().parents[1]


def _identical_patients(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    shutil.copytree(REPO / "instances" / "bedside-snapshot", case)
    header, *rows = (case / "patients.csv").read_text().splitlines()
    row = next(r for r in rows if r.startswith("P0005,"))
    lines = [header] + [row.replace("P0005", f"T{k:02d}", 1) for k in range(1, 7)]
    (case / "patients.csv").write_text("\n".join(lines) + "\n")
    return case


def test_a_tie_of_benefit_and_priority_names_the_lottery(tmp_path):
    result = allocate(load_inputs(_identical_patients(tmp_path)), price=False, protocols=False)
    table = result.patients
    served = sorted(table.index[table["decision"] == "unit"])
    left = table.index[table["decision"] == "no_unit"]
    assert len(served) == 4 and len(left) == 2
    for pid in left:
        reason = table.loc[pid, "reason"]
        assert reason.endswith(f"; the same priority as {', '.join(served)}: the seeded lottery "
                               "ordered them"), reason
