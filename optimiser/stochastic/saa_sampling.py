"""SAA's samples (optimiser.stochastic.replications; docs/stochastic.md, "Sample-average
approximation"): independent seeds spawned from one master seed, and n i.i.d. scenarios drawn
from a scenario generator or resampled from a scenario set taken as the true distribution.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optimiser.multiperiod.instance import MultiPeriodInstance
from optimiser.scenarios.model import ScenarioSet, make_scenario_set
from optimiser.scenarios.table import GeneratorRequest

Source = GeneratorRequest | ScenarioSet


def seeds(master: int, count: int) -> list[int]:
    """`count` independent seeds from one master seed (numpy's SeedSequence spawning)."""
    children = np.random.SeedSequence(master).spawn(count)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def draw(instance: MultiPeriodInstance, source: Source, n: int, seed: int) -> ScenarioSet:
    """n i.i.d. scenarios: a generator run with this seed, or n draws (with replacement, by
    probability) from a scenario set taken as the true distribution."""
    if isinstance(source, GeneratorRequest):
        params = {**source.parameters, "scenarios": n, "seed": seed}
        return replace(source, parameters=params).run(instance)
    rng = np.random.default_rng(seed)
    p = source.probability.to_numpy(dtype=float)
    picks = rng.choice(len(p), size=n, p=p / p.sum())
    cube = source.array(instance.regions)[picks]
    ids = [f"d{i + 1}_{source.ids[j]}" for i, j in enumerate(picks)]
    return make_scenario_set(
        instance, cube, ids, sampled=True, info={"generator": "resample", "seed": seed}
    )
