"""How fast the CLI starts: wall time and peak memory of commands that only print help.

Usage, from the checkout: python -m bench.startup [--repeats 5]

Each command runs in a fresh process (`.venv/bin/registry ...`, as a user types it); the
peak resident memory is that process's own (wait4's ru_maxrss). For scale, the last row
imports the training stack (torch, numpy, SQLAlchemy, c2pa), which a command that trains,
evaluates or signs loads when it starts working. Medians over the repeats. Prints a table
and writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import markdown_table, write_result

REGISTRY = str(Path(sys.executable).with_name("registry"))
COMMANDS = {
    "registry --help": [REGISTRY, "--help"],
    "registry --version": [REGISTRY, "--version"],
    "registry train --help": [REGISTRY, "train", "--help"],
    "registry denoise --help": [REGISTRY, "denoise", "--help"],
    "import registry.tracking (the training stack)": [sys.executable, "-c", "import registry.tracking"],
}


def run_once(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one run of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = {}
    for name, command in COMMANDS.items():
        runs = [run_once(command) for _ in range(args.repeats)]
        results[name] = {
            "seconds": statistics.median(seconds for seconds, _ in runs),
            "peak_mib": statistics.median(mib for _, mib in runs),
        }
    rows = [[name, f"{r['seconds']:.2f}", f"{r['peak_mib']:.0f}"] for name, r in results.items()]
    print(markdown_table(["command", "seconds (median)", "peak MiB"], rows))
    path = write_result("startup", {"repeats": args.repeats, "cpus": os.cpu_count(), "commands": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
