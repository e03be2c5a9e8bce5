// The messages between the page (inpage.js) and the inference worker (worker.js), with request ids.
//
//   page -> worker   {id, type, ...payload}           one of the request types below
//   worker -> page   {id, ok: true, result}           the answer to request `id`
//                    {id, ok: false, error}           {name, message}: one line, never a traceback
//                    {event, detail}                  progress, downloads, start-up milestones
//
// Request types: 'boot' {prefetch, provider, variant, threads, sessionOptions}, 'load' {model, provider, variant},
// 'call' {method, model, provider, variant, source, options}, 'manifest', 'probeWebGpu',
// 'python' {code}, 'memory', 'release' {model}.
// Sources cross as {kind: 'url' | 'blob' | 'imagedata' | 'bitmap' | 'videoframe' | 'rows' | 'feeds' | 'batch', ...};
// bitmaps and video frames are transferred, and closed by the worker after use.

/** Errors that reach callers: `name` says what kind (ImageDecodeError, ModelLoadError, ...), `message` is one line. */
export class InpageError extends Error {
  constructor(name, message) {
    super(String(message).split('\n').map((line) => line.trim()).filter(Boolean).join(' '));
    this.name = name || 'InpageError';
  }
}

/** The page's side: `request(type, payload, transfer)` resolves to the worker's result or rejects with an InpageError. */
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
    request(type, payload = {}, transfer = []) {
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
    failAll,
  };
}

/** The worker's side: answer requests with `handlers[type](message)`; `emit` sends events. */
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
