"""Who ran something, with which code, on which machine: the facts a run records.

The code version is the package version, a hash of the installed source (what actually
ran, whether installed from a wheel or a checkout), and, when the source lives in a git
checkout, the commit plus a hash of uncommitted changes to the code.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import os
import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

PACKAGES = ("denoiser", "registry", "provenance", "audits")
PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the folder holding the packages
LOCK_FILE = "requirements.lock"


def current_user(workspace_root: Path | None = None) -> dict[str, str]:
    user = {"os_user": _os_user()}
    for key in ("name", "email"):
        value = _git_output(workspace_root or Path.cwd(), "config", f"user.{key}")
        if value:
            user[f"git_{key}"] = value
    return user


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, e.g. in some containers
        return str(os.getuid())


def _git_output(cwd: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def source_hash(project_root: Path = PROJECT_ROOT) -> str:
    """sha256 over every file of the four packages (relative path and content)."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        folder = project_root / package
        if not folder.is_dir():
            continue
        for file in sorted(folder.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                digest.update(file.relative_to(project_root).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def code_version(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    code: dict[str, Any] = {"package_version": _package_version(), "source_sha256": source_hash(project_root)}
    toplevel = _git_output(project_root, "rev-parse", "--show-toplevel")
    if toplevel and Path(toplevel).resolve() == project_root:
        code["git_commit"] = _git_output(project_root, "rev-parse", "HEAD") or None
        code["git_dirty_sha256"] = _dirty_hash(project_root)
    return code


def _package_version() -> str:
    try:
        return importlib.metadata.version("provenoise")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _dirty_hash(root: Path) -> str | None:
    """Hash of uncommitted changes to the packages (diff plus untracked files), or None."""
    status = _git_output(root, "status", "--porcelain", "--untracked-files=all", "--", *PACKAGES)
    if not status:
        return None
    digest = hashlib.sha256()
    diff = subprocess.run(["git", "diff", "HEAD", "--binary", "--", *PACKAGES], cwd=root, capture_output=True)
    digest.update(diff.stdout)
    for line in status.splitlines():
        if line.startswith("??"):
            path = root / line[3:]
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(line[3:].encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def environment(threads: int) -> dict[str, Any]:
    """Software and hardware facts that bitwise reproducibility depends on."""
    import numpy
    import skimage
    import torch

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit_image": skimage.__version__,
        "threads": threads,
        "cpu_model": _cpu_model(),
        "cpu_flags": sorted(_cpu_flags()),
        "cpu_flags_sha256": hashlib.sha256(" ".join(sorted(_cpu_flags())).encode()).hexdigest(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "installed_packages_sha256": installed_packages_hash(),
        "lock_sha256": lock_hash(),
    }


@cache
def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def _cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or "unknown"


def _cpu_flags() -> list[str]:
    return _cpuinfo().get("flags", "").split()


def installed_packages_hash() -> str:
    """sha256 of the sorted name==version list of every installed distribution."""
    # A set: the same distribution can be visible twice (e.g. an .egg-info in the cwd).
    names = sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in importlib.metadata.distributions()})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def lock_hash() -> str | None:
    """sha256 of the lock file the environment was installed from, when it is found."""
    lock = PROJECT_ROOT / LOCK_FILE
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None


# Environment facts whose difference can legitimately change floating-point results.
RESULT_AFFECTING = (
    "python",
    "torch",
    "numpy",
    "scikit_image",
    "threads",
    "cpu_model",
    "cpu_flags_sha256",
    "cpu_capability",
    "machine",
    "cuda",
    "installed_packages_sha256",
)


def environment_differences(recorded: dict, current: dict) -> list[str]:
    """'key: recorded X, now Y' for every result-affecting fact that differs."""
    return [
        f"{key}: recorded {recorded.get(key)!r}, now {current.get(key)!r}"
        for key in RESULT_AFFECTING
        if recorded.get(key) != current.get(key)
    ]
