// The plain-JavaScript baseline for inpage's benchmark: what a web developer would write without
// Pyodide. The same pre- and post-processing as inpage's Python (py/inpage/preprocess.py, tasks/,
// heads/, postprocess.py), written in JavaScript around onnxruntime-web, set up exactly as
// web/js/ort-host.js sets it up, so the only difference measured is Python versus JavaScript.
//
//   const baseline = createBaseline({ siteRoot: '../', threads: null, smoothing: 'high' });
//   await baseline.load('nanodet-m');
//   const { result, timings } = await baseline.run('nanodet-m', frame, { score_threshold: 0.4 });
//
// `frame` is anything a 2D canvas can draw (ImageBitmap, VideoFrame, <video>, <img>, a canvas) or
// RGBA pixels (ImageData, or `{data, width, height}`). Results have the shape of inpage's payloads.
//
// Resizing is the browser's: drawImage onto an OffscreenCanvas of the model's input size, with
// `imageSmoothingQuality` = `smoothing` ('high' by default: Chromium then filters a downscale
// instead of point-sampling it, the nearest the canvas gets to Pillow's antialiased bilinear).
// So results differ slightly from inpage's, which resamples with Pillow.
//
// Everything sized by the model (canvas, input tensor, candidate buffers) is made once at load and
// reused; per frame only the canvas API (getImageData) and onnxruntime-web (outputs) allocate.

// onnxruntime-web's session options and thread rule are the site's own (web/js/config.js, which
// ort-host.js uses too), so sessions are built identically. This file is served from
// <site>/baseline/ (bench.py and check_baseline.py copy it there), so the site's js/ is at ../js/.
import { SESSION_OPTIONS, threadCount } from '../js/config.js';

export { threadCount };

// What it decodes with is the site's, never a copy: each model's options (the task's defaults under
// the manifest's) and its head's parameters with their defaults filled in, from the build's tasks.json
// (written from py/inpage/tasks and heads). Options are camelCase there; the code below uses Python's names.
const snakeCase = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response;
}

/** Decode an image URL into an ImageBitmap: `{image, close}`. */
export async function decodeUrl(url) {
  const response = await fetchOk(url);
  // colorSpaceConversion 'none': pixels as stored, like Pillow, which ignores embedded ICC profiles.
  const image = await createImageBitmap(await response.blob(), { colorSpaceConversion: 'none' });
  return { image, close: () => image.close() };
}

export function createBaseline({ siteRoot = '../', threads = null, smoothing = 'high' } = {}) {
  const root = new URL(siteRoot, import.meta.url);
  const models = new Map();
  let ortReady = null;
  let manifest = null;
  let site = null;

  function init() {
    ortReady ??= (async () => {
      const ort = await import(new URL('ort/ort.wasm.min.mjs', root).href);
      ort.env.wasm.wasmPaths = {
        mjs: new URL('ort/ort-wasm-simd-threaded.mjs', root).href,
        wasm: new URL('ort/ort-wasm-simd-threaded.wasm', root).href,
      };
      ort.env.wasm.numThreads = threadCount(threads);
      ort.env.wasm.proxy = false;
      ort.env.logLevel = 'error';
      return ort;
    })();
    return ortReady;
  }

  // A model is named "name" or "name@variant" (the benchmark runs variants too).
  async function entry(key) {
    const [name, variant] = key.split('@');
    manifest ??= fetchOk(new URL('models/manifest.json', root)).then((r) => r.json());
    let found = (await manifest).models.find((m) => m.name === name);
    if (!found) throw new Error(`the manifest has no model "${name}"`);
    if (variant && variant !== 'base') {
      const chosen = (found.variants || []).find((v) => v.name === variant);
      if (!chosen || chosen.size) throw new Error(`model "${name}" has no same-size variant "${variant}"`);
      found = { ...found, file: chosen.file, session_config: chosen.session_config };
    }
    if (!POSTPROCESS[found.task]) throw new Error(`model "${name}" is a ${found.task} model; the baseline does ${Object.keys(POSTPROCESS).join(', ')}`);
    site ??= fetchOk(new URL('tasks.json', root)).then((r) => r.json());
    const { options, head } = (await site).models[name];
    const defaults = Object.fromEntries(Object.entries(options).map(([key, value]) => [snakeCase(key), value]));
    return { ...found, head: head || {}, defaults };
  }

  function load(name) {
    if (!models.has(name)) {
      const loading = createModel(name);
      loading.catch(() => models.delete(name));
      models.set(name, loading);
    }
    return models.get(name).then((model) => model.info);
  }

  async function createModel(name) {
    const [ort, spec] = await Promise.all([init(), entry(name)]);
    const modelUrl = new URL(`models/${spec.file}`, root);
    const [bytes, labels] = await Promise.all([
      fetchOk(modelUrl).then((r) => r.arrayBuffer()),
      typeof spec.labels === 'string' ? fetchOk(new URL(spec.labels, new URL('models/', root))).then((r) => r.text()) : null,
    ]);
    // The file's own session config entries ("session.disable_quant_qdq" for int8), as onnxruntime-web's nested `extra`.
    const extra = {};
    for (const [key, value] of Object.entries(spec.session_config || {})) {
      const parts = key.split('.');
      parts.slice(0, -1).reduce((node, part) => (node[part] ??= {}), extra)[parts.at(-1)] = value;
    }
    const session = await ort.InferenceSession.create(new Uint8Array(bytes), { ...SESSION_OPTIONS, extra, executionProviders: ['wasm'] });
    const model = {
      spec,
      session,
      labels: labels === null ? spec.labels || null : labels.split('\n').map((l) => l.trim()).filter(Boolean),
      input: makeInput(ort, spec),
      queue: Promise.resolve(),
      info: { name, task: spec.task, backend: 'wasm', threads: ort.env.wasm.numThreads },
    };
    if (spec.task === 'detect') model.head = makeHead(spec, model.input);
    return model;
  }

  function makeInput(ort, spec) {
    const image = spec.image;
    const { shape, dtype: type } = spec.inputs.find((i) => i.name === image.input);
    const nchw = image.layout === 'NCHW';
    const [channels, height, width] = nchw ? shape.slice(1) : [shape[3], shape[1], shape[2]];
    if (channels !== 3) throw new Error(`${spec.name}: only 3-channel image inputs are supported here`);
    const data = type === 'int32' ? new Int32Array(width * height * 3) : new Float32Array(width * height * 3);
    const factor = image.normalize?.units === '0-1' ? 255 : 1;
    const mean = (image.normalize?.mean || [0, 0, 0]).map((m) => m * factor);
    const std = (image.normalize?.std || [1, 1, 1]).map((s) => s * factor);
    const canvas = new OffscreenCanvas(width, height);
    // willReadFrequently keeps the canvas in CPU memory: getImageData every frame is then a copy, not a GPU readback.
    const context = canvas.getContext('2d', { willReadFrequently: true, alpha: false });
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = smoothing;
    return {
      name: image.input, width, height, nchw, data, context,
      tensor: new ort.Tensor(type, data, shape),
      // (pixel - mean) / std as one multiply-add; model channel c reads pixel channel order[c].
      order: image.channel_order === 'BGR' ? [2, 1, 0] : [0, 1, 2],
      scale: std.map((s) => 1 / s),
      bias: mean.map((m, c) => -m / std[c]),
      resize: image.resize,
      shorter: image.resize_shorter_to || Math.min(width, height),
      pad: `rgb(${image.pad_value ?? 0}, ${image.pad_value ?? 0}, ${image.pad_value ?? 0})`,
    };
  }

  // RGBA pixels are put on a frame-sized canvas first: drawImage cannot scale an ImageData.
  let pixelCanvas = null;
  function drawable(frame) {
    if (!ArrayBuffer.isView(frame.data)) return frame;
    const image = frame instanceof ImageData ? frame
      : new ImageData(new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength), frame.width, frame.height);
    pixelCanvas ??= new OffscreenCanvas(1, 1);
    if (pixelCanvas.width !== image.width || pixelCanvas.height !== image.height) {
      pixelCanvas.width = image.width;
      pixelCanvas.height = image.height;
    }
    pixelCanvas.getContext('2d').putImageData(image, 0, 0);
    return pixelCanvas;
  }

  /** Resize as the manifest says, then normalise into the model's reused input tensor. Returns the frame transform. */
  function preprocess(input, frame) {
    const source = drawable(frame);
    const [frameW, frameH] = frameSize(source);
    if (!frameW || !frameH) throw new Error('the frame has no pixels');
    const { width, height, context } = input;
    const g = geometry(input, frameW, frameH);
    if (g.dw !== width || g.dh !== height) {
      context.fillStyle = input.pad;
      context.fillRect(0, 0, width, height);
    }
    // White under the picture: transparent pixels composite over white, inpage's rule (image.py).
    context.fillStyle = '#fff';
    context.fillRect(g.dx, g.dy, g.dw, g.dh);
    context.drawImage(source, g.sx, g.sy, g.sw, g.sh, g.dx, g.dy, g.dw, g.dh);
    const pixels = context.getImageData(0, 0, width, height).data;
    const { data, nchw, order, scale, bias } = input;
    const [o0, o1, o2] = order;
    const [s0, s1, s2] = scale;
    const [b0, b1, b2] = bias;
    const plane = width * height;
    if (nchw) {
      for (let i = 0, p = 0; i < plane; i++, p += 4) {
        data[i] = pixels[p + o0] * s0 + b0;
        data[plane + i] = pixels[p + o1] * s1 + b1;
        data[2 * plane + i] = pixels[p + o2] * s2 + b2;
      }
    } else {
      for (let i = 0, p = 0; i < plane * 3; i += 3, p += 4) {
        data[i] = pixels[p + o0] * s0 + b0;
        data[i + 1] = pixels[p + o1] * s1 + b1;
        data[i + 2] = pixels[p + o2] * s2 + b2;
      }
    }
    return { ...g.transform, frameW, frameH };
  }

  function run(name, frame, options = {}) {
    const loading = models.get(name);
    if (!loading) return Promise.reject(new Error(`model "${name}" is not loaded; call load("${name}") first`));
    // One call at a time per model: calls share its input tensor and candidate buffers.
    return loading.then((model) => {
      const next = model.queue.then(() => runOnce(model, frame, options));
      model.queue = next.catch(() => {});
      return next;
    });
  }

  async function runOnce(model, frame, given) {
    const { spec, session, input } = model;
    const options = mergeOptions(spec, given);
    const started = performance.now();
    const transform = preprocess(input, frame);
    const prepared = performance.now();
    const outputs = await session.run({ [input.name]: input.tensor });
    const inferred = performance.now();
    const result = POSTPROCESS[spec.task](model, outputs, transform, options);
    const done = performance.now();
    return { result, timings: { preprocess_ms: prepared - started, inference_ms: inferred - prepared, postprocess_ms: done - inferred } };
  }

  return { init: () => init().then((ort) => ort.env.wasm.numThreads), load, run };
}

function mergeOptions(spec, given) {
  const { defaults } = spec;
  const options = { ...defaults };
  for (const [key, value] of Object.entries(given || {})) {
    const name = snakeCase(key);
    if (!(name in defaults)) throw new Error(`unknown option ${key}; ${spec.task} takes: ${Object.keys(defaults).join(', ')}`);
    if (value !== null && value !== undefined) options[name] = Number(value);
  }
  return options;
}

function frameSize(source) {
  if (source.displayWidth) return [source.displayWidth, source.displayHeight]; // VideoFrame
  if (source.videoWidth) return [source.videoWidth, source.videoHeight]; // <video>
  if (source.naturalWidth) return [source.naturalWidth, source.naturalHeight]; // <img>
  return [source.width, source.height];
}

// Python's round(): halves go to the even neighbour. Sizes and offsets must match inpage's exactly.
function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Where the frame is drawn on the input canvas, and the transform back (preprocess.py's three resizes). */
function geometry(input, frameW, frameH) {
  const { width, height } = input;
  const whole = { sx: 0, sy: 0, sw: frameW, sh: frameH };
  if (input.resize === 'stretch') {
    return { ...whole, dx: 0, dy: 0, dw: width, dh: height, transform: { scaleX: width / frameW, scaleY: height / frameH, offsetX: 0, offsetY: 0 } };
  }
  if (input.resize === 'letterbox') {
    const scale = Math.min(width / frameW, height / frameH);
    const dw = Math.max(1, Math.min(width, pyRound(frameW * scale)));
    const dh = Math.max(1, Math.min(height, pyRound(frameH * scale)));
    const dx = Math.floor((width - dw) / 2);
    const dy = Math.floor((height - dh) / 2);
    return { ...whole, dx, dy, dw, dh, transform: { scaleX: dw / frameW, scaleY: dh / frameH, offsetX: dx, offsetY: dy } };
  }
  // shorter_side_center_crop: the centre crop's box in frame pixels, drawn straight to the input size.
  const scale = input.shorter / Math.min(frameW, frameH);
  const scaledW = Math.max(width, pyRound(frameW * scale));
  const scaledH = Math.max(height, pyRound(frameH * scale));
  const left = Math.floor((scaledW - width) / 2);
  const top = Math.floor((scaledH - height) / 2);
  const scaleX = scaledW / frameW;
  const scaleY = scaledH / frameH;
  return {
    sx: left / scaleX, sy: top / scaleY, sw: width / scaleX, sh: height / scaleY, dx: 0, dy: 0, dw: width, dh: height,
    transform: { scaleX, scaleY, offsetX: -left, offsetY: -top },
  };
}

const clamp = (v, low, high) => Math.min(high, Math.max(low, v));
const sigmoid = (x) => 1 / (1 + Math.exp(-clamp(x, -80, 80)));
const label = (model, index) => model.labels?.[index] ?? `class ${index}`;

// ---- detection heads: outputs to candidates in model-input pixels (heads/*.py) -------------------

/** Growable candidate buffers, kept across frames: boxes (x4), scores, classes, keypoints (x2 per point). */
function makeCandidates(points) {
  const c = { n: 0, points, cap: 0 };
  c.reserve = (need) => {
    if (need <= c.cap) return;
    const cap = Math.max(need, 2 * c.cap, 256);
    const grow = (Type, old, per) => { const a = new Type(cap * per); if (old) a.set(old.subarray(0, c.n * per)); return a; };
    c.boxes = grow(Float32Array, c.boxes, 4);
    c.scores = grow(Float32Array, c.scores, 1);
    c.classes = grow(Int32Array, c.classes, 1);
    c.keypoints = grow(Float32Array, c.keypoints, 2 * points || 1);
    c.order = new Uint32Array(cap);
    c.suppressed = new Uint8Array(cap);
    c.cap = cap;
  };
  return c;
}

function makeHead(spec, input) {
  const outputs = spec.outputs.map((o) => ({ name: o.name, rows: o.shape.at(-2), width: o.shape.at(-1) }));
  if (spec.head.type === 'nanodet_gfl') {
    const { strides, reg_max: regMax } = spec.head;
    const bins = regMax + 1;
    // Outputs paired by shape, never by name (converted graphs name them arbitrarily), as nanodet.py does.
    const levels = strides.map((stride) => {
      const gridW = Math.ceil(input.width / stride);
      const cells = gridW * Math.ceil(input.height / stride);
      const scores = outputs.find((o) => o.rows === cells && o.width !== 4 * bins);
      const dists = outputs.find((o) => o.rows === cells && o.width === 4 * bins);
      if (!scores || !dists) throw new Error(`${spec.name}: no head outputs for stride ${stride}`);
      return { stride, gridW, cells, classes: scores.width, scores: scores.name, dists: dists.name };
    });
    return { type: 'nanodet', levels, bins, centre: spec.head.center_offset, sides: new Float32Array(4), candidates: makeCandidates(0), topK: spec.head.pre_nms_top_k };
  }
  if (spec.head.type === 'blazeface') {
    // Larger grids come first in the anchor order (blazeface.py's _gather).
    const byRows = (width) => outputs.filter((o) => o.width === width).sort((a, b) => b.rows - a.rows);
    const anchors = [];
    for (const [stride, perCell] of [[8, 2], [16, 6]]) {
      const side = Math.floor(input.width / stride);
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let k = 0; k < perCell; k++) anchors.push((x + 0.5) * stride, (y + 0.5) * stride);
    }
    return { type: 'blazeface', scores: byRows(1), regressors: byRows(16), anchors: Float32Array.from(anchors), candidates: makeCandidates(6), topK: Infinity };
  }
  throw new Error(`${spec.name}: head "${spec.head.type}" is not in the baseline`);
}

function setBox(c, x0, y0, x1, y1) {
  const at = c.n * 4;
  c.boxes[at] = x0;
  c.boxes[at + 1] = y0;
  c.boxes[at + 2] = x1;
  c.boxes[at + 3] = y1;
}

function decodeNanodet(head, outputs, threshold) {
  const c = head.candidates;
  const { bins, sides, centre } = head;
  c.n = 0;
  for (const level of head.levels) {
    const scores = outputs[level.scores].data;
    const dists = outputs[level.dists].data;
    const { stride, gridW, cells, classes } = level;
    for (let cell = 0; cell < cells; cell++) {
      let decoded = false;
      for (let k = 0; k < classes; k++) {
        const score = scores[cell * classes + k];
        if (!(score > threshold)) continue;
        if (!decoded) {
          // Each side: the expectation of its softmaxed distance distribution, in units of the stride.
          for (let side = 0; side < 4; side++) {
            const base = (cell * 4 + side) * bins;
            let max = -Infinity;
            for (let b = 0; b < bins; b++) max = Math.max(max, dists[base + b]);
            let sum = 0;
            let expectation = 0;
            for (let b = 0; b < bins; b++) {
              const e = Math.exp(dists[base + b] - max);
              sum += e;
              expectation += e * b;
            }
            sides[side] = (expectation / sum) * stride;
          }
          decoded = true;
        }
        const cx = ((cell % gridW) + centre) * stride;
        const cy = (Math.floor(cell / gridW) + centre) * stride;
        c.reserve(c.n + 1);
        setBox(c, cx - sides[0], cy - sides[1], cx + sides[2], cy + sides[3]);
        c.scores[c.n] = score;
        c.classes[c.n] = k;
        c.n++;
      }
    }
  }
}

function decodeBlazeface(head, outputs, threshold) {
  const c = head.candidates;
  const { anchors } = head;
  c.n = 0;
  let anchor = 0;
  for (let part = 0; part < head.scores.length; part++) {
    const logits = outputs[head.scores[part].name].data;
    const raw = outputs[head.regressors[part].name].data;
    for (let row = 0; row < logits.length; row++, anchor++) {
      const score = sigmoid(logits[row]);
      if (!(score > threshold)) continue;
      const ax = anchors[2 * anchor];
      const ay = anchors[2 * anchor + 1];
      const r = row * 16;
      const cx = ax + raw[r];
      const cy = ay + raw[r + 1];
      c.reserve(c.n + 1);
      setBox(c, cx - raw[r + 2] / 2, cy - raw[r + 3] / 2, cx + raw[r + 2] / 2, cy + raw[r + 3] / 2);
      for (let k = 0; k < 6; k++) {
        c.keypoints[(c.n * 6 + k) * 2] = raw[r + 4 + 2 * k] + ax;
        c.keypoints[(c.n * 6 + k) * 2 + 1] = raw[r + 5 + 2 * k] + ay;
      }
      c.scores[c.n] = score;
      c.classes[c.n] = 0;
      c.n++;
    }
  }
}

function iou(b, i, j) {
  const x0 = Math.max(b[4 * i], b[4 * j]);
  const y0 = Math.max(b[4 * i + 1], b[4 * j + 1]);
  const x1 = Math.min(b[4 * i + 2], b[4 * j + 2]);
  const y1 = Math.min(b[4 * i + 3], b[4 * j + 3]);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const area = (k) => Math.max(0, b[4 * k + 2] - b[4 * k]) * Math.max(0, b[4 * k + 3] - b[4 * k + 1]);
  const union = area(i) + area(j) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy class-wise NMS (postprocess.py's batched_nms): indices of kept candidates, best first. */
function classwiseNms(c, iouThreshold, maxOutput, topK) {
  const { order, suppressed, scores, classes, boxes } = c;
  for (let i = 0; i < c.n; i++) order[i] = i;
  const sorted = order.subarray(0, c.n).sort((a, b) => scores[b] - scores[a] || a - b);
  const n = Math.min(c.n, topK);
  suppressed.fill(0, 0, n);
  const kept = [];
  for (let a = 0; a < n && kept.length < maxOutput; a++) {
    const i = sorted[a];
    if (suppressed[a]) continue;
    kept.push(i);
    for (let b = a + 1; b < n; b++) {
      const j = sorted[b];
      if (!suppressed[b] && classes[j] === classes[i] && iou(boxes, i, j) > iouThreshold) suppressed[b] = 1;
    }
  }
  return kept;
}

// ---- post-processing per task: the payloads inpage's tasks return ---------------------------------

const POSTPROCESS = {
  classify(model, outputs, _transform, options) {
    const { spec } = model;
    const scores = outputs[spec.output || spec.outputs[0].name].data;
    const activation = spec.activation || 'softmax';
    let max = -Infinity;
    for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i]);
    let sum = 0;
    if (activation === 'softmax') for (let i = 0; i < scores.length; i++) sum += Math.exp(scores[i] - max);
    const probability = (v) => (activation === 'softmax' ? Math.exp(v - max) / sum : activation === 'sigmoid' ? sigmoid(v) : v);
    // Top k by one pass with a small sorted list (ties: lower index first).
    const k = Math.min(options.top_k, scores.length);
    const best = [];
    for (let i = 0; i < scores.length; i++) {
      if (best.length === k && scores[i] <= scores[best[k - 1]]) continue;
      let at = best.length === k ? k - 1 : best.length;
      while (at > 0 && scores[best[at - 1]] < scores[i]) {
        best[at] = best[at - 1];
        at--;
      }
      best[at] = i;
    }
    return { predictions: best.map((index) => ({ index, label: label(model, index), score: probability(scores[index]) })) };
  },

  detect(model, outputs, t, options) {
    const { head } = model;
    if (head.type === 'nanodet') decodeNanodet(head, outputs, options.score_threshold);
    else decodeBlazeface(head, outputs, options.score_threshold);
    const c = head.candidates;
    const kept = classwiseNms(c, options.iou_threshold, options.max_detections, head.topK);
    const toX = (x) => (x - t.offsetX) / t.scaleX;
    const toY = (y) => (y - t.offsetY) / t.scaleY;
    const detections = kept.map((i) => {
      const b = c.boxes.subarray(4 * i, 4 * i + 4);
      const points = c.points ? Array.from({ length: c.points }, (_, k) => [toX(c.keypoints[(i * c.points + k) * 2]), toY(c.keypoints[(i * c.points + k) * 2 + 1])]) : null;
      return {
        label: label(model, c.classes[i]), index: c.classes[i], score: c.scores[i],
        box: [clamp(toX(b[0]), 0, t.frameW), clamp(toY(b[1]), 0, t.frameH), clamp(toX(b[2]), 0, t.frameW), clamp(toY(b[3]), 0, t.frameH)],
        keypoints: points,
      };
    });
    return { detections };
  },

  pose(model, outputs, t, options) {
    const { spec, input } = model;
    const { keypoints: names, edges, order } = spec.head;
    const [first, second] = order === 'yxs' ? [1, 0] : [0, 1];
    const raw = outputs[spec.output || spec.outputs[0].name].data;
    const poses = [];
    for (let p = 0; p < raw.length / (3 * names.length); p++) {
      const keypoints = names.map((name, k) => {
        const r = (p * names.length + k) * 3;
        return { name, x: (raw[r + first] * input.width - t.offsetX) / t.scaleX, y: (raw[r + second] * input.height - t.offsetY) / t.scaleY, score: raw[r + 2] };
      });
      const score = keypoints.reduce((s, k) => s + k.score, 0) / keypoints.length;
      if (score >= options.score_threshold) poses.push({ score, keypoints, edges });
    }
    return { poses: poses.sort((a, b) => b.score - a.score) };
  },

  segment(model, outputs, t, options) {
    const { spec, input } = model;
    const output = outputs[spec.output || spec.outputs[0].name];
    const dims = output.dims;
    // One-class masks only: [1, H, W, 1] or [1, 1, H, W].
    const [outH, outW] = dims.length === 4 && dims[3] === 1 ? [dims[1], dims[2]] : dims.length === 4 && dims[1] === 1 ? [dims[2], dims[3]] : [];
    if (!outH) throw new Error(`${spec.name}: segmentation output [${dims}] is not a one-class mask`);
    // The part of the input that shows the frame, in output pixels (letterbox padding cut off).
    const fx = outW / input.width;
    const fy = outH / input.height;
    const left = Math.max(0, pyRound(t.offsetX * fx));
    const top = Math.max(0, pyRound(t.offsetY * fy));
    const right = Math.min(outW, pyRound((t.offsetX + t.frameW * t.scaleX) * fx));
    const bottom = Math.min(outH, pyRound((t.offsetY + t.frameH * t.scaleY) * fy));
    const w = right - left;
    const h = bottom - top;
    const mask = w === outW && h === outH ? output.data : new Float32Array(w * h);
    let covered = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = output.data[(top + y) * outW + left + x];
        if (spec.activation === 'sigmoid') v = sigmoid(v);
        mask[y * w + x] = v;
        if (v >= options.threshold) covered++;
      }
    }
    return { box: [0, 0, t.frameW, t.frameH], coverage: w * h ? covered / (w * h) : 0, mask: { data: mask, dims: [h, w], type: 'float32' } };
  },
};
