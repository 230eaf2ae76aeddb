"""Where the time of the last ``make report`` went: training against everything else.

Reads what a build leaves behind: every executed notebook under the results folder
(papermill records the duration of the notebook and of each cell), each run's
``timing.json`` (the training loop's wall time) and ``report-wall.json`` (the wall
time of the make that built the report, written by the Makefile). The overhead
ratio is the build's wall time over the summed training time divided by the cores.
Standard library only.
"""

import json
from collections import defaultdict
from pathlib import Path

#: What a cell of the training notebook does, recognised by the call in it.
CELL_ROLES = (("load_dataset(", "data"), ("train_seeds(", "training cell"), ("evaluate_seeds(", "test set"),
              ("save_runs(", "saving"))


def _role(cell):
    tags = cell.get("metadata", {}).get("tags", [])
    if "display" in tags:
        return "plots"
    source = "".join(cell.get("source", ""))
    return next((role for call, role in CELL_ROLES if call in source), "other cells")


def notebook_times(path):
    """(notebook kind, total seconds, {role: seconds}) of one executed notebook, or None."""
    try:
        nb = json.loads(Path(path).read_text())
        meta = nb["metadata"]["papermill"]
        total = float(meta["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    kind = Path(meta.get("input_path") or path).stem
    roles = defaultdict(float)
    for cell in nb.get("cells", []):
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if duration is not None:
            roles[_role(cell) if kind == "train" else "cells"] += float(duration)
    roles["kernel start and papermill"] = max(0.0, total - sum(roles.values()))
    return kind, total, dict(roles)


def profile(results_dir, wall=None, cores=1):
    """The breakdown of a build: seconds per notebook kind and per step, and the overhead ratio.

    Returns
    -------
    dict
        ``train_seconds`` (summed training loops), ``runs`` (training runs), ``notebooks``
        (kind -> count, seconds, steps), ``wall``, ``cores``, ``ideal`` (training / cores), ``ratio``.
    """
    results_dir = Path(results_dir)
    train = [json.loads(p.read_text())["train_seconds"] for p in results_dir.rglob("timing.json")]
    kinds = {}
    for path in sorted(results_dir.rglob("*.ipynb")):
        found = notebook_times(path)
        if found is None:
            continue
        kind, total, roles = found
        k = kinds.setdefault(kind, {"count": 0, "seconds": 0.0, "steps": defaultdict(float)})
        k["count"] += 1
        k["seconds"] += total
        for role, seconds in roles.items():
            k["steps"][role] += seconds
    ideal = sum(train) / cores
    return {"train_seconds": sum(train), "runs": len(train), "notebooks": kinds, "wall": wall, "cores": cores,
            "ideal": ideal, "ratio": wall / ideal if wall and ideal else None}


def format_profile(p):
    """The profile as lines of text."""
    lines = [f"training runs: {p['runs']}, summed training time {p['train_seconds']:.1f} s; "
             f"on {p['cores']} core(s) at best {p['ideal']:.1f} s"]
    for kind, k in sorted(p["notebooks"].items()):
        lines.append(f"  {kind}: {k['count']} notebook run(s), {k['seconds']:.1f} s in all")
        for role, seconds in sorted(k["steps"].items(), key=lambda kv: -kv[1]):
            lines.append(f"      {role:<28} {seconds:8.1f} s")
    if p["wall"]:
        lines.append(f"wall time of the build: {p['wall']:.1f} s = {p['ratio']:.2f} x (training / cores)")
    else:
        lines.append("no wall time recorded (build the report with make report first)")
    return lines


def read_wall(path):
    """Seconds between the start and the end recorded in ``report-wall.json``, or None."""
    try:
        doc = json.loads(Path(path).read_text())
        return float(doc["end"]) - float(doc["start"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(argv=None):
    """``python -m bench.profile RESULTS_DIR WALL_FILE CORES``: print the profile."""
    import sys

    results_dir, wall_file, cores = (argv or sys.argv[1:])[:3]
    for line in format_profile(profile(results_dir, read_wall(wall_file), int(cores))):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
