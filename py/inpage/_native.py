"""The CPython side of the runtime boundary: onnxruntime sessions, and files read from disk or over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import platform
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from .errors import InvalidArgumentError, ModelIntegrityError, ModelLoadError
from .specs import TensorSpec

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
BROWSER_PROVIDERS = ("wasm", "webgpu")
# onnxruntime's type strings -> the manifest's dtype names.
ORT_TYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64", "tensor(int8)": "int8",
    "tensor(uint8)": "uint8", "tensor(int16)": "int16", "tensor(uint16)": "uint16", "tensor(int32)": "int32",
    "tensor(uint32)": "uint32", "tensor(int64)": "int64", "tensor(uint64)": "uint64", "tensor(bool)": "bool",
    "tensor(string)": "string",
}


def check_provider(provider: str | None) -> str:
    if provider is None:
        return "cpu"
    if provider in BROWSER_PROVIDERS:
        raise InvalidArgumentError(f"provider {provider!r} runs in the page; on CPython use one of: {', '.join(PROVIDERS)}")
    if provider not in PROVIDERS:
        raise InvalidArgumentError(f"provider must be one of {', '.join(PROVIDERS)} on CPython ({', '.join(BROWSER_PROVIDERS)} in the page), not {provider!r}")
    return provider


def variant_key(provider: str) -> str:
    # How much int8 gains over float depends on whether the CPU has an int8 dot-product
    # instruction, so the benchmark's CPU records are kept apart by that, and each machine reads its own.
    if provider == "cpu":
        return "cpu-int8dot" if has_int8_dot_product() else "cpu"
    return provider


def _read(location: str) -> bytes:
    parsed = urlparse(location)
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(location, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise ModelLoadError(f"cannot fetch {location}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ModelLoadError(f"cannot fetch {location}: {getattr(exc, 'reason', exc)}") from None
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {location}: {exc.strerror or exc}") from None


async def read_bytes(location: str) -> bytes:
    if urlparse(location).scheme in ("http", "https"):
        return await asyncio.to_thread(_read, location)
    return _read(location)


def tensor_specs(values) -> tuple[TensorSpec, ...]:
    """onnxruntime's NodeArg list as TensorSpecs (dynamic dims as their names, or None)."""
    return tuple(
        TensorSpec(value.name, ORT_TYPES.get(value.type, value.type), tuple(d if isinstance(d, int) and d >= 0 else (d or None) for d in value.shape))
        for value in values
    )


class NativeSession:
    """An onnxruntime InferenceSession with the same async ``run`` as the page's session."""

    def __init__(self, model_bytes: bytes, file_name: str, provider: str, threads: int | None = None, config: dict[str, str] | None = None):
        import onnxruntime as ort

        self.fallback_reason = None
        wanted = PROVIDERS[provider]
        if wanted not in ort.get_available_providers():
            self.fallback_reason = f"{provider} is not available in this onnxruntime build ({', '.join(ort.get_available_providers())})"
            warnings.warn(f"inpage: running {file_name} on CPU: {self.fallback_reason}", stacklevel=3)
            wanted = PROVIDERS["cpu"]
        options = ort.SessionOptions()
        # Fatal only: some converted graphs carry unused initializers that onnxruntime reports,
        # harmlessly, at every load, and a failed run would print its error as a coloured log line
        # before the one-line error inpage raises with the same text.
        options.log_severity_level = 4
        if threads:
            options.intra_op_num_threads = threads
        for key, value in (config or {}).items():
            options.add_session_config_entry(key, value)
        try:
            self._session = ort.InferenceSession(model_bytes, options, providers=list(dict.fromkeys([wanted, PROVIDERS["cpu"]])))
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
            raise ModelLoadError(f"onnxruntime cannot load {file_name}: {' '.join(str(exc).split())[:400]}") from None
        self.backend = {v: k for k, v in PROVIDERS.items()}.get(self._session.get_providers()[0], "cpu")
        self.inputs = tensor_specs(self._session.get_inputs())
        self.outputs = tensor_specs(self._session.get_outputs())
        self.output_names = [o.name for o in self.outputs]
        self.file_name = file_name

    async def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from .errors import InferenceError

        try:
            results = self._session.run(self.output_names, feeds)
        except MemoryError:
            raise
        except Exception as exc:
            raise InferenceError(f"onnxruntime failed running {self.file_name}: {' '.join(str(exc).split())[:400]}") from None
        return {name: np.asarray(value) if not isinstance(value, np.ndarray) else value for name, value in zip(self.output_names, results)}

    def close(self) -> None:
        self._session = None


def verify_sha256(data: bytes, expected: str, file_name: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        # The page's JavaScript says the same, in the same words (web/js/assets.js).
        raise ModelIntegrityError(
            f"{file_name}: sha256 is {digest}, but the manifest expects {expected}; the file was changed or damaged "
            "after the manifest was written (restore it, or run `inpage add` again)"
        )


async def load_session(location: str, sha256: str, file_name: str, provider: str, threads: int | None, config: dict[str, str] | None = None):
    model_bytes = await read_bytes(location)
    verify_sha256(model_bytes, sha256, file_name)
    # Session creation is CPU-bound and synchronous in onnxruntime; yield once so callers that
    # gather several loads still interleave.
    await asyncio.sleep(0)
    return NativeSession(model_bytes, file_name, provider, threads, config)


def default_manifest_location() -> str:
    # The demo models ship with inpage's host tools (their assets), which a pip install always brings.
    from inpage_tools import resources

    return str(resources.default_manifest())


# /proc/cpuinfo flags of the int8 dot-product instructions onnxruntime's kernels use.
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def int8_dot_product_in(cpuinfo: str) -> bool:
    """Whether Linux's ``/proc/cpuinfo`` text (x86 ``flags``, arm64 ``Features``) names one of :data:`INT8_DOT_FLAGS`."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return bool(flags & INT8_DOT_FLAGS)


@lru_cache(maxsize=1)
def has_int8_dot_product() -> bool:
    """Whether this CPU has an int8 dot-product instruction onnxruntime uses (x86: AVX-512 VNNI,
    AVX-VNNI or AMX; arm64: the dot-product extension). Unknown systems answer False, so the
    float model runs: the same answers, never a slower int8 one."""
    machine = platform.machine().lower()
    system = platform.system()
    if system == "Linux":
        try:
            return int8_dot_product_in(Path("/proc/cpuinfo").read_text(errors="replace"))
        except OSError:
            return False
    if system == "Darwin":
        if machine in ("arm64", "aarch64"):
            return True  # every Apple silicon CPU has the dot-product extension
        try:
            features = subprocess.run(["sysctl", "-n", "machdep.cpu.leaf7_features"], capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return "AVX512VNNI" in features.upper().split()
    return False


# Set by the CLI: user code still running STUCK_GRACE_S past its limit (after the timeout was raised
# in it) ends the process with one line. Library callers keep their process; the code runs on.
EXIT_WHEN_USER_CODE_IS_STUCK = False
STUCK_GRACE_S = 2.0


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "user code"):
    import ctypes
    import threading

    from .errors import UserCodeTimeout

    target = threading.get_ident()
    done = threading.Event()
    fired = []

    def watchdog():
        if not done.wait(seconds):
            fired.append(True)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(UserCodeTimeout))
            # The exception lands at the code's next bytecode: code asleep in C (time.sleep, a long
            # numpy call) or code that catches it runs on. A library cannot stop a thread; the CLI
            # can end its own process, with one line.
            if EXIT_WHEN_USER_CODE_IS_STUCK and not done.wait(STUCK_GRACE_S):
                sys.stderr.write(f"inpage: {what} ran past its {seconds:g} s limit and did not stop when interrupted (it catches "
                                 "KeyboardInterrupt or the timeout, or waits in C code); inpage ended; make it faster, or raise "
                                 "python_time_limit_s in the model's manifest entry\n")
                sys.stderr.flush()
                os._exit(1)

    thread = threading.Thread(target=watchdog, name="inpage-user-code-limit", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if fired:
            # Not raised yet (the user's code ended just in time): it must not surface later, elsewhere.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)


async def load_python_package(name: str) -> None:
    return None  # on CPython a project's modules import from the project folder
