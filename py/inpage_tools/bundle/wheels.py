"""The Python the page loads: inpage's own pure-Python wheel, a small wheel for each user module the
manifest names, and Pyodide's lock file with them added, so ``loadPyodide({packages})`` resolves
numpy and Pillow from it.

Both kinds of wheel are built by hatchling through its PEP 517 hook, from a staged copy of the
sources. That works the same in a checkout and from a pip-installed inpage, and keeps the page's
wheel small: the ``inpage`` package alone; the build, CLI and server are ``inpage_tools``, with the assets.
The wheel's version carries a digest of its sources (``0.2.0+3fa1c2...``), so a changed wheel has a
new file name and caches never confuse two builds.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .. import resources
from inpage import __version__
from inpage.errors import BuildError
from inpage.usercode import module_name
from .files import sha256_of
from .runtime import install_pyodide_wheels, with_dependencies

STATE = ".inpage-python"


def page_sources() -> list[Path]:
    """The page runtime, the ``inpage`` package: every module of it, sorted (the host tools are ``inpage_tools``)."""
    return sorted(path for path in resources.RUNTIME.rglob("*.py") if "__pycache__" not in path.parts)


def user_sources(python_entries: list[tuple[str, Path]]) -> list[Path]:
    files = []
    for _name, path in python_entries:
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _hatch_wheel(project: Path, out: Path) -> Path:
    code = "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))"
    result = subprocess.run([sys.executable, "-c", code, str(out)], cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"building the wheel of {project.name} with hatchling failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return out / result.stdout.strip().splitlines()[-1]


def _pyproject(name: str, version: str, dependencies: list[str], include: list[str]) -> str:
    deps = ", ".join(json.dumps(d) for d in dependencies)
    return (
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n"
        f"[project]\nname = {json.dumps(name)}\nversion = {json.dumps(version)}\nrequires-python = \">=3.11\"\ndependencies = [{deps}]\n\n"
        f"[tool.hatch.build.targets.wheel]\nonly-include = {json.dumps(include)}\n"
    )


def build_page_wheel(scratch: Path, digest: str) -> Path:
    """inpage's page wheel: the modules of :func:`page_sources`, depending on numpy and Pillow."""
    stage = scratch / "inpage-page"
    for path in page_sources():
        target = stage / "inpage" / path.relative_to(resources.RUNTIME)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (stage / "pyproject.toml").write_text(_pyproject("inpage", f"{__version__}+{digest[:12]}", ["numpy", "pillow"], ["inpage"]))
    return _hatch_wheel(stage, scratch)


def build_user_wheel(scratch: Path, module: str, path: Path, digest: str, needs: list[str] = ()) -> Path:
    """A wheel holding a user's module (a file or a package folder) under its own name."""
    stage = scratch / f"user-{module}"
    stage.mkdir(parents=True)
    if path.is_dir():
        shutil.copytree(path, stage / module, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        include = [module]
    else:
        shutil.copyfile(path, stage / f"{module}.py")
        include = [f"{module}.py"]
    project = f"inpage-user-{module.replace('_', '-')}"
    (stage / "pyproject.toml").write_text(_pyproject(project, f"0.0.0+{digest[:12]}", ["inpage", "numpy", "pillow", *needs], include))
    return _hatch_wheel(stage, scratch)


def check_user_module(module: str, path: Path, stdlib: set[str], available: set[str]) -> list[str]:
    """Why the user's module cannot import in the page, one line per problem, every one of them: a
    syntax error, or an import of a module that Pyodide's standard library and the site's packages
    do not have."""
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    own = {module} | ({p.stem for p in files} if path.is_dir() else set())
    problems = []
    for file in files:
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except SyntaxError as exc:
            problems.append(f"{file.name}, line {exc.lineno}: {exc.msg}; fix it before building")
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top not in available and top not in own:
                    problems.append(
                        f"{file.name}, line {node.lineno}: imports {top!r}, which the page's Python does not have "
                        f"(it has the standard library, inpage, and the packages of Pyodide's distribution, such as numpy, "
                        "Pillow, scipy, pandas and cv2); make it pure Python, or compute it another way"
                    )
    return problems


def pyodide_stdlib(out: Path) -> set[str]:
    """Top-level module names in Pyodide's standard library zip."""
    names = set(sys.builtin_module_names)
    with zipfile.ZipFile(out / "pyodide" / "python_stdlib.zip") as archive:
        for member in archive.namelist():
            top = member.split("/")[0]
            names.add(top[:-3] if top.endswith(".py") else top)
    return names


def build_python(out: Path, user_modules: list[tuple[str, Path]], official_lock: Path, requirements: Path | None = None) -> tuple[int, list[str]]:
    """Build inpage's page wheel and the user wheels into ``out/pyodide``, and write the lock file.

    ``user_modules`` is ``[(module name, path), ...]``; ``requirements`` the project's
    ``python/requirements.txt`` of pinned pure-Python wheels from PyPI. Returns the files changed and
    the names of the packages the page loads.
    """
    destination = out / "pyodide"
    destination.mkdir(parents=True, exist_ok=True)
    own_sources = page_sources()
    state_file = out / ".inpage" / STATE
    digest = _digest(own_sources + user_sources(user_modules) + ([requirements] if requirements else []))
    packages = ["inpage"] + [f"inpage-user-{m.replace('_', '-')}" for m, _ in user_modules]
    current = sorted(destination.glob("inpage*.whl"))
    if current and state_file.exists() and state_file.read_text() == digest and (destination / "pyodide-lock.json").exists():
        return 0, packages
    stdlib = pyodide_stdlib(out)
    # Any package of Pyodide's distribution may be imported (scipy, cv2, pandas, ...), by its import names.
    distribution = pyodide_imports(official_lock)
    pypi_wheels = fetch_requirements(requirements, official_lock) if requirements else {}
    pypi_imports = {name: package for package, wheel in pypi_wheels.items() for name in wheel_top_level(wheel)}
    available = {"inpage", "numpy", "PIL"} | set(distribution) | set(pypi_imports)
    problems = [problem for module, path in user_modules for problem in check_user_module(module, path, stdlib, available | {m for m, _ in user_modules})]
    if problems:
        from .validate import ManifestProblems

        raise ManifestProblems(problems)
    provided = {**distribution, **pypi_imports}
    needs = {module: sorted({provided[name] for name in imported_names(path) if name in provided} - {"numpy", "pillow"}) for module, path in user_modules}
    changed = install_pyodide_wheels(official_lock, destination, [name for names in needs.values() for name in names if name not in pypi_wheels])
    for old in current:
        old.unlink()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        wheels = [build_page_wheel(scratch, _digest(own_sources)), *pypi_wheels.values()]
        for module, path in user_modules:
            wheels.append(build_user_wheel(scratch, module, path, _digest(user_sources([(module, path)])), needs[module]))
        targets = []
        for wheel in wheels:
            target = destination / wheel.name
            shutil.copyfile(wheel, target)
            targets.append(target)
    write_lock(official_lock, targets, destination / "pyodide-lock.json", packages)
    # What the PyPI wheels need from Pyodide's distribution (python-dateutil needs six) ships too.
    written = json.loads((destination / "pyodide-lock.json").read_text())["packages"]
    official = json.loads(official_lock.read_text())["packages"]
    changed += install_pyodide_wheels(official_lock, destination, [n for n, e in written.items() if n in official and not (destination / e["file_name"]).exists()])
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(digest)
    return changed + len(targets) + 1, packages


def fetch_requirements(requirements: Path, official_lock: Path) -> dict[str, Path]:
    """The project's pinned pure-Python wheels (``name==version`` a line, ``--hash=sha256:...`` optional),
    by package name, fetched with pip from the configured index into the cache. pip checks each
    download against the index's sha256, and against the line's own ``--hash`` where it gives one.
    A package of Pyodide's distribution comes from there instead, as any import of it does."""
    distribution = json.loads(official_lock.read_text())["packages"]
    wheels: dict[str, Path] = {}
    for number, raw in enumerate(requirements.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)(\s+--hash=sha256:[0-9a-fA-F]{64})*", line)
        if not match:
            raise BuildError(f"python/requirements.txt, line {number}: {line!r} is not name==version; pin each wheel exactly (a --hash=sha256:... may follow)")
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        if name in distribution:
            continue  # Pyodide's own build of it, checked against its lock like numpy
        folder = resources.cache_dir() / "pypi"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pinned:
            pinned.write(line + "\n")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform", "any", "--abi", "none",
                   "--implementation", "py", "--python-version", "3.12", "--dest", str(folder), "-r", pinned.name, "--quiet"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        finally:
            Path(pinned.name).unlink(missing_ok=True)
        if result.returncode != 0:
            why = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
            raise BuildError(f"python/requirements.txt, line {number}: no pure-Python wheel of {match.group(1)}=={match.group(2)} could be fetched ({why}); the page can only use wheels that are py3-none-any")
        wanted = re.sub(r"[-_.]+", "_", match.group(1)).lower()
        found = [w for w in folder.glob("*.whl") if w.name.lower().startswith(f"{wanted}-{match.group(2).lower()}-")]
        if not found:
            raise BuildError(f"python/requirements.txt, line {number}: pip fetched no wheel of {match.group(1)}=={match.group(2)}")
        wheels[name] = found[0]
    return wheels


def wheel_top_level(wheel: Path) -> set[str]:
    """The top-level modules a wheel installs, from its file list."""
    names = set()
    for member in zipfile.ZipFile(wheel).namelist():
        top = member.split("/")[0]
        if top.endswith((".dist-info", ".data")):
            continue
        names.add(top[:-3] if top.endswith(".py") else top)
    return names


def pyodide_imports(official_lock: Path) -> dict[str, str]:
    """Every top-level import name of Pyodide's distribution -> the lock's package that provides it."""
    packages = json.loads(official_lock.read_text())["packages"]
    return {name: package for package, entry in packages.items() for name in entry.get("imports", [])}


def imported_names(path: Path) -> set[str]:
    """The top-level modules a user's module (file or package) imports, read from its source."""
    names = set()
    for file in (sorted(path.rglob("*.py")) if path.is_dir() else [path]):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def write_lock(official_lock: Path, wheels: list[Path], target: Path, roots: list[str]) -> None:
    """Pyodide's lock with our wheels added, trimmed to them and what they need."""
    try:
        from pyodide_lock import PyodideLockSpec
        from pyodide_lock.utils import add_wheels_to_spec
    except ImportError:
        raise BuildError("the build needs pyodide-lock: pip install 'pyodide-lock==0.1.2' pkginfo") from None
    spec = add_wheels_to_spec(PyodideLockSpec.from_json(official_lock), wheels, base_path=target.parent)
    try:
        keep = set(with_dependencies({k: v.model_dump() for k, v in spec.packages.items()}, roots))
    except BuildError as exc:
        raise BuildError(f"{exc}; if a wheel of python/requirements.txt needs it, add it there, pinned (name==version)") from None
    spec.packages = {name: package for name, package in spec.packages.items() if name in keep}
    spec.to_json(target)
    for wheel in wheels:
        entry = next(p for p in spec.packages.values() if p.file_name == wheel.name)
        if sha256_of(wheel) != entry.sha256:
            raise BuildError(f"the lock entry for {wheel.name} does not match the wheel's sha256")


def user_module_entries(manifest_entries: list[dict], models_dir: Path, python_dir: Path | None = None) -> list[tuple[str, Path]]:
    """``[(module name, path)]`` for the manifest's ``python`` entries and the project's ``python/`` folder
    (each ``.py`` file and package in it), checked and without duplicates."""
    found: dict[str, Path] = {}
    if python_dir is not None:
        for path in sorted(python_dir.iterdir()):
            if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").is_file()):
                name = module_name(path.name)
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise BuildError(f"python/{path.name} is not an importable module name; rename it (letters, digits, _)")
                found[name] = path.resolve()
    for entry in manifest_entries:
        python = entry.get("python")
        if not python:
            continue
        name = module_name(python)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BuildError(f"model {entry.get('name')!r}: python {python!r} is not an importable module name")
        path = (models_dir / python).resolve()
        if not (path.is_file() or (path.is_dir() and (path / "__init__.py").is_file())):
            raise BuildError(f"model {entry.get('name')!r}: its Python module {python!r} is missing ({path})")
        if name in found and found[name] != path:
            raise BuildError(f"two different Python modules are both called {name!r}; rename one")
        found[name] = path
    return sorted(found.items())
