"""One model file run natively on photos, fed and read by the task of the spec that describes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inpage.manifest import ModelSpec
from inpage.tasks import Judge, get_task

from .photos import View

# Native timings use two threads: what the notes and the page's WASM build use, and the same on
# any machine, so figures from different machines stay comparable.
THREADS = 2

# ---- running a model file --------------------------------------------------------------------


def _session(model: str | bytes, threads: int | None = THREADS, config: dict[str, str] | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # BlazeFace's unused initializers are reported at every load
    if threads:
        options.intra_op_num_threads = threads
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Runner:
    """One model file, fed and read by the task of the spec that describes it."""

    def __init__(self, spec: ModelSpec, path: Path, config: dict[str, str] | None = None):
        self.spec = spec
        self.path = path
        self.task = get_task(spec.task)(spec)
        # The session config the file runs with in inpage (the manifest's session_config).
        self.session = _session(str(path), config=spec.session_config if config is None else config)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def feeds(self, image: Image.Image) -> tuple[dict[str, np.ndarray], Any]:
        feeds, context = self.task.prepare(image, self.task.options({}))
        # The task reuses one input buffer call after call: keep a copy per view.
        return {name: np.array(value, copy=True) for name, value in feeds.items()}, context

    def outputs(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))

    def results(self, views: tuple[View, ...], judge: "Judge") -> list[Any]:
        results = []
        for view in views:
            feeds, context = self.feeds(view.image)
            results.append(judge.results(self.task, self.outputs(feeds), context))
        return results
