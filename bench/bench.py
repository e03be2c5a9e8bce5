"""Benchmark: the same models on the same frame, in the page versus native onnxruntime, in one run.

    python bench/bench.py [--runs 30] [--warmup 5] [--loop-seconds 15] [--out bench/results/latest.json]

What it measures, all on this machine in one go so the ratios compare like with like:

* per model, per stage (pre-process, inference, post-process) medians over ``--runs`` calls on a
  640x480 RGBA frame of astronaut.png, as a camera frame reaches the page:
  - in headless Chromium, WASM, with as many threads as the page gets (2 on a 2-core machine),
  - in headless Chromium, WASM, single-threaded (the page served without cross-origin isolation),
  - on CPython with native onnxruntime (its default threads), through the same inpage code;
* the live loop of the webcam page on the fake camera: frames per second and per-stage means;
* cold start of the classification page: navigation to its first result.

Timings on these shared machines are noisy: read the ratios, and rerun before trusting a change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, QUIET_FLAGS, Server  # noqa: E402  (the suite's real-server helper)
from y4m import fit_photo, photo_frames, write_y4m  # noqa: E402

MODELS = ["efficientnet-lite0", "nanodet-m", "blazeface"]
STAGES = ["preprocess_ms", "inference_ms", "postprocess_ms"]

PAGE_RUNS = """
async ({model, task, runs, warmup, width, height, rgba}) => {
  const bytes = Uint8ClampedArray.from(atob(rgba), (c) => c.charCodeAt(0));
  const image = new ImageData(bytes, width, height);
  const call = () => task === 'classify' ? inpage.classify(image, {model}) : inpage.detect(image, {model});
  const loadStart = performance.now();
  await inpage.loadModel(model);
  const loadMs = performance.now() - loadStart;
  for (let i = 0; i < warmup; i++) await call();
  const timings = [];
  for (let i = 0; i < runs; i++) {
    const result = await call();
    timings.push(result.timings);
  }
  return {loadMs, timings, threads: inpage.threads, backend: (await call()).backend};
}
"""


def median(values):
    return statistics.median(values) if values else float("nan")


def frame_rgba() -> np.ndarray:
    photo = np.asarray(Image.open(ROOT / "web" / "samples" / "astronaut.png").convert("RGB"))
    rgb = fit_photo(photo, (640, 480))
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


def bench_native(rgba: np.ndarray, runs: int, warmup: int) -> dict:
    from inpage import load_model

    async def one(name: str):
        started = time.perf_counter()
        model = await load_model(name, manifest=str(ROOT / "models" / "manifest.json"))
        load_ms = (time.perf_counter() - started) * 1e3
        call = (lambda: model.classify(rgba)) if model.spec.task == "classify" else (lambda: model.detect(rgba))
        for _ in range(warmup):
            await call()
        timings = []
        for _ in range(runs):
            await call()
            timings.append(model.last_timings.as_dict())
        return {"loadMs": load_ms, "timings": timings, "backend": model.backend}

    return {name: asyncio.run(one(name)) for name in MODELS}


def bench_page(browser, url: str, rgba: np.ndarray, runs: int, warmup: int) -> dict:
    import base64

    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "index.html")
    page.wait_for_function("window.inpage !== undefined")
    page.evaluate("inpage.ready")
    tasks = {m["name"]: m["task"] for m in page.evaluate("inpage.models()")}
    encoded = base64.b64encode(rgba.tobytes()).decode()
    results = {}
    for name in MODELS:
        results[name] = page.evaluate(
            PAGE_RUNS,
            {"model": name, "task": tasks[name], "runs": runs, "warmup": warmup, "width": rgba.shape[1], "height": rgba.shape[0], "rgba": encoded},
        )
    context.close()
    return results


def bench_live_loop(browser, url: str, seconds: float) -> dict:
    context = browser.new_context(permissions=["camera"])
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.inpage !== undefined")
    page.evaluate("inpage.ready")
    results = {}
    for name in ["nanodet-m", "blazeface"]:
        page.select_option("#model", name)
        page.evaluate(f"inpage.loadModel('{name}')")
        page.click("#start")
        page.wait_for_function(f"window.inpageDemo.frames > 0 && inpageDemo.last.model === '{name}'", timeout=120_000)
        # Collect each frame's timings from here on.
        page.evaluate("""() => { window.benchFrames = []; const old = inpageDemo.last;
            const poll = () => { if (inpageDemo.last !== old && inpageDemo.last !== window.benchLast) {
                window.benchLast = inpageDemo.last; benchFrames.push(inpageDemo.last.timings); }
                if (window.benchRunning) requestAnimationFrame(poll); };
            window.benchRunning = true; poll(); }""")
        start_frames = page.evaluate("inpageDemo.frames")
        time.sleep(seconds)
        frames = page.evaluate("inpageDemo.frames") - start_frames
        timings = page.evaluate("window.benchRunning = false, benchFrames")
        page.click("#stop")
        results[name] = {
            "fps": frames / seconds,
            "frames": frames,
            "mean_ms": {k: statistics.fmean(t[k] for t in timings) for k in timings[0]} if timings else {},
        }
    context.close()
    return results


def cold_start(browser, url: str, samples: int = 3) -> dict:
    """Navigation to the first rendered result on the classification page, median of fresh contexts."""
    runs = []
    for _ in range(samples):
        context = browser.new_context()  # a fresh context: nothing cached, nothing compiled
        page = context.new_page()
        page.goto(url + "classify.html")
        page.click("#samples button[data-src='samples/chelsea.png']", timeout=120_000)
        page.wait_for_selector("#predictions li .score", timeout=120_000)
        # Measured by the page's own clock, from navigation start.
        run = page.evaluate("({...inpage.timeline(), first_result: Math.round(performance.now())})")
        runs.append(run)
        context.close()
    middle = sorted(runs, key=lambda r: r["first_result"])[len(runs) // 2]
    return {"first_result_ms": middle["first_result"], "timeline_ms": middle, "all_first_result_ms": [r["first_result"] for r in runs]}


def summarise(page: dict, page_1t: dict, native: dict) -> list[dict]:
    rows = []
    for name in MODELS:
        row = {"model": name}
        for label, source in (("page", page), ("page_1thread", page_1t), ("native", native)):
            for stage in STAGES:
                row[f"{label}_{stage}"] = median([t[stage] for t in source[name]["timings"]])
            row[f"{label}_total_ms"] = sum(row[f"{label}_{stage}"] for stage in STAGES)
            row[f"{label}_load_ms"] = source[name]["loadMs"]
        row["inference_ratio"] = row["page_inference_ms"] / row["native_inference_ms"]
        row["inference_ratio_1thread"] = row["page_1thread_inference_ms"] / row["native_inference_ms"]
        row["total_ratio"] = row["page_total_ms"] / row["native_total_ms"]
        rows.append(row)
    return rows


def print_table(rows: list[dict], live: dict, cold: dict, threads: int) -> None:
    print(f"\nPer call, median ms, 640x480 frame (page: WASM {threads} threads; 1t: WASM single-threaded; native: onnxruntime CPU)")
    header = f"{'model':<20}{'stage':<12}{'page':>9}{'page 1t':>9}{'native':>9}{'page/native':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        for stage in STAGES + ["total_ms"]:
            page_v, one_v, native_v = row[f"page_{stage}"], row[f"page_1thread_{stage}"], row[f"native_{stage}"]
            print(f"{row['model'] if stage == STAGES[0] else '':<20}{stage.replace('_ms', ''):<12}{page_v:>9.1f}{one_v:>9.1f}{native_v:>9.1f}{page_v / native_v:>12.1f}x")
    print("\nLive webcam loop on the fake camera (page, WASM):")
    for name, result in live.items():
        stages = ", ".join(f"{k.replace('_ms', '')} {v:.1f}" for k, v in result["mean_ms"].items())
        print(f"  {name:<12} {result['fps']:.1f} frames/s  (mean ms: {stages})")
    steps = ", ".join(f"{k} {v / 1000:.1f}" for k, v in cold["timeline_ms"].items())
    print(f"\nCold start, classification page: navigation to first result {cold['first_result_ms'] / 1000:.1f} s "
          f"(median of {len(cold['all_first_result_ms'])}; at s since navigation: {steps})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--loop-seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    rgba = frame_rgba()
    site = ROOT / "dist"
    if not (site / "index.html").exists():
        raise SystemExit("build the site first: python build/build_site.py")
    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "astronaut.y4m"
        write_y4m(clip, photo_frames(rgba[..., :3], size=(640, 480), n=2), fps=30)
        # Native first: Playwright's sync API keeps an event loop running in this thread.
        print("native onnxruntime …", flush=True)
        native = bench_native(rgba, args.runs, args.warmup)
        isolated, plain = Server(site), Server(site, "--no-isolation")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    args=QUIET_FLAGS + ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"],
                )
                print("page, WASM multi-threaded …", flush=True)
                page = bench_page(browser, isolated.url, rgba, args.runs, args.warmup)
                print("page, WASM single-threaded …", flush=True)
                page_1t = bench_page(browser, plain.url, rgba, args.runs, args.warmup)
                print("live loop …", flush=True)
                live = bench_live_loop(browser, isolated.url, args.loop_seconds)
                print("cold start …", flush=True)
                cold = cold_start(browser, isolated.url)
                chromium_version = browser.version
                browser.close()
        finally:
            isolated.stop()
            plain.stop()

    import onnxruntime

    rows = summarise(page, page_1t, native)
    threads = page[MODELS[0]]["threads"]
    print_table(rows, live, cold, threads)
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "chromium": chromium_version,
                    "onnxruntime": onnxruntime.__version__, "page_threads": threads},
        "rows": rows,
        "live_loop": live,
        "cold_start": cold,
        "runs": args.runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
