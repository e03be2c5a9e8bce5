"""The ``inpage`` command: build the site, serve it, or check a model on CPython.

    inpage serve [--host 127.0.0.1] [--port 8000] [--no-build] [--no-watch] [--no-isolation] [--open]
    inpage build [--out dist]
    inpage classify IMAGE [--model efficientnet-lite0] [--top-k 5]
    inpage detect IMAGE [--model nanodet-m] [--score-threshold 0.35]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "build" / "build_site.py"


def _build_module():
    """The site build script of the checkout this package runs from (build/build_site.py)."""
    if not BUILD_SCRIPT.exists():
        raise SystemExit(
            f"inpage: no build script at {BUILD_SCRIPT}. Building needs a source checkout "
            "(pip install -e .); to serve an already built site use --no-build --site DIR."
        )
    spec = importlib.util.spec_from_file_location("inpage_site_build", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(out: Path, steps=None) -> int:
    builder = _build_module()
    try:
        return builder.build_site(out, steps=steps or builder.STEPS)
    except builder.BuildError as exc:
        raise SystemExit(f"build failed: {exc}") from None


def cmd_build(args) -> int:
    _build(args.out)
    print(f"built {args.out}")
    return 0


def cmd_serve(args) -> int:
    from .server import serve

    site = args.site
    watch = rebuild = None
    if not args.no_build:
        # The build is incremental: on an up-to-date site it only compares files.
        _build(site)
        if not args.no_watch:
            builder = _build_module()
            watch = {"web": ROOT / "web", "python": ROOT / "py" / "inpage", "models": ROOT / "models"}

            def rebuild(steps):
                return builder.build_site(site, steps=steps, quiet=True)

    if not (site / "index.html").exists():
        raise SystemExit(f"inpage: {site} holds no built site (index.html missing)")
    if args.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [f"http://{args.host}:{args.port}/"]).start()
    serve(site, args.host, args.port, isolation=not args.no_isolation, watch=watch, rebuild=rebuild)
    return 0


def cmd_classify(args) -> int:
    from . import load_model

    async def main():
        model = await load_model(args.model, manifest=args.manifest)
        for p in await model.classify(Path(args.image).read_bytes(), top_k=args.top_k):
            print(f"{p.score:8.4f}  {p.label}")
        print(f"({model.backend}; {_format_timings(model)})", file=sys.stderr)

    asyncio.run(main())
    return 0


def cmd_detect(args) -> int:
    from . import load_model

    async def main():
        model = await load_model(args.model, manifest=args.manifest)
        for d in await model.detect(Path(args.image).read_bytes(), score_threshold=args.score_threshold):
            box = ", ".join(f"{v:.0f}" for v in d.box)
            print(f"{d.score:8.4f}  {d.label:<16} [{box}]")
        print(f"({model.backend}; {_format_timings(model)})", file=sys.stderr)

    asyncio.run(main())
    return 0


def _format_timings(model) -> str:
    return ", ".join(f"{k[:-3]} {v:.1f} ms" for k, v in model.last_timings.as_dict().items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="inpage", description="Run ONNX models in a web page, with Python pre/post-processing.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="build (if stale) and serve the site with COOP/COEP headers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--site", type=Path, default=ROOT / "dist", help="site folder (default: dist/)")
    serve.add_argument("--no-build", action="store_true", help="serve the site as it is")
    serve.add_argument("--no-watch", action="store_true", help="do not rebuild when py/, web/ or models/ change")
    serve.add_argument("--no-isolation", action="store_true", help="leave out COOP/COEP (single-threaded WASM)")
    serve.add_argument("--open", action="store_true", help="open the webcam demo in the default browser")
    serve.set_defaults(func=cmd_serve)

    build = commands.add_parser("build", help="build the static site")
    build.add_argument("--out", type=Path, default=ROOT / "dist")
    build.set_defaults(func=cmd_build)

    for name, func, default in (("classify", cmd_classify, "efficientnet-lite0"), ("detect", cmd_detect, "nanodet-m")):
        task = commands.add_parser(name, help=f"{name} an image on CPython with native onnxruntime")
        task.add_argument("image")
        task.add_argument("--model", default=default)
        task.add_argument("--manifest", default=None, help="manifest path (default: the bundled one)")
        if name == "classify":
            task.add_argument("--top-k", type=int, default=5)
        else:
            task.add_argument("--score-threshold", type=float, default=0.35)
        task.set_defaults(func=func)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
