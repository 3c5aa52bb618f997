"""triage generate with odd options: exit 0 or 2, and every generated instance validates."""
import os, sys, tempfile, random, hashlib
from pathlib import Path
sys.path.insert(0, "probe3")
os.environ["TRIAGE_DEBUG"] = "1"
from fuzz_cli import run
rng = random.Random(1)
tmp = Path(tempfile.mkdtemp())
bad = 0; counts = {}
for i in range(60):
    argv = ["generate"]
    for opt, vals in (("--regions", ["1", "2", "5", "0", "100000000", "-1"]), ("--days", ["2", "3", "1", "5000", "40"]),
                      ("--depots", ["1", "3", "50"]), ("--neighbours", ["1", "3", "100"]), ("--seed", ["0", "-1", "99999999999999999999", "7"]),
                      ("--demand-kind", ["census", "new_patients", "x"])):
        if rng.random() < 0.6: argv += [opt, rng.choice(vals)]
    out = tmp / f"g{i}"
    argv += [str(out)]
    code, _, err, crash = run(argv)
    counts[code] = counts.get(code, 0) + 1
    if crash or code not in (0, 2) or (code != 0 and out.exists()):
        bad += 1; print(argv, code, (crash or err)[-300:])
    elif code == 0:
        v = run(["validate", str(out)])
        if v[0] != 0: bad += 1; print("generated instance invalid", argv, v[2][-300:])
print(counts, "bad", bad)
