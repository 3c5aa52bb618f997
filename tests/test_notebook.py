"""notebooks/frontier.ipynb runs from top to bottom in a real Jupyter kernel (nbclient and
ipykernel): an analyst's path from DataFrames to a frontier chart, with the result's HTML
summary (`_repr_html_`) and the chart shown in the notebook."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "frontier.ipynb"


@pytest.mark.slow
def test_the_notebook_runs_and_shows_results() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": REPO}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Expected extra survivors" in h for h in html)  # AllocationResult._repr_html_
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the frontier chart


def test_results_show_a_summary_in_notebooks(pugh) -> None:
    import optimiser

    result = optimiser.solve(pugh, ["per_capita_floor:share=0.5"])
    html = result._repr_html_()
    assert "Expected extra survivors" in html and "<table>" in html
    assert "per_capita_floor(share=0.5)" in html
