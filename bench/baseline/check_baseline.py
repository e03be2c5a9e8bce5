"""Self-check of the plain-JavaScript baseline: does it agree with inpage, and how fast is it?

    .venv/bin/python bench/baseline/check_baseline.py [--runs 20] [--warmup 3] [--smoothing high]

Copies this folder into the built site as dist/baseline/ (where the benchmark puts it), serves the
site with ``inpage serve``, and in headless Chromium runs every model of the manifest on each of
web/samples/*.png through baseline.html, in its worker and on the main thread. The same pixels
(decoded by Pillow, sent as ImageData) go through native inpage (CPython, onnxruntime), so the
only differences are the resampling (canvas vs Pillow) and float rounding. It prints:

* agreement per model and photo: classify top-1 (and top-5 overlap), detections matched by label
  and IoU >= 0.5, pose keypoint distance, segmentation mask difference;
* the same on a frame Pillow already sized so the model's resize is a plain copy ("exact"): with
  resampling out of the way, the JavaScript pipeline must agree with the Python one to float noise;
* per-stage medians on a 640x480 frame of astronaut.png (bench.py's frame): baseline in its
  worker, baseline on the main thread, and native inpage.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "py"))  # the checkout's packages, installed or not

from inpage_tools.harness import CHROMIUM, QUIET_FLAGS, Server  # noqa: E402
from inpage_tools.y4m import fit_photo  # noqa: E402

MODELS = {"efficientnet-lite0": "classify", "nanodet-m": "detect", "blazeface": "detect", "movenet-lightning": "estimate_pose", "selfie": "segment"}
STAGES = ["preprocess_ms", "inference_ms", "postprocess_ms"]
WEB_FILES = ["baseline.js", "baseline-worker.js", "baseline.html"]

PAGE_RUN = """
async ({name, frames, timed, runs, warmup}) => {
  const image = ({rgba, width, height}) => new ImageData(Uint8ClampedArray.from(atob(rgba), (c) => c.charCodeAt(0)), width, height);
  const info = await baseline.load(name);
  const results = [];
  for (const frame of frames) results.push(await baseline.run(name, image(frame)));
  const frame = image(timed);
  for (let i = 0; i < warmup; i++) await baseline.run(name, frame);
  const timings = [];
  for (let i = 0; i < runs; i++) timings.push((await baseline.run(name, frame)).timings);
  // Masks as plain arrays, so they survive the trip to Python.
  for (const r of results) if (r.mask) r.mask = {dims: r.mask.dims, data: Array.from(r.mask.data)};
  return {info, results, timings};
}
"""

# The other kinds of source, once each: a URL (decoded by the browser) and an ImageBitmap.
PAGE_SOURCES = """
async ({name, url}) => {
  const fromUrl = await baseline.run(name, url);
  const bitmap = await createImageBitmap(await (await fetch(url)).blob());
  const fromBitmap = await baseline.run(name, bitmap);
  return [fromUrl.predictions[0].label, fromBitmap.predictions[0].label];
}
"""


def rgba_of(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def frame_message(rgba: np.ndarray) -> dict:
    return {"rgba": base64.b64encode(rgba.tobytes()).decode(), "width": rgba.shape[1], "height": rgba.shape[0]}


def as_payload(method: str, result) -> dict:
    """Native inpage's result in the page's payload shape."""
    if method == "classify":
        return {"predictions": [{"index": p.index, "label": p.label, "score": p.score} for p in result]}
    if method == "detect":
        return {"detections": [d.as_json() for d in result]}
    if method == "estimate_pose":
        return {"poses": [p.as_json() for p in result]}
    return {"coverage": result.coverage, "mask": {"dims": list(result.mask.shape), "data": result.mask.ravel().tolist()}}


def exact_frame(name: str) -> np.ndarray:
    """astronaut.png resized by Pillow so that the model's own resize copies it pixel for pixel."""
    entry = next(m for m in json.loads((ROOT / "models" / "manifest.json").read_text())["models"] if m["name"] == name)
    image = entry["image"]
    shape = next(i["shape"] for i in entry["inputs"] if i["name"] == image["input"])
    height, width = shape[2:] if image["layout"] == "NCHW" else shape[1:3]
    if image["resize"] == "shorter_side_center_crop":
        width = height = image["resize_shorter_to"]  # the centre crop is then at whole-pixel offsets
    photo = Image.open(ROOT / "web" / "samples" / "astronaut.png").convert("RGB")
    return rgba_of(photo.resize((width, height), Image.Resampling.BILINEAR))


def run_native(photos: dict[str, np.ndarray], frame: np.ndarray, runs: int, warmup: int) -> dict:
    from inpage import load_model

    async def one(name: str, method: str):
        model = await load_model(name, manifest=str(ROOT / "models" / "manifest.json"))
        call = getattr(model, method)
        frames = {**photos, "exact": exact_frame(name)}
        results = {photo: as_payload(method, await call(rgba)) for photo, rgba in frames.items()}
        for _ in range(warmup):
            await call(frame)
        timings = []
        for _ in range(runs):
            await call(frame)
            timings.append(model.last_timings.as_dict())
        return {"results": results, "timings": timings}

    async def every():
        return {name: await one(name, method) for name, method in MODELS.items()}

    return asyncio.run(every())


def run_page(browser, url: str, photos: dict[str, np.ndarray], frame: np.ndarray, runs: int, warmup: int) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.baseline !== undefined")
    ready = page.evaluate("baseline.ready")
    sent = [frame_message(rgba) for rgba in photos.values()]
    out = {"ready": ready}
    for name in MODELS:
        frames = sent + [frame_message(exact_frame(name))]
        got = page.evaluate(PAGE_RUN, {"name": name, "frames": frames, "timed": frame_message(frame), "runs": runs, "warmup": warmup})
        out[name] = {"results": dict(zip([*photos, "exact"], got["results"])), "timings": got["timings"]}
    out["sources"] = page.evaluate(PAGE_SOURCES, {"name": "efficientnet-lite0", "url": "../samples/chelsea.png"})
    context.close()
    return out


def iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def agreement(native: dict, baseline: dict) -> str:
    if "predictions" in native:
        a, b = native["predictions"], baseline["predictions"]
        overlap = len({p["index"] for p in a} & {p["index"] for p in b})
        same = a[0]["index"] == b[0]["index"]
        return (f"top-1 {'same' if same else 'DIFFERENT'} ({a[0]['label'][:24]!r} {a[0]['score']:.3f} vs "
                f"{b[0]['label'][:24]!r} {b[0]['score']:.3f}), top-5 overlap {overlap}/5")
    if "detections" in native:
        a, b = native["detections"], list(baseline["detections"])
        matched = []
        for det in a:  # native's best first; each takes the best same-label box left
            scored = [(iou(det["box"], o["box"]), k) for k, o in enumerate(b) if o["label"] == det["label"]]
            best = max(scored, default=(0.0, None))
            if best[0] >= 0.5:
                matched.append(best[0])
                b.pop(best[1])
        mean = f", mean IoU {statistics.fmean(matched):.3f}" if matched else ""
        return f"matched {len(matched)} of {len(a)} native / {len(baseline['detections'])} baseline{mean}"
    if "poses" in native:
        if not native["poses"] or not baseline["poses"]:
            return f"poses: {len(native['poses'])} native, {len(baseline['poses'])} baseline"
        a, b = native["poses"][0], baseline["poses"][0]
        distance = [np.hypot(p["x"] - q["x"], p["y"] - q["y"]) for p, q in zip(a["keypoints"], b["keypoints"])]
        return f"pose score {a['score']:.3f} vs {b['score']:.3f}, keypoints off by median {np.median(distance):.1f} px, max {max(distance):.1f} px"
    if "mask" in native:
        diff = np.abs(np.asarray(native["mask"]["data"]) - np.asarray(baseline["mask"]["data"]))
        return f"coverage {native['coverage']:.3f} vs {baseline['coverage']:.3f}, mask mean |diff| {diff.mean():.4f}"
    return "no result"


def rounded(value):
    """A result with its floats rounded, to compare two runs that should agree to float noise."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items() if k != "timings"}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def medians(timings: list[dict]) -> list[float]:
    return [statistics.median(t[stage] for t in timings) for stage in STAGES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--smoothing", default="high", choices=["low", "medium", "high"], help="the canvas's imageSmoothingQuality")
    args = parser.parse_args()

    site = ROOT / "dist"
    if not (site / "models" / "manifest.json").exists():
        sys.exit("dist/ is not built: run `.venv/bin/inpage build` first")
    (site / "baseline").mkdir(exist_ok=True)
    for name in WEB_FILES:
        shutil.copy2(HERE / name, site / "baseline" / name)

    photos = {path.stem: rgba_of(Image.open(path)) for path in sorted((ROOT / "web" / "samples").glob("*.png"))}
    frame = rgba_of(Image.fromarray(fit_photo(ROOT / "web" / "samples" / "astronaut.png", (640, 480))))

    started = time.perf_counter()
    native = run_native(photos, frame, args.runs, args.warmup)
    print(f"native inpage done in {time.perf_counter() - started:.0f} s")

    from playwright.sync_api import sync_playwright

    server = Server(site)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS)
            pages = {}
            for thread in ("worker", "main"):
                url = f"{server.url}baseline/baseline.html?thread={thread}&smoothing={args.smoothing}"
                pages[thread] = run_page(browser, url, photos, frame, args.runs, args.warmup)
                print(f"baseline ({thread}) ready: {pages[thread]['ready']}; URL and ImageBitmap sources give {pages[thread]['sources']}")
            browser.close()
    finally:
        server.stop()

    print(f"\nAgreement with native inpage (baseline in its worker, smoothing={args.smoothing}):")
    for name in MODELS:
        for photo in [*photos, "exact"]:
            print(f"  {name:18} {photo:10} {agreement(native[name]['results'][photo], pages['worker'][name]['results'][photo])}")
    differ = [f"{name}/{photo}" for name in MODELS for photo in photos
              if rounded(pages["worker"][name]["results"][photo]) != rounded(pages["main"][name]["results"][photo])]
    print(f"  worker and main thread give the same results: {'yes' if not differ else 'no: ' + ', '.join(differ)}")

    print(f"\nMedian ms over {args.runs} runs, 640x480 frame (pre / inference / post):")
    for name in MODELS:
        row = {"baseline worker": medians(pages["worker"][name]["timings"]),
               "baseline main": medians(pages["main"][name]["timings"]),
               "native inpage": medians(native[name]["timings"])}
        cells = "   ".join(f"{who} {p:5.1f} / {i:6.1f} / {q:4.1f}" for who, (p, i, q) in row.items())
        print(f"  {name:18} {cells}")


if __name__ == "__main__":
    main()
