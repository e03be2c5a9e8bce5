// Runs single-operator ONNX test models in onnxruntime-web's WASM backend and reports each outcome as one JSON line.
//
// Driven by probe_ort_web_ops.py, which prepares the cases and judges the outputs:
//
//   node build/ops/probe_ort_web_ops.mjs CASES.jsonl
//
// CASES.jsonl holds one case a line: {"name", "model", "inputs"}, where "model" is a path to
// model.onnx and "inputs" a path to a JSON list of {name, type, dims, b64 | strings} tensors
// (type is an onnxruntime-web Tensor type, or null where the JS API has no such type).
// For each case this prints `@@PROBE {...}` with session_ok, run_ok, the first error line and
// the raw outputs. The prefix matters because onnxruntime may write its own logs to stdout.
// One case at a time and in order, so that the driver can tell which case hung or crashed
// the process (the first one without a line) and restart after it.

import fs from 'node:fs';
// Node resolves this to dist/ort.node.min.mjs, which loads the same ort-wasm-simd-threaded.wasm
// as ort.wasm.min.mjs, the build inpage's pages use; so the kernels found here are the page's.
import * as ort from 'onnxruntime-web';

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

const TYPED = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  // 4-bit values travel packed, two to a byte, in a Uint8Array for both signs.
  int4: Uint8Array,
  uint4: Uint8Array,
};

function firstLine(err) {
  const text = err && err.message ? err.message : String(err);
  return text.split('\n').find((line) => line.trim() !== '') || text;
}

function makeTensor(spec) {
  if (spec.type === null) {
    throw new Error(`input '${spec.name}' has element type ${spec.onnx_type}, which onnxruntime-web's Tensor cannot hold`);
  }
  if (spec.type === 'string') {
    return new ort.Tensor('string', spec.strings, spec.dims);
  }
  const bytes = Buffer.from(spec.b64, 'base64');
  const Ctor = TYPED[spec.type];
  // Copy into a fresh, aligned buffer: a Buffer may sit at an odd offset in Node's pool.
  const aligned = new ArrayBuffer(bytes.length);
  new Uint8Array(aligned).set(bytes);
  return new ort.Tensor(spec.type, new Ctor(aligned), spec.dims);
}

function describeOutput(name, tensor) {
  const out = { name, type: tensor.type, dims: Array.from(tensor.dims) };
  if (tensor.type === 'string') {
    out.strings = Array.from(tensor.data);
  } else {
    const data = tensor.data;
    out.b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  }
  return out;
}

async function runCase(job) {
  const result = { name: job.name, session_ok: false, run_ok: false, error: null, stage: 'session' };
  let session = null;
  try {
    session = await ort.InferenceSession.create(fs.readFileSync(job.model), {
      executionProviders: ['wasm'],
      logSeverityLevel: 3,
    });
    result.session_ok = true;
    result.stage = 'input';
    const specs = JSON.parse(fs.readFileSync(job.inputs, 'utf8'));
    const feeds = {};
    for (const spec of specs) {
      feeds[spec.name] = makeTensor(spec);
    }
    result.stage = 'run';
    const outputs = await session.run(feeds);
    result.run_ok = true;
    result.stage = 'done';
    result.outputs = session.outputNames.map((name) => describeOutput(name, outputs[name]));
  } catch (err) {
    result.error = firstLine(err);
  } finally {
    if (session) {
      try {
        await session.release();
      } catch {
        // A session that failed mid-run may not release cleanly; the next case does not depend on it.
      }
    }
  }
  return result;
}

const jobs = fs
  .readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line));

// After a WebAssembly trap or abort the module's state can no longer be trusted, and every
// later case would fail the same way; exit so that the driver starts a fresh process.
const FATAL = /Aborted|RuntimeError|unreachable|out of bounds|out of memory/i;

for (const job of jobs) {
  const result = await runCase(job);
  process.stdout.write(`@@PROBE ${JSON.stringify(result)}\n`);
  if (result.error && FATAL.test(result.error)) {
    process.exit(3); // RESTART_EXIT in probe_ort_web_ops.py
  }
}
