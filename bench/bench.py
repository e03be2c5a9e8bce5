"""The benchmark: every model and variant in the page, natively, and in a plain-JavaScript page, in one run.

    make bench        (python bench/bench.py [--runs 30] [--loop-seconds 10] [--keep-variants] [--models a,b])

What it measures, all on this machine in one go, so the ratios compare like with like:

* **per model and variant, per stage** (read, pre-process, inference, post-process; medians and
  90th percentiles) over ``--runs`` calls on a 640x480 RGBA frame of astronaut.png, as a camera frame
  reaches the page:
  - native onnxruntime on CPython, through the same inpage code;
  - the page (inpage's worker), WASM with 2 threads and with 1;
  - the same worker's bare ``session.run`` on zeros (the yardstick for the Python layer's cost);
  - the plain-JavaScript baseline (bench/baseline/), which does the same pre- and post-processing
    in JS and calls onnxruntime-web directly, in a worker and on the main thread;
* **session options** (memory arena and pattern on/off, graph optimisation level) on NanoDet-m;
* **the live loop** of the webcam page on a 30 fps 640x480 fake camera, for each live model: the
  page's own frames/s, the API's back-to-back frames/s on the same video, and main-thread long
  tasks (PerformanceObserver 'longtask');
* **first and repeat visit** of the webcam page in one browser profile: time to the first result
  and bytes on the wire (the dev server's access log);
* **accuracy** of each variant against its fp32 base, from the reports ``inpage optimize`` wrote;
* **text** (bench/text_bench.py): tokenizing and embedding sentences natively and in the page, and
  Hugging Face's ``tokenizers`` natively.

``--keep-variants`` records in models/manifest.json, per variant, the providers it won on (at least
10% faster than the base, same input size, accuracy report accepted): the page then picks it.

It writes bench/results/latest.json, latest.md (the tables) and latest.png (a plot). Timings on
these shared machines are noisy: read the ratios, and rerun before trusting a change.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "py"))  # the checkout's packages, installed or not
sys.path.insert(0, str(ROOT / "bench"))  # text_bench, beside this file, however it is loaded

from inpage_tools.harness import CHROMIUM, QUIET_FLAGS, Server, build  # noqa: E402
from inpage_tools.y4m import fit_photo, photo_frames, write_y4m  # noqa: E402
from inpage.tasks import get_task, task_names  # noqa: E402
from text_bench import run_text_bench  # noqa: E402
from text_bench import table as text_table  # noqa: E402

MANIFEST = ROOT / "models" / "manifest.json"
# The image tasks whose variants the optimiser judges, each by its JavaScript method name.
METHODS = {name: get_task(name).js_method() for name in task_names() if get_task(name).input_kind == "image" and get_task(name).judge}
STAGES = ["read_ms", "preprocess_ms", "inference_ms", "postprocess_ms"]
KEEP_MARGIN = 0.9  # a variant is kept when it is at least 10% faster than its base
# The key native CPU choices are recorded under on this machine: "cpu-int8dot" where the CPU has
# an int8 dot-product instruction, else "cpu" (inpage.model.choose_variant reads the same key).
from inpage._native import variant_key  # noqa: E402

NATIVE_KEY = variant_key("cpu")
LIVE_MODELS = ["nanodet-m", "blazeface", "movenet-lightning", "selfie"]

PAGE_RUNS = """
async ({model, variant, method, runs, warmup, width, height, rgba}) => {
  const bytes = Uint8ClampedArray.from(atob(rgba), (c) => c.charCodeAt(0));
  const image = new ImageData(bytes, width, height);
  const loadStart = performance.now();
  await inpage.loadModel(model, {variant});
  const loadMs = performance.now() - loadStart;
  const call = () => inpage.call(method, image, {model, variant});
  for (let i = 0; i < warmup; i++) await call();
  const timings = [];
  const started = performance.now();
  for (let i = 0; i < runs; i++) timings.push((await call()).timings);
  const wallMs = (performance.now() - started) / runs;
  const raw = await inpage.rawRun(model, {variant, runs});
  return {loadMs, timings, wallMs, raw: raw.run_ms, variant: raw.variant, threads: (await inpage.startup()).threads};
}
"""

BASELINE_RUNS = """
async ({key, runs, warmup, width, height, rgba}) => {
  await baseline.ready;
  const bytes = Uint8ClampedArray.from(atob(rgba), (c) => c.charCodeAt(0));
  const image = new ImageData(bytes, width, height);
  const loadStart = performance.now();
  await baseline.load(key);
  const loadMs = performance.now() - loadStart;
  for (let i = 0; i < warmup; i++) await baseline.run(key, image);
  const timings = [];
  const started = performance.now();
  for (let i = 0; i < runs; i++) timings.push((await baseline.run(key, image)).timings);
  return {loadMs, timings, wallMs: (performance.now() - started) / runs};
}
"""

LONG_TASKS = """() => {
  window.benchLongTasks = [];
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) benchLongTasks.push(entry.duration); })
    .observe({type: 'longtask', buffered: false});
}"""


def stats(values: list[float]) -> dict:
    if not values:
        return {"median": None, "p90": None}
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p90": ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]}


def stage_stats(timings: list[dict]) -> dict:
    out = {stage: stats([t[stage] for t in timings if t.get(stage) is not None]) for stage in STAGES + ["capture_ms"]}
    totals = [sum(t.get(stage) or 0.0 for stage in STAGES) for t in timings]
    out["total_ms"] = stats(totals)
    return out


def frame_rgba() -> np.ndarray:
    photo = np.asarray(Image.open(ROOT / "web" / "samples" / "astronaut.png").convert("RGB"))
    rgb = fit_photo(photo, (640, 480))
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


def configurations(names: list[str] | None) -> list[dict]:
    """Every (model, variant) the benchmark runs: each image model's base and same-size variants, and size variants."""
    entries = json.loads(MANIFEST.read_text())["models"]
    configs = []
    for entry in entries:
        if entry["task"] not in METHODS or (names and entry["name"] not in names):
            continue
        configs.append({"model": entry["name"], "task": entry["task"], "variant": "base", "size": None})
        for variant in entry.get("variants", []):
            configs.append({"model": entry["name"], "task": entry["task"], "variant": variant["name"], "size": variant.get("size"),
                            "report": variant.get("report", {})})
    return configs


def bench_native(configs: list[dict], rgba: np.ndarray, runs: int, warmup: int) -> dict:
    from inpage import load_model

    async def one(config):
        started = time.perf_counter()
        model = await load_model(config["model"], manifest=str(MANIFEST), variant=config["variant"])
        load_ms = (time.perf_counter() - started) * 1e3
        for _ in range(warmup):
            await model.infer(rgba)
        timings = []
        started = time.perf_counter()
        for _ in range(runs):
            await model.infer(rgba)
            timings.append({"read_ms": 0.0, **model.last_timings.as_dict()})
        wall = (time.perf_counter() - started) * 1e3 / runs
        model.close()
        return {"loadMs": load_ms, "timings": timings, "wallMs": wall}

    return {key(c): asyncio.run(one(c)) for c in configs}


def key(config: dict) -> str:
    return f"{config['model']}@{config['variant']}"


def bench_page(browser, url: str, configs: list[dict], rgba: np.ndarray, runs: int, warmup: int, threads: int, options: str = "") -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}models.html?threads={threads}{options}")
    page.wait_for_function("window.inpage !== undefined")
    page.evaluate("inpage.ready")
    encoded = base64.b64encode(rgba.tobytes()).decode()
    results = {}
    for config in configs:
        results[key(config)] = page.evaluate(PAGE_RUNS, {
            "model": config["model"], "variant": config["variant"], "method": METHODS[config["task"]], "runs": runs, "warmup": warmup,
            "width": rgba.shape[1], "height": rgba.shape[0], "rgba": encoded})
        page.evaluate("(name) => inpage.release(name)", config["model"])
    context.close()
    return results


def bench_baseline(browser, url: str, configs: list[dict], rgba: np.ndarray, runs: int, warmup: int, thread: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}baseline/baseline.html?thread={thread}&threads=2")
    page.wait_for_function("window.baseline !== undefined")
    encoded = base64.b64encode(rgba.tobytes()).decode()
    results = {}
    for config in configs:
        if config["size"]:
            continue  # the baseline reads the base entry's input size
        results[key(config)] = page.evaluate(BASELINE_RUNS, {"key": f"{config['model']}@{config['variant']}", "runs": runs, "warmup": warmup,
                                                             "width": rgba.shape[1], "height": rgba.shape[0], "rgba": encoded})
    context.close()
    return results


def bench_live_loop(browser, url: str, seconds: float, models: list[str], query: str = "") -> dict:
    context = browser.new_context(permissions=["camera"])
    page = context.new_page()
    page.goto(url + "index.html" + query)
    page.wait_for_function("window.inpage !== undefined")
    page.evaluate("inpage.ready")
    page.wait_for_function("document.querySelectorAll('#model option').length > 0")
    results = {}
    for name in models:
        page.select_option("#model", name)
        page.evaluate(f"inpage.loadModel('{name}')")
        page.click("#start")
        page.wait_for_function(f"window.inpageDemo.frames > 3 && inpageDemo.last.model === '{name}'", timeout=120_000)
        page.evaluate(LONG_TASKS)
        # The page keeps its recent frames' timings itself: polling them here every animation
        # frame would keep the compositor busy and slow the very loop being measured.
        start_frames = page.evaluate("inpageDemo.frames")
        time.sleep(seconds)
        frames = page.evaluate("inpageDemo.frames") - start_frames
        timings = page.evaluate(f"inpageDemo.history.slice(-{max(frames, 1)})")
        long_tasks = page.evaluate("benchLongTasks")
        variant = page.evaluate("inpageDemo.last.variant")
        # The API back to back on the same video, still playing on the page: the camera element's
        # loop is ended but the camera and the video stay as they were.
        page.evaluate("inpageDemo.running = false")
        api = page.evaluate(f"""async () => {{
            const video = document.querySelector('inpage-camera').shadowRoot.querySelector('video');
            const method = {json.dumps(METHODS)}[(await inpage.models()).find((m) => m.name === '{name}').task];
            for (let i = 0; i < 3; i++) await inpage.call(method, video, {{model: '{name}'}});
            const started = performance.now(); let n = 0;
            while (performance.now() - started < {seconds * 1000 / 2}) {{ await inpage.call(method, video, {{model: '{name}'}}); n++; }}
            return n / ((performance.now() - started) / 1000);
        }}""")
        page.click("#stop")
        results[name] = {
            "variant": variant,
            "fps": frames / seconds,
            "api_fps": api,
            "frames": frames,
            "long_tasks": {"count": len(long_tasks), "max_ms": max(long_tasks) if long_tasks else 0.0},
            "mean_ms": {k: statistics.fmean(t[k] for t in timings if t.get(k) is not None) for k in timings[0]} if timings else {},
        }
    context.close()
    return results


def visits(playwright, url: str, server: Server, profile: Path) -> dict:
    """First and repeat visit of the webcam page in one profile: navigation to the first result, bytes sent."""
    context = playwright.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=QUIET_FLAGS + [
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={server.clip}"], permissions=["camera"])
    results = {}
    try:
        for visit in ("first", "repeat"):
            since = time.time()
            page = context.new_page()
            page.goto(url + "index.html")
            page.click("#start")
            page.wait_for_function("window.inpageDemo && inpageDemo.frames >= 1", timeout=120_000, polling=20)
            first_result = page.evaluate("performance.now()")
            timeline = page.evaluate("inpage.timeline()")
            page.click("#stop")
            time.sleep(1.0)  # let the service worker finish caching what it fetched
            entries = [e for e in server.log() if e["t"] >= since]
            results[visit] = {"first_result_ms": first_result, "bytes": sum(e["bytes"] for e in entries),
                              "requests": len(entries), "timeline_ms": timeline}
            page.close()
    finally:
        context.close()
    return results


def accurate_enough(task: str, report: dict) -> bool:
    """Whether a variant's report allows it to run by default: its held-out accuracy against fp32, as
    the task's own judge rules (the same judge the optimiser used to keep it); a graph-optimised copy
    has no accuracy figures, only the same outputs (``max_output_difference``)."""
    if report.get("accuracy"):
        return get_task(task).judge.runs_by_default(report["accuracy"])
    return "max_output_difference" in report


def decide_variants(configs: list[dict], page2: dict, page1: dict, native: dict) -> dict:
    """Per model, the variant each provider keeps: the fastest same-size variant, accurate enough to run
    by default, that is at least 10% faster than the base. On WASM two measurements must agree,
    because the page's timings are noisy: the bare session.run at 2 threads and the whole call at 1 thread."""
    kept: dict[str, dict[str, str]] = {}
    by_model: dict[str, list[dict]] = {}
    for config in configs:
        by_model.setdefault(config["model"], []).append(config)

    def faster(source, field, variant_key, base_key):
        return source[variant_key][field]["median"] <= KEEP_MARGIN * source[base_key][field]["median"]

    for model, group in by_model.items():
        base = f"{model}@base"
        candidates = [c for c in group if c["variant"] != "base" and not c["size"] and accurate_enough(c["task"], c.get("report", {}))]
        wasm = [c for c in candidates if faster(page2, "raw_stats", key(c), base) and faster(page1, "total", key(c), base)]
        cpu = [c for c in candidates if faster(native, "total", key(c), base)]
        if wasm:
            kept.setdefault(model, {})["wasm"] = min(wasm, key=lambda c: page2[key(c)]["raw_stats"]["median"])["variant"]
        if cpu:
            kept.setdefault(model, {})[NATIVE_KEY] = min(cpu, key=lambda c: native[key(c)]["total"]["median"])["variant"]
    return kept


def write_kept_variants(kept: dict) -> None:
    """Record this run's choices: for WASM and for this machine's kind of CPU. What other kinds of CPU
    recorded (``cpu`` here, ``cpu-int8dot`` on a VNNI machine) stays: this run did not measure them."""
    from inpage.manifest import write_manifest

    measured = {"wasm", NATIVE_KEY}
    entries = json.loads(MANIFEST.read_text())["models"]
    for entry in entries:
        for variant in entry.get("variants", []):
            others = [p for p in variant.get("providers", []) if p not in measured]
            variant["providers"] = sorted(others + [p for p, name in kept.get(entry["name"], {}).items() if name == variant["name"]])
    write_manifest(MANIFEST, entries)


def summarise(runs: dict) -> dict:
    for result in runs.values():
        result["stages"] = stage_stats(result["timings"])
        result["total"] = result["stages"]["total_ms"]
        if "raw" in result:
            result["raw_stats"] = stats(result["raw"])
        del result["timings"]
    return runs


def accuracy_summary(report: dict) -> str:
    """A variant report's accuracy in words: what `inpage optimize` measured on the held-out photos."""
    accuracy = report.get("accuracy", {})
    if "confident" in accuracy:
        c, d = accuracy["confident"], accuracy["default"]
        return (f"confident (>= 0.5): {c['matched']}/{c['base_detections']} matched, {c['extra']} extra; "
                f"at the default threshold: {d['matched']}/{d['base_detections']}, {d['extra']} extra")
    if "top1_agreement" in accuracy:
        return f"top-1 agreement {accuracy['top1_agreement']:.0%}, top-5 {accuracy['top5_agreement']:.0%}"
    if "mean_confident_keypoint_distance_px" in accuracy:
        return f"confident keypoints {accuracy['mean_confident_keypoint_distance_px']:.1f} px from fp32's"
    if "mean_iou" in accuracy:
        return f"mask IoU {accuracy['mean_iou']:.2f} (lowest {accuracy['min_iou']:.2f})"
    if "max_output_difference" in report:
        return f"outputs equal within {report['max_output_difference']:.2g}"
    return "–"


def fmt(value, digits=1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def ratio(a, b) -> str:
    return "–" if not a or not b else f"{a / b:.2f}x"


def tables(report: dict) -> str:
    lines = []
    machine = report["machine"]
    lines.append(f"Measured {report['when']} on {machine['cpus']} cores, {machine['platform']}, {machine['chromium']}, "
                 f"onnxruntime {machine['onnxruntime']} natively and onnxruntime-web 1.30.0 in the page; 640x480 frame, "
                 f"medians of {report['runs']} calls (p90 in brackets), milliseconds.\n")
    lines.append("| model | variant | native | page, 2 threads | page, 1 thread | bare session.run | plain JS, worker | plain JS, main thread | page / native | page / plain JS | page / session.run |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, config in report["configs"].items():
        native = report["native"][name]["total"]
        page2 = report["page_2_threads"][name]
        page1 = report["page_1_thread"][name]["total"]
        base_js = report["baseline_worker"].get(name, {}).get("total", {})
        main_js = report["baseline_main"].get(name, {}).get("total", {})
        raw = page2.get("raw_stats", {})
        lines.append(
            f"| {config['model']} | {config['variant']} | {fmt(native['median'])} ({fmt(native['p90'])}) | "
            f"{fmt(page2['total']['median'])} ({fmt(page2['total']['p90'])}) | {fmt(page1['median'])} | {fmt(raw.get('median'))} | "
            f"{fmt(base_js.get('median'))} | {fmt(main_js.get('median'))} | {ratio(page2['total']['median'], native['median'])} | "
            f"{ratio(page2['total']['median'], base_js.get('median'))} | {ratio(page2['total']['median'], raw.get('median'))} |")
    lines.append("\nPer stage in the page (2 threads) against native and the plain-JS worker, medians (p90):\n")
    lines.append("| model | variant | stage | page | native | plain JS |")
    lines.append("| --- | --- | --- | ---: | ---: | ---: |")
    for name, config in report["configs"].items():
        if config["variant"] != "base":
            continue
        for stage in STAGES:
            page = report["page_2_threads"][name]["stages"][stage]
            native = report["native"][name]["stages"][stage]
            base_js = report["baseline_worker"].get(name, {}).get("stages", {}).get(stage, {})
            lines.append(f"| {config['model']} | base | {stage.replace('_ms', '')} | {fmt(page['median'])} ({fmt(page['p90'])}) | "
                         f"{fmt(native['median'])} | {fmt(base_js.get('median'))} |")
    lines.append("\nSession options, NanoDet-m in the page (2 threads), inference median ms:\n")
    lines.append("| options | base | int8 |")
    lines.append("| --- | ---: | ---: |")
    for label, result in report["session_options"].items():
        lines.append(f"| {label} | " + " | ".join(fmt(result.get(f"nanodet-m@{v}", {}).get("stages", {}).get("inference_ms", {}).get("median")) for v in ("base", "int8")) + " |")
    lines.append("\nLive loop, webcam page on a 30 fps 640x480 fake camera (default variant per model):\n")
    lines.append("| model | variant | page frames/s | API back to back, frames/s | main-thread long tasks (max ms) | capture | read | pre | inference | post | draw |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, live in report["live_loop"].items():
        m = live["mean_ms"]
        lines.append(f"| {name} | {live['variant']} | {live['fps']:.1f} | {live['api_fps']:.1f} | {live['long_tasks']['count']} ({live['long_tasks']['max_ms']:.0f}) | "
                     + " | ".join(fmt(m.get(k)) for k in ("capture_ms", "read_ms", "preprocess_ms", "inference_ms", "postprocess_ms", "draw_ms")) + " |")
    visits_ = report["visits"]
    lines.append("\nVisits of the webcam page (one browser profile; bytes the server sent):\n")
    lines.append("| visit | first result | bytes on the wire | requests |")
    lines.append("| --- | ---: | ---: | ---: |")
    for visit, result in visits_.items():
        lines.append(f"| {visit} | {result['first_result_ms'] / 1000:.2f} s | {result['bytes'] / 1e6:.2f} MB | {result['requests']} |")
    lines.append("\nVariants against their fp32 base (held-out photos, from `inpage optimize`), and the providers that keep them:\n")
    lines.append("| model | variant | accuracy | kept for |")
    lines.append("| --- | --- | --- | --- |")
    for name, config in report["configs"].items():
        if config["variant"] == "base":
            continue
        kept = ", ".join(p for p, v in report["kept_variants"].get(config["model"], {}).items() if v == config["variant"]) or "–"
        lines.append(f"| {config['model']} | {config['variant']} | {accuracy_summary(config.get('report', {}))} | {kept} |")
    if "text" in report:
        lines.append(text_table(report["text"]))
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["configs"])
    series = [("native", report["native"]), ("page, 2 threads", report["page_2_threads"]), ("page, 1 thread", report["page_1_thread"]),
              ("plain JS, worker", report["baseline_worker"])]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.2
    for i, (label, source) in enumerate(series):
        values = [source.get(n, {}).get("total", {}).get("median") or 0 for n in names]
        left.bar(np.arange(len(names)) + (i - 1.5) * width, values, width, label=label)
    left.set_xticks(np.arange(len(names)), [n.replace("@", "\n") for n in names], fontsize=7, rotation=30)
    left.set_ylabel("ms per frame (median)")
    left.set_yscale("log")
    left.legend()
    left.set_title("Per frame, 640x480")
    live = report["live_loop"]
    right.bar(list(live), [v["fps"] for v in live.values()], color="#3fb6a8", label="page")
    right.scatter(list(live), [v["api_fps"] for v in live.values()], color="black", zorder=3, label="API back to back")
    right.axhline(15, color="grey", linestyle="--", linewidth=1)
    right.set_ylabel("frames/s")
    right.set_title("Live loop, fake camera")
    right.tick_params(axis="x", labelrotation=30, labelsize=8)
    right.legend()
    figure.suptitle(f"inpage benchmark, {report['when']}, {report['machine']['cpus']} cores, {report['machine']['chromium']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--loop-seconds", type=float, default=10.0)
    parser.add_argument("--models", default=None, help="comma-separated model names (default: every image model)")
    parser.add_argument("--keep-variants", action="store_true", help="record the winning variants' providers in models/manifest.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    configs = configurations(args.models.split(",") if args.models else None)
    rgba = frame_rgba()
    site = ROOT / "dist"
    result = build(site)
    if result.returncode != 0:
        raise SystemExit(f"the build failed: {result.stderr}")
    shutil.copytree(ROOT / "bench" / "baseline", site / "baseline", dirs_exist_ok=True)
    report: dict = {"when": time.strftime("%Y-%m-%d %H:%M"), "runs": args.runs, "configs": {key(c): c for c in configs}}
    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "astronaut.y4m"
        write_y4m(clip, photo_frames(rgba[..., :3], size=(640, 480), n=2), fps=30)
        print("native onnxruntime …", flush=True)
        report["native"] = summarise(bench_native(configs, rgba, args.runs, args.warmup))
        server = Server(site, access_log=Path(scratch) / "access.jsonl")
        server.clip = clip
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS + [
                    "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"])
                for threads in (2, 1):
                    print(f"page, WASM {threads} thread(s) …", flush=True)
                    report[f"page_{threads}_thread{'s' if threads > 1 else ''}"] = summarise(
                        bench_page(browser, server.url, configs, rgba, args.runs, args.warmup, threads))
                for thread in ("worker", "main"):
                    print(f"plain-JS baseline, {thread} …", flush=True)
                    report[f"baseline_{thread}"] = summarise(bench_baseline(browser, server.url, configs, rgba, args.runs, args.warmup, thread))
                print("session options …", flush=True)
                nanodet = [c for c in configs if c["model"] == "nanodet-m" and c["variant"] in ("base", "int8")]
                report["session_options"] = {}
                for label, options in (("arena and pattern on, level all (inpage's)", ""),
                                       ("arena and pattern off", '&ort={"enableCpuMemArena":false,"enableMemPattern":false}'),
                                       ("level basic", '&ort={"graphOptimizationLevel":"basic"}')):
                    report["session_options"][label] = summarise(bench_page(browser, server.url, nanodet, rgba, args.runs, args.warmup, 2, options)) if nanodet else {}
                report["kept_variants"] = decide_variants(configs, report["page_2_threads"], report["page_1_thread"], report["native"])
                if args.keep_variants:
                    write_kept_variants(report["kept_variants"])
                    build(site)
                    shutil.copytree(ROOT / "bench" / "baseline", site / "baseline", dirs_exist_ok=True)
                print("live loop …", flush=True)
                live_models = [m for m in LIVE_MODELS if any(c["model"] == m for c in configs)]
                report["live_loop"] = bench_live_loop(browser, server.url, args.loop_seconds, live_models)
                print("text …", flush=True)
                report["text"] = run_text_bench(browser, server.url, 3)
                report["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "chromium": f"Chromium {browser.version}"}
                browser.close()
                print("first and repeat visit …", flush=True)
                report["visits"] = visits(playwright, server.url, server, Path(scratch) / "profile")
        finally:
            server.stop()

    import onnxruntime

    report["machine"]["onnxruntime"] = onnxruntime.__version__
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    text = tables(report)
    args.out.with_suffix(".md").write_text(text)
    plot(report, args.out.with_suffix(".png"))
    print(text)
    print(f"wrote {args.out}, {args.out.with_suffix('.md').name} and {args.out.with_suffix('.png').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
