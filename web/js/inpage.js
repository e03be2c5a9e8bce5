// The one module every page loads. It boots Pyodide and the inpage package, wires the Python side
// to onnxruntime-web (ort-host.js), and exposes `window.inpage`:
//
//   await inpage.ready
//   const {predictions, timings, backend} = await inpage.classify(imgOrUrlOrBlob, {topK: 5})
//   const {detections, timings, backend} = await inpage.detect(videoOrImageOrBitmap, {model: 'nanodet-m'})
//
// Start-up runs in stages, each reported as a 'progress' event on `inpage.events`:
//   1. runtime  - the Pyodide core (pyodide.asm.wasm, the standard library)
//   2. packages - numpy, Pillow and inpage's own wheel, resolved from the site's lock file
//   3. ready    - Python is up; models load on first use (event 'model'), each verified by sha256.

import { createSession, probeWebGpu, threadCount, warmUp } from './ort-host.js';

const siteRoot = new URL('../', import.meta.url);
const events = new EventTarget();

function emit(type, detail) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
}

function progress(stage, message, fraction) {
  // Marks show up in DevTools' performance panel, and in `inpage.timeline()`.
  performance.mark(`inpage:${stage}`);
  emit('progress', { stage, message, fraction });
}

// Downloads started ahead of need (the page's models, during Pyodide's boot), by absolute URL.
// Each is handed out once, then forgotten, so the page does not hold a second copy.
const prefetched = new Map();

/** Read a URL's bytes, reporting download progress for large files (models). */
function fetchBytes(url) {
  const key = new URL(url, location.href).href;
  const early = prefetched.get(key);
  if (early) {
    prefetched.delete(key);
    return early;
  }
  return download(key);
}

async function download(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body || total < 1_000_000) return new Uint8Array(await response.arrayBuffer());
  const file = new URL(url, location.href).pathname.split('/').pop();
  const bytes = new Uint8Array(total);
  const reader = response.body.getReader();
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes.set(value, loaded);
    loaded += value.length;
    emit('model', { file, loaded, total });
  }
  return loaded === total ? bytes : bytes.subarray(0, loaded);
}

/**
 * Fetch the manifest, then start downloading the models this page names in
 * `<meta name="inpage-models" content="name,name">`. Runs alongside Pyodide's boot.
 */
async function prefetchModels() {
  const manifestUrl = new URL('models/manifest.json', siteRoot).href;
  const manifest = download(manifestUrl).then((bytes) => JSON.parse(new TextDecoder().decode(bytes)));
  const wanted = (document.querySelector('meta[name="inpage-models"]')?.content || '').split(',').map((s) => s.trim());
  manifest.then((document_) => {
    for (const entry of document_.models.filter((m) => wanted.includes(m.name))) {
      const url = new URL(entry.file, manifestUrl).href;
      const bytes = download(url);
      bytes.catch(() => {}); // reported when Python asks for it
      prefetched.set(url, bytes);
    }
  }, () => {});
  return manifest;
}

async function boot() {
  progress('runtime', 'Loading the Python runtime (Pyodide)…', 0.05);
  // Overlapped with Pyodide's boot: the manifest and this page's models download, and
  // onnxruntime-web compiles its WebAssembly. Neither needs Python.
  const manifestPromise = prefetchModels();
  manifestPromise.catch(() => {});
  warmUp();
  const { loadPyodide } = await import(new URL('pyodide/pyodide.mjs', siteRoot).href);
  const pyodide = await loadPyodide({ indexURL: new URL('pyodide/', siteRoot).href });
  progress('packages', 'Loading numpy, Pillow and inpage…', 0.55);
  await pyodide.loadPackage(['inpage'], { messageCallback: () => {} });
  pyodide.registerJsModule('inpage_host', {
    fetchBytes,
    createSession,
    manifestUrl: new URL('models/manifest.json', siteRoot).href,
  });

  const bridge = pyodide.pyimport('inpage.jsbridge');
  let manifest;
  try {
    manifest = await manifestPromise;
  } catch (error) {
    throw new Error(`the model manifest could not be read: ${error.message}`);
  }
  progress('ready', 'Ready', 1);
  return { pyodide, bridge, manifest };
}

const settings = { provider: 'wasm' };

const ready = boot();
ready.catch((error) => progress('failed', `Start-up failed: ${error.message}`, 1));

// Canvas reused for frames; willReadFrequently keeps its pixels on the CPU for getImageData.
let scratch = null;

function pixelsOf(source, width, height) {
  if (!scratch) {
    scratch = new OffscreenCanvas(width, height);
  }
  if (scratch.width !== width || scratch.height !== height) {
    scratch.width = width;
    scratch.height = height;
  }
  const context = scratch.getContext('2d', { willReadFrequently: true });
  context.drawImage(source, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

/**
 * Turn any supported source into what Python takes: encoded bytes (Pillow decodes them, exactly
 * as on CPython) or canvas RGBA pixels. Returns `{data, width, height}`; width 0 means encoded.
 */
async function readSource(source) {
  if (typeof source === 'string' || source instanceof URL) {
    return { data: await fetchBytes(new URL(source, location.href).href), width: 0, height: 0 };
  }
  if (source instanceof Blob) {
    return { data: new Uint8Array(await source.arrayBuffer()), width: 0, height: 0 };
  }
  if (source instanceof ImageData) {
    return { data: source.data, width: source.width, height: source.height };
  }
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
    if (source.readyState < 2 || !source.videoWidth) throw new InpageError('NoFrame', 'the video has no frame to read yet');
    return (await videoFramePixels(source)) || imageDataSource(pixelsOf(source, source.videoWidth, source.videoHeight));
  }
  if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame) {
    return (await videoFramePixels(source)) || imageDataSource(pixelsOf(source, source.displayWidth, source.displayHeight));
  }
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    if (!source.complete) await source.decode();
    if (!source.naturalWidth) throw new InpageError('ImageDecodeError', 'the image element holds no decodable image');
    return imageDataSource(pixelsOf(source, source.naturalWidth, source.naturalHeight));
  }
  if ((typeof ImageBitmap !== 'undefined' && source instanceof ImageBitmap) ||
      (typeof HTMLCanvasElement !== 'undefined' && source instanceof HTMLCanvasElement) ||
      (typeof OffscreenCanvas !== 'undefined' && source instanceof OffscreenCanvas) ||
      (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame)) {
    const width = source.displayWidth || source.width;
    const height = source.displayHeight || source.height;
    return imageDataSource(pixelsOf(source, width, height));
  }
  throw new InpageError('TypeError', 'unsupported source: pass an image URL, Blob, ImageData, or an image, video, canvas or ImageBitmap');
}

// RGBA buffers for video frames, reused frame after frame. getImageData would allocate a fresh
// 1.2 MB buffer per 640x480 frame; the collector frees those late, and a page running at camera
// rate grew by hundreds of MB before it did. A buffer is lent to one call at a time.
const freeFrameBuffers = [];

function borrowFrameBuffer(size) {
  const index = freeFrameBuffers.findIndex((buffer) => buffer.length === size);
  return index >= 0 ? freeFrameBuffers.splice(index, 1)[0] : new Uint8Array(size);
}

function returnFrameBuffer(buffer) {
  if (freeFrameBuffers.length < 4) freeFrameBuffers.push(buffer);
}

/**
 * Copy a video's current frame (or a VideoFrame) as RGBA into a reused buffer, with WebCodecs.
 * Resolves to null where the browser cannot convert to RGBA, so the caller falls back to a canvas.
 */
async function videoFramePixels(source) {
  if (typeof VideoFrame === 'undefined') return null;
  const frame = source instanceof VideoFrame ? source : new VideoFrame(source);
  let buffer = null;
  try {
    const options = { format: 'RGBA', colorSpace: 'srgb' };
    const { width, height } = frame.visibleRect;
    buffer = borrowFrameBuffer(frame.allocationSize(options));
    await frame.copyTo(buffer, options);
    return { data: buffer, width, height, release: () => returnFrameBuffer(buffer) };
  } catch {
    if (buffer) returnFrameBuffer(buffer);
    return null;
  } finally {
    if (frame !== source) frame.close();
  }
}

function imageDataSource(imageData) {
  return { data: imageData.data, width: imageData.width, height: imageData.height };
}

class InpageError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

async function run(task, source, modelName, options) {
  const { bridge } = await ready;
  const started = performance.now();
  const { data, width, height, release } = await readSource(source);
  const captureMs = performance.now() - started;
  const provider = options.provider || settings.provider;
  let result;
  try {
    result = await bridge.page_run(task, modelName, provider, data, width, height, options);
  } finally {
    release?.();
  }
  if (result.error) throw new InpageError(result.error.type, result.error.message);
  result.timings = { capture_ms: captureMs, ...result.timings };
  return result;
}

function defaultModel(task, manifest) {
  const entry = manifest.models.find((m) => m.task === task && m.default) || manifest.models.find((m) => m.task === task);
  return entry.name;
}

window.inpage = {
  ready: ready.then(() => undefined),
  events,
  settings,
  threads: threadCount(),
  crossOriginIsolated: globalThis.crossOriginIsolated,
  probeWebGpu,
  InpageError,

  /** The page's Pyodide instance, for running your own Python beside inpage (e.g. `pyodide.runPythonAsync`). */
  async pyodide() {
    return (await ready).pyodide;
  },

  /** Start-up milestones (ms since navigation): runtime, packages, ready, and each model's load. */
  timeline() {
    return Object.fromEntries(performance.getEntriesByType('mark')
      .filter((mark) => mark.name.startsWith('inpage:'))
      .map((mark) => [mark.name.slice(7), Math.round(mark.startTime)]));
  },

  /** The bundled models, as listed in the site's manifest. */
  async models() {
    const { manifest } = await ready;
    return manifest.models.map(({ name, task, description, decoder }) => (
      { name, task, description, scoreThreshold: decoder?.score_threshold ?? null }));
  },

  /** Load a model now (it otherwise loads on first use); resolves to `{name, task, backend, fallbackReason}`. */
  async loadModel(name, { provider } = {}) {
    const { bridge } = await ready;
    try {
      const info = await bridge.page_load_model(name, provider || settings.provider);
      performance.mark(`inpage:model:${name}`);
      return info;
    } catch (error) {
      throw new InpageError('ModelLoadError', lastLine(error.message));
    }
  },

  /** Classify an image URL, Blob, ImageData or element: `{predictions, timings, backend}`. */
  async classify(source, { topK = 5, model, provider } = {}) {
    const { manifest } = await ready;
    return run('classify', source, model || defaultModel('classify', manifest), { topK, provider });
  },

  /**
   * Detect objects in an image, video, canvas, ImageBitmap, ImageData, URL or Blob:
   * `{detections: [{label, index, score, box: [x0, y0, x1, y1], keypoints}], timings, backend}`.
   * Thresholds left out take the model's defaults from the manifest.
   */
  async detect(source, { model, scoreThreshold, iouThreshold, maxDetections = 100, provider } = {}) {
    const { manifest } = await ready;
    return run('detect', source, model || defaultModel('detect', manifest), { scoreThreshold, iouThreshold, maxDetections, provider });
  },
};

// Python errors arrive with a traceback; the user needs its last line.
function lastLine(message) {
  const lines = String(message).trim().split('\n');
  return lines[lines.length - 1];
}
