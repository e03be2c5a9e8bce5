// The image-classification page: pick, drop or click an image; show the top 5, timings, provider.
// It offers every classification model in the site's manifest.
import { bindProgress, bindProviderSelect, clearNotice, describeEnvironment, fillModelSelect, ms, notify, reportBackend } from './ui.js';

const inpage = window.inpage;
const $ = (id) => document.getElementById(id);
const notices = $('notices');

bindProgress($('loader'));
describeEnvironment($('env'), notices);
bindProviderSelect($('provider'), notices, () => { if (lastSource) classify(lastSource); });

let lastSource = null;
let busy = Promise.resolve();
let previewUrl = null;

function classify(source) {
  lastSource = source;
  // One at a time, in order: each call waits for the one before it.
  busy = busy.then(() => classifyNow(source));
  return busy;
}

async function classifyNow(source) {
  const preview = $('preview');
  preview.hidden = false;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = source instanceof Blob ? URL.createObjectURL(source) : null;
  preview.src = previewUrl || source;
  $('predictions').innerHTML = '<li class="muted">Classifying…</li>';
  try {
    const result = await inpage.classify(source, { topK: 5, model: $('model').value || undefined });
    clearNotice(notices, 'input');
    render(result);
  } catch (error) {
    const name = source instanceof File ? `"${source.name}"` : 'this image';
    notify(notices, 'error', `Could not classify ${name}: ${error.message}`, 'input');
    $('predictions').innerHTML = '<li class="muted">No result: see the message above. Try another image.</li>';
    preview.hidden = true;
  }
}

function render(result) {
  const list = $('predictions');
  if (!result.predictions) {
    // A model whose own Python module returns something else (no RESULT = "predictions"): shown as it is.
    const item = document.createElement('li');
    item.className = 'raw';
    item.textContent = JSON.stringify(result.result, (key, v) => (ArrayBuffer.isView(v) ? `${v.constructor.name}(${v.length})` : v), 1);
    list.replaceChildren(item);
  } else list.replaceChildren(...result.predictions.map(({ label, score }) => {
    const item = document.createElement('li');
    item.innerHTML = '<span class="label"></span><span class="score"></span><span class="bar"><span></span></span>';
    item.querySelector('.label').textContent = label;
    item.querySelector('.score').textContent = `${(score * 100).toFixed(1)}%`;
    item.querySelector('.bar span').style.width = `${(score * 100).toFixed(1)}%`;
    return item;
  }));
  for (const cell of document.querySelectorAll('#timings [data-t]')) cell.textContent = ms(result.timings[cell.dataset.t]);
  $('backend').textContent = `${result.backend.toUpperCase()}${result.variant && result.variant !== 'base' ? ` · ${result.variant}` : ''}`;
  reportBackend(notices, result);
}

$('file').addEventListener('change', (event) => {
  const [file] = event.target.files;
  if (file) classify(file);
});

const dropzone = $('dropzone');
dropzone.addEventListener('dragover', (event) => { event.preventDefault(); dropzone.classList.add('over'); });
dropzone.addEventListener('dragleave', () => dropzone.classList.remove('over'));
dropzone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropzone.classList.remove('over');
  const [file] = event.dataTransfer.files;
  if (file) classify(file);
});

for (const button of $('samples').querySelectorAll('button')) {
  button.addEventListener('click', () => classify(button.dataset.src));
}

async function loadChosen() {
  const name = $('model').value;
  if (!name) return;
  try {
    reportBackend(notices, await inpage.loadModel(name));
    clearNotice(notices, 'model');
  } catch (error) {
    notify(notices, 'error', `The classifier could not be loaded: ${error.message}`, 'model');
  }
}

$('model').addEventListener('change', () => { loadChosen(); if (lastSource) classify(lastSource); });

const listed = fillModelSelect($('model'), ['classify'], notices);
inpage.ready.then(
  () => listed.then(loadChosen),
  (error) => notify(notices, 'error', `inpage could not start: ${error.message}`, 'startup'),
);
