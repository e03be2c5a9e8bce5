// The messages between the page (inpage.js) and the inference worker (worker.js), with request ids.
//
//   page -> worker   {id, type, ...payload}           one of the request types below
//   worker -> page   {id, ok: true, result}           the answer to request `id`
//                    {id, ok: false, error}           {name, message}: one line, never a traceback
//                    {event, detail}                  progress, downloads, start-up milestones
//
// Request types, each typed below as its request payload and its reply's `result` (RequestMap,
// ReplyMap): 'boot', 'manifest', 'probeWebGpu', 'load', 'call', 'python', 'memory', 'rawRun',
// 'release'. Events (EventMap): 'progress', 'download', 'mark'.
// Sources cross as {kind: 'url' | 'blob' | 'imagedata' | 'bitmap' | 'videoframe' | 'text' | 'rows' | 'feeds' | 'batch', ...};
// bitmaps and video frames are transferred, and closed by the worker after use.

// ---- requests (page -> worker): the payload beside {id, type} -----------------------------------

/**
 * @typedef {object} BootRequest  Start the worker (once; a second boot waits for the first). Sent by inpage.js with the page's settings (config.js's pageSettings).
 * @property {string[]} [prefetch]  models to download while Python starts (default [])
 * @property {string} [provider]  'wasm' (default) or 'webgpu': which file of each prefetched model to download
 * @property {string|null} [variant]  a variant's name, 'base', or null: the one kept for the provider
 * @property {number|null} [threads]  threads asked for (null: config.js's threadCount rule decides)
 * @property {Partial<SessionOptions>|null} [sessionOptions]  overrides of config.js's SESSION_OPTION_OVERRIDES keys
 */
/** @typedef {Record<string, never>} ManifestRequest  The site's model manifest. No payload. */
/** @typedef {Record<string, never>} ProbeWebGpuRequest  Whether WebGPU can run in the worker. No payload. */
/**
 * @typedef {object} LoadRequest  Load a model now (it otherwise loads on first use).
 * @property {string} model  the manifest's model name
 * @property {string} provider  'wasm' or 'webgpu'
 * @property {string|null} [variant]  a variant's name, 'base', or null/absent: the one kept for the provider
 */
/**
 * @typedef {object} CallRequest  Run one of a model's methods on a source.
 * @property {string} method  Python's method name: 'classify', 'detect', 'predict', 'estimate_pose', 'segment', 'run', ...
 * @property {string} model
 * @property {string} provider
 * @property {string|null} [variant]
 * @property {Source} source
 * @property {Record<string, unknown>|null} [options]  the method's options, in either spelling (topK or top_k)
 */
/**
 * @typedef {object} PythonRequest  Run Python beside inpage in the worker's Pyodide.
 * @property {string} code
 */
/** @typedef {Record<string, never>} MemoryRequest  Memory the worker can see. No payload. */
/**
 * @typedef {object} RawRunRequest  A model's bare session.run on zeros, timed in the worker (the benchmark's yardstick).
 * @property {string} model
 * @property {string} provider
 * @property {string|null} [variant]
 * @property {number} [runs]  how many timed runs (default 30)
 */
/**
 * @typedef {object} ReleaseRequest  Close a model's sessions (every provider and variant).
 * @property {string} model
 */

/**
 * @typedef {object} RequestMap  Each request type's payload.
 * @property {BootRequest} boot
 * @property {ManifestRequest} manifest
 * @property {ProbeWebGpuRequest} probeWebGpu
 * @property {LoadRequest} load
 * @property {CallRequest} call
 * @property {PythonRequest} python
 * @property {MemoryRequest} memory
 * @property {RawRunRequest} rawRun
 * @property {ReleaseRequest} release
 */
/** @typedef {keyof RequestMap} RequestType */
/**
 * @template {RequestType} [T=RequestType]
 * @typedef {{id: number, type: T} & RequestMap[T]} RequestMessage  A request as posted: its payload's fields beside `id` and `type`.
 */

// ---- sources (CallRequest.source) ------------------------------------------------------------------

/**
 * @typedef {{data: ArrayBufferView | string[] | number[], dims: number[], type: string}} TensorMessage
 *   A tensor: typed array (float16 as Uint16Array bits), or strings for type 'string'.
 */
/**
 * @typedef {{kind: 'url', url: string}
 *   | {kind: 'blob', blob: Blob}
 *   | {kind: 'imagedata', data: Uint8ClampedArray, width: number, height: number}
 *   | {kind: 'bitmap', bitmap: ImageBitmap}
 *   | {kind: 'videoframe', frame: VideoFrame}
 *   | {kind: 'text', texts: Array<string | [string, string]>, single: boolean}
 *   | {kind: 'rows', rows: TensorMessage}
 *   | {kind: 'feeds', feeds: Record<string, TensorMessage>}
 *   | {kind: 'batch', items: Source[]}} Source
 *   What a call reads. `url` is absolute; bitmaps and video frames are transferred and closed by the worker;
 *   `text` the texts of embed/classifyText (`single`: the caller gave one string), `rows` a float64 [rows, columns] tensor (predict), `feeds` named tensors (run), `batch` a list of images.
 */

// ---- replies (worker -> page): `result` of {id, ok: true, result} ---------------------------------

/**
 * @typedef {object} SessionOptions  onnxruntime-web session options (config.js's SESSION_OPTIONS, with any overrides).
 * @property {number} logSeverityLevel
 * @property {boolean} enableCpuMemArena
 * @property {boolean} enableMemPattern
 * @property {string} graphOptimizationLevel
 */
/**
 * @typedef {object} BootReply  What start-up settled in the worker (window.inpage.threads reports `threads`).
 * @property {number} threads  onnxruntime-web's thread count, fixed from the first boot on
 * @property {SessionOptions} sessionOptions  the options every session is created with
 */
/**
 * @typedef {object} ManifestReply  models/manifest.json as written by `inpage add` (see py/inpage/manifest.py).
 * @property {Array<{name: string, task: string, file: string, sha256: string, default?: boolean,
 *   description?: string, options?: Record<string, unknown>, variants?: object[]} & Record<string, unknown>>} models
 */
/**
 * @typedef {{available: true, adapter: string} | {available: false, reason: string}} ProbeWebGpuReply
 *   `adapter` names the WebGPU adapter; `reason` says, as one line, why WebGPU cannot run.
 */
/**
 * @typedef {object} LoadReply  A loaded model's description (py/inpage/_page.py's _info).
 * @property {string} name
 * @property {string} task
 * @property {string} method  the method that runs its task (Python's spelling)
 * @property {string} backend  the provider that runs it: 'wasm' or 'webgpu'
 * @property {string|null} fallbackReason  why `backend` is not the provider asked for (null when it is)
 * @property {string} variant  the file that runs: 'base' (the manifest entry's own) or a variant's name
 * @property {number[]|null} inputSize  an image model's input [width, height]
 * @property {object[]} inputs
 * @property {object[]} outputs
 * @property {string|null} warmUpFailed  why the warm-up run failed, if it did
 */
/**
 * @typedef {object} Timings  Milliseconds per stage: read_ms (the worker's reading of the source), then Python's
 *   (preprocess_ms, inference_ms, postprocess_ms, ...); the page adds capture_ms.
 * @property {number} [capture_ms]
 * @property {number} [read_ms]
 * @property {number} [preprocess_ms]
 * @property {number} [inference_ms]
 * @property {number} [postprocess_ms]
 */
/**
 * @typedef {Record<string, unknown> & {timings: Timings, backend: string, fallbackReason: string|null,
 *   variant: string, model: string}} CallReply
 *   The task's own payload ({predictions}, {detections}, {poses}, {box, coverage, mask}, {outputs}, or
 *   {batch: [...]} for a list of images), with the run's timings and what ran it. Typed arrays are transferred.
 */
/** @typedef {unknown} PythonReply  The value of the code's last expression, converted to JavaScript (dicts as objects). */
/**
 * @typedef {object} MemoryReply  In bytes.
 * @property {number} pyodideHeap  Pyodide's WebAssembly heap
 * @property {number|null} jsHeap  the worker's JS heap, where the browser says (performance.memory)
 */
/**
 * @typedef {object} RawRunReply
 * @property {number[]} run_ms  each run's time
 * @property {string} variant  'base' or a variant's name
 * @property {string} backend
 */
/** @typedef {null} ReleaseReply */

/**
 * @typedef {object} ReplyMap  Each request type's `result`.
 * @property {BootReply} boot
 * @property {ManifestReply} manifest
 * @property {ProbeWebGpuReply} probeWebGpu
 * @property {LoadReply} load
 * @property {CallReply} call
 * @property {PythonReply} python
 * @property {MemoryReply} memory
 * @property {RawRunReply} rawRun
 * @property {ReleaseReply} release
 */
/**
 * @typedef {object} ErrorShape  A failure as it crosses: the InpageError's name and its one-line message.
 * @property {string} name  ImageDecodeError, ModelLoadError, InvalidArgumentError, PythonError, InternalError, ...
 * @property {string} message
 */
/**
 * @template {RequestType} [T=RequestType]
 * @typedef {{id: number, ok: true, result: ReplyMap[T]} | {id: number, ok: false, error: ErrorShape}} ReplyMessage
 */

// ---- events (worker -> page, and the page's own): {event, detail} --------------------------------

/**
 * @typedef {object} ProgressEvent  A start-up stage: 'cache' and 'failed' (the page's own), 'runtime', 'packages', 'ready'.
 * @property {string} stage
 * @property {string} message  what is happening, for people
 * @property {number} fraction  of start-up done, 0 to 1
 */
/**
 * @typedef {{file: string, loaded: number, total: number|null} | {file: string, done: true}} DownloadEvent
 *   A model file's download: bytes so far (`total` null when the size is unknown: a compressed response), then `done`.
 */
/**
 * @typedef {object} MarkEvent  A start-up milestone for inpage.timeline(): a stage's name, or `model:<label>` when a model loaded.
 * @property {string} name
 * @property {number} time  ms since the epoch (performance.timeOrigin + performance.now() in the worker)
 */
/**
 * @typedef {object} EventMap
 * @property {ProgressEvent} progress
 * @property {DownloadEvent} download
 * @property {MarkEvent} mark
 */
/**
 * @template {keyof EventMap} [E=keyof EventMap]
 * @typedef {{event: E, detail: EventMap[E]}} EventMessage
 */

/**
 * @template {RequestType} T
 * @typedef {{result: ReplyMap[T], transfer?: Transferable[]}} HandlerAnswer  What a handler resolves to: the result and what to transfer.
 */
/**
 * @typedef {{[T in RequestType]?: (message: RequestMessage<T>) => Promise<HandlerAnswer<T>>}} Handlers
 *   The worker's handler for each request type it serves.
 */

/** Errors that reach callers: `name` says what kind (ImageDecodeError, ModelLoadError, ...), `message` is one line. */
export class InpageError extends Error {
  constructor(name, message) {
    super(String(message).split('\n').map((line) => line.trim()).filter(Boolean).join(' '));
    this.name = name || 'InpageError';
  }
}

/**
 * The page's side: `request(type, payload, transfer)` resolves to the worker's result or rejects with an InpageError.
 * @param {Worker} worker
 * @param {<E extends keyof EventMap>(event: E, detail: EventMap[E]) => void} onEvent  called for each event the worker sends
 */
export function createClient(worker, onEvent) {
  let nextId = 1;
  const pending = new Map();
  worker.addEventListener('message', ({ data }) => {
    if (data.event) {
      onEvent(data.event, data.detail);
      return;
    }
    const waiter = pending.get(data.id);
    if (!waiter) return;
    pending.delete(data.id);
    if (data.ok) waiter.resolve(data.result);
    else waiter.reject(new InpageError(data.error?.name, data.error?.message));
  });
  const failAll = (error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    failAll(new InpageError('InpageError', `the inference worker failed: ${event.message || 'it could not start'}`));
  });
  return {
    /**
     * @template {RequestType} T
     * @param {T} type
     * @param {RequestMap[T]} [payload]
     * @param {Transferable[]} [transfer]
     * @returns {Promise<ReplyMap[T]>}
     */
    request(type, payload = /** @type {RequestMap[T]} */ ({}), transfer = []) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        try {
          worker.postMessage({ id, type, ...payload }, transfer);
        } catch (error) {
          pending.delete(id);
          reject(new InpageError('InvalidArgumentError', `this source cannot be sent to the worker: ${error.message}`));
        }
      });
    },
    /** Reject every pending request with `error` (as when the worker fails). */
    failAll,
  };
}

/**
 * The worker's side: answer requests with `handlers[type](message)`; `emit` sends events.
 * A handler's rejection becomes a failed reply: an InpageError keeps its name, anything else is an InternalError.
 * @param {DedicatedWorkerGlobalScope} scope
 * @param {Handlers} handlers
 * @returns {<E extends keyof EventMap>(event: E, detail: EventMap[E]) => void} emit
 */
export function serve(scope, handlers) {
  scope.addEventListener('message', async ({ data }) => {
    const handler = handlers[data.type];
    try {
      if (!handler) throw new InpageError('InvalidArgumentError', `unknown request "${data.type}"`);
      const { result, transfer = [] } = await handler(data);
      scope.postMessage({ id: data.id, ok: true, result }, transfer);
    } catch (error) {
      // Errors of ours keep their name; anything else is a bug, said as one line.
      const name = error instanceof InpageError ? error.name : 'InternalError';
      scope.postMessage({ id: data.id, ok: false, error: { name, message: String(error?.message || error) } });
    }
  });
  return (event, detail) => scope.postMessage({ event, detail });
}
