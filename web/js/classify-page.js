// The image-classification page: pick, drop, paste or click an image; show the top 5, timings, provider.
// The picture in and its display are an <inpage-image> (elements.js); this page adds the sample
// photos, the model and provider pickers, and the side panel fed by the element's events.
// It offers every classification model in the site's manifest.
import { bindProgress, bindProviderSelect, clearNotice, describeEnvironment, fillModelSelect, ms, notify, predictionItems, reportBackend } from './ui.js';

const inpage = window.inpage;
const $ = (id) => document.getElementById(id);
const notices = $('notices');
const picture = $('picture');

bindProgress($('loader'));
describeEnvironment($('env'), notices);
bindProviderSelect($('provider'), notices, () => classify(lastSource));

let lastSource = null;

/** Classify `source` again or anew; the element reports through its events, so a failure needs no catch here. */
function classify(source) {
  if (source) picture.run(source).catch(() => {});
}

/** A line in the Top 5 list (text, never markup). */
function say(text) {
  const item = document.createElement('li');
  item.className = 'muted';
  item.textContent = text;
  $('predictions').replaceChildren(item);
}

picture.addEventListener('inpage-start', ({ detail }) => {
  lastSource = detail.source;
  say('Classifying…');
});

picture.addEventListener('inpage-error', ({ detail: error }) => {
  const name = lastSource instanceof File ? `"${lastSource.name}"` : 'this image';
  notify(notices, 'error', `Could not classify ${name}: ${error.message}`, 'input');
  say('No result: see the message above. Try another image.');
});

picture.addEventListener('inpage-result', ({ detail: result }) => {
  clearNotice(notices, 'input');
  const list = $('predictions');
  if (!result.predictions) {
    // A model whose own Python module returns something else (no RESULT = "predictions"): shown as it is.
    const item = document.createElement('li');
    item.className = 'raw';
    item.textContent = JSON.stringify(result.result, (key, v) => (ArrayBuffer.isView(v) ? `${v.constructor.name}(${v.length})` : v), 1);
    list.replaceChildren(item);
  } else list.replaceChildren(...predictionItems(result.predictions));
  for (const cell of document.querySelectorAll('#timings [data-t]')) cell.textContent = ms(result.timings[cell.dataset.t]);
  $('backend').textContent = `${result.backend.toUpperCase()}${result.variant && result.variant !== 'base' ? ` · ${result.variant}` : ''}`;
  reportBackend(notices, result);
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

$('model').addEventListener('change', () => {
  picture.setAttribute('model', $('model').value);
  loadChosen();
  classify(lastSource);
});

const listed = fillModelSelect($('model'), ['classify'], notices).then(() => {
  if ($('model').value) picture.setAttribute('model', $('model').value);
});
inpage.ready.then(
  () => listed.then(loadChosen),
  (error) => notify(notices, 'error', `inpage could not start: ${error.message}`, 'startup'),
);
