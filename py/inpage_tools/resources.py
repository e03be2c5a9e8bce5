"""Where inpage's own files are on CPython: the pages, the demo models and the pinned runtime checksums.

In a source checkout they are the repository's folders (``web/``, ``models/``, ``build/``); in an
installed wheel they are packed under ``inpage_tools/_assets/`` (see ``pyproject.toml``). Nothing here
runs in the page.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The page runtime, the ``inpage`` package: what the page's wheel holds. One distribution installs
# both packages side by side (``py/`` in a checkout, site-packages when installed).
RUNTIME = PACKAGE.parent / "inpage"
_ROOT = PACKAGE.parents[1]
# A checkout: this package sits at <root>/py/inpage_tools beside the project's pyproject.toml and web/.
CHECKOUT: Path | None = _ROOT if (_ROOT / "pyproject.toml").is_file() and (_ROOT / "web").is_dir() else None
ASSETS = PACKAGE / "_assets"


def _asset(checkout_path: str, packed_path: str) -> Path:
    return CHECKOUT / checkout_path if CHECKOUT else ASSETS / packed_path


def web_dir() -> Path:
    """The pages, their JavaScript and samples."""
    return _asset("web", "web")


def demo_models_dir() -> Path:
    """The bundled demo models and their manifest: the default when a project has none."""
    return _asset("models", "models")


def runtime_checksums() -> Path:
    """sha256 of every Pyodide and onnxruntime-web file the site ships, pinned per version."""
    return _asset("build/runtime-checksums.json", "runtime-checksums.json")


def npm_lock() -> Path:
    """package-lock.json: the npm tarballs' integrity hashes, for fetching them without npm."""
    return _asset("package-lock.json", "package-lock.json")


def node_modules() -> Path | None:
    """A checkout's node_modules (from ``npm ci``), if there is one."""
    folder = CHECKOUT / "node_modules" if CHECKOUT else None
    return folder if folder and folder.is_dir() else None


def cache_dir() -> Path:
    """Downloads kept between builds: ``$INPAGE_CACHE``, a checkout's ``.cache/``, else the user cache."""
    if os.environ.get("INPAGE_CACHE"):
        return Path(os.environ["INPAGE_CACHE"])
    if CHECKOUT:
        return CHECKOUT / ".cache"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "inpage"


def project_manifest(folder: Path | None = None) -> Path | None:
    """``models/manifest.json`` of a project folder (default: the current one), if it exists."""
    candidate = (folder or Path.cwd()) / "models" / "manifest.json"
    return candidate if candidate.is_file() else None


def default_manifest() -> Path:
    """``$INPAGE_MANIFEST``, else the current folder's ``models/manifest.json``, else the demo models'."""
    if os.environ.get("INPAGE_MANIFEST"):
        return Path(os.environ["INPAGE_MANIFEST"])
    return project_manifest() or demo_models_dir() / "manifest.json"
