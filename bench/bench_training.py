"""Training wall time: each ``python -m explorer train ...`` run end to end on this machine.

The checkpoints are written to a temporary folder (the shipped ones are not touched), and the
held-out accuracy each run reports is read back from its sidecar, so a fast but broken run shows.
Target from the trained-models issue: each at most 5 minutes on a 2-core CPU.

Run: ``python -m bench.bench_training [dates] [shapes]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Measurement, print_table, write_json  # noqa: E402

TARGET_S = 300.0


def time_training(task: str) -> Measurement:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "explorer", "train", task, "--out-dir", out, "--no-progress"],
            cwd=ROOT, capture_output=True, text=True,
        )
        wall = time.perf_counter() - start
        detail = f"exit {result.returncode}"
        sidecar = Path(out) / f"{task}.json"
        if sidecar.exists():
            metrics = json.loads(sidecar.read_text()).get("metrics", {})
            accuracy = metrics.get("heldout_accuracy", metrics.get("accuracy"))
            detail += f"; held-out accuracy {accuracy}"
    return Measurement("training", f"python -m explorer train {task}", wall, "s", f"<= {TARGET_S:.0f}", wall <= TARGET_S and result.returncode == 0, detail)


def main(argv: list[str] | None = None) -> list[Measurement]:
    tasks = (argv if argv is not None else sys.argv[1:]) or ["dates", "shapes"]
    rows = [time_training(task) for task in tasks]
    print_table(rows)
    write_json("training", rows)
    return rows


if __name__ == "__main__":
    main()
