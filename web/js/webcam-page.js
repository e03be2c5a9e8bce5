// The live page: camera (or the sample clip, or a file) in; boxes, skeletons or masks drawn over it.
// It offers every detection, pose and segmentation model in the site's manifest and switches live.
//
// The stage, the source controls and the frame loop are an <inpage-camera> (elements.js); this page
// drives it through its attributes (model, variant, threshold, effect) and shows what its events
// report: the readout, and notices for what went wrong.
import { bindProgress, bindProviderSelect, clearNotice, describeEnvironment, fillModelSelect, ms, notify, reportBackend } from './ui.js';

const inpage = window.inpage;
const $ = (id) => document.getElementById(id);
const notices = $('notices');
const camera = $('camera');
const threshold = $('threshold');
const modelSelect = $('model');

// What "Found" counts, per task.
const COUNT = {
  detect: (r) => r.detections.length,
  pose: (r) => r.poses.length,
  segment: (r) => `${Math.round(100 * r.coverage)}%`,
};
// The element attribute the threshold slider sets, per task; the others are removed.
const THRESHOLD = { detect: 'score-threshold', pose: 'keypoint-threshold', segment: 'threshold' };

const HISTORY = 600; // recent frames' timings, for the benchmark; bounded
const READOUT_EVERY_MS = 250; // the numbers change four times a second: each update costs the main thread a layout
const state = { frames: 0, history: [], last: null, shownAt: 0 };
// For tests, the benchmark and the console: frames processed, last result, recent timings, the loop.
// Setting `running` to false ends the loop but leaves the video playing, for the benchmark to time the API on it.
window.inpageDemo = Object.defineProperties(state, {
  fps: { get: () => camera.fps },
  running: { get: () => camera.running, set: (running) => { camera.running = running; } },
});

bindProgress($('loader'));
describeEnvironment($('env'), notices);
bindProviderSelect($('provider'), notices);

let models = [];
const current = () => models.find((m) => m.name === modelSelect.value);

/** Offer the chosen model's variants; "auto" runs the one the benchmark kept for the provider. */
function fillVariants(info) {
  const select = $('variant');
  select.replaceChildren(...['', ...(info?.variants || ['base'])].map((name) => {
    const option = document.createElement('option');
    option.value = name;
    option.textContent = name || 'auto';
    return option;
  }));
  select.disabled = (info?.variants || []).length < 2;
}

function useThreshold() {
  const info = current();
  $('threshold-value').textContent = Number(threshold.value).toFixed(2);
  for (const [task, attribute] of Object.entries(THRESHOLD)) {
    if (task === info?.task) camera.setAttribute(attribute, threshold.value);
    else camera.removeAttribute(attribute);
  }
}

function useVariant() {
  const variant = $('variant').value;
  if (variant) camera.setAttribute('variant', variant);
  else camera.removeAttribute('variant');
  return variant || undefined;
}

/** Apply the chosen model: its own threshold and controls, loaded ahead of the first frame. */
async function useModel() {
  const info = current();
  if (!info) return;
  fillVariants(info);
  $('effect-label').hidden = info.task !== 'segment';
  // The model's own defaults (tasks.json): its score threshold, the keypoints worth drawing, its mask threshold.
  const defaults = { detect: info.options.scoreThreshold, pose: info.display.keypointThreshold, segment: info.options.threshold };
  threshold.value = defaults[info.task];
  $('threshold-label').firstChild.textContent = { detect: 'Score threshold ', pose: 'Keypoint threshold ', segment: 'Mask threshold ' }[info.task];
  camera.setAttribute('model', info.name);
  useThreshold();
  try {
    reportBackend(notices, await inpage.loadModel(info.name, { variant: useVariant() }));
    clearNotice(notices, 'model');
  } catch (error) {
    notify(notices, 'error', `${info.name} could not be loaded: ${error.message}`, 'model');
  }
}

function showReadout(result) {
  const now = performance.now();
  if (now - state.shownAt < READOUT_EVERY_MS && camera.fps != null) return;
  state.shownAt = now;
  $('fps').textContent = camera.fps == null ? '–' : camera.fps.toFixed(1);
  for (const cell of document.querySelectorAll('#readout [data-t]')) cell.textContent = ms(result.timings[cell.dataset.t]);
  $('backend').textContent = `${result.backend.toUpperCase()}${result.variant && result.variant !== 'base' ? ` · ${result.variant}` : ''}`;
  $('count').textContent = String(COUNT[result.task](result));
  reportBackend(notices, result);
}

camera.addEventListener('inpage-start', ({ detail }) => {
  if (detail.source instanceof MediaStream) clearNotice(notices, 'camera');
});

camera.addEventListener('inpage-result', ({ detail: result }) => {
  result.task = models.find((m) => m.name === result.model)?.task;
  state.last = result;
  state.frames += 1;
  state.history.push(result.timings);
  if (state.history.length > HISTORY) state.history.splice(0, state.history.length - HISTORY);
  clearNotice(notices, 'detect');
  showReadout(result);
});

// The element's own words name the cause and what to try; camera trouble and frame trouble are separate notices.
camera.addEventListener('inpage-error', ({ detail: error }) => {
  notify(notices, 'error', error.message, error.name === 'CameraError' ? 'camera' : 'detect');
});

modelSelect.addEventListener('change', useModel);
$('variant').addEventListener('change', () => {
  inpage.loadModel(current().name, { variant: useVariant() }).catch((error) => notify(notices, 'error', error.message, 'model'));
});
threshold.addEventListener('input', useThreshold);
$('effect').addEventListener('change', () => camera.setAttribute('effect', $('effect').value));

// The model list comes from the manifest at once; the chosen model loads when Python is up.
const listed = fillModelSelect(modelSelect, Object.keys(COUNT), notices).then((found) => {
  models = found;
  if (current()) camera.setAttribute('model', current().name);
});
inpage.ready.then(
  () => listed.then(useModel),
  (error) => notify(notices, 'error', `inpage could not start: ${error.message}`, 'startup'),
);
