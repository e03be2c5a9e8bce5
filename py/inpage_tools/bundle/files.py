"""File helpers for the build: sha256 checks and copies that skip what is already in place."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Callable

from inpage.errors import BuildError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str, what: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise BuildError(
            f"{what} ({path}) has sha256 {actual}, expected {expected}; the file is damaged or was changed: "
            "restore it (git checkout, npm ci, or delete it from the cache) and build again"
        )


def install(source: Path, destination: Path, check: Callable[[Path], None] | None = None) -> bool:
    """Copy ``source`` to ``destination`` unless an identical copy is there (same size and mtime).

    ``check(source)`` runs before a copy, so a bad source stops the build without touching the
    output. Returns True if a copy was made.
    """
    if destination.exists():
        src, dst = source.stat(), destination.stat()
        if src.st_size == dst.st_size and int(src.st_mtime) == int(dst.st_mtime):
            return False
    if check:
        check(source)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)
    return True
