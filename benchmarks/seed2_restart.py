"""Restarting the planner's first column-generation LP on a cut-down master (issue 12, track
seed2).

One plan (`plan(instance, [], price_of_fairness=False)`, as benchmarks/planner_scale.py) on the
tree as it is (seed1000's greedy seed on large models); the planner's first `solve_lp` is timed
round by round (CPU seconds of each HiGHS solve). Modes:

  plain        no change (per-round figures only)
  trim R       after round R's pricing, every priced-in movement column nonbasic at 0 leaves
               the master (the basis is kept), then the warm primal simplex goes on
  restart R    as trim, then the basis is cleared and the next round is a dual simplex from
               scratch on the cut-down master (then warm primal rounds as before)
  subset P     the master also starts with P% (a fixed random draw) of the movement columns
               nonzero at a recorded final LP optimum (seed1000_bound.py record's
               /tmp/seed1000/final-NxD.npz): how near the final vertex a predictor must be
  alt          the master also starts with the movement columns nonzero at the optimum of the
               last run of this script (another optimal vertex than the recorded one;
               /tmp/seed2/last-NxD.npz, written by every mode but alt)
  round K      the master also starts with the movement columns nonzero in round K's master
               optimum of the last `plain` run (/tmp/seed2/roundK-NxD.npz): a whole plan a
               given distance below the LP optimum

Both keep pricing every candidate until none improves (a column dropped re-enters when it
improves), so the LP optimum is unchanged; `lives` is printed to check it.

    flock /work/wt/.bench.lock .venv/bin/python benchmarks/seed2_restart.py MODE N D [R] \
        [--base /tmp/growthm-scale]

Results: BENCHMARKS.md, "seed2".
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimiser.multiperiod import colgen as C  # noqa: E402
from optimiser.multiperiod import colgen_manage  # noqa: E402

FINAL = Path("/tmp/seed1000")  # seed1000_bound.py record's final-NxD.npz (if there)
LAST = Path("/tmp/seed2")  # this script's last final optimum (`alt`)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["plain", "trim", "restart", "subset", "alt", "round"])
    parser.add_argument("regions", type=int)
    parser.add_argument("days", type=int)
    parser.add_argument("after", nargs="?", type=int, default=4)
    parser.add_argument("--base", type=Path, default=Path("/tmp/growthm-scale"))
    args = parser.parse_args()
    from optimiser.multiperiod import load_multiperiod, plan

    final_path = FINAL / f"final-{args.regions}x{args.days}.npz"
    final = np.load(final_path)["nonzero"] if final_path.exists() else None
    info: dict[str, Any] = {"rounds": []}
    state = {"lp": 0, "round": 0, "done": False}
    init, solve_lp = C.ColumnGeneration.__init__, C.ColumnGeneration.solve_lp
    masters: list[C.ColumnGeneration] = []

    def built(self: C.ColumnGeneration, *a: Any, **k: Any) -> None:
        init(self, *a, **k)
        if masters:
            return
        masters.append(self)
        if args.mode == "subset" and final is not None:
            pick = np.random.default_rng(0).random(len(final)) < args.after / 100
            self.include(final[pick])
            info["subset_columns"] = int(pick.sum())
        if args.mode == "round":
            mid = np.load(LAST / f"round{args.after}-{args.regions}x{args.days}.npz")["nonzero"]
            self.include(mid)
            info["round_columns"] = len(mid)
        if args.mode == "alt":
            alt = np.load(LAST / f"last-{args.regions}x{args.days}.npz")["nonzero"]
            self.include(alt)
            info["alt_columns"] = len(alt)
            if final is not None:
                info["alt_shares_recorded"] = float(np.isin(alt, final).mean())
        h = self.highs
        solve, include, set_option = h.solve, self.include, h.set_option
        force_dual = [False]

        def timed_solve(*sa: Any, **sk: Any) -> Any:
            c = time.process_time()
            out = solve(*sa, **sk)
            if state["lp"] == 1:
                its = int(h.highs.getInfo().simplex_iteration_count)
                info["rounds"].append(
                    {
                        "cpu": round(time.process_time() - c, 2),
                        "cols": int(h.num_cols),
                        "its": its,
                        "objective": out.objective,
                    }
                )
                if args.mode == "plain":
                    x = np.asarray(h.highs.getSolution().col_value)
                    real = self.members >= 0
                    moving = real & np.isin(np.maximum(self.members, 0), self.candidates)
                    nz = self.members[moving & (np.abs(x[: len(self.members)]) > 1e-9)]
                    k = len(info["rounds"])
                    np.savez(LAST / f"round{k}-{args.regions}x{args.days}.npz", nonzero=nz)
            return out

        def opt(name: str, value: Any) -> None:
            if name == "simplex_strategy" and force_dual[0]:
                force_dual[0] = False
                value = C.SIMPLEX_DUAL
            set_option(name, value)

        def cut_then_include(cols: np.ndarray) -> None:
            if state["lp"] == 1 and not state["done"]:
                state["round"] += 1
                if args.mode in ("trim", "restart") and state["round"] == args.after:
                    state["done"] = True
                    t = time.process_time()
                    _cut(self, info, final)
                    if args.mode == "restart":
                        h.highs.clearSolver()
                        force_dual[0] = True
                    info["cut_cpu"] = round(time.process_time() - t, 2)
            include(cols)

        h.solve = timed_solve  # type: ignore[method-assign]
        h.set_option = opt  # type: ignore[method-assign]
        self.include = cut_then_include  # type: ignore[method-assign]

    def timed(self: C.ColumnGeneration, *a: Any, **k: Any) -> C.LpResult:
        if self is masters[0]:
            state["lp"] += 1
        c = time.process_time()
        out = solve_lp(self, *a, **k)
        if self is masters[0] and state["lp"] == 1:
            info["first_lp_cpu"] = round(time.process_time() - c, 2)
            info["first_lp_rounds"] = out.rounds
            if final is not None and out.values is not None:
                nz = self.candidates[np.abs(out.values[self.candidates]) > 1e-9]
                info["final_nonzero"] = len(nz)
                info["same_vertex_as_recorded"] = float(np.isin(nz, final).mean())
            if out.values is not None:
                info["base"] = _base_use(self, out.values)
                if args.mode != "alt":
                    nz = self.candidates[np.abs(out.values[self.candidates]) > 1e-9]
                    LAST.mkdir(parents=True, exist_ok=True)
                    np.savez(LAST / f"last-{args.regions}x{args.days}.npz", nonzero=nz)
        return out

    C.ColumnGeneration.__init__ = built  # type: ignore[method-assign]
    C.ColumnGeneration.solve_lp = timed  # type: ignore[method-assign]
    inst = load_multiperiod(args.base / f"scale-{args.regions}x{args.days}")
    t0, c0 = time.perf_counter(), time.process_time()
    result = plan(inst, [], price_of_fairness=False)
    report = {
        "mode": args.mode,
        "after": args.after,
        "wall": round(time.perf_counter() - t0, 2),
        "cpu": round(time.process_time() - c0, 2),
        **info,
        "lives": result.lives_saved,
        "status": str(result.status),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("RESULT " + json.dumps(report))


def _cut(cg: C.ColumnGeneration, info: dict[str, Any], final: np.ndarray | None) -> None:
    """Drop every priced-in candidate nonbasic at 0 from the master (HiGHS's current basis
    and solution)."""
    h = cg.highs.highs
    status = np.array([int(s) for s in h.getBasis().col_status])
    values = np.asarray(h.getSolution().col_value)
    basic = status == int(C.highspy.HighsBasisStatus.kBasic)
    is_cand = np.zeros(cg.program.shape[1], dtype=bool)
    is_cand[cg.candidates] = True
    real = cg.members >= 0
    cand = real & is_cand[np.maximum(cg.members, 0)]
    p = cg.program
    m = np.maximum(cg.members, 0)
    free = (cg.lower[m] == p.col_lower[m]) & (cg.upper[m] == p.col_upper[m]) & (p.col_lower[m] == 0)
    gone = cand & ~basic & (values == 0.0) & free
    kept = cg.members[cand & ~gone]
    info["cut"] = {"before": int(cand.sum()), "dropped": int(gone.sum()), "kept": len(kept)}
    if final is not None:
        info["cut"]["kept_in_final"] = float(np.isin(kept, final).mean()) if len(kept) else 0.0
        info["cut"]["final_covered"] = float(np.isin(final, kept).mean())
    colgen_manage._delete_columns(cg, gone)


def _base_use(cg: C.ColumnGeneration, x: np.ndarray) -> dict[str, int]:
    """How many of the master's always-held (non-candidate) columns are nonzero or basic at
    the first LP's optimum: were few, they could be priced too."""
    is_cand = np.zeros(cg.program.shape[1], dtype=bool)
    is_cand[cg.candidates] = True
    m = cg.members
    base = (m >= 0) & ~is_cand[np.maximum(m, 0)]
    status = np.array([int(s) for s in cg.highs.highs.getBasis().col_status])
    basic = status == int(C.highspy.HighsBasisStatus.kBasic)
    nz = np.abs(x[np.maximum(m, 0)]) > 1e-9
    return {
        "base": int(base.sum()),
        "base_nonzero": int((base & nz).sum()),
        "base_basic": int((base & basic[: len(m)]).sum()),
        "rows": int(cg.rows),
    }


if __name__ == "__main__":
    main()
