"""The text benchmark: tokenizing and embedding sentences with the site's default embed model, natively and
in the page, against the ``tokenizers`` library natively, in one run on one machine.

    python bench/text_bench.py [--runs 3]       (also a part of `make bench`)

Per sentence (the text page's 40 sample documents, 14-30 words each), medians over every sentence
and run, in milliseconds:

* **tokenize**: ``inpage.text.Tokenizer.encode`` natively and in the page (Pyodide), and Hugging
  Face's Rust ``tokenizers`` natively, the reference;
* **one call**: ``embed(sentence)``, stage by stage (pre-process is tokenizing and building the
  feeds; inference; post-process is pooling and normalising), natively and in the page (WASM, 2
  threads), and the page's wall time around ``inpage.embed``;
* **a batch**: all 40 sentences in one ``embed`` call, per sentence.

It writes bench/results/text.json and text.md. Timings on these shared machines are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "py"))

from inpage_tools.harness import CHROMIUM, QUIET_FLAGS, Server, build  # noqa: E402

MANIFEST = ROOT / "models" / "manifest.json"
STAGES = ("preprocess_ms", "inference_ms", "postprocess_ms")


def sentences() -> list[str]:
    documents = json.loads((ROOT / "web" / "samples" / "documents.json").read_text(encoding="utf-8"))["documents"]
    return [d["text"] for d in documents]


def median(values) -> float:
    return statistics.median(values)


def time_each(function, texts, runs) -> float:
    """The median ms of ``function(text)`` over every text and run."""
    times = []
    for _ in range(runs):
        for text in texts:
            started = time.perf_counter()
            function(text)
            times.append((time.perf_counter() - started) * 1e3)
    return median(times)


def bench_native(model_name: str, texts: list[str], runs: int) -> dict:
    from tokenizers import Tokenizer as Reference

    from inpage import load_model
    from inpage.text import Tokenizer

    async def calls():
        model = await load_model(model_name, manifest=str(MANIFEST), provider="cpu")
        await model.embed(texts[:2])  # warm-up
        stages = {stage: [] for stage in STAGES}
        walls = []
        for _ in range(runs):
            for text in texts:
                started = time.perf_counter()
                await model.embed(text)
                walls.append((time.perf_counter() - started) * 1e3)
                for stage, value in model.last_timings.as_dict().items():
                    stages[stage].append(value)
        started = time.perf_counter()
        await model.embed(texts)
        batch = (time.perf_counter() - started) * 1e3 / len(texts)
        tokenizer_file = next(e for e in json.loads(MANIFEST.read_text())["models"] if e["name"] == model_name)["text"]["tokenizer"]
        model.close()
        return {"stages": {s: median(v) for s, v in stages.items()}, "call_ms": median(walls), "batch_per_text_ms": batch}, tokenizer_file

    # In a thread of its own: Playwright's sync API runs an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        result, tokenizer_file = pool.submit(asyncio.run, calls()).result()
    path = MANIFEST.parent / tokenizer_file
    ours = Tokenizer.from_file(str(path))
    reference = Reference.from_file(str(path))
    result["tokenize_ms"] = time_each(ours.encode, texts, runs)
    result["tokenize_reference_ms"] = time_each(reference.encode, texts, runs)
    return result


PAGE_TEXT_RUNS = """async ({model, texts, runs, tokenizerUrl}) => {
  await inpage.embed(texts.slice(0, 2), {model});
  const stages = {preprocess_ms: [], inference_ms: [], postprocess_ms: []};
  const walls = [];
  for (let r = 0; r < runs; r += 1) {
    for (const text of texts) {
      const started = performance.now();
      const result = await inpage.embed(text, {model});
      walls.push(performance.now() - started);
      for (const stage of Object.keys(stages)) stages[stage].push(result.timings[stage]);
    }
  }
  const started = performance.now();
  await inpage.embed(texts, {model});
  const batch = (performance.now() - started) / texts.length;
  const tokenize = await inpage.runPython(`
import json, time, statistics
from pyodide.http import pyfetch
from inpage.text import Tokenizer
tokenizer = Tokenizer.from_str(await (await pyfetch(${JSON.stringify(tokenizerUrl)})).string())
texts = json.loads(${JSON.stringify(JSON.stringify(texts))})
times = []
for _ in range(${runs}):
    for text in texts:
        started = time.perf_counter()
        tokenizer.encode(text)
        times.append((time.perf_counter() - started) * 1e3)
statistics.median(times)
`);
  const median = (values) => { const s = [...values].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  return {stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)])), call_ms: median(walls),
          batch_per_text_ms: batch, tokenize_ms: tokenize, threads: inpage.threads, backend: 'wasm'};
}"""


def bench_page(browser, url: str, model_name: str, tokenizer_file: str, texts: list[str], runs: int) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}text.html")
    page.wait_for_function("window.inpage !== undefined")
    page.evaluate("inpage.ready")
    result = page.evaluate(PAGE_TEXT_RUNS, {"model": model_name, "texts": texts, "runs": runs, "tokenizerUrl": f"{url}models/{tokenizer_file}"})
    context.close()
    return result


def run_text_bench(browser, url: str, runs: int) -> dict:
    from inpage.manifest import default_model

    entries = json.loads(MANIFEST.read_text())["models"]
    model_name = default_model(entries, "embed")
    texts = sentences()
    tokenizer_file = next(e for e in entries if e["name"] == model_name)["text"]["tokenizer"]
    words = [len(t.split()) for t in texts]
    return {"model": model_name, "sentences": len(texts), "words": [min(words), max(words)], "runs": runs,
            "native": bench_native(model_name, texts, runs), "page": bench_page(browser, url, model_name, tokenizer_file, texts, runs)}


def table(report: dict) -> str:
    native, page = report["native"], report["page"]

    def row(label, ours, theirs):
        ratio = f"{ours / theirs:.2f}x" if ours and theirs else "–"
        return f"| {label} | {ours:.3f} | {theirs:.3f} | {ratio} |"

    lines = [f"\nText: {report['model']}, {report['sentences']} sentences of {report['words'][0]}-{report['words'][1]} words, "
             f"batch 1 unless said, medians over {report['runs']} runs, ms per sentence:\n",
             "| stage | page (WASM, 2 threads) | native | page / native |", "| --- | ---: | ---: | ---: |",
             row("tokenize (inpage.text)", page["tokenize_ms"], native["tokenize_ms"])]
    for stage in STAGES:
        lines.append(row(stage.replace("_ms", "").replace("preprocess", "pre-process (tokenize + feeds)").replace("postprocess", "post-process (pool, normalise)"),
                         page["stages"][stage], native["stages"][stage]))
    lines.append(row("whole call, wall", page["call_ms"], native["call_ms"]))
    lines.append(row("40 in one call, per sentence", page["batch_per_text_ms"], native["batch_per_text_ms"]))
    lines.append(f"\nHugging Face `tokenizers` (Rust) natively: {native['tokenize_reference_ms']:.3f} ms per sentence; "
                 f"inpage.text natively is {native['tokenize_ms'] / native['tokenize_reference_ms']:.1f}x that, in the page "
                 f"{page['tokenize_ms'] / native['tokenize_reference_ms']:.1f}x.\n")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "text.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    site = ROOT / "dist"
    result = build(site)
    if result.returncode != 0:
        raise SystemExit(f"the build failed: {result.stderr}")
    server = Server(site)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS)
            report = run_text_bench(browser, server.url, args.runs)
            report["chromium"] = browser.version
            browser.close()
    finally:
        server.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    text = table(report)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
