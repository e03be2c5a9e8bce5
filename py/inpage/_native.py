"""The CPython side of the runtime boundary: onnxruntime sessions and files read from disk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from .errors import ModelLoadError

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


async def read_bytes(location: str) -> bytes:
    parsed = urlparse(location)
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {location}: {exc.strerror or exc}") from None


class NativeSession:
    """An onnxruntime InferenceSession with the same async ``run`` as the page's session."""

    def __init__(self, model_bytes: bytes, file_name: str, provider: str | None = None, threads: int | None = None):
        import onnxruntime as ort

        wanted = PROVIDERS.get(provider or "cpu", "CPUExecutionProvider")
        available = ort.get_available_providers()
        providers = list(dict.fromkeys([wanted, "CPUExecutionProvider"])) if wanted in available else ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        # Warnings only: some converted graphs carry unused initializers that onnxruntime
        # reports, harmlessly, at every load.
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(model_bytes, options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
            raise ModelLoadError(f"onnxruntime cannot load {file_name}: {exc}") from None
        self.backend = {v: k for k, v in PROVIDERS.items()}.get(self._session.get_providers()[0], "cpu")
        self.output_names = [o.name for o in self._session.get_outputs()]

    async def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self._session.run(self.output_names, feeds)))

    def close(self) -> None:
        self._session = None


async def create_session(model_bytes: bytes, file_name: str, provider: str | None = None, threads: int | None = None):
    # Session creation is CPU-bound and synchronous in onnxruntime; yield once so callers that
    # gather several loads still interleave.
    await asyncio.sleep(0)
    return NativeSession(model_bytes, file_name, provider, threads)


def default_manifest_location() -> str | None:
    """The manifest a source checkout bundles: ``<repo>/models/manifest.json``, if it exists."""
    candidate = Path(__file__).resolve().parents[2] / "models" / "manifest.json"
    return str(candidate) if candidate.exists() else None
