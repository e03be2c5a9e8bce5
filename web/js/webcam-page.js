// The live detection page: camera (or sample clip, or a file) in, boxes and labels drawn over it.
//
// The loop never queues frames. It takes the video's current frame only when the previous one
// has been processed, so a slow model skips frames instead of falling behind; the <video>
// element itself keeps playing at the camera's rate, composited by the browser independently
// of this loop.
import { bindProgress, bindProviderSelect, clearNotice, describeEnvironment, ms, notify, reportBackend } from './ui.js';
import { drawDetections } from './overlay.js';

const inpage = window.inpage;
const $ = (id) => document.getElementById(id);
const notices = $('notices');
const video = $('video');
const still = $('still');
const overlay = $('overlay');

const state = { running: false, generation: 0, stream: null, frameTimes: [], detectionsShown: 0 };
window.inpageDemo = state; // for tests and the console: frames processed, last result

bindProgress($('loader'));
describeEnvironment($('env'), notices);
bindProviderSelect($('provider'), notices);

const threshold = $('threshold');
threshold.addEventListener('input', () => { $('threshold-value').textContent = Number(threshold.value).toFixed(2); });

function options() {
  return { model: $('model').value, scoreThreshold: Number(threshold.value) };
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

async function startCamera() {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    notify(notices, 'error', 'The camera needs a secure context: open this page over https or from localhost / 127.0.0.1. Meanwhile, try the sample clip or a file.', 'camera');
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    clearNotice(notices, 'camera');
    await play({ stream });
  } catch (error) {
    notify(notices, 'error', cameraProblem(error), 'camera');
    $('sample').classList.add('primary');
  }
}

async function play({ stream = null, url = null }) {
  stop();
  state.stream = stream;
  still.hidden = true;
  video.hidden = false;
  $('placeholder').hidden = true;
  video.srcObject = stream;
  if (url) { video.src = url; video.loop = true; } else { video.removeAttribute('src'); }
  await video.play();
  $('stop').disabled = false;
  runLoop();
}

function stop() {
  state.running = false;
  state.generation += 1;
  state.stream?.getTracks().forEach((track) => track.stop());
  state.stream = null;
  video.pause();
  video.srcObject = null;
  $('stop').disabled = true;
}

function nextVideoFrame() {
  return new Promise((resolve) => {
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(() => resolve());
    else requestAnimationFrame(() => resolve());
  });
}

async function runLoop() {
  const generation = state.generation;
  state.running = true;
  state.frameTimes = [];
  while (state.running && generation === state.generation) {
    if (video.readyState >= 2) {
      const ok = await detectOnce(video);
      if (!ok) break;
    }
    await nextVideoFrame();
  }
}

async function detectOnce(source) {
  try {
    const result = await inpage.detect(source, options());
    const drawStart = performance.now();
    const width = source.videoWidth || source.naturalWidth;
    const height = source.videoHeight || source.naturalHeight;
    drawDetections(overlay, width, height, result.detections);
    result.timings.draw_ms = performance.now() - drawStart;
    showReadout(result);
    state.last = result;
    state.frames = (state.frames || 0) + 1;
    clearNotice(notices, 'detect');
    return true;
  } catch (error) {
    notify(notices, 'error', `Detection stopped: ${error.message}`, 'detect');
    state.running = false;
    return false;
  }
}

function showReadout(result) {
  const now = performance.now();
  state.frameTimes.push(now);
  while (state.frameTimes.length && now - state.frameTimes[0] > 2000) state.frameTimes.shift();
  const span = (now - state.frameTimes[0]) / 1000;
  state.fps = state.frameTimes.length > 1 && span > 0 ? (state.frameTimes.length - 1) / span : null;
  $('fps').textContent = state.fps == null ? '–' : state.fps.toFixed(1);
  for (const cell of document.querySelectorAll('#readout [data-t]')) cell.textContent = ms(result.timings[cell.dataset.t]);
  $('backend').textContent = result.backend.toUpperCase();
  $('count').textContent = String(result.detections.length);
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
  await detectOnce(still);
}

$('start').addEventListener('click', startCamera);
$('stop').addEventListener('click', stop);
$('sample').addEventListener('click', () => play({ url: 'samples/sample-clip.webm' }).catch((error) => notify(notices, 'error', `The sample clip could not play: ${error.message}`, 'detect')));
$('file').addEventListener('change', (event) => { const [file] = event.target.files; if (file) openFile(file); });
$('model').addEventListener('change', async () => {
  // Each model has its own sensible threshold (faces need a higher one than COCO objects).
  const info = (await inpage.models()).find((m) => m.name === $('model').value);
  if (info?.scoreThreshold != null) {
    threshold.value = info.scoreThreshold;
    $('threshold-value').textContent = Number(threshold.value).toFixed(2);
  }
  if (!still.hidden) detectOnce(still);
});
threshold.addEventListener('change', () => { if (!still.hidden) detectOnce(still); });

inpage.ready.then(
  () => inpage.loadModel($('model').value).then(
    (info) => reportBackend(notices, info),
    (error) => notify(notices, 'error', `The detector could not be loaded: ${error.message}`, 'model'),
  ),
  (error) => notify(notices, 'error', `inpage could not start: ${error.message}`, 'startup'),
);
