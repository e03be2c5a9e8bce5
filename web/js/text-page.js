// The text page: semantic search over sample documents that the build embedded natively (with the
// site's default embed model and the same Python), the query embedded here; and text classification
// where the site has a classify_text model.
import { bindProgress, bindProviderSelect, clearNotice, describeEnvironment, fillModelSelect, ms, notify, predictionItems, reportBackend } from './ui.js';

const inpage = window.inpage;
const $ = (id) => document.getElementById(id);
const notices = $('notices');

bindProgress($('loader'));
describeEnvironment($('env'), notices);
bindProviderSelect($('provider'), notices, () => { if (lastQuery) search(lastQuery); });

let lastQuery = null;
let busy = Promise.resolve();
const index = loadIndex();

/** The documents and their vectors ({model, documents, vectors: Float32Array rows}), or null. */
async function loadIndex() {
  const response = await fetch('samples/search-index.json');
  if (!response.ok) {
    notify(notices, 'warn', 'This site has no text embedding model, so there is nothing to search. Add one with `inpage add FOLDER` (a sentence-transformers export) and rebuild.', 'index');
    $('search').disabled = true;
    return null;
  }
  const { model, dims: [count, width], embeddings, documents } = await response.json();
  const bytes = Uint8Array.from(atob(embeddings), (c) => c.charCodeAt(0));
  const all = new Float32Array(bytes.buffer);
  const vectors = Array.from({ length: count }, (_, i) => all.subarray(i * width, (i + 1) * width));
  $('index-model').textContent = `Search model: ${model} · ${count} documents`;
  return { model, documents, vectors };
}

function cosine(a, b) {
  let dot = 0; let aa = 0; let bb = 0;
  for (let i = 0; i < a.length; i += 1) { dot += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return dot / (Math.sqrt(aa * bb) || 1);
}

function search(query) {
  lastQuery = query;
  // One at a time, in order: each call waits for the one before it.
  busy = busy.then(() => searchNow(query));
  return busy;
}

async function searchNow(query) {
  const found = await index;
  if (!found || !query.trim()) return;
  $('hits').replaceChildren(Object.assign(document.createElement('li'), { className: 'muted', textContent: 'Embedding the query…' }));
  try {
    const result = await inpage.embed(query, { model: found.model });
    clearNotice(notices, 'search');
    const queryVector = result.embeddings.data;
    const ranked = found.vectors.map((v, i) => ({ i, score: cosine(queryVector, v) })).sort((a, b) => b.score - a.score).slice(0, 5);
    $('hits').replaceChildren(...ranked.map(({ i, score }) => {
      const item = document.createElement('li');
      item.innerHTML = '<span class="title"></span><span class="score"></span><span class="text"></span><span class="bar"><span></span></span>';
      item.querySelector('.title').textContent = found.documents[i].title;
      item.querySelector('.text').textContent = found.documents[i].text;
      item.querySelector('.score').textContent = score.toFixed(3);
      item.querySelector('.bar span').style.width = `${Math.max(0, score * 100).toFixed(1)}%`;
      item.dataset.score = String(score);
      return item;
    }));
    showCall(result);
  } catch (error) {
    notify(notices, 'error', `Could not search: ${error.message}`, 'search');
    $('hits').replaceChildren(Object.assign(document.createElement('li'), { className: 'muted', textContent: 'No result: see the message above.' }));
  }
}

function showCall(result) {
  for (const cell of document.querySelectorAll('#timings [data-t]')) cell.textContent = ms(result.timings[cell.dataset.t]);
  $('backend').textContent = `${result.backend.toUpperCase()}${result.variant && result.variant !== 'base' ? ` · ${result.variant}` : ''}`;
  reportBackend(notices, result);
}

async function classify(text) {
  $('predictions').replaceChildren(Object.assign(document.createElement('li'), { className: 'muted', textContent: 'Classifying…' }));
  try {
    const result = await inpage.classifyText(text, { model: $('classifier').value || undefined, topK: 5 });
    clearNotice(notices, 'classify');
    $('predictions').replaceChildren(...predictionItems(result.predictions[0]));
    showCall(result);
  } catch (error) {
    notify(notices, 'error', `Could not classify the text: ${error.message}`, 'classify');
    $('predictions').replaceChildren();
  }
}

$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  search($('query').value);
});
for (const chip of document.querySelectorAll('.chip')) {
  chip.addEventListener('click', () => {
    $('query').value = chip.dataset.query;
    search(chip.dataset.query);
  });
}
$('classify-form').addEventListener('submit', (event) => {
  event.preventDefault();
  busy = busy.then(() => classify($('classify-input').value));
});

inpage.ready.then(
  async () => {
    // The classifier panel only where the site has a text classifier; no warning when it has none.
    const classifiers = (await inpage.models()).filter((m) => m.task === 'classify_text');
    if (classifiers.length) {
      $('classify-panel').hidden = false;
      await fillModelSelect($('classifier'), ['classify_text'], notices);
    }
  },
  (error) => notify(notices, 'error', `inpage could not start: ${error.message}`, 'startup'),
);
