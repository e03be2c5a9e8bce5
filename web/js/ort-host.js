// The one place that talks to onnxruntime-web (it runs in the inference worker): which bundle serves
// which execution provider, how its environment is set, and how a session is created.
//
// Sessions are created with one execution provider per attempt. Given ['webgpu', 'wasm'],
// onnxruntime-web drops WebGPU with only a console warning, so the page could not tell the user
// (or report) which provider really runs. Trying WebGPU alone first, and WASM only after it
// failed, makes the fallback explicit.

import { versionedUrl } from './assets.js';
import { SESSION_OPTIONS, SESSION_OPTION_OVERRIDES, threadCount } from './config.js';
import { InpageError } from './protocol.js';

// In 1.30 the WebGPU bundle needs the asyncify build of the runtime and the WASM bundle the
// plain one. Keeping them apart also means a failed WebGPU init cannot poison WASM sessions, and
// the asyncify files are fetched only when WebGPU is asked for.
const BUNDLES = {
  wasm: { module: 'ort/ort.wasm.min.mjs', runtime: 'ort/ort-wasm-simd-threaded' },
  webgpu: { module: 'ort/ort.webgpu.min.mjs', runtime: 'ort/ort-wasm-simd-threaded.asyncify' },
};

const bundles = {};

// This worker's session options: config.js's, with the page's `?ort=` overrides (setSessionOptions).
const sessionOptions = { ...SESSION_OPTIONS };

/** Override session options (the benchmark compares them); only SESSION_OPTION_OVERRIDES, before the first session. */
export function setSessionOptions(overrides) {
  for (const key of SESSION_OPTION_OVERRIDES) {
    if (overrides && key in overrides) sessionOptions[key] = overrides[key];
  }
  return { ...sessionOptions };
}

/** The session options sessions are created with (a copy). */
export function currentSessionOptions() {
  return { ...sessionOptions };
}

// The thread count by config.js's rule (threadCount), as this worker sees it.
let threads = threadCount();

/** Set the thread count before the first session (onnxruntime-web cannot change it later). */
export function setThreads(requested) {
  if (Object.keys(bundles).length) return threads;
  threads = threadCount(requested);
  return threads;
}

function loadBundle(kind) {
  bundles[kind] ??= (async () => {
    const { module, runtime } = BUNDLES[kind];
    const ort = await import(await versionedUrl(module));
    // Explicit, versioned URLs for the runtime: the .wasm is compiled by instantiateStreaming
    // from a response served as application/wasm, so the browser's compiled-code cache applies.
    ort.env.wasm.wasmPaths = { mjs: await versionedUrl(`${runtime}.mjs`), wasm: await versionedUrl(`${runtime}.wasm`) };
    ort.env.wasm.numThreads = threads;
    // proxy=false: inputs are views of Pyodide's memory, which cannot be posted to another worker;
    // and we already are off the main thread.
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort;
  })();
  return bundles[kind];
}

// A 78-byte model (one Identity node, float32[1]), made with onnx.helper. Creating a session from
// it makes onnxruntime-web compile its WebAssembly and start its threads, which takes a second or
// more; doing that while Pyodide boots takes it off the path to the first result.
const WARM_UP_MODEL = 'CAgSBmlucGFnZTo8ChAKAXgSAXkiCElkZW50aXR5EgZ3YXJtdXBaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAR';

/** Initialise the WASM runtime ahead of the first real session. Never rejects: a real load reports errors. */
export async function warmUp() {
  try {
    const ort = await loadBundle('wasm');
    const bytes = Uint8Array.from(atob(WARM_UP_MODEL), (c) => c.charCodeAt(0));
    const session = await ort.InferenceSession.create(bytes, { ...sessionOptions, executionProviders: ['wasm'] });
    await session.release();
  } catch {
    // The same failure will surface, with its message, when a model is loaded.
  }
}

let adapterProbe = null;

/** Whether WebGPU can run here: `{available: true, adapter}` or `{available: false, reason}`. */
export function probeWebGpu() {
  adapterProbe ??= (async () => {
    if (!('gpu' in navigator)) {
      return { available: false, reason: 'this browser does not expose WebGPU (navigator.gpu is missing)' };
    }
    try {
      const adapter = await navigator.gpu.requestAdapter();
      if (!adapter) return { available: false, reason: 'the browser found no WebGPU adapter' };
      const info = adapter.info || {};
      return { available: true, adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown' };
    } catch (error) {
      return { available: false, reason: `requesting a WebGPU adapter failed: ${error.message}` };
    }
  })();
  return adapterProbe;
}

/**
 * Create a session for `modelBytes` on `provider` ('wasm' or 'webgpu').
 * Resolves to `{session, ort, backend, fallbackReason}`: `backend` is the provider that runs,
 * `fallbackReason` says why it is not the one asked for (null when it is).
 */
export async function createSession(modelBytes, provider, fileName, config = {}) {
  let fallbackReason = null;
  const options = { ...sessionOptions, extra: extraOptions(config) };
  if (provider === 'webgpu') {
    const gpu = await probeWebGpu();
    if (gpu.available) {
      try {
        const ort = await loadBundle('webgpu');
        const session = await ort.InferenceSession.create(modelBytes, { ...options, executionProviders: ['webgpu'] });
        return { session, ort, backend: 'webgpu', fallbackReason };
      } catch (error) {
        fallbackReason = `WebGPU could not run ${fileName}: ${firstLine(error.message)}`;
      }
    } else {
      fallbackReason = gpu.reason;
    }
  } else if (provider !== 'wasm') {
    throw new InpageError('InvalidArgumentError', `unknown execution provider "${provider}" (use "wasm" or "webgpu")`);
  }
  const ort = await loadBundle('wasm');
  try {
    const session = await ort.InferenceSession.create(modelBytes, { ...options, executionProviders: ['wasm'] });
    return { session, ort, backend: 'wasm', fallbackReason };
  } catch (error) {
    throw new InpageError('ModelLoadError', `onnxruntime-web cannot load ${fileName}: ${firstLine(error.message)}`);
  }
}

/**
 * onnxruntime session config entries ({"session.disable_quant_qdq": "1"}) as the nested `extra`
 * object onnxruntime-web flattens back into the same dotted keys.
 */
export function extraOptions(config) {
  const extra = {};
  for (const [key, value] of Object.entries(config || {})) {
    const parts = key.split('.');
    let node = extra;
    for (const part of parts.slice(0, -1)) node = node[part] ??= {};
    node[parts[parts.length - 1]] = String(value);
  }
  return extra;
}

function firstLine(text) {
  return String(text).split('\n').map((line) => line.trim()).find(Boolean) || 'unknown error';
}
