"""The site's asset index and its precompressed copies.

``assets.json`` lists every file the pages load with its sha256, and the Python packages the page
imports. The service worker (``sw.js``) keeps files in Cache Storage by that sha256, the worker asks
for them at versioned URLs (``?sha256=``), and the dev server marks those responses immutable.

Large compressible files (the WebAssembly, JavaScript, JSON, models) get ``.br`` and ``.gz`` copies
beside them, made once per content (a state file remembers which), and kept only where they save
at least 5%. The dev server sends them with ``Content-Encoding``; a static host that knows
precompressed files (nginx ``gzip_static``/``brotli_static``, most CDNs) can do the same.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from .. import resources
from .files import remove_stale, sha256_of

INDEX = "assets.json"
STATE = Path(".inpage") / "compressed.json"
COMPRESSIBLE = {".wasm", ".js", ".mjs", ".json", ".onnx", ".css", ".html", ".txt", ".svg", ".data"}
MIN_SIZE = 1024
MIN_SAVING = 0.05
BROTLI_QUALITY = 9  # 11 saves ~12% more on the .wasm files but takes ~30 s each; 9 takes ~1.5 s
CACHE_FROM = 1_000_000  # bytes: compressed copies of files this large are kept in the user cache
ENCODED_SUFFIXES = (".br", ".gz")


def site_files(out: Path) -> list[str]:
    """Files the site serves: everything but build state (dotted paths), sw.js, the index and encoded copies."""
    files = []
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(out).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or rel in (INDEX, "sw.js") or rel.endswith(ENCODED_SUFFIXES):
            continue
        files.append(rel)
    return files


def _compress(path: Path, digest: str) -> dict[str, bytes]:
    """The .br and .gz copies of ``path``; large ones are kept in the user cache by sha256, because a
    fresh site (a new --out folder, a deleted one) would otherwise spend seconds on the same bytes."""
    import brotli

    cache = resources.cache_dir() / "compressed" if path.stat().st_size >= CACHE_FROM else None
    if cache is not None and all((cache / f"{digest}{s}").exists() for s in ENCODED_SUFFIXES):
        return {s: (cache / f"{digest}{s}").read_bytes() for s in ENCODED_SUFFIXES}
    data = path.read_bytes()
    encoded = {".br": brotli.compress(data, quality=BROTLI_QUALITY), ".gz": gzip.compress(data, 9, mtime=0)}
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        for suffix, blob in encoded.items():
            temporary = cache / f"{digest}{suffix}.tmp"
            temporary.write_bytes(blob)
            temporary.replace(cache / f"{digest}{suffix}")
    return encoded


def build_assets(out: Path, packages: list[str]) -> int:
    """Write ``assets.json`` and refresh the ``.br``/``.gz`` copies. Returns files changed."""
    state_path = out / STATE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    files: dict[str, str] = {}
    encodings: dict[str, list[str]] = {}
    changed = 0
    for rel in site_files(out):
        path = out / rel
        digest = sha256_of(path)
        files[rel] = digest
        if path.suffix not in COMPRESSIBLE or path.stat().st_size < MIN_SIZE:
            continue
        kept = state.get(rel)
        if kept is None or kept.get("sha256") != digest or not all((out / f"{rel}{s}").exists() for s in kept.get("suffixes", [])):
            kept = {"sha256": digest, "suffixes": []}
            size = path.stat().st_size
            for suffix, data in _compress(path, digest).items():
                target = out / f"{rel}{suffix}"
                if len(data) <= size * (1 - MIN_SAVING):
                    target.write_bytes(data)
                    kept["suffixes"].append(suffix)
                    changed += 1
                else:
                    target.unlink(missing_ok=True)
            state[rel] = kept
        if kept["suffixes"]:
            encodings[rel] = ["br" if s == ".br" else "gzip" for s in kept["suffixes"]]
    # Encoded copies of files that are gone.
    for stale in set(state) - set(files):
        for suffix in ENCODED_SUFFIXES:
            remove_stale(out, f"{stale}{suffix}")
        del state[stale]
    index = {"version": 1, "files": files, "encodings": encodings, "packages": packages}
    text = json.dumps(index, indent=1, sort_keys=True) + "\n"
    index_path = out / INDEX
    if not index_path.exists() or index_path.read_text() != text:
        index_path.write_text(text)
        changed += 1
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
    return changed
