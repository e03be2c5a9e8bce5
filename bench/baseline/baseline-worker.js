// The plain-JavaScript baseline (baseline.js) in a dedicated module worker: the same place inpage
// runs its inference, so the benchmark compares like with like.
//
//   page -> worker  {id, type: 'init', threads, smoothing}
//                   {id, type: 'load', name}
//                   {id, type: 'run', name, source, options}
//   worker -> page  {id, ok: true, result} or {id, ok: false, error: {name, message}}
//
// `source` is {kind: 'url', url}, {kind: 'pixels', image} (an ImageData copy), or a transferred
// {kind: 'bitmap', bitmap} / {kind: 'videoframe', frame}, which the worker closes after use.

import { createBaseline, decodeUrl } from './baseline.js';

let baseline = null;

const handlers = {
  init({ threads = null, smoothing = 'high' }) {
    baseline ??= createBaseline({ siteRoot: '../', threads, smoothing });
    return baseline.init().then((count) => ({ threads: count }));
  },
  load({ name }) {
    return baseline.load(name);
  },
  async run({ name, source, options }) {
    const started = performance.now();
    const { image, close } = await readSource(source);
    const readMs = performance.now() - started;
    try {
      const { result, timings } = await baseline.run(name, image, options);
      return { ...result, timings: { read_ms: readMs, ...timings } };
    } finally {
      close();
    }
  },
};

/** A source message as something baseline.run can draw, and how to free it. */
async function readSource(source) {
  switch (source?.kind) {
    case 'url':
      return decodeUrl(source.url);
    case 'pixels':
      return { image: source.image, close: () => {} };
    case 'bitmap':
      return { image: source.bitmap, close: () => source.bitmap.close() };
    case 'videoframe':
      return { image: source.frame, close: () => source.frame.close() };
    default:
      throw new Error(`unknown source kind "${source?.kind}"`);
  }
}

self.addEventListener('message', async ({ data: { id, type, ...request } }) => {
  try {
    if (!handlers[type]) throw new Error(`unknown request "${type}"`);
    if (type !== 'init' && !baseline) throw new Error('send "init" first');
    const result = await handlers[type](request);
    // A segmentation mask travels back transferred, not copied.
    const buffer = result?.mask?.data.buffer;
    const transfer = buffer instanceof ArrayBuffer ? [buffer] : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (error) {
    self.postMessage({ id, ok: false, error: { name: error.name || 'Error', message: String(error.message || error) } });
  }
});
