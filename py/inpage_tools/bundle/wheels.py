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


def build_python(out: Path, user_modules: list[tuple[str, Path]], official_lock: Path) -> tuple[int, list[str]]:
    """Build inpage's page wheel and the user wheels into ``out/pyodide``, and write the lock file.

    ``user_modules`` is ``[(module name, path), ...]``. Returns the files changed and the names of
    the packages the page loads.
    """
    destination = out / "pyodide"
    destination.mkdir(parents=True, exist_ok=True)
    own_sources = page_sources()
    state_file = out / ".inpage" / STATE
    digest = _digest(own_sources + user_sources(user_modules))
    packages = ["inpage"] + [f"inpage-user-{m.replace('_', '-')}" for m, _ in user_modules]
    current = sorted(destination.glob("inpage*.whl"))
    if current and state_file.exists() and state_file.read_text() == digest and (destination / "pyodide-lock.json").exists():
        return 0, packages
    stdlib = pyodide_stdlib(out)
    # Any package of Pyodide's distribution may be imported (scipy, cv2, pandas, ...), by its import names.
    distribution = pyodide_imports(official_lock)
    available = {"inpage", "numpy", "PIL"} | set(distribution)
    problems = [problem for module, path in user_modules for problem in check_user_module(module, path, stdlib, available | {m for m, _ in user_modules})]
    if problems:
        from .validate import ManifestProblems

        raise ManifestProblems(problems)
    needs = {module: sorted({distribution[name] for name in imported_names(path) if name in distribution} - {"numpy", "pillow"}) for module, path in user_modules}
    changed = install_pyodide_wheels(official_lock, destination, [name for names in needs.values() for name in names])
    for old in current:
        old.unlink()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        wheels = [build_page_wheel(scratch, _digest(own_sources))]
        for module, path in user_modules:
            wheels.append(build_user_wheel(scratch, module, path, _digest(user_sources([(module, path)])), needs[module]))
        targets = []
        for wheel in wheels:
            target = destination / wheel.name
            shutil.copyfile(wheel, target)
            targets.append(target)
    write_lock(official_lock, targets, destination / "pyodide-lock.json", packages)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(digest)
    return changed + len(targets) + 1, packages


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
    keep = set(with_dependencies({k: v.model_dump() for k, v in spec.packages.items()}, roots))
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
