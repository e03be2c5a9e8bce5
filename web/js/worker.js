// The inference worker: Pyodide, inpage's Python and onnxruntime-web, off the page's main thread.
// The page talks to it through protocol.js; window.inpage (inpage.js) is a thin client of it.
//
// Start-up, in order, each stage a 'progress' event (overlapping wherever nothing waits on it):
//   1. runtime   the asset index; then, at once and side by side: Pyodide's core with numpy, Pillow
//                and inpage's wheel (loadPyodide({packages})), onnxruntime-web's WebAssembly (a
//                warm-up session), the model manifest and the models the page asked to prefetch
//   2. packages  Python is up; inpage is imported and wired to this worker (the `inpage_host` module)
//   3. ready     calls are served; models load on first use, once, however many callers ask

import { fetchBytes, verify, versionedUrl } from './assets.js';
import { sha256Hex, siteRoot } from './config.js';
import { toPythonSource } from './frames.js';
import { createSession, currentSessionOptions, probeWebGpu, setSessionOptions, setThreads, warmUp } from './ort-host.js';
import { InpageError, serve } from './protocol.js';
import SITE from '../tasks.json' with { type: 'json' };

const manifestUrl = new URL('models/manifest.json', siteRoot).href;
// Pyodide's interrupt buffer ([0] = 2 raises KeyboardInterrupt in Python) and the deadline (Date.now()
// ms) of the user code running now, 0 when none: shared with the main thread, which is free to act
// while Python is busy here.
const watchdog = globalThis.crossOriginIsolated
  ? { interrupt: new Int32Array(new SharedArrayBuffer(4)), deadline: new BigInt64Array(new SharedArrayBuffer(8)) }
  : null;
// Model downloads started ahead of need, by URL; each is handed out once, then forgotten.
const prefetched = new Map();
let booted = null;

const emit = serve(self, {
  async boot({ prefetch = [], provider = 'wasm', variant = null, threads = null, sessionOptions = null }) {
    if (!booted) setSessionOptions(sessionOptions);
    booted ??= boot({ names: prefetch, provider, variant }, threads);
    await booted;
    // The page reports these (window.inpage.threads): the thread rule applied here, in the worker.
    // The user-code watchdog's shared memory: the page's main thread watches the deadline and
    // interrupts Python past it (only where SharedArrayBuffer exists: a cross-origin isolated page).
    return { result: { threads: setThreads(threads), sessionOptions: currentSessionOptions(), watchdog } };
  },
  async manifest() {
    return { result: await readManifest() };
  },
  async probeWebGpu() {
    return { result: await probeWebGpu() };
  },
  async load({ model, provider, variant }) {
    const { page } = await ready();
    return answer(await page.load(model, provider, variant ?? null));
  },
  async call({ method, model, provider, variant, source, options }) {
    const { page } = await ready();
    const started = performance.now();
    const { value, release } = await toPythonSource(source);
    const readMs = performance.now() - started;
    try {
      const reply = answer(await page.call(method, model, provider, variant ?? null, value, options ?? null));
      if (reply.result.timings) reply.result.timings = { read_ms: readMs, ...reply.result.timings };
      return reply;
    } finally {
      release();
    }
  },
  async python({ code }) {
    const { pyodide } = await ready();
    try {
      // The site's packages the code imports (a project's python/ module, scipy, ...), loaded first.
      await pyodide.loadPackagesFromImports(code, { messageCallback: () => {} });
      const value = await pyodide.runPythonAsync(code);
      const result = value?.toJs ? value.toJs({ dict_converter: Object.fromEntries }) : value;
      value?.destroy?.();
      return { result };
    } catch (error) {
      throw new InpageError('PythonError', lastLine(error.message));
    }
  },
  async memory() {
    const { pyodide } = await ready();
    return { result: { pyodideHeap: pyodide._module.HEAP8.buffer.byteLength, jsHeap: performance.memory?.usedJSHeapSize ?? null } };
  },
  /** The benchmark's yardstick: a model's bare onnxruntime-web session.run on zeros, timed here in JS. */
  async rawRun({ model, provider, variant, runs = 30 }) {
    const { page } = await ready();
    return answer(await page.raw_run(model, provider, variant ?? null, runs));
  },
  async release({ model }) {
    const { page } = await ready();
    page.release(model);
    return { result: null };
  },
});

function ready() {
  if (!booted) throw new InpageError('InpageError', 'the worker has not been booted');
  return booted;
}

/** A Python reply (`{error}` or a payload) as a worker reply, with typed arrays transferred. */
function answer(reply) {
  const result = reply?.toJs ? reply.toJs({ dict_converter: Object.fromEntries }) : reply;
  reply?.destroy?.();
  if (result?.error) throw new InpageError(result.error.name, result.error.message);
  return { result, transfer: transferables(result, []) };
}

function transferables(value, found) {
  if (ArrayBuffer.isView(value)) {
    if (!found.includes(value.buffer)) found.push(value.buffer);
  } else if (Array.isArray(value)) {
    for (const item of value) transferables(item, found);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) transferables(item, found);
  }
  return found;
}

function mark(name) {
  emit('mark', { name, time: performance.timeOrigin + performance.now() });
}

function progress(stage, message, fraction) {
  mark(stage);
  emit('progress', { stage, message, fraction });
}

let manifestPromise = null;

function readManifest() {
  manifestPromise ??= (async () => {
    const bytes = await fetchBytes(await versionedUrl('models/manifest.json'));
    let document;
    try {
      document = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      throw new InpageError('ManifestError', `models/manifest.json is not valid JSON: ${error.message}`);
    }
    if (!document || !Array.isArray(document.models)) {
      throw new InpageError('ManifestError', 'models/manifest.json has no "models" list; rebuild the site with `inpage build`');
    }
    return document;
  })();
  return manifestPromise;
}

/**
 * The file Python will load for a manifest entry: the variant asked for, else the one the build
 * chose for the provider (tasks.json, by `choose_variant` in py/inpage/model.py). Prefetching any
 * other file would download a model nobody runs.
 */
function fileToRun(entry, provider, variant) {
  if (variant === 'base') return entry.file;
  if (variant) return (entry.variants || []).find((v) => v.name === variant)?.file ?? null;
  return SITE.models[entry.name]?.files?.[provider] ?? null;
}

/** Start downloading the models the page will use, while Pyodide boots. */
async function prefetchModels({ names, provider, variant }) {
  const { models } = await readManifest();
  for (const entry of models.filter((m) => names.includes(m.name))) {
    const file = fileToRun(entry, provider, variant);
    if (!file) continue; // an unknown variant: Python says so when the model loads
    const url = new URL(file, manifestUrl).href;
    const bytes = downloadModel(url, file);
    bytes.catch(() => {}); // reported when Python asks for it
    prefetched.set(url, bytes);
  }
}

async function downloadModel(url, file) {
  return fetchBytes(await versionedUrl(url), ({ loaded, total }) => emit('download', { file, loaded, total }))
    .finally(() => emit('download', { file, done: true }));
}

/** sha256 by Python's hashlib, for a page the browser gives no crypto.subtle (not a secure context). */
async function pythonSha256(bytes) {
  const { page } = await ready();
  return page.sha256(bytes);
}

/** What Python's inpage reads through `inpage_host` (see py/inpage/_web.py). */
const host = {
  manifestUrl,
  async fetchBytes(url) {
    return fetchBytes(await versionedUrl(url));
  },
  /**
   * Fetch (or take the prefetched) model bytes, check their sha256, and create a session.
   * `label` names the model in errors ("model 'x' (x.onnx)"); download events name the file;
   * `config` holds the file's onnxruntime session config entries (the manifest's `session_config`).
   */
  async loadSession(url, sha256, label, provider, config) {
    const early = prefetched.get(url);
    prefetched.delete(url);
    const bytes = await (early || downloadModel(url, new URL(url, self.location.href).pathname.split('/').pop()));
    await verify(bytes, sha256, label, pythonSha256);
    const handle = await createSession(bytes, provider, label, config);
    mark(`model:${label}`);
    return handle;
  },
  /**
   * A tensor's data as a typed array Pyodide can read. onnxruntime-web hands float16 out as a
   * Float16Array where the browser has one, a type Pyodide 0.27 cannot proxy; its bytes as a
   * Uint16Array are the same float16 values.
   */
  plainData(tensor) {
    const { data } = tensor;
    return typeof Float16Array !== 'undefined' && data instanceof Float16Array ? new Uint16Array(data.buffer, data.byteOffset, data.length) : data;
  },
  /**
   * Load one of the site's Python packages (a project module's wheel, with what it imports from
   * Pyodide's distribution) the first time a model needs it; Pyodide loads each package once.
   */
  async loadPackage(name) {
    const { pyodide } = await ready();
    const failures = [];
    await pyodide.loadPackage([name], { messageCallback: () => {}, errorCallback: (line) => failures.push(line) });
    if (!(name in pyodide.loadedPackages)) {
      throw new InpageError('UserCodeError', failures.slice(-1)[0] || `${name} is not in this site's pyodide-lock.json; rebuild it with \`inpage build\``);
    }
  },
  /**
   * The user's preprocess or postprocess (`what`) starts; it may run `limitMs` before the main thread
   * stops it. Without shared memory the main thread is told, and restarts this worker past the limit.
   */
  userCodeStarted(limitMs, what) {
    // Told in every page: where Python can be interrupted, code that catches the interrupt or waits
    // in C code still needs the restart, a grace later.
    emit('userCode', { limitMs, what });
    if (!watchdog) return;
    Atomics.store(watchdog.interrupt, 0, 0);
    Atomics.store(watchdog.deadline, 0, BigInt(Math.round(Date.now() + limitMs)));
  },
  /** It ended (returned, raised or was stopped): nothing to watch, and no interrupt left pending. */
  userCodeEnded() {
    emit('userCode', { limitMs: 0 });
    if (!watchdog) return;
    Atomics.store(watchdog.deadline, 0, 0n);
    Atomics.store(watchdog.interrupt, 0, 0);
  },
  /** Time `runs` calls of `session.run(feeds)`, in milliseconds each. */
  async timeRuns(session, feeds, runs) {
    const times = [];
    for (let i = 0; i < runs; i += 1) {
      const started = performance.now();
      const outputs = await session.run(feeds);
      times.push(performance.now() - started);
      for (const tensor of Object.values(outputs)) tensor.dispose();
    }
    return times;
  },
  /** Put the typed arrays Python made into the places its JSON skeleton marks with {__tensor__: i}. */
  attachTensors(skeleton, tensors) {
    const visit = (value) => {
      if (Array.isArray(value)) return value.map(visit);
      if (value && typeof value === 'object') {
        if (typeof value.__tensor__ === 'number') return tensors[value.__tensor__];
        for (const key of Object.keys(value)) value[key] = visit(value[key]);
      }
      return value;
    };
    return visit(skeleton);
  },
};

async function boot(prefetch, threads) {
  setThreads(threads);
  progress('runtime', 'Loading the Python runtime (Pyodide) and onnxruntime-web…', 0.05);
  // inpage itself loads now; the project's own Python packages (and what they import) load when a
  // model or a runPython call first needs them, so a page pays only for what it uses.
  const packages = ['inpage'];
  // Side by side with Pyodide's boot: onnxruntime-web compiles its WebAssembly and starts its
  // threads, and the page's models download. Neither needs Python.
  readManifest().catch(() => {});
  prefetchModels(prefetch).catch(() => {});
  const warm = warmUp();
  const problems = [];
  const { loadPyodide } = await import(await versionedUrl('pyodide/pyodide.mjs'));
  const pyodide = await loadPyodide({
    indexURL: new URL('pyodide/', siteRoot).href,
    lockFileURL: await versionedUrl('pyodide/pyodide-lock.json'),
    packages,
    stdout: () => {},
    stderr: (line) => problems.push(line),
    checkAPIVersion: true,
  });
  progress('packages', 'Starting inpage…', 0.8);
  const missing = packages.filter((name) => !(name in pyodide.loadedPackages));
  if (missing.length) throw await packageProblem(missing, problems);
  pyodide.registerJsModule('inpage_host', host);
  if (watchdog) pyodide.setInterruptBuffer(watchdog.interrupt);
  // From here on, what Python prints (a user module's print, say) goes to the browser's console;
  // nothing is kept, so a module that prints megabytes costs no memory here.
  problems.length = 0;
  pyodide.setStdout(consoleStream((text) => console.log(text)));
  pyodide.setStderr(consoleStream((text) => console.warn(text)));
  let page;
  try {
    page = pyodide.pyimport('inpage._page');
  } catch (error) {
    throw new InpageError('InpageError', `inpage could not start in the page: ${lastLine(error.message)}`);
  }
  await warm;
  progress('ready', 'Ready', 1);
  return { pyodide, page };
}

/** Why a package did not load, naming the wheel: a failed integrity check says so plainly. */
async function packageProblem(missing, problems) {
  let lock = null;
  try {
    lock = JSON.parse(new TextDecoder().decode(await fetchBytes(await versionedUrl('pyodide/pyodide-lock.json'))));
  } catch {
    // Said below without the lock's help.
  }
  for (const name of missing) {
    const entry = lock?.packages?.[name];
    if (!entry) continue;
    const path = `pyodide/${entry.file_name}`;
    try {
      const actual = await sha256Hex(await fetchBytes(new URL(path, siteRoot).href));
      if (actual !== entry.sha256) {
        return new InpageError('ModelIntegrityError',
          `${path} failed its integrity check: its sha256 is ${actual}, pyodide-lock.json expects ${entry.sha256}; ` +
          'the site is damaged, rebuild it with `inpage build`');
      }
    } catch (error) {
      return new InpageError('ModelLoadError', `${path} could not be fetched (${error.message}); rebuild the site with \`inpage build\``);
    }
  }
  const reason = problems.filter((line) => !line.startsWith('The following error')).slice(-1)[0] || 'no reason given';
  return new InpageError('InpageError', `Python package(s) ${missing.join(', ')} could not be loaded: ${reason}`);
}

/**
 * A Pyodide output stream for the browser's console: each line "[python] "-prefixed, the whole lines
 * of a write in one console message (one message per line cost a module printing 50,000 lines its
 * time limit). A line with no end yet waits for it, up to 64 kB.
 */
function consoleStream(log) {
  const decoder = new TextDecoder();
  let partial = '';
  return {
    write(buffer) {
      const text = partial + decoder.decode(buffer, { stream: true });
      const end = text.length > 65536 ? text.length : text.lastIndexOf('\n');
      partial = end >= 0 ? text.slice(end + 1) : text;
      if (end >= 0) log(text.slice(0, end).split('\n').map((line) => `[python] ${line}`).join('\n'));
      return buffer.length;
    },
  };
}

function lastLine(message) {
  const lines = String(message).trim().split('\n').filter((line) => line.trim());
  return lines[lines.length - 1] || 'unknown error';
}
