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


def make_folder(folder: Path) -> str | None:
    """Make ``folder`` and its parents; None once it exists, else why it cannot be made, in words
    (the message of an OSError names the path the user typed, not the part of it at fault)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return None
    except FileExistsError:
        return f"{folder} is there already, and is not a folder"
    except NotADirectoryError:
        blocker = next((p for p in reversed(folder.parents) if p.exists() and not p.is_dir()), None)
        return f"{blocker} is a file" if blocker is not None else "a part of it is not a folder"
    except OSError as exc:
        return (exc.strerror or type(exc).__name__).lower()


def remove_stale(root: Path, rel: str) -> None:
    """Delete ``root/rel`` and then each folder that leaves empty, up to ``root`` (kept): a page moved
    or deleted from its source must not leave an empty folder behind in the site."""
    path = root / rel
    path.unlink(missing_ok=True)
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            break
        try:
            folder.rmdir()  # refused while anything is left in it, which ends the walk up
        except OSError:
            break
