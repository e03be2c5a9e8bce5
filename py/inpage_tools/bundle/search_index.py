"""The text page's search index: its sample documents embedded natively at build time, by the site's
default ``embed`` model and the same Python the page runs, so the page only embeds the query.

The index (``samples/search-index.json``) holds the documents, their vectors as base64 float32
(little-endian, ``[N, D]``), the model that made them and a key over everything they depend on:
the model's manifest entry, the documents and inpage's version. A build with the same key keeps it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from inpage import __version__
from inpage.errors import BuildError, InpageError
from inpage.manifest import default_model
from .. import resources
from .validate import CheckedManifest

DOCUMENTS = "samples/documents.json"
INDEX = "samples/search-index.json"


def build_search_index(out: Path, checked: CheckedManifest, demo: bool) -> int:
    """Write (or keep, or remove) the index; returns how many files changed."""
    target = out / INDEX
    name = default_model(checked.entries, "embed") if demo else None
    source = resources.web_dir() / DOCUMENTS
    if name is None or not source.is_file():
        if target.exists():
            target.unlink()
            return 1
        return 0
    entry = next(e for e in checked.entries if e.get("name") == name)
    documents_text = source.read_text(encoding="utf-8")
    key = hashlib.sha256(json.dumps([entry, documents_text, __version__], sort_keys=True).encode()).hexdigest()
    if target.is_file():
        try:
            if json.loads(target.read_text(encoding="utf-8")).get("key") == key:
                return 0
        except ValueError:
            pass  # a damaged index is made again
    documents = json.loads(documents_text)["documents"]
    vectors = _embed(name, str(checked.path), [f"{d['title']}. {d['text']}" for d in documents])
    index = {
        "key": key,
        "model": name,
        "dims": list(vectors.shape),
        "embeddings": base64.b64encode(vectors.astype("<f4").tobytes()).decode("ascii"),
        "documents": documents,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(index, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1


def _embed(name: str, manifest: str, texts: list[str]) -> np.ndarray:
    from inpage import load_model

    async def run():
        model = await load_model(name, manifest=manifest, provider="cpu", variant="base")
        try:
            return await model.embed(texts)
        finally:
            model.close()

    # In a thread of its own: the build also runs from the dev server, inside its event loop.
    try:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()
    except InpageError as exc:
        raise BuildError(f"the text page's search index: model {name!r} could not embed {DOCUMENTS}: {exc}") from None
