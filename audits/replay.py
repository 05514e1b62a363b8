"""Re-execute a run from a spec file, in a separate process: `python -m audits.replay SPEC OUT`.

The spec holds everything the record says (resolved config, the split's image files in
order, and for a run trained on pairs their real noisy files under "noisy"); the output
holds what this execution produced (checkpoint hashes and files, loss curve, metric
table) plus the code and environment it ran with. It calls the very
functions `registry train` calls, so a difference means the inputs, code or platform
changed, not the path through the code. This module is the contract between an audit
and older code checked out from git: keep its spec and output formats stable.
"""

from __future__ import annotations

import hashlib
import json
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

SPEC_VERSION = 1


def replay(spec: dict, workdir: Path) -> dict:
    from denoiser.config import config_from_dict
    from denoiser.evaluation import evaluate_split
    from denoiser.images import load_image
    from denoiser.training import TrainingHooks, train
    from registry.cli.ui import UI
    from registry.environment import code_version, environment

    config = config_from_dict(spec["config"])

    def load(members: dict[str, list]) -> dict[str, dict]:
        return {
            role: {key: load_image(workdir / file, config.model.channels) for key, file in group}
            for role, group in members.items()
        }

    images = load(spec["images"])
    noisy = load(spec["noisy"]) if "noisy" in spec else None  # noise.kind pairs: the real noisy files
    checkpoints, losses = [], []
    checkpoint_dir = workdir / "checkpoints"
    checkpoint_dir.mkdir(exist_ok=True)

    class Collect(TrainingHooks):
        def on_step(self, step, total, loss):
            update(step, f"loss {loss:.5f}")

        def on_checkpoint(self, checkpoint):
            file = checkpoint_dir / f"step-{checkpoint.step:08d}.safetensors"
            file.write_bytes(checkpoint.weights)
            checkpoints.append(
                {
                    "step": checkpoint.step,
                    "final": checkpoint.final,
                    "sha256": hashlib.sha256(checkpoint.weights).hexdigest(),
                    "file": file.name,
                }
            )
            losses.extend(asdict(point) for point in checkpoint.losses)

    with UI().progress("re-executing training", config.train.steps) as update:
        model = train(
            config,
            list(images["train"].values()),
            list(images["val"].values()),
            Collect(),
            train_noisy=None if noisy is None else list(noisy["train"].values()),
            val_noisy=None if noisy is None else list(noisy["val"].values()),
        )
    test_noisy = None if noisy is None else noisy["test"]
    with UI().progress("re-evaluating the test split", len(images["test"])) as update:
        result = evaluate_split(model, config, images["test"], list(images["val"].values()), test_noisy, update)
    return {
        "spec_version": SPEC_VERSION,
        "checkpoints": checkpoints,
        "losses": losses,
        "metrics": [asdict(row) for row in result.rows],
        "unavailable": result.unavailable,
        "code": code_version(),
        "environment": environment(config.train.threads),
    }


def main(argv: list[str]) -> int:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    try:
        output = replay(json.loads(spec_path.read_text()), spec_path.parent)
    except Exception as exc:  # reported to the auditor, which turns it into a verdict
        output = {
            "spec_version": SPEC_VERSION,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    out_path.write_text(json.dumps(output))
    return 0 if "error" not in output else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
