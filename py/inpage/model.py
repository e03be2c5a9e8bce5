"""Loading a model from a manifest and running one of its tasks, timed stage by stage."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import asdict, dataclass
from urllib.parse import urljoin

from . import runtime
from .classify import Prediction, predictions_from_logits
from .detect import Detection, detections_from_outputs
from .errors import ManifestError, ModelIntegrityError
from .image import ImageInput, to_pil_rgb
from .manifest import ModelSpec, find_entry, parse_entry
from .preprocess import TensorWriter, fit_to_input

import numpy as np


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage of the last call."""

    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Model:
    """A loaded model: its manifest entry and a session, ready to ``classify`` or ``detect``."""

    def __init__(self, spec: ModelSpec, session, location: str):
        self.spec = spec
        self.session = session
        self.location = location
        self.last_timings: Timings | None = None
        self._writer = TensorWriter(spec.input, spec.preprocess)
        # One call at a time: calls share the input buffer, and onnxruntime-web rejects
        # concurrent runs on one session.
        self._lock = asyncio.Lock()

    @property
    def backend(self) -> str:
        """The execution provider that actually runs this model (``wasm``, ``webgpu``, ``cpu``, ...)."""
        return self.session.backend

    async def classify(self, image: ImageInput, top_k: int = 5) -> list[Prediction]:
        """The ``top_k`` most likely labels for ``image``, best first."""
        self._expect_task("classify")
        return await self._run(image, lambda outputs, _: predictions_from_logits(next(iter(outputs.values())), self.spec.labels, top_k))

    async def detect(
        self,
        image: ImageInput,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        max_detections: int = 100,
    ) -> list[Detection]:
        """Objects in ``image`` scoring above ``score_threshold``, boxes in ``image``'s pixels, best first.

        Thresholds left as None take the model's defaults from the manifest (``decoder.score_threshold``,
        ``decoder.iou_threshold``), else 0.35 and 0.5.
        """
        self._expect_task("detect")
        if score_threshold is None:
            score_threshold = float(self.spec.decoder.get("score_threshold", 0.35))
        if iou_threshold is None:
            iou_threshold = float(self.spec.decoder.get("iou_threshold", 0.5))
        return await self._run(
            image,
            lambda outputs, transform: detections_from_outputs(
                outputs, self.spec, transform, score_threshold, iou_threshold, max_detections
            ),
        )

    async def _run(self, image, postprocess):
        async with self._lock:
            start = time.perf_counter()
            fitted, transform = fit_to_input(to_pil_rgb(image), self.spec.preprocess, self.spec.input.width, self.spec.input.height)
            tensor = self._writer.write(np.asarray(fitted))
            prepared = time.perf_counter()
            outputs = await self.session.run({self.spec.input.name: tensor})
            inferred = time.perf_counter()
            result = postprocess(outputs, transform)
            done = time.perf_counter()
            self.last_timings = Timings(
                (prepared - start) * 1e3, (inferred - prepared) * 1e3, (done - inferred) * 1e3
            )
            return result

    def close(self) -> None:
        """Release the session (and, in the page, onnxruntime-web's memory for it) now."""
        self.session.close()

    def _expect_task(self, task: str) -> None:
        if self.spec.task != task:
            raise TypeError(f"model {self.spec.name!r} is a {self.spec.task} model; it cannot {task}")


async def load_model(
    model: str, *, manifest: str | None = None, provider: str | None = None, threads: int | None = None
) -> Model:
    """Load a model by name from the bundled manifest, or from a manifest path or URL.

    ``load_model("nanodet-m")`` reads the bundled manifest; ``load_model("site/models/manifest.json")``
    takes the first model of that manifest; ``load_model("nanodet-m", manifest=...)`` picks by name.
    The model file must match the manifest's sha256, or :class:`ModelIntegrityError` names it.
    ``provider`` is ``"wasm"`` or ``"webgpu"`` in the page (WebGPU falls back to WASM where the
    browser has no adapter) and ``"cpu"`` on CPython.
    """
    name: str | None = model
    if manifest is None and model.endswith(".json"):
        manifest, name = model, None
    manifest = manifest or runtime.default_manifest_location()
    if manifest is None:
        raise ManifestError("no manifest given and none bundled; pass manifest=<path or URL to manifest.json>")

    entry = find_entry((await runtime.read_bytes(manifest)).decode("utf-8"), name, manifest)
    labels_location = urljoin(manifest, entry["labels"]) if "labels" in entry else None
    labels_text = (await runtime.read_bytes(labels_location)).decode("utf-8") if labels_location else None
    spec = parse_entry(entry, labels_text)

    location = urljoin(manifest, spec.file)
    model_bytes = await runtime.read_bytes(location)
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest != spec.sha256:
        raise ModelIntegrityError(
            f"{spec.file}: sha256 is {digest}, but the manifest expects {spec.sha256}; "
            "the model file was changed or damaged after the manifest was written"
        )
    session = await runtime.create_session(model_bytes, spec.file, provider, threads)
    return Model(spec, session, location)
