// The one module every page loads: `window.inpage`, a thin client of the inference worker (worker.js),
// where Pyodide, inpage's Python and onnxruntime-web run. The main thread only captures sources
// and draws results, so it never stalls on inference.
//
//   await inpage.ready
//   const {predictions, timings, backend, variant} = await inpage.classify(imgOrUrlOrBlob, {topK: 5})
//   const {detections} = await inpage.detect(videoOrImageOrBitmap, {model: 'blazeface'})
//   const {poses} = await inpage.estimatePose(video)
//   const {embeddings} = await inpage.embed(['a cat on a mat', 'stock prices'])    // {data, dims: [2, 384]}
//   const {predictions} = await inpage.classifyText('What a lovely day', {topK: 1}) // one list per text
//   const {predictions} = await inpage.predict('iris', [[5.1, 3.5, 1.4, 0.2]])
//   const {outputs} = await inpage.run('my-model', {x: {data: Float32Array, dims: [1, 3], type: 'float32'}})
//   const result = await inpage.call('estimatePose', video, {model: 'movenet'})   // any task by method
//
// There is one method per task the site's build registered (tasks.json, written by `inpage build`
// from the Python task registry): an image or text task's takes `(source, {model, ...options})`, a
// task of rows or tensors takes `(model, input, options)`. The options are the task's, in camelCase.
//
// Start-up, each stage a 'progress' event on `inpage.events` (and a mark in `inpage.timeline()`):
//   0. cache     the service worker (sw.js) that keeps the site's files in Cache Storage, by sha256
//   1. runtime   the worker boots Pyodide, onnxruntime-web and downloads this page's models, side by side
//   2. packages  numpy, Pillow and inpage are imported
//   3. ready     calls are served; each model loads on first use ('download' events while it downloads)
// Errors reject with an InpageError: `name` says what kind (ImageDecodeError, ModelLoadError,
// InvalidArgumentError, ...), `message` is one line naming the cause and what to do.

import { pageSettings, siteRoot } from './config.js';
import { InpageError, createClient } from './protocol.js';
import SITE from '../tasks.json' with { type: 'json' };

const events = new EventTarget();
const marks = {};

function emit(type, detail) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
}

function onWorkerEvent(type, detail) {
  if (type === 'userCode') {
    onUserCode(detail);
    return;
  }
  if (type === 'mark') {
    marks[detail.name] = Math.round(detail.time - performance.timeOrigin);
    return;
  }
  emit(type, detail);
}

/** Settings every call uses unless it says otherwise, from this page's query string (config.js's pageSettings). */
const settings = pageSettings(location.search);

/** Register the service worker (sw.js) and wait, briefly, until it controls this page. */
async function cacheLayer() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return 'unavailable';
  try {
    await navigator.serviceWorker.register(new URL('sw.js', siteRoot), { scope: siteRoot.pathname });
    if (!navigator.serviceWorker.controller) {
      await Promise.race([
        new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true })),
        new Promise((resolve) => setTimeout(resolve, 3000)),
      ]);
    }
    return navigator.serviceWorker.controller ? 'active' : 'pending';
  } catch {
    return 'unavailable';
  }
}

// Where the host sends no COOP/COEP headers, the service worker adds them to the pages it answers;
// a page loaded before it took control is reloaded once to get them. A flag in sessionStorage
// allows one such reload per tab, so a host or browser that defeats it never loops.
const RELOAD_FLAG = 'inpage:isolation-reload';

function reloadForIsolation(cache) {
  if (globalThis.crossOriginIsolated) {
    sessionStorage.removeItem(RELOAD_FLAG);
    return false;
  }
  if (cache !== 'active' || sessionStorage.getItem(RELOAD_FLAG)) return false;
  sessionStorage.setItem(RELOAD_FLAG, String(Date.now()));
  location.reload();
  return true;
}

let worker = null;
let client = null;

function startWorker() {
  worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module', name: 'inpage' });
  client = createClient(worker, onWorkerEvent);
}
startWorker();

// The tasks this page will use first (<meta name="inpage-prefetch" content="detect">): their
// default models download while Python starts.
const prefetchTasks = (document.querySelector('meta[name="inpage-prefetch"]')?.content || '').split(',').map((s) => s.trim()).filter(Boolean);

async function boot() {
  performance.mark('inpage:cache');
  emit('progress', { stage: 'cache', message: 'Starting…', fraction: 0.02 });
  const cache = await cacheLayer();
  if (reloadForIsolation(cache)) await new Promise(() => {}); // the page is reloading: nothing more starts here
  const prefetch = prefetchTasks.map((task) => SITE.defaults[task]).filter(Boolean);
  const { threads, sessionOptions, watchdog } = await bootWorker(prefetch);
  return { cache, threads, sessionOptions, userCodeLimits: Boolean(watchdog) };
}

async function bootWorker(prefetch) {
  const started = await client.request('boot', {
    prefetch, provider: settings.provider, variant: settings.variant, threads: settings.threads, sessionOptions: settings.sessionOptions,
  });
  interruptible = Boolean(started.watchdog);
  if (started.watchdog) watchUserCode(started.watchdog);
  return started;
}

// The worker says when user code starts and ends. Where the page is cross-origin isolated, Python is
// interrupted at the limit (watchUserCode) and normally ends at once. Past the limit and a grace,
// code that did not end (no shared memory to interrupt with; or it caught the interrupt, waits in C
// code, or took Pyodide down with os._exit) gets its worker ended: the main thread rejects the
// worker's calls with one line naming the user's function and starts a fresh worker. Models load
// again on their next use.
const USER_CODE_GRACE_MS = 2000;
let userCodeTimer = null;
let interruptible = false;

function onUserCode({ limitMs, what }) {
  clearTimeout(userCodeTimer);
  if (limitMs) userCodeTimer = setTimeout(() => restartWorker(what, limitMs), limitMs + USER_CODE_GRACE_MS);
}

function restartWorker(what, limitMs) {
  worker.terminate();
  const why = interruptible
    ? 'it did not stop when interrupted (it catches KeyboardInterrupt, waits in C code, or ended Python)'
    : 'this page is not cross-origin isolated, so Python could not be interrupted';
  client.failAll(new InpageError('UserCodeError', `${what} ran past its ${limitMs / 1000} s limit and was stopped: ${why}; `
    + 'inpage restarted its worker (models load again on next use); make it faster, or raise python_time_limit_s in the '
    + 'model\'s manifest entry'));
  manifestPromise = null;
  startWorker();
  booting = booting.then((settled) => bootWorker([]).then(() => settled));
  emit('workerRestarted', { what });
}

/**
 * Stop a user's preprocess or postprocess that runs past its limit: the worker cannot, being busy
 * running it, so the main thread watches the deadline the worker shares and interrupts Python.
 */
function watchUserCode({ interrupt, deadline }) {
  setInterval(() => {
    const due = Atomics.load(deadline, 0);
    if (due > 0n && BigInt(Date.now()) > due) {
      Atomics.store(deadline, 0, 0n);
      Atomics.store(interrupt, 0, 2); // SIGINT: KeyboardInterrupt at Python's next instruction
    }
  }, 100);
}

let booting = boot();
booting.catch((error) => emit('progress', { stage: 'failed', message: `Start-up failed: ${error.message}`, fraction: 1 }));

let manifestPromise = null;

/** The site's model manifest (`{models: [...]}`), fetched once. */
function getManifest() {
  manifestPromise ??= client.request('manifest');
  return manifestPromise;
}

/** The tasks the site's build registered, by their JavaScript method name (tasks.json). */
const TASK_OF_METHOD = Object.fromEntries(SITE.tasks.map((task) => [task.method, task]));
/** The method that runs each task: `{classify: 'classify', pose: 'estimatePose', tabular: 'predict', ...}`. */
const METHODS = Object.fromEntries(SITE.tasks.map((task) => [task.task, task.method]));

/** The model a call runs: the one named, else the task's default model (the build's, by manifest.default_model). */
function modelFor(task, name) {
  if (name) return name;
  const chosen = SITE.defaults[task.task];
  if (!chosen) throw new InpageError('ManifestError', `this site's manifest has no ${task.task} model; add one with \`inpage add MODEL.onnx --task ${task.task}\``);
  return chosen;
}

// ---- sources: what the page has, as a message the worker can read -------------------------------

function isA(value, name) {
  return typeof globalThis[name] !== 'undefined' && value instanceof globalThis[name];
}

/** `{message, transfer}` for one source: bitmaps and frames are copies the worker owns and closes. */
async function toMessage(source) {
  if (typeof source === 'string' || source instanceof URL) {
    return { message: { kind: 'url', url: new URL(source, location.href).href }, transfer: [] };
  }
  if (isA(source, 'Blob')) return { message: { kind: 'blob', blob: source }, transfer: [] };
  if (isA(source, 'ImageData')) {
    return { message: { kind: 'imagedata', data: source.data, width: source.width, height: source.height }, transfer: [] };
  }
  if (isA(source, 'HTMLVideoElement')) {
    if (source.readyState < 2 || !source.videoWidth) throw new InpageError('ImageDecodeError', 'the video has no frame to read yet; wait until it plays');
    if (typeof VideoFrame !== 'undefined') {
      try {
        const frame = new VideoFrame(source);
        return { message: { kind: 'videoframe', frame }, transfer: [frame] };
      } catch {
        // Some video sources cannot be wrapped; a bitmap can always be made.
      }
    }
    return bitmapMessage(source);
  }
  if (isA(source, 'VideoFrame')) {
    const frame = source.clone();
    return { message: { kind: 'videoframe', frame }, transfer: [frame] };
  }
  if (isA(source, 'HTMLImageElement') || isA(source, 'SVGImageElement')) {
    try {
      if (!source.complete || !source.naturalWidth) await source.decode();
    } catch {
      throw new InpageError('ImageDecodeError', 'the image element holds no image the browser can decode');
    }
    if (!source.naturalWidth) throw new InpageError('ImageDecodeError', 'the image element holds no decodable image');
    return bitmapMessage(source);
  }
  if (isA(source, 'HTMLCanvasElement') || isA(source, 'OffscreenCanvas') || isA(source, 'ImageBitmap')) {
    if (!source.width || !source.height) throw new InpageError('ImageDecodeError', 'the canvas or bitmap has no pixels');
    return bitmapMessage(source);
  }
  if (Array.isArray(source)) {
    if (!source.length) throw new InpageError('InvalidArgumentError', 'an empty list of images');
    const parts = await Promise.all(source.map(toMessage));
    return { message: { kind: 'batch', items: parts.map((p) => p.message) }, transfer: parts.flatMap((p) => p.transfer) };
  }
  throw new InpageError('InvalidArgumentError',
    'unsupported source: pass an image URL, Blob or File, ImageData, an <img>, <video> or <canvas>, an ImageBitmap, a VideoFrame, or a list of them');
}

async function bitmapMessage(source) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(source);
  } catch (error) {
    throw new InpageError('ImageDecodeError', `the browser cannot read this image's pixels: ${error.message}`);
  }
  return { message: { kind: 'bitmap', bitmap }, transfer: [bitmap] };
}

/** Texts (one string, or a list of strings or of [text, pair] pairs) as they are; Python checks each. */
function textMessage(texts) {
  if (typeof texts === 'string') return { kind: 'text', texts: [texts], single: true };
  if (!Array.isArray(texts)) {
    throw new InpageError('InvalidArgumentError', `texts must be a string or a list of strings, not ${texts === null ? 'null' : typeof texts}`);
  }
  if (texts.length === 0) throw new InpageError('InvalidArgumentError', 'texts is an empty list; give at least one string');
  return { kind: 'text', texts, single: false };
}

/** Tabular rows (a list of lists of numbers, or one row) as a float64 tensor. */
function rowsMessage(rows) {
  const table = Array.isArray(rows) && !Array.isArray(rows[0]) ? [rows] : rows;
  if (!Array.isArray(table) || !table.length || !table.every((row) => Array.isArray(row) && row.length === table[0].length && row.length)) {
    throw new InpageError('InvalidArgumentError', 'rows must be a non-empty list of rows of numbers, all the same length');
  }
  const data = Float64Array.from(table.flat(), (value) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new InpageError('InvalidArgumentError', `rows must hold finite numbers, not ${JSON.stringify(value)}`);
    return value;
  });
  return { kind: 'rows', rows: { data, dims: [table.length, table[0].length], type: 'float64' } };
}

/**
 * Named tensors for `run`: `{name: {data, dims, type}}` (an ort.Tensor works too). `data` is the typed
 * array of `type` (float16: a Float16Array, or a Uint16Array of float16 bits), a plain array of
 * numbers (BigInts or numbers for int64/uint64), or, for `type: 'string'`, an array of strings.
 * The number of values must match `dims`: nothing is ever read as another type or cut short.
 */
function feedsMessage(feeds) {
  if (!feeds || typeof feeds !== 'object' || Array.isArray(feeds)) {
    throw new InpageError('InvalidArgumentError', 'feeds must be an object of input name -> {data, dims, type}');
  }
  const out = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    if (!tensor || !Array.isArray(tensor.dims) || !(ArrayBuffer.isView(tensor.data) || Array.isArray(tensor.data))) {
      throw new InpageError('InvalidArgumentError', `feeds.${name} must be {data: a typed array or a list, dims: [...], type: 'float32' | ...}`);
    }
    const type = tensor.type || 'float32';
    if (type !== 'string' && !TYPED[type]) {
      throw new InpageError('InvalidArgumentError', `feeds.${name}.type must be one of ${Object.keys(TYPED).join(', ')}, string, not "${type}"`);
    }
    const dims = tensor.dims.map(Number);
    if (!dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InpageError('InvalidArgumentError', `feeds.${name}.dims must be non-negative integers, not [${tensor.dims.join(', ')}]`);
    }
    const count = dims.reduce((a, b) => a * b, 1);
    let data;
    if (type === 'string') {
      if (!Array.isArray(tensor.data) || !tensor.data.every((v) => typeof v === 'string')) {
        throw new InpageError('InvalidArgumentError', `feeds.${name}.data must be a list of strings for type 'string'`);
      }
      data = tensor.data;
    } else {
      data = Array.isArray(tensor.data) ? typedArrayOf(type, tensor.data, name) : checkedTypedArray(type, tensor.data, name);
    }
    if (data.length !== count) {
      throw new InpageError('InvalidArgumentError', `feeds.${name} has ${data.length} value(s), but dims [${dims.join(', ')}] need ${count}`);
    }
    out[name] = { data, dims, type };
  }
  return { kind: 'feeds', feeds: out };
}

const TYPED = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array, float16: Uint16Array,
};

function typedArrayOf(type, values, name) {
  const Type = TYPED[type];
  if (type === 'float16') {
    // Numbers, not bits: round them to float16 as the browser does, and send the bits.
    if (typeof Float16Array === 'undefined') {
      throw new InpageError('InvalidArgumentError', `feeds.${name}: this browser has no Float16Array to convert numbers; pass a Uint16Array of float16 bits`);
    }
    const halves = Float16Array.from(values, Number);
    return new Uint16Array(halves.buffer, halves.byteOffset, halves.length);
  }
  let array;
  try {
    array = Type === BigInt64Array || Type === BigUint64Array ? Type.from(values, BigInt) : Type.from(values, Number);
  } catch (error) {
    throw new InpageError('InvalidArgumentError', `feeds.${name}.data cannot be ${type}: ${error.message}`);
  }
  // A typed array wraps what does not fit (300 becomes 44 in a Uint8Array): refuse it instead.
  if (INTEGER_TYPES.has(type)) {
    const bad = values.findIndex((value, i) => (typeof value === 'bigint' ? value !== BigInt(array[i]) : Number(value) !== Number(array[i])));
    if (bad >= 0) throw new InpageError('InvalidArgumentError', `feeds.${name}.data[${bad}] is ${values[bad]}, which ${type} cannot hold`);
  }
  return array;
}

const INTEGER_TYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

/** A typed array given for `type`, as the array the worker reads; another element type is refused, never reinterpreted. */
function checkedTypedArray(type, data, name) {
  const Type = TYPED[type];
  // float16 travels as its bits: Pyodide cannot read a Float16Array.
  if (type === 'float16' && typeof Float16Array !== 'undefined' && data instanceof Float16Array) return new Uint16Array(data.buffer, data.byteOffset, data.length);
  const accepted = type === 'bool' ? [Uint8Array, Int8Array] : [Type];
  if (type === 'uint8') accepted.push(Uint8ClampedArray);
  if (!accepted.some((T) => data instanceof T)) {
    const expected = type === 'float16' ? 'a Float16Array or a Uint16Array of float16 bits' : `a ${Type.name}`;
    throw new InpageError('InvalidArgumentError', `feeds.${name}.data is a ${data.constructor.name}, but type '${type}' needs ${expected} (or a list of numbers)`);
  }
  return data;
}

// ---- calls ------------------------------------------------------------------------------------

async function call(method, source, { model, provider, variant, ...options } = {}) {
  const task = TASK_OF_METHOD[method];
  if (!task) throw new InpageError('InvalidArgumentError', `unknown method ${JSON.stringify(method)}; this site has: ${Object.keys(TASK_OF_METHOD).join(', ')}`);
  await booting;
  const name = modelFor(task, model);
  const started = performance.now();
  let message;
  let transfer = [];
  if (task.input === 'text') message = textMessage(source);
  else if (task.input === 'rows') message = rowsMessage(source);
  else if (task.input === 'tensors') message = feedsMessage(source);
  else ({ message, transfer } = await toMessage(source));
  const captureMs = performance.now() - started;
  const result = await client.request('call', {
    method: task.pythonMethod,
    model: name,
    provider: provider || settings.provider,
    variant: variant ?? settings.variant,
    source: message,
    options,
  }, transfer);
  result.timings = { capture_ms: captureMs, ...result.timings };
  return result;
}

window.inpage = {
  // Resolves once calls are served; from then on `threads` holds the worker's thread count.
  ready: booting.then(({ threads }) => {
    window.inpage.threads = threads;
  }),
  events,
  settings,
  /**
   * onnxruntime-web's thread count, as the worker set it (fixed at start-up): null until `ready`
   * resolves (and if start-up fails). 1 without cross-origin isolation; `?threads=N` caps it.
   */
  threads: null,
  methods: METHODS,
  crossOriginIsolated: globalThis.crossOriginIsolated,
  secureContext: window.isSecureContext,
  InpageError,

  /** Whether WebGPU can run here (asked in the worker, where it would run). */
  probeWebGpu: () => client.request('probeWebGpu'),

  /** Start-up milestones (ms since navigation): cache, runtime, packages, ready, and each model's load. */
  timeline() {
    const own = Object.fromEntries(performance.getEntriesByType('mark')
      .filter((m) => m.name.startsWith('inpage:')).map((m) => [m.name.slice(7), Math.round(m.startTime)]));
    return { ...own, ...marks };
  },

  manifest: getManifest,

  /** The tasks this site runs: `[{task, method, pythonMethod, input, options, display}]` (tasks.json). */
  tasks: SITE.tasks,

  /**
   * The site's models: `[{name, task, method, input, description, default, options, display, variants}]`;
   * `options` are the model's own defaults (the task's, under the manifest's), in camelCase.
   */
  async models() {
    const document = await getManifest();
    return document.models.map((m) => {
      const task = SITE.tasks.find((t) => t.task === m.task) || { method: null, input: null, display: {} };
      return {
        name: m.name, task: m.task, method: task.method, input: task.input, description: m.description || '',
        default: SITE.defaults[m.task] === m.name, options: SITE.models[m.name]?.options || {}, display: task.display,
        variants: ['base', ...(m.variants || []).map((v) => v.name)],
      };
    });
  },

  /** Load a model now (it otherwise loads on first use): `{name, task, backend, fallbackReason, variant, ...}`. */
  async loadModel(name, { provider, variant } = {}) {
    await booting;
    const info = await client.request('load', { model: name, provider: provider || settings.provider, variant: variant ?? settings.variant });
    performance.mark(`inpage:model:${name}`);
    return info;
  },

  /** Any task by its method name (`estimatePose`, `segment`, ...): the model's own result. */
  call,

  /** Run Python in the worker's Pyodide beside inpage; resolves to the value of the last expression. */
  runPython: (code) => booting.then(() => client.request('python', { code })),

  /** Memory the worker can see: Pyodide's WebAssembly heap and the worker's JS heap, in bytes. */
  memory: () => booting.then(() => client.request('memory')),

  /** A model's bare session.run on zeros, timed in the worker (ms per run): the benchmark's yardstick. */
  rawRun: (model, { provider, variant, runs = 30 } = {}) => booting.then(() => client.request('rawRun', {
    model, provider: provider || settings.provider, variant: variant ?? settings.variant, runs })),

  /** What start-up settled: `{cache, threads, sessionOptions}`. */
  startup: () => booting,

  /** Close a model's sessions now (it loads again on next use). */
  release: (name) => booting.then(() => client.request('release', { model: name })),
};

// One method per task: classify(source, options), detect(...), estimatePose(...), segment(...) take
// an image (a URL, Blob, ImageData, <img>/<video>/<canvas>, bitmap, frame, or a list of them);
// embed(texts, options) and classifyText(texts, options) a string or a list of strings;
// predict(model, rows, options) takes tabular rows; run(model, feeds, options) named tensors.
for (const task of SITE.tasks) {
  window.inpage[task.method] = task.input === 'image' || task.input === 'text'
    ? (source, options = {}) => call(task.method, source, options)
    : (model, input, options = {}) => call(task.method, input, { ...options, model });
}
