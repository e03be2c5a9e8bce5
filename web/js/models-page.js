// The models page: every model in the site's manifest with what its ONNX file holds (from the
// build's models/inspect.json, the same report as `inpage inspect`), and a form to try it: an image
// for image tasks, a row of numbers for tabular ones.
import { bindProgress, describeEnvironment, notify } from './ui.js';

const inpage = window.inpage;
const $ = (id) => document.getElementById(id);
const notices = $('notices');

bindProgress($('loader'));
describeEnvironment($('env'), notices);

// How the benchmark's `providers` records read to a person (native CPUs are recorded by kind).
const PROVIDER_NAMES = { wasm: 'WASM', webgpu: 'WebGPU', cpu: 'native CPUs without int8 dot product', 'cpu-int8dot': 'native CPUs with int8 dot product (VNNI)', cuda: 'CUDA' };

function fact(list, term, value) {
  if (value == null || value === '') return;
  const row = document.createElement('div');
  row.innerHTML = '<dt></dt><dd></dd>';
  row.querySelector('dt').textContent = term;
  row.querySelector('dd').textContent = value;
  list.append(row);
}

function shape(dims) {
  return dims == null ? '?' : `[${dims.map((d) => (d == null ? '?' : d)).join(', ')}]`;
}

/** A result as a few readable lines (the full JSON is one click away in the console). */
function summary(result, task) {
  if (result.predictions) {
    // A text classifier answers with one list per text; the form sends one text.
    const predictions = Array.isArray(result.predictions[0]) ? result.predictions[0] : result.predictions;
    return predictions.map((p) => (p.probabilities
      ? `${p.label}  ${Object.entries(p.probabilities).map(([k, v]) => `${k}: ${v.toFixed(3)}`).join('  ')}`
      : `${(p.score * 100).toFixed(1).padStart(5)}%  ${p.label}`)).join('\n');
  }
  if (result.detections) return result.detections.map((d) => `${(d.score * 100).toFixed(0)}%  ${d.label}  [${d.box.map((v) => v.toFixed(0)).join(', ')}]`).join('\n') || 'nothing found';
  if (result.poses) return result.poses.map((p) => `pose ${p.score.toFixed(2)}: ${p.keypoints.filter((k) => k.score >= task.display.keypointThreshold).map((k) => k.name).join(', ')}`).join('\n') || 'no pose';
  if (result.coverage != null) return `mask covers ${(result.coverage * 100).toFixed(1)}% of the image`;
  if (result.result !== undefined) return JSON.stringify(result.result, readable, 1).slice(0, 2000);
  // Any other task: its own fields, tensors shortened (timings and the like are shown below).
  const { timings, backend, variant, fallbackReason, model, ...own } = result;
  return JSON.stringify(own, readable, 1).slice(0, 2000);
}

/** JSON.stringify's replacer: a typed array as its type, length and first values, not a thousand keys. */
function readable(_key, value) {
  if (!ArrayBuffer.isView(value)) return value;
  const head = Array.from(value.slice(0, 8), (v) => Number(Number(v).toFixed(4)));
  return `${value.constructor.name}(${value.length}) [${head.join(', ')}${value.length > 8 ? ', …' : ''}]`;
}

function card(model, report) {
  const node = $('model-card').content.firstElementChild.cloneNode(true);
  node.dataset.model = model.name;
  node.querySelector('.name').textContent = model.name;
  node.querySelector('.task').textContent = model.task;
  node.querySelector('.default').hidden = !model.default;
  node.querySelector('.description').textContent = model.description || '';
  const facts = node.querySelector('.facts');
  fact(facts, 'File', `${model.file}${report ? ` · ${(report.file_size / 1e6).toFixed(2)} MB` : ''}`);
  if (report) {
    fact(facts, 'Parameters', report.parameters.toLocaleString());
    fact(facts, 'Opsets', Object.entries(report.opsets).map(([d, v]) => `${d} ${v}`).join(', '));
    const bad = report.onnxruntime_web_wasm.filter((s) => s.status !== 'supported');
    fact(facts, 'onnxruntime-web (WASM)', bad.length ? bad.map((s) => `${s.op_type}: ${s.status}`).join(', ') : 'every op supported');
  }
  if (model.image) fact(facts, 'Image input', `${model.image.layout}, ${model.image.resize}${model.image.normalize ? `, normalize ${model.image.normalize.units}` : ''}`);
  if (model.head?.type) fact(facts, 'Head', model.head.type);
  if (model.text) fact(facts, 'Text input', `${model.text.tokenizer.split('/').pop()}, up to ${model.text.max_length} tokens`);
  if (model.head?.pooling) fact(facts, 'Pooling', `${model.head.pooling}${model.options?.normalize ? ', normalised' : ''}`);
  const rows = node.querySelector('.tensors tbody');
  for (const [kind, list] of [['in', model.inputs], ['out', model.outputs]]) {
    for (const tensor of list || []) {
      const row = document.createElement('tr');
      for (const text of [kind, tensor.name, tensor.dtype, shape(tensor.shape)]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      rows.append(row);
    }
  }
  node.querySelector('.op-list').textContent = report ? Object.entries(report.ops).map(([op, n]) => `${op} ×${n}`).join(', ') : 'not inspected';
  const labels = Array.isArray(model.labels) ? model.labels : report?.labels;
  node.querySelector('.labels-box').hidden = !labels?.length;
  if (labels?.length) node.querySelector('.labels').textContent = `${labels.length}: ${labels.slice(0, 30).join(', ')}${labels.length > 30 ? ', …' : ''}`;
  const variants = node.querySelector('.variants');
  node.querySelector('.variants-box').hidden = !model.variants?.length;
  for (const variant of model.variants || []) {
    const item = document.createElement('li');
    const keptFor = variant.providers?.length ? `kept for ${variant.providers.map((p) => PROVIDER_NAMES[p] || p).join(', ')}` : 'not chosen by default';
    item.textContent = `${variant.name}: ${variant.file} (${variant.dtype}${variant.size ? `, ${variant.size.join('x')}` : ''}), ${keptFor}${variant.report?.summary ? `; ${variant.report.summary}` : ''}`;
    variants.append(item);
  }
  wireForm(node, model);
  return node;
}

function wireForm(node, model) {
  const form = node.querySelector('.try');
  const output = node.querySelector('.result');
  // What the task takes (tasks.json): image tasks an image; tabular rows and tensors have their own forms.
  const task = inpage.tasks.find((t) => t.task === model.task) || { method: null, input: 'tensors', display: {} };
  const method = task.input === 'image' ? task.method : null;
  node.querySelector('.image-input').hidden = !method;
  node.querySelector('.rows-input').hidden = task.input !== 'rows';
  node.querySelector('.text-input').hidden = task.input !== 'text';
  node.querySelector('.run-input').hidden = task.input !== 'tensors';
  const show = async (work) => {
    output.hidden = false;
    output.textContent = 'Running…';
    try {
      const result = await work();
      output.textContent = `${summary(result, task)}\n(${result.backend}, ${result.variant}; inference ${result.timings.inference_ms.toFixed(1)} ms)`;
      output.classList.remove('error');
    } catch (error) {
      output.textContent = `${error.name}: ${error.message}`;
      output.classList.add('error');
    }
  };
  node.querySelector('.file').addEventListener('change', (event) => {
    const [file] = event.target.files;
    if (file) show(() => inpage.call(method, file, { model: model.name }));
  });
  node.querySelector('.sample').addEventListener('click', (event) => show(() => inpage.call(method, event.target.dataset.src, { model: model.name })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (task.input === 'text') {
      show(() => inpage.call(task.method, node.querySelector('.text').value, { model: model.name }));
      return;
    }
    const text = node.querySelector('.row').value;
    show(() => {
      const row = text.split(/[\s,;]+/).filter(Boolean).map(Number);
      return inpage.call(task.method, [row], { model: model.name });
    });
  });
}

async function main() {
  let document_;
  try {
    document_ = await inpage.manifest();
  } catch (error) {
    notify(notices, 'error', `The site's model list could not be read: ${error.message}`, 'manifest');
    return;
  }
  const reports = await fetch('models/inspect.json').then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  $('models').replaceChildren(...document_.models.map((m) => card(m, reports[m.name])));
}

main();
inpage.ready.catch((error) => notify(notices, 'error', `inpage could not start: ${error.message}`, 'startup'));
