"""What every benchmark shares: the command line, the machine description, the
table printer, percentiles and the JSON result file."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(name: str, description: str, extra: Sequence[tuple[str, dict[str, Any]]] = ()) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"{name}.json", help="JSON result file")
    for flag, kwargs in extra:
        parser.add_argument(flag, **kwargs)
    return parser.parse_args()


def machine() -> dict[str, Any]:
    """Where the numbers came from; the load matters: the machine is shared."""
    mem_total = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "mem_total": mem_total,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": LOAD_AT_START,
        "loadavg": load(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


LOAD_AT_START = load()  # the machine is shared: the load when the bench began, and when it ended


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def ms(value: float | None) -> float | None:
    """Seconds to milliseconds, one decimal; None stays None."""
    return None if value is None else round(value * 1000, 1)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def peak_rss_mib() -> float:
    """Peak RSS of this process (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def write_result(path: Path, name: str, quick: bool, params: dict[str, Any], results: dict[str, Any],
                 goals: dict[str, Any] | None = None, notes: list[str] | None = None) -> dict[str, Any]:
    doc = {"bench": name, "quick": quick, "machine": machine(), "params": params, "results": results,
           "goals": goals or {}, "notes": notes or []}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\nwrote {path} (load average {doc['machine']['loadavg']})")
    return doc


GNU_TIME = "/usr/bin/time"


def timed_argv(argv: list[str], report: Path) -> list[str]:
    """argv run under GNU time, which writes "maxrss_kib user_s sys_s" to `report`.

    Not os.wait4 on our own child: on Linux a child's ru_maxrss starts at its
    parent's RSS at fork time (exec keeps it), so a small child of a big parent
    would report the parent's size. GNU time is a small parent."""
    if not os.path.exists(GNU_TIME):
        return argv
    return [GNU_TIME, "-f", "%M %U %S", "-o", str(report), *argv]


def read_time_report(report: Path) -> dict[str, float | None]:
    try:
        words = report.read_text().strip().splitlines()[-1].split()
        return {"rss_mib": round(int(words[0]) / 1024, 1), "cpu_s": round(float(words[1]) + float(words[2]), 3)}
    except (OSError, IndexError, ValueError):
        return {"rss_mib": None, "cpu_s": None}


def run_measured(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                 keep_stdout: bool = False) -> dict[str, Any]:
    """Run a process to its end: wall seconds, peak RSS (MiB) and CPU seconds (from GNU
    time), exit code, the tail of stderr and (with keep_stdout) its stdout."""
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-run-") as tmp:
        report = Path(tmp) / "time"
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            start = time.perf_counter()
            rc = subprocess.call(timed_argv(argv, report), env=env, cwd=cwd,
                                 stdout=out if keep_stdout else subprocess.DEVNULL, stderr=err)
            wall = time.perf_counter() - start
        result = {"wall_s": round(wall, 3), **read_time_report(report), "rc": rc,
                  "stderr": err_path.read_text(errors="replace")[-2000:]}
        if keep_stdout:
            result["stdout"] = out_path.read_text(errors="replace")
    return result


def which(name: str, fallback: str | None = None) -> str | None:
    return shutil.which(name) or (fallback if fallback and os.path.exists(fallback) else None)
