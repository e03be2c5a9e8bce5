"""Build inpage's self-contained static site: pages, runtimes, wheels and models in one folder.

    inpage build [--out dist]            (or, in a checkout, python build/build_site.py)

The output loads nothing from outside its own origin:

    js/, sw.js, _headers   the runtime (js/inpage.js is the one entry a page loads) and the service worker
    index.html, ...     the project's pages (every file of its pages/ folder), else inpage's demo pages
                        (index.html, classify.html, text.html, models.html, style.css, samples/); a project page
                        wins over a demo page of the same name, and --no-demo leaves the demo pages out
    tasks.json          the tasks and what the pages need of them (method names, option defaults, the
                        file each provider runs, the default model per task)
    ort/        the onnxruntime-web bundles and WebAssembly the pages load, and no others
    pyodide/    the Pyodide core; numpy and Pillow wheels; inpage's page wheel and the wheels of the
                project's own Python modules; a lock file trimmed to those
    models/     the .onnx files (and their variants), label files and manifest.json
    assets.json every file with its sha256, and .br/.gz copies of the large ones

The models are the project's (``models/manifest.json`` in the current folder, or ``--project``),
else inpage's demo models. Every file taken from elsewhere is checked against an expected sha256
before it is written, and every manifest entry against its ONNX file; a problem stops the build
with one line per problem. Each step compares its inputs with what the output already holds, so a
second run with nothing changed copies nothing, and a step whose output has gone is redone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import resources
from inpage.errors import BuildError
from .assets import build_assets
from .files import install, make_folder, remove_stale
from .runtime import build_runtime, npm_package, runtime_complete
from .search_index import build_search_index
from .validate import CheckedManifest, ManifestProblems, check_manifest, manifest_files
from .wheels import build_python, user_module_entries

STEPS = ("web", "runtime", "python", "models")
STATE_DIR = ".inpage"

__all__ = ["BuildError", "ManifestProblems", "STEPS", "build_site", "models_dir_for"]


def models_dir_for(project: Path | None) -> Path:
    """The models folder a build uses: the project's ``models/`` once it has a manifest, else the demo models."""
    if project is not None and (project / "models" / "manifest.json").is_file():
        return project / "models"
    if project is not None:
        return resources.demo_models_dir()
    manifest = resources.project_manifest()
    return manifest.parent if manifest else resources.demo_models_dir()


# web/'s demo: the pages, their scripts, styles and samples. The rest of web/ is the runtime every
# page needs (js/inpage.js and what it loads, the service worker).
DEMO_FILES = ("index.html", "classify.html", "text.html", "models.html", "style.css", "js/webcam-page.js", "js/classify-page.js",
              "js/text-page.js", "js/models-page.js")
DEMO_FOLDERS = ("samples/",)
# What a static host that reads a _headers file (Netlify, Cloudflare Pages) sends with every file:
# cross-origin isolation, so onnxruntime-web runs on threads without the service worker's reload.
HEADERS_FILE = "/*\n  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n"


def is_demo(rel: str) -> bool:
    return rel in DEMO_FILES or rel.startswith(DEMO_FOLDERS)


def site_files(project: Path | None, demo: bool = True, out: Path | None = None) -> dict[str, Path]:
    """Every file of the site's pages and runtime, by its path in the site: web/'s runtime, its demo
    pages (unless ``demo`` is False), and the project's ``pages/`` over them."""
    web = resources.web_dir()
    files = {p.relative_to(web).as_posix(): p for p in sorted(web.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}
    if not demo:
        files = {rel: path for rel, path in files.items() if not is_demo(rel)}
    pages = project / "pages" if project is not None else None
    if pages is not None and pages.is_dir():
        for rel, path in page_files(project, out):
            if rel in files and not is_demo(rel):
                raise BuildError(f"pages/{rel} would replace inpage's own {rel}, which every page needs; rename it")
            if rel in ("assets.json", "tasks.json", "_headers") or rel.split("/")[0] in ("models", "ort", "pyodide"):
                raise BuildError(f"pages/{rel} would replace a file the build writes; rename it or move it out of pages/")
            files[rel] = path
    return files


def page_files(project: Path, out: Path | None = None) -> list[tuple[str, Path]]:
    """The files of the project's ``pages/``, by their path in the site; dotted names and __pycache__
    are left out. A symbolic link is followed, to a file or a folder alike, while it stays inside the
    project; one that leads out of it (pages/passwd.txt -> /etc/passwd) would publish a file nobody
    put in the project, so it stops the build, as do a dangling link, a loop, and a link to the
    output folder (each build would publish the one before)."""
    pages = project / "pages"
    inside = (project.resolve(), pages.resolve())
    site = out.resolve() if out is not None else None
    found = []

    def walk(folder: Path, rel: str, above: tuple[Path, ...]) -> None:
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            name = rel + entry.name
            try:
                real = entry.resolve()
            except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
                raise BuildError(f"pages/{name} is a link that leads back to itself; remove it") from None
            if entry.is_symlink():
                if not any(real == root or root in real.parents for root in inside):
                    raise BuildError(f"pages/{name} is a link to {real}, outside the project; copy what it links to into the project "
                                     "if it belongs in the site, or remove the link")
                if not real.exists():
                    raise BuildError(f"pages/{name} is a link to {real}, which does not exist; fix the link or remove it")
            if entry.is_dir():
                if real in above:
                    raise BuildError(f"pages/{name} leads to a folder that holds it, so pages/ would never end; remove the link")
                if real == site:
                    raise BuildError(f"pages/{name} leads to the output folder {out}, which each build would copy into itself; remove the link")
                walk(entry, name + "/", (*above, real))
            elif entry.is_file():
                found.append((name, entry))

    walk(pages, "", (pages.resolve(),))
    return found


def project_python(project: Path | None) -> Path | None:
    """The project's ``python/`` folder of page-side modules, if it has one."""
    folder = project / "python" if project is not None else None
    return folder if folder is not None and folder.is_dir() else None


class Log:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.changed = 0

    def step(self, name: str, changed: int) -> None:
        self.changed += changed
        if not self.quiet:
            print(f"  {name:<8} {changed} file(s) updated", flush=True)

    def warn(self, message: str) -> None:
        print(f"  warning: {message}", flush=True)


def _state(out: Path, name: str) -> Path:
    return out / STATE_DIR / name


def build_web(out: Path, project: Path | None = None, demo: bool = True) -> int:
    files = site_files(project, demo, out)
    wanted = set(files)
    changed = sum(install(files[rel], out / rel) for rel in sorted(wanted))
    headers = out / "_headers"
    if not headers.exists() or headers.read_text() != HEADERS_FILE:
        headers.write_text(HEADERS_FILE)
        changed += 1
    # Remove pages and assets deleted from web/ or pages/ since the last build (and only those).
    record = _state(out, "web-files")
    previous = set(record.read_text().split("\n")) - {""} if record.exists() else set()
    for stale in sorted(previous - wanted):
        remove_stale(out, stale)
        changed += 1
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("\n".join(sorted(wanted)))
    return changed


def build_models(out: Path, checked: CheckedManifest) -> int:
    models_dir = checked.path.parent
    files = manifest_files(checked)
    changed = sum(install(models_dir / rel, out / "models" / rel) for rel in files)
    changed += install(checked.path, out / "models" / "manifest.json")
    # What `inpage inspect` says of each model, for the models page.
    inspect = out / "models" / "inspect.json"
    text = json.dumps(checked.reports, indent=1, sort_keys=True) + "\n"
    if not inspect.exists() or inspect.read_text() != text:
        inspect.write_text(text)
        changed += 1
    record = _state(out, "model-files")
    previous = set(record.read_text().split("\n")) - {""} if record.exists() else set()
    for stale in sorted(previous - set(files)):
        remove_stale(out / "models", stale)
        changed += 1
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("\n".join(files))
    return changed


# The providers a page can ask for; the build says which file each one runs.
PAGE_PROVIDERS = ("wasm", "webgpu")


def site_tasks(checked: CheckedManifest) -> dict:
    """What the pages, the worker and ``window.inpage`` read instead of hard-coding it (``tasks.json``):
    every registered task (method names, input kind, option defaults), each model's options (the
    task's defaults under the manifest's own) and the file each provider runs, and the default model
    of each task."""
    from inpage.manifest import default_model
    from inpage.model import choose_variant
    from inpage.tasks import camel_case, describe_tasks, get_task

    models = {}
    for spec in checked.specs:
        task = get_task(spec.task)
        options = {**task.defaults, **{k: v for k, v in spec.options.items() if k in task.defaults}}
        models[spec.name] = {
            "task": spec.task,
            "options": {camel_case(key): value for key, value in options.items()},
            "files": {provider: spec.with_variant(choose_variant(spec, provider)).file for provider in PAGE_PROVIDERS},
            "head": task.head_parameters(spec),
        }
    tasks = describe_tasks()
    defaults = {t["task"]: default_model(checked.entries, t["task"]) for t in tasks}
    return {"tasks": tasks, "models": models, "defaults": {task: name for task, name in defaults.items() if name}}


def build_tasks(out: Path, checked: CheckedManifest) -> int:
    text = json.dumps(site_tasks(checked), indent=1, sort_keys=True) + "\n"
    path = out / "tasks.json"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return 0
    path.write_text(text, encoding="utf-8")
    return 1


def incomplete_steps(out: Path) -> tuple[str, ...]:
    """Steps whose output is missing (a deleted site folder, say), to be redone whatever changed."""
    missing = []
    if not (out / "index.html").exists() or not _state(out, "web-files").exists():
        missing.append("web")
    if not runtime_complete(out):
        missing.append("runtime")
    if not (out / "pyodide" / "pyodide-lock.json").exists() or not list((out / "pyodide").glob("inpage-*.whl")):
        missing.append("python")
    if not (out / "models" / "manifest.json").exists() or not (out / "tasks.json").exists():
        missing.append("models")
    return tuple(missing)


def _relation(target: Path, source: Path) -> str | None:
    """How the resolved folder ``target`` stands to ``source``: "is", "is inside", "holds", or None."""
    source = source.resolve()
    return "is" if target == source else "is inside" if source in target.parents else "holds" if target in source.parents else None


def check_output(out: Path, project: Path | None, models_dir: Path, option: str = "--out") -> None:
    """Refuse an output folder among the build's own sources: the project folder or one that holds
    it, a folder inside its pages/, models/ or python/, and the models or pages a build without a
    project reads. Written there, the site would publish the project's sources, and inside pages/
    each build would copy the one before into itself. ``option`` is the flag that named ``out``."""
    target = out.resolve()
    sources = [(f"the models folder {models_dir}", models_dir), (f"inpage's own pages {resources.web_dir()}", resources.web_dir())]
    if project is not None:
        # Inside the project is where a site belongs (dist/), so the project folder counts only as itself or held.
        sources = [("the project folder", project)] + [(f"the project's {name}/", project / name) for name in ("pages", "models", "python")] + sources
    for label, source in sources:
        relation = _relation(target, source)
        if relation and not (relation == "is inside" and label == "the project folder"):
            raise BuildError(f"{option} {out} {relation} {label}, which the build reads; build the site into a folder of its own, "
                             f"outside pages/, models/ and python/, e.g. {option} site")


def build_site(out: Path, project: Path | None = None, steps: tuple[str, ...] = STEPS, quiet: bool = False, demo: bool = True,
               option: str = "--out") -> int:
    """Run ``steps`` (and any step whose output is missing) into ``out``. Returns how many files changed.
    ``project``'s pages/ and python/ join the site; ``demo`` False leaves inpage's demo pages out.
    ``option`` is the flag that named ``out``, for the messages that refuse it."""
    out = Path(out)
    models_dir = models_dir_for(project)
    if out.exists() and not out.is_dir():
        raise BuildError(f"{option} {out} is a file, not a folder; pass a folder, new or one a build made, e.g. {option} site")
    check_output(out, project, models_dir, option)
    problem = make_folder(out)
    if problem:
        raise BuildError(f"cannot create the output folder {out}: {problem}; pass a folder you can write to, e.g. {option} site")
    steps = tuple(step for step in STEPS if step in steps or step in incomplete_steps(out))
    log = Log(quiet)
    # The manifest is checked first: its problems are the ones a user is most likely to meet.
    checked = check_manifest(models_dir / "manifest.json")
    if project is not None and models_dir == resources.demo_models_dir():
        log.warn(f"{project} has no models/manifest.json yet: the site carries inpage's demo models until you `inpage add` one")
    for warning in checked.warnings:
        log.warn(warning)
    if "web" in steps:
        log.step("web", build_web(out, project, demo))
    if "runtime" in steps:
        log.step("runtime", build_runtime(out))
    packages_file = _state(out, "packages.json")
    if "python" in steps:
        python_dir = project_python(project)
        modules = user_module_entries(checked.entries, models_dir, python_dir)
        requirements = python_dir / "requirements.txt" if python_dir else None
        changed, packages = build_python(out, modules, npm_package("pyodide") / "pyodide-lock.json",
                                         requirements if requirements is not None and requirements.is_file() else None)
        packages_file.parent.mkdir(parents=True, exist_ok=True)
        packages_file.write_text(json.dumps(packages))
        log.step("python", changed)
    if "models" in steps:
        log.step("models", build_models(out, checked) + build_tasks(out, checked) + build_search_index(out, checked, demo))
    packages = json.loads(packages_file.read_text()) if packages_file.exists() else ["inpage"]
    log.step("assets", build_assets(out, packages))
    return log.changed


def main(argv: list[str] | None = None) -> int:
    """``python build/build_site.py`` in a checkout: the same build as ``inpage build``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Build inpage's self-contained static site.")
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist/)")
    parser.add_argument("--project", type=Path, default=None, help="project folder with models/manifest.json (default: the current folder, else the demo models)")
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated steps out of {','.join(STEPS)}")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--no-demo", action="store_true", help="leave inpage's demo pages out (the project's pages only)")
    args = parser.parse_args(argv)
    steps = tuple(s for s in args.only.split(",") if s)
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    try:
        changed = build_site(args.out, args.project, steps, args.quiet, demo=not args.no_demo)
    except ManifestProblems as exc:
        for problem in exc.problems:
            print(f"build failed: {problem}", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"built {args.out} in {time.perf_counter() - started:.1f} s ({changed} file(s) updated)")
    return 0
