// The page's settings in one place, for every module that needs them: the site root, the settings
// read from the page's URL, onnxruntime-web's session options and thread rule, and the sha256 helper.
//
// It runs on the main thread (inpage.js), in the inference worker (worker.js, ort-host.js,
// assets.js) and in the benchmark's baseline (bench/baseline/baseline.js), so nothing here touches
// `window` or `document`, and nothing reads `location` when imported: in a worker, `location` is the
// worker script's URL, not the page's. The page reads its own query string (pageSettings) and sends
// the settings to the worker in its 'boot' request (protocol.js).

/** The site's root folder (where the HTML pages, assets.json, models/, ort/ and pyodide/ are): the folder above js/. */
export const siteRoot = new URL('../', import.meta.url);

/**
 * onnxruntime-web's session options, for inpage (ort-host.js) and the benchmark's baseline alike.
 * Errors only: some converted graphs carry unused initializers that onnxruntime reports,
 * harmlessly, as warnings on every load. The memory options were measured by `make bench`
 * (see README): onnxruntime-web passes them as `!!option`, so they are off unless set here.
 * Frozen: a page changes them with `?ort=` (SESSION_OPTION_OVERRIDES), which the worker applies to its own copy.
 */
export const SESSION_OPTIONS = Object.freeze({
  logSeverityLevel: 3, enableCpuMemArena: true, enableMemPattern: true, graphOptimizationLevel: 'all',
});

/** The session options `?ort={...}` may override (the benchmark compares them); any other key is ignored. */
export const SESSION_OPTION_OVERRIDES = Object.freeze(['enableCpuMemArena', 'enableMemPattern', 'graphOptimizationLevel']);

/** The most threads onnxruntime-web is given, however many cores the machine has. */
export const MAX_THREADS = 4;

/**
 * Threads onnxruntime-web can use: more than one needs SharedArrayBuffer, so cross-origin isolation.
 * `requested` (null: as many as the machine has) is capped by the cores, and by MAX_THREADS.
 * Reads the global scope it runs in: in the worker, the worker's isolation and cores.
 */
export function threadCount(requested = null) {
  if (!globalThis.crossOriginIsolated) return 1;
  const available = Math.max(1, Math.min(MAX_THREADS, globalThis.navigator?.hardwareConcurrency || 1));
  return requested ? Math.max(1, Math.min(available, requested)) : available;
}

/**
 * @typedef {object} PageSettings  Settings every call uses unless it says otherwise.
 * @property {string} provider  `?provider=`: 'wasm' (the default) or 'webgpu'
 * @property {string|null} variant  `?variant=`: a model variant's name, 'base', or null (the one kept for the provider)
 * @property {number|null} threads  `?threads=`: threads for onnxruntime-web (fixed at start-up); null: as many as the machine has, up to MAX_THREADS
 * @property {object|null} sessionOptions  `?ort={"enableMemPattern":false}`: session options to override, for measuring them
 */

/**
 * The settings in a page's query string (`location.search` on the main thread; the worker gets them
 * in its 'boot' request). Throws a SyntaxError when `?ort=` is not JSON.
 * @param {string} search
 * @returns {PageSettings}
 */
export function pageSettings(search) {
  const query = new URLSearchParams(search);
  return {
    provider: query.get('provider') || 'wasm',
    variant: query.get('variant') || null,
    threads: Number(query.get('threads')) || null,
    sessionOptions: JSON.parse(query.get('ort') || 'null'),
  };
}

/**
 * The sha256 of `bytes` as 64 lowercase hex digits. Browsers give `crypto.subtle` only to secure
 * contexts (https, localhost); elsewhere (plain http on a LAN address) `fallback(bytes)` computes
 * it, where the caller has one (the worker: Python's hashlib in Pyodide).
 */
export async function sha256Hex(bytes, fallback) {
  if (!globalThis.crypto?.subtle) {
    if (fallback) return fallback(bytes);
    throw new Error('this page is not a secure context (https or localhost), so the browser gives it no crypto.subtle to check files with');
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
