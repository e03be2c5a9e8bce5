// The live page: camera (or the sample clip, or a file) in; boxes, skeletons or masks drawn over it.
// It offers every detection, pose and segmentation model in the site's manifest and switches live.
//
// The loop never idles while there is a new frame: as soon as a result is drawn, the video's
// current frame goes to the worker. It waits only when the camera has not delivered a frame since
// the last one was taken, so the page's frame rate is the worker's throughput (or the camera's,
// when that is lower). Frames cross to the worker as transferred VideoFrames; the main thread
// only captures and draws.
import { bindProgress, bindProviderSelect, clearNotice, describeEnvironment, fillModelSelect, ms, notify, reportBackend } from './ui.js';
import { drawDetections, drawMask, drawPoses } from './overlay.js';

const inpage = window.inpage;
const $ = (id) => document.getElementById(id);
const notices = $('notices');
const video = $('video');
const still = $('still');
const overlay = $('overlay');

// How each live task's result is drawn (inpage.methods says which call runs it).
const TASKS = {
  detect: { draw: (r, w, h) => drawDetections(overlay, w, h, r.detections), count: (r) => r.detections.length },
  pose: { draw: (r, w, h) => drawPoses(overlay, w, h, r.poses, Number(threshold.value)), count: (r) => r.poses.length },
  segment: {
    draw: (r, w, h, source) => drawMask(overlay, w, h, r, { mode: $('effect').value, source, threshold: Number(threshold.value) }),
    count: (r) => `${Math.round(100 * r.coverage)}%`,
  },
};

const state = { running: false, generation: 0, stream: null, starting: null, frameTimes: [], frames: 0, presented: 0, history: [], shownAt: 0 };
window.inpageDemo = state; // for tests, the benchmark and the console: frames processed, last result, recent timings
const HISTORY = 600; // recent frames' timings, for the benchmark; bounded
const READOUT_EVERY_MS = 250; // the numbers change four times a second: each update costs the main thread a layout

bindProgress($('loader'));
describeEnvironment($('env'), notices);
bindProviderSelect($('provider'), notices);

const threshold = $('threshold');
threshold.addEventListener('input', () => { $('threshold-value').textContent = Number(threshold.value).toFixed(2); });
const modelSelect = $('model');
let models = [];

function current() {
  const info = models.find((m) => m.name === modelSelect.value);
  return { info, task: TASKS[info?.task] };
}

function options() {
  const { info } = current();
  const variant = $('variant').value || undefined;
  if (info?.task === 'detect') return { model: info.name, variant, scoreThreshold: Number(threshold.value) };
  return { model: info?.name, variant };
}

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

/** Why the camera cannot be used, in words a user can act on. */
function cameraProblem(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was denied. Allow the camera for this site and press Start again, or try the sample clip or a file of your own below.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found on this device. Try the sample clip or open an image or video file.';
    case 'NotReadableError':
      return 'The camera is in use by another program or could not be started. Close the other program, or try the sample clip.';
    default:
      return `The camera could not be started (${error?.name || 'error'}: ${error?.message || error}). Try the sample clip or a file.`;
  }
}

/** Start the camera. A second click while it starts does nothing more; Stop wins over a start still pending. */
function startCamera() {
  state.starting ??= openCamera().finally(() => {
    state.starting = null;
    $('start').disabled = false;
  });
  return state.starting;
}

async function openCamera() {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    notify(notices, 'error', 'The camera needs a secure context: open this page over https or from localhost / 127.0.0.1. Meanwhile, try the sample clip or a file.', 'camera');
    return;
  }
  $('start').disabled = true;
  const generation = ++state.generation;
  stopPlayback();
  $('stop').disabled = false;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    if (generation !== state.generation) return; // stopped meanwhile: nothing to report
    $('stop').disabled = true;
    notify(notices, 'error', cameraProblem(error), 'camera');
    $('sample').classList.add('primary');
    return;
  }
  if (generation !== state.generation) {
    // Stop was pressed while the browser asked for the camera: release it at once.
    stream.getTracks().forEach((track) => track.stop());
    return;
  }
  clearNotice(notices, 'camera');
  for (const track of stream.getVideoTracks()) {
    track.addEventListener('ended', () => {
      if (state.stream !== stream) return;
      stop();
      notify(notices, 'error', 'The camera stopped (unplugged, or taken by another program). Press Start to try again, or play the sample clip.', 'camera');
    });
  }
  await play({ stream, generation });
}

async function play({ stream = null, url = null, generation = ++state.generation }) {
  stopPlayback();
  state.stream = stream;
  still.hidden = true;
  video.hidden = false;
  $('placeholder').hidden = true;
  video.srcObject = stream;
  if (url) { video.src = url; video.loop = true; } else { video.removeAttribute('src'); }
  try {
    await video.play();
  } catch (error) {
    if (generation !== state.generation) return; // replaced or stopped while starting
    throw error;
  }
  if (generation !== state.generation) return;
  $('stop').disabled = false;
  runLoop(generation);
}

function stopPlayback() {
  state.running = false;
  state.stream?.getTracks().forEach((track) => track.stop());
  state.stream = null;
  video.pause();
  video.srcObject = null;
}

/** Stop is final: it ends the loop, releases the camera, and cancels a start still under way. */
function stop() {
  state.generation += 1;
  stopPlayback();
  $('stop').disabled = true;
}

// Count the frames the video presents, so the loop knows whether a new one has arrived.
function watchFrames() {
  if (!('requestVideoFrameCallback' in video)) return;
  const tick = (_now, metadata) => {
    state.presented = metadata.presentedFrames;
    frameWaiters.splice(0).forEach((resolve) => resolve());
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
}
const frameWaiters = [];
watchFrames();

function nextFrame() {
  if (!('requestVideoFrameCallback' in video)) return new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return new Promise((resolve) => frameWaiters.push(resolve));
}

async function runLoop(generation) {
  state.running = true;
  state.frameTimes = [];
  while (state.running && generation === state.generation) {
    if (video.readyState < 2) {
      await nextFrame();
      continue;
    }
    const taken = state.presented;
    const ok = await processOnce(video, generation);
    if (!ok) break;
    // Only wait when the camera has nothing new since the frame just processed.
    if (state.presented === taken && state.running && generation === state.generation) await nextFrame();
  }
}

async function processOnce(source, generation = state.generation) {
  const { info, task } = current();
  if (!task) return false;
  try {
    const result = await inpage.call(info.method, source, options());
    if (generation !== state.generation) return false;
    const drawStart = performance.now();
    const width = source.videoWidth || source.naturalWidth;
    const height = source.videoHeight || source.naturalHeight;
    task.draw(result, width, height, source);
    result.timings.draw_ms = performance.now() - drawStart;
    result.task = info.task;
    showReadout(result, task);
    state.last = result;
    state.frames += 1;
    state.history.push(result.timings);
    if (state.history.length > HISTORY) state.history.splice(0, state.history.length - HISTORY);
    clearNotice(notices, 'detect');
    return true;
  } catch (error) {
    if (generation !== state.generation) return false;
    notify(notices, 'error', `${info.task === 'detect' ? 'Detection' : 'Processing'} stopped: ${error.message}`, 'detect');
    state.running = false;
    return false;
  }
}

function showReadout(result, task) {
  const now = performance.now();
  state.frameTimes.push(now);
  while (state.frameTimes.length && now - state.frameTimes[0] > 2000) state.frameTimes.shift();
  const span = (now - state.frameTimes[0]) / 1000;
  state.fps = state.frameTimes.length > 1 && span > 0 ? (state.frameTimes.length - 1) / span : null;
  if (now - state.shownAt < READOUT_EVERY_MS && state.frameTimes.length > 1) return;
  state.shownAt = now;
  $('fps').textContent = state.fps == null ? '–' : state.fps.toFixed(1);
  for (const cell of document.querySelectorAll('#readout [data-t]')) cell.textContent = ms(result.timings[cell.dataset.t]);
  $('backend').textContent = `${result.backend.toUpperCase()}${result.variant && result.variant !== 'base' ? ` · ${result.variant}` : ''}`;
  $('count').textContent = String(task.count(result));
  reportBackend(notices, result);
}

async function openFile(file) {
  if (file.type.startsWith('video/')) {
    await play({ url: URL.createObjectURL(file) }).catch((error) => notify(notices, 'error', `Cannot play "${file.name}": ${error.message}`, 'detect'));
    return;
  }
  stop();
  video.hidden = true;
  $('placeholder').hidden = true;
  still.hidden = false;
  still.src = URL.createObjectURL(file);
  try {
    await still.decode();
  } catch {
    notify(notices, 'error', `"${file.name}" is not an image or video this browser can open.`, 'detect');
    still.hidden = true;
    return;
  }
  state.frameTimes = [];
  await processOnce(still);
}

/** Apply the chosen model: its own threshold and controls, loaded ahead of the first frame. */
async function useModel() {
  const { info } = current();
  if (!info) return;
  fillVariants(info);
  $('effect-label').hidden = info.task !== 'segment';
  // The model's own defaults (tasks.json): its score threshold, the keypoints worth drawing, its mask threshold.
  const defaults = { detect: info.options.scoreThreshold, pose: info.display.keypointThreshold, segment: info.options.threshold };
  threshold.value = defaults[info.task];
  $('threshold-value').textContent = Number(threshold.value).toFixed(2);
  $('threshold-label').firstChild.textContent = { detect: 'Score threshold ', pose: 'Keypoint threshold ', segment: 'Mask threshold ' }[info.task];
  if (!still.hidden) processOnce(still);
  try {
    reportBackend(notices, await inpage.loadModel(info.name, { variant: $('variant').value || undefined }));
    clearNotice(notices, 'model');
  } catch (error) {
    notify(notices, 'error', `${info.name} could not be loaded: ${error.message}`, 'model');
  }
}

$('start').addEventListener('click', () => startCamera());
$('stop').addEventListener('click', stop);
$('sample').addEventListener('click', () => play({ url: 'samples/sample-clip.webm' }).catch((error) => notify(notices, 'error', `The sample clip could not play: ${error.message}`, 'detect')));
$('file').addEventListener('change', (event) => { const [file] = event.target.files; if (file) openFile(file); });
modelSelect.addEventListener('change', useModel);
$('variant').addEventListener('change', () => {
  inpage.loadModel(current().info.name, { variant: $('variant').value || undefined }).catch((error) => notify(notices, 'error', error.message, 'model'));
  if (!still.hidden) processOnce(still);
});
threshold.addEventListener('change', () => { if (!still.hidden) processOnce(still); });
$('effect').addEventListener('change', () => { if (!still.hidden) processOnce(still); });

// The model list comes from the manifest at once; the chosen model loads when Python is up.
const listed = fillModelSelect(modelSelect, Object.keys(TASKS), notices).then((found) => { models = found; });
inpage.ready.then(
  () => listed.then(useModel),
  (error) => notify(notices, 'error', `inpage could not start: ${error.message}`, 'startup'),
);
