"""`compare` gives the same answers after its speed-ups: the replications and group tables of
two small runs, hashed in full (every float to 17 significant digits), as computed by the code
before them (main at a2943b8). A change of any decision, outcome or group figure fails."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from optimiser.bedside import load_inputs
from optimiser.bedside.compare import CompareSpec, compare

EXAMPLE = Path(__file__).resolve().parents[1] / "instances" / "bedside-synthetic"
GOLDEN = {
    "synthetic": ("6827341129ea4f8567e70fff4b0b3bd450d61cd61c31f6b96eb07d4cec0437da",
                  "f80ec9c9c6b8471e7d3b8ddbf479d31870c09e558efce49005f4fbc05d69c50f",
                  [137.671, 139.69699999999997, 142.77499999999998, 139.45600000000002]),
    "resample": ("06862712dcd9fc5e7d2aa1d865abf422318f1ab5f3d0650dfda1a612412e8cce",
                 "f097904b0912552fb2659bc502744a4ad0d5801607e74c5f3607472ad60af012",
                 [147.70600000000002, 147.19299999999998, 146.19899999999998, 146.041]),
}


def _sha(frame) -> str:
    return hashlib.sha256(frame.to_csv(float_format="%.17g").encode()).hexdigest()


@pytest.mark.parametrize("stream", sorted(GOLDEN))
def test_compare_answers_are_unchanged_bit_for_bit(stream):
    result = compare(load_inputs(EXAMPLE),
                     CompareSpec(replications=4, seed=11, patients=600, stream=stream),
                     workers=1, progress=False)
    replications, groups, lives = GOLDEN[stream]
    assert result.replications["lives_gained"].head(4).tolist() == lives
    assert _sha(result.replications) == replications
    assert _sha(result.groups) == groups


def test_lottery_draws_equal_their_definition():
    """u = (first 8 bytes of sha256("seed|id") as an integer + 0.5) / 2^64, computed here the
    slow way, equals the vectorised draws to the last bit."""
    from optimiser.bedside.scores import lottery_draws

    ids = [f"P{k:05d}" for k in range(3000)] + ["é", "", "x y", "R1-00001"]
    for seed in (0, 1, 20240301, 10**12):
        expected = [(int.from_bytes(hashlib.sha256(f"{seed}|{pid}".encode()).digest()[:8],
                                    "big") + 0.5) / 2.0**64 for pid in ids]
        assert lottery_draws(ids, seed).tolist() == expected
