"""A library user installs `regional-triage` without extras: no web server, database layer,
HTTP client or cluster scheduler. The engine, the planner, sweeps in one process, reports and
the CLI work without them, and `triage serve` says which extra to install. Checked here by a
fresh interpreter in which those packages cannot be imported (an import hook refuses them);
a real virtual environment without the extras was checked by hand (see CHANGELOG/README)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLOCKED = ("fastapi", "uvicorn", "starlette", "sqlalchemy", "dask", "distributed", "httpx",
           "fastapi_offline", "psycopg", "pydantic_settings", "prometheus_client")
BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys
    BLOCKED = {BLOCKED!r}
    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None
    sys.meta_path.insert(0, Blocker())
""")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_library_works_without_the_service_and_dask_extras(tmp_path: Path) -> None:
    proc = run(f"""
        import optimiser
        from optimiser.multiperiod import load_multiperiod, plan
        from optimiser.reporting import build_report, write_report
        inst = optimiser.load_instance("instances/us-states-2020")
        result = optimiser.solve(inst, ["per_capita_floor:share=0.3"])
        assert result.status == "optimal", result.status
        table = optimiser.sweep(inst, vary={{"supply": "1000:3000:500"}})
        assert len(table) == 5
        optimiser.compare(inst)
        mp = plan(load_multiperiod("instances/italy-2020-wave1"), price_of_fairness=False)
        assert mp.lives_saved is not None
        report = build_report(inst, tornado_pct=None, frontiers=False)
        write_report(report, {str(tmp_path / "report")!r})
        import sys
        assert not {{m.split(".")[0] for m in sys.modules}} & set({BLOCKED!r})
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_serve_names_the_extra_to_install() -> None:
    proc = run("""
        import sys
        sys.argv = ["triage", "serve", "--port", "0"]
        from optimiser.cli import main
        main()
    """)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'regional-triage[service]'" in proc.stderr
    assert "Traceback" not in proc.stderr
