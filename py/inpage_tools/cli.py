"""The ``inpage`` command: add models to a project, build and serve its site, and run models on CPython.

    inpage new NAME                              a project: pages/ (index.html, app.js), python/, models/
    inpage add MODEL.onnx [--name N] [--task T] [--labels FILE] [--output NAME] [--python FILE] [--dir DIR]
    inpage inspect MODEL.onnx [--json]
    inpage models [--dir DIR] [--json]
    inpage build [--out dist] [--project DIR] [--no-demo]
    inpage serve [--host 127.0.0.1] [--port 8000] [--site dist] [--project DIR] [--no-build] [--no-watch] [--no-demo] [--open]
    inpage <task method> ...                      one command per registered task, e.g.
        inpage classify IMAGE [--model M] [--top-k 5] [--json]
        inpage detect IMAGE [--model M] [--score-threshold S] [--iou-threshold I] [--json]
        inpage estimate-pose IMAGE / inpage segment IMAGE [--model M] [--json]
        inpage predict MODEL ROWS.csv | --row 5.1,3.5,1.4,0.2 [--json]
        inpage run MODEL --input NAME=FILE.npy ... [--json]
    inpage infer IMAGE --model M [--json]          (any image task, JSON out)
    inpage optimize [MODEL ...] [--dir DIR]

Every failure is one line on stderr and a non-zero exit status; ``INPAGE_DEBUG=1`` shows the
traceback of an unexpected one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from inpage import __version__
from inpage.errors import InpageError, non_finite_result


class CliError(Exception):
    """A command cannot go on; printed as one line."""


def _is_project(folder: Path) -> bool:
    """A project has a model manifest, or pages of its own (``inpage new`` makes one before any model)."""
    return (folder / "models" / "manifest.json").is_file() or (folder / "pages").is_dir()


def _project(args) -> Path | None:
    """The project folder a command works on: ``--project``/``--dir``, else the current folder if it is one."""
    folder = getattr(args, "project", None) or getattr(args, "dir", None)
    if folder is not None:
        if not _is_project(Path(folder)):
            raise CliError(f"{folder} has no models/manifest.json; add a model with `inpage add MODEL.onnx --dir {folder}`")
        return Path(folder)
    return Path.cwd() if _is_project(Path.cwd()) else None


def _manifest(args) -> str | None:
    """The manifest a command reads: --manifest, else the project's, else None (inpage's demo models,
    which a new project without models of its own also runs on)."""
    if getattr(args, "manifest", None):
        return args.manifest
    project = _project(args)
    manifest = project / "models" / "manifest.json" if project else None
    return str(manifest) if manifest is not None and manifest.is_file() else None


def _build(out: Path, project: Path | None, quiet: bool = False, demo: bool = True, option: str = "--out") -> int:
    from .bundle import ManifestProblems, build_site

    try:
        return build_site(out, project, quiet=quiet, demo=demo, option=option)
    except ManifestProblems as exc:
        raise CliError("build failed:\n" + "\n".join(f"  {p}" for p in exc.problems)) from None


def cmd_build(args) -> int:
    import time

    started = time.perf_counter()
    project = _project(args)
    changed = _build(args.out, project, demo=not args.no_demo)
    where = f"the project {project}" if project else "inpage's demo models (no models/manifest.json here)"
    print(f"built {args.out} from {where} in {time.perf_counter() - started:.1f} s ({changed} file(s) updated)")
    return 0


def cmd_serve(args) -> int:
    from . import resources
    from .server import check_port, serve

    check_port(args.host, args.port)
    site = args.site
    watch = rebuild = None
    project = _project(args)
    if not args.no_build:
        # The build is incremental: on an up-to-date site it only compares files.
        _build(site, project, demo=not args.no_demo, option="--site")
        if not args.no_watch:
            from .bundle import build_site, models_dir_for

            watch = _watched(models_dir_for(project), project)
            if resources.CHECKOUT:
                watch += [resources.web_dir(), resources.RUNTIME, resources.PACKAGE]

            def rebuild():
                return build_site(site, project, quiet=True, demo=not args.no_demo, option="--site")

    if not (site / "index.html").exists():
        raise CliError(f"{site} holds no built site (index.html missing); run `inpage build --out {site}` or drop --no-build")
    if args.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [f"http://{'localhost' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}/"]).start()
    serve(site, args.host, args.port, isolation=not args.no_isolation, watch=watch, rebuild=rebuild, access_log=args.access_log)
    return 0


def _watched(models_dir: Path, project: Path | None) -> list[Path]:
    """What a change of rebuilds the site: the models and their manifest, the project's pages/ and
    python/, and each Python module the manifest names (wherever it lies, the project root included)."""
    from inpage.manifest import read_manifest

    watch = [models_dir]
    if project is not None:
        watch += [project / "pages", project / "python"]
    try:
        entries = read_manifest((models_dir / "manifest.json").read_text(encoding="utf-8"), str(models_dir))
    except (OSError, InpageError):
        entries = []
    watch += [(models_dir / e["python"]).resolve() for e in entries if isinstance(e, dict) and isinstance(e.get("python"), str)]
    return watch


def cmd_new(args) -> int:
    from .newproject import new_project

    folder = Path(args.name)
    new_project(folder)
    print(f"made {folder}/: pages/index.html and pages/app.js (your app), python/, models/ and a README")
    print(f"next:\n  cd {folder}\n  inpage add path/to/model.onnx\n  inpage serve")
    return 0


def _read_image(path: str) -> bytes:
    file = Path(path)
    if not file.exists():
        raise CliError(f"no such file: {path}")
    if file.is_dir():
        raise CliError(f"{path} is a folder; pass an image file")
    data = file.read_bytes()
    if not data:
        raise CliError(f"{path} is empty")
    return data


async def _load(args):
    from inpage import load_model

    return await load_model(args.model, manifest=_manifest(args), provider=args.provider, variant=args.variant)


def _default_model(args, task: str) -> str:
    if args.model:
        return args.model
    from . import resources
    from inpage.manifest import default_model, read_manifest

    location = _manifest(args) or str(resources.default_manifest())
    entries = read_manifest(Path(location).read_text(encoding="utf-8"), location)
    name = default_model(entries, task)
    if name is None:
        raise CliError(f"{location} has no {task} model; pass --model, or add one with `inpage add MODEL.onnx --task {task}`")
    return name


def _print_json(value) -> None:
    try:
        text = json.dumps(value, indent=2, default=_jsonable, allow_nan=False)
    except ValueError:
        # Bare NaN/Infinity is not JSON; the page refuses such a result with the same line.
        raise non_finite_result(str(value.get("model", "?")) if isinstance(value, dict) else "?") from None
    print(text)


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.ndarray):
        return {"dims": list(value.shape), "type": str(value.dtype), "data": value.reshape(-1).tolist()}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def _footer(model) -> str:
    timings = ", ".join(f"{k[:-3]} {v:.1f} ms" for k, v in model.last_timings.as_dict().items())
    return f"({model.spec.name}, {model.variant}, {model.backend}; {timings})"


# ---- one command per task, from the task registry -----------------------------------------------
# A task's module says what it takes (image, rows, tensors), its options and how a result prints;
# the input kind says how the command reads its input.


def _read_input(kind: str, args):
    if kind == "image":
        return _read_image(args.image)
    if kind == "text":
        return _texts(args)
    if kind == "rows":
        return _rows(args)
    return _tensors(args)


def _texts(args) -> list[str]:
    """The texts of a text command: its arguments, then the lines of --file (``-``: standard input)."""
    texts = list(args.texts or [])
    if args.file:
        if args.file == "-":
            data, where = sys.stdin.buffer.read(), "standard input"
        else:
            path = Path(args.file)
            if not path.is_file():
                raise CliError(f"no such file: {args.file}")
            data, where = path.read_bytes(), args.file
        try:
            content = data.decode("utf-8-sig")  # a byte-order mark (Notepad's UTF-8) is not part of the first text
        except UnicodeDecodeError as exc:
            raise CliError(f"{where} is not UTF-8 text (byte {exc.start} cannot be read); save it as UTF-8, one text per line") from None
        # Every line is a text, blank ones too, so that result N is line N. Lines end at "\n" only
        # (Windows' "\r\n" too): a text may hold form feeds or U+2028, which splitlines() would cut at.
        lines = content.split("\n")
        if lines[-1] == "":
            lines.pop()  # the file's final newline ends its last line; it does not start another
        texts += [line.removesuffix("\r") for line in lines]
    if not texts:
        raise CliError("give the texts: as arguments (inpage embed \"first text\" \"second text\"), or one per line with --file FILE")
    return texts


def _rows(args) -> list[list[float]]:
    if args.row:
        rows = [args.row]
    elif args.rows:
        path = Path(args.rows)
        if not path.is_file():
            raise CliError(f"no such file: {args.rows}")
        rows = [line for line in path.read_text().splitlines() if line.strip()]
    else:
        raise CliError("give rows: a CSV file of numbers, or --row 5.1,3.5,1.4,0.2")
    table = []
    for number, line in enumerate(rows, 1):
        try:
            table.append([float(v) for v in line.split(",")])
        except ValueError:
            if number == 1 and args.rows:
                continue  # a header line
            raise CliError(f"row {number} is not a list of numbers: {line!r}") from None
    return table


def _tensors(args) -> dict:
    import numpy as np

    feeds = {}
    for item in args.input or []:
        name, sep, file = item.partition("=")
        if not sep:
            raise CliError(f"--input takes NAME=FILE.npy, not {item!r}")
        if not Path(file).is_file():
            raise CliError(f"no such file: {file}")
        try:
            feeds[name] = np.load(file, allow_pickle=False)
        except ValueError as exc:
            raise CliError(f"{file} is not a .npy array: {exc}") from None
    return feeds


def cmd_task(args) -> int:
    """Run one task's method (``inpage classify``, ``inpage estimate-pose``, ...) and print its result."""
    from inpage.tasks import get_task

    task = get_task(args.task)
    if task.input_kind in ("image", "text"):
        args.model = _default_model(args, task.name)
    sample = _read_input(task.input_kind, args)
    options = {name: getattr(args, name) for name in task.defaults if getattr(args, name, None) is not None}

    async def main():
        model = await _load(args)
        # The model's own method: another task's model refuses it with one line naming its own.
        runner = model.run if task.name == "run" else getattr(model, task.method)
        result = await runner(sample, **options)
        _print_result(model, result, task.name if task.name == "run" else None, args.json)

    asyncio.run(main())
    return 0


def cmd_infer(args) -> int:
    image = _read_image(args.image)

    async def main():
        model = await _load(args)
        if model.task.input_kind != "image":
            from inpage.tasks import get_task

            raise CliError(f"model {model.spec.name!r} is a {model.spec.task} model, which takes no image; use `inpage {get_task(model.spec.task).cli_command()}`")
        _print_result(model, await model.infer(image), None, True)

    asyncio.run(main())
    return 0


def _print_result(model, result, method: str | None, as_json: bool) -> None:
    if as_json:
        payload = model.payload(result, method)
        _print_json({"model": model.spec.name, "variant": model.variant, "backend": model.backend, **payload,
                     "timings": model.last_timings.as_dict()})
        return
    task = model._run_task if method == "run" else model.task
    for line in task.describe(result):
        print(line)
    print(_footer(model), file=sys.stderr)


def cmd_inspect(args) -> int:
    from .project import describe, inspect_file

    report = inspect_file(Path(args.model))
    if args.json:
        _print_json(report)
    else:
        print(describe(report))
    return 0


def cmd_add(args) -> int:
    from .project import add_model

    image_options = {}
    if args.size:
        try:
            width, height = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise CliError(f"--size takes WIDTHxHEIGHT, e.g. 640x640, not {args.size!r}") from None
        image_options["size"] = (width, height)
    if args.mean or args.std or args.units:
        if not (args.mean and args.std and args.units):
            raise CliError("--mean, --std and --units go together, e.g. --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --units 0-1")
        try:
            image_options["normalize"] = {"mean": [float(v) for v in args.mean.split(",")], "std": [float(v) for v in args.std.split(",")], "units": args.units}
        except ValueError:
            raise CliError("--mean and --std take comma-separated numbers") from None
    if args.resize:
        image_options["resize"] = args.resize
    if args.channel_order:
        image_options["channel_order"] = args.channel_order
    result = add_model(
        Path(args.model), folder=Path(args.dir), name=args.name, task=args.task, labels=Path(args.labels) if args.labels else None,
        output=args.output, python=Path(args.python) if args.python else None, make_default=args.default, **image_options,
    )
    for line in result.notes:
        print(f"  {line}")
    print(f"added {result.name!r} ({result.task}) to {result.manifest}")
    return 0


def cmd_models(args) -> int:
    from . import resources
    from inpage.manifest import read_manifest

    folder = Path(args.dir) if args.dir else None
    manifest = (folder / "models" / "manifest.json") if folder else resources.default_manifest()
    if not manifest.is_file():
        raise CliError(f"no manifest at {manifest}; add a model with `inpage add MODEL.onnx`")
    entries = read_manifest(manifest.read_text(encoding="utf-8"), str(manifest))
    if args.json:
        _print_json({"manifest": str(manifest), "models": entries})
        return 0
    print(f"{manifest}:")
    for entry in entries:
        variants = ", ".join(v.get("name", "?") for v in entry.get("variants", []))
        mark = " (default)" if entry.get("default") else ""
        print(f"  {entry.get('name', '?'):<22} {entry.get('task', '?'):<9} {entry.get('file', '?')}{mark}" + (f"  variants: {variants}" if variants else ""))
    return 0


def cmd_optimize(args) -> int:
    from .optimize import optimize_project

    project = _project(args)
    if project is None:
        raise CliError("no models/manifest.json here; run it in a project folder (or the checkout) or pass --dir DIR")
    photos = Path(args.photos) if args.photos else None
    if photos is not None and not (photos / "photos.json").is_file():
        raise CliError(f"--photos {photos} has no photos.json listing its calibration and held_out photos")
    for line in optimize_project(project, names=args.models or None, force=args.force, photos=photos):
        print(line)
    return 0


def _task_commands(commands, model_options) -> None:
    """``inpage <method>`` for every registered task, its options from the task's defaults."""
    from inpage.tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        command = commands.add_parser(task.cli_command(), help=task.cli_help or f"run a {name} model")
        if task.input_kind == "image":
            command.add_argument("image")
            model_options(command)
        elif task.input_kind == "text":
            command.add_argument("texts", nargs="*", help="the texts, one argument each")
            command.add_argument("--file", help="a UTF-8 file of texts, one per line, blank lines too, so result N is line N ('-': standard input)")
            model_options(command)
        else:
            command.add_argument("model")
            model_options(command, model_positional=True)
        if task.input_kind == "rows":
            command.add_argument("rows", nargs="?", help="a CSV file of rows (a header line is skipped)")
            command.add_argument("--row", help="one row, comma-separated")
        elif task.input_kind == "tensors":
            command.add_argument("--input", action="append", help="NAME=FILE.npy, once per input")
        for option, default in task.defaults.items():
            kind = task.option_types.get(option) or (int if isinstance(default, int) and not isinstance(default, bool) else float if isinstance(default, float) else str)
            help_text = task.option_help.get(option, "")
            command.add_argument(f"--{option.replace('_', '-')}", dest=option, type=kind, default=None,
                                 help=f"{help_text} (default: the model's own, else {default})".lstrip())
        command.set_defaults(func=cmd_task, task=name)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="inpage", description="Run ONNX models in a web page, with the same Python pre- and post-processing in the page and on CPython.")
    root.add_argument("--version", action="version", version=f"inpage {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    new = commands.add_parser("new", help="start a project: a page and its script using window.inpage, python/, models/")
    new.add_argument("name", help="the project folder to make")
    new.set_defaults(func=cmd_new)

    add = commands.add_parser("add", help="add an ONNX model to a project's models/manifest.json")
    add.add_argument("model", help="the .onnx file")
    add.add_argument("--name", help="the model's name in the manifest (default: the file's stem)")
    add.add_argument("--task", help="classify, detect, tabular, run, ... (default: inferred where possible)")
    add.add_argument("--labels", help="a text file with one label per line")
    add.add_argument("--output", help="the output the task reads, when the model has several")
    add.add_argument("--python", help="a .py file (or package folder) with your own preprocess/postprocess")
    add.add_argument("--default", action="store_true", help="make it the default model of its task")
    add.add_argument("--size", help="WIDTHxHEIGHT to feed an image input whose size is dynamic")
    add.add_argument("--mean", help="per-channel mean, comma-separated (with --std and --units)")
    add.add_argument("--std", help="per-channel std, comma-separated")
    add.add_argument("--units", choices=["0-255", "0-1"], help="the units of --mean and --std")
    add.add_argument("--resize", choices=["shorter_side_center_crop", "stretch", "letterbox"])
    add.add_argument("--channel-order", choices=["RGB", "BGR"])
    add.add_argument("--dir", default=".", help="the project folder (default: the current one)")
    add.set_defaults(func=cmd_add)

    inspect = commands.add_parser("inspect", help="show what an ONNX file holds and what inpage add would do with it")
    inspect.add_argument("model")
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(func=cmd_inspect)

    models = commands.add_parser("models", help="list the models of a project (or the demo models)")
    models.add_argument("--dir", default=None)
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)

    build = commands.add_parser("build", help="build the static site")
    build.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist/)")
    build.add_argument("--project", type=Path, default=None, help="project folder (default: the current one if it has models/manifest.json or pages/)")
    build.add_argument("--no-demo", action="store_true", help="leave inpage's demo pages out: the project's pages only")
    build.set_defaults(func=cmd_build)

    serve = commands.add_parser("serve", help="build (if stale) and serve the site with COOP/COEP headers, rebuilding on change")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--site", type=Path, default=Path("dist"), help="site folder (default: dist/)")
    serve.add_argument("--project", type=Path, default=None)
    serve.add_argument("--no-build", action="store_true", help="serve the site as it is")
    serve.add_argument("--no-demo", action="store_true", help="leave inpage's demo pages out: the project's pages only")
    serve.add_argument("--no-watch", action="store_true", help="do not rebuild on change")
    serve.add_argument("--no-isolation", action="store_true", help="leave out COOP/COEP (single-threaded WASM)")
    serve.add_argument("--open", action="store_true", help="open the webcam demo in the default browser")
    serve.add_argument("--access-log", type=Path, default=None, help="append one JSON line per response (path, status, bytes sent)")
    serve.set_defaults(func=cmd_serve)

    def model_options(command, default_model=True, model_positional=False):
        if not model_positional:
            command.add_argument("--model", default=None, help="model name (default: the manifest's default for the task)" if default_model else "model name")
        command.add_argument("--manifest", default=None, help="manifest path or URL (default: ./models/manifest.json, else the demo models)")
        command.add_argument("--provider", default=None, help="cpu or cuda")
        command.add_argument("--variant", default=None, help="a variant of the model (base, int8, ...)")
        command.add_argument("--json", action="store_true", help="print JSON for scripts")

    _task_commands(commands, model_options)

    infer = commands.add_parser("infer", help="run a model's own task on an image (pose, segmentation, ...), JSON out")
    infer.add_argument("image")
    model_options(infer, default_model=False)
    infer.set_defaults(func=cmd_infer)

    optimize = commands.add_parser("optimize", help="make optimised and int8 variants of a project's models, with accuracy reports")
    optimize.add_argument("models", nargs="*", help="model names (default: all)")
    optimize.add_argument("--dir", default=None)
    optimize.add_argument("--force", action="store_true", help="remake variants that exist")
    optimize.add_argument("--photos", default=None, help="a folder of photos with photos.json (default: inpage's bundled photos)")
    optimize.set_defaults(func=cmd_optimize)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from inpage import _native

    _native.EXIT_WHEN_USER_CODE_IS_STUCK = True  # a command may end itself; see _native.time_limit
    try:
        return args.func(args)
    except (InpageError, CliError) as exc:
        print(f"inpage: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`inpage detect x.png --json | head`): not an error of ours.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush stays quiet
        return 0
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, unless asked for
        if os.environ.get("INPAGE_DEBUG"):
            raise
        print(f"inpage: unexpected error ({type(exc).__name__}: {' '.join(str(exc).split())}); rerun with INPAGE_DEBUG=1 to see where", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
