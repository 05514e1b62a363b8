"""`registry ablate DIR`: train and evaluate a family of configs as registered runs.

Every *.yaml in DIR except `base.yaml` (the shared settings the variants start from) is
one variant, trained in file-name order; the runs share a family id so reports can put
them side by side in the seed study's Table 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from denoiser.config import ConfigError, load_config
from registry.errors import RegistryError
from registry.reporting import Reporter
from registry.tracking import new_run_id, train_run
from registry.workspace import Workspace

BASE_NAME = "base.yaml"


def variants(folder: Path) -> list[Path]:
    if not Path(folder).is_dir():
        raise RegistryError(f"ablation folder not found: {folder}")
    found = sorted(p for p in Path(folder).glob("*.yaml") if p.name != BASE_NAME)
    if not found:
        raise RegistryError(f"no variant configs (*.yaml other than {BASE_NAME}) in {folder}")
    return found


def ablate(
    workspace: Workspace, folder: Path, overrides: Sequence[str] = (), reporter: Reporter | None = None
) -> tuple[str, list[str]]:
    """Train every variant; returns the family id and the run ids in order."""
    reporter = reporter or Reporter()
    configs = variants(folder)
    for config in configs:  # a bad variant must fail now, not after hours of training the others
        try:
            load_config(config, list(overrides))
        except ConfigError as exc:
            raise RegistryError(f"{config.name}: {exc}") from None
    family = f"ablation-{new_run_id()}"
    runs = []
    for index, config in enumerate(configs, start=1):
        reporter.info(f"[{index}/{len(configs)}] {config.name}")
        runs.append(train_run(workspace, config, overrides, reporter=reporter, family=family))
    return family, runs
