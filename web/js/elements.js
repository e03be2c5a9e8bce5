// Drop-in elements for a page of your own: one import, then a few lines of HTML. The site's own demo
// pages are built on them too (classify.html on <inpage-image>, index.html on <inpage-camera>).
//
//   <script type="module" src="js/elements.js"></script>
//   <inpage-image model="efficientnet-lite0"></inpage-image>     a picture in (file, drop or paste), its result out
//   <inpage-camera model="nanodet-m"></inpage-camera>           the camera (or a video or picture file) live, with the overlay
//
// Attributes, read afresh for every picture and frame, so a page can change them while it runs:
//   model               a model of the site (default: the site's default model of a task the element shows)
//   variant             the model's variant to run (default: the one the site chose for the provider)
//   any task option     in kebab case: `score-threshold="0.5"`, `top-k="3"`, `threshold="0.6"` (a mask's)
//   keypoint-threshold  poses: the keypoints worth drawing (default: the model's own)
//   effect              <inpage-camera>, masks: tint (the person), blur or replace (the background)
//   sample              <inpage-camera>: a video URL, offered by a "Play sample clip" button
// Children are shown between the element's controls and its picture (sample photos, a page's own controls).
//
// Methods: image.run(source) (a File, Blob or URL); camera.start() (the camera), camera.play(source)
// (a video URL, or a File or Blob holding a video or a picture), camera.stop(). The camera's `fps` and
// `running` say how its loop goes.
// Events: `inpage-start` (detail: {source}, when a picture, file, clip or the camera's stream starts),
// `inpage-result` (detail: the result, as `inpage.call` resolves it; the camera adds timings.draw_ms) and
// `inpage-error` (detail: the error, with `name` and `message`; the camera's own problems, denied,
// missing, busy or unplugged, are a CameraError). They use shadow DOM; style them from outside with
// ::part() (controls, button, primary, stage, image, video, overlay, result, status, fps) and the custom
// properties --inpage-accent, --inpage-on-accent and --inpage-max-height. Labels, model names and results
// are always shown as text.

import './inpage.js';
import { drawDetections, drawMask, drawPoses } from './overlay.js';

const inpage = window.inpage;

// Colours follow the page's text colour, so the elements fit light and dark pages alike.
const STYLE = `
  :host { display: block; font: inherit; --inpage-accent: #0b6bcb; --inpage-on-accent: #fff; --inpage-max-height: 28rem; }
  .stage { position: relative; display: inline-block; max-width: 100%; }
  img, video { display: block; max-width: 100%; max-height: var(--inpage-max-height); }
  canvas { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
  .screen { display: block; background: #000; border-radius: 8px; overflow: hidden; aspect-ratio: 4 / 3; max-height: var(--inpage-max-height); }
  .screen img, .screen video, .screen canvas { position: absolute; inset: 0; width: 100%; height: 100%; max-height: none; object-fit: contain; }
  .placeholder { position: absolute; inset: 0; display: grid; place-items: center; padding: 2rem; text-align: center; color: #93a1ae; }
  .drop { border: 2px dashed color-mix(in srgb, currentColor 30%, transparent); border-radius: 8px; padding: 1.2rem; text-align: center; }
  .drop.over { border-color: var(--inpage-accent); }
  .controls { display: flex; gap: 0.6rem 1rem; align-items: center; flex-wrap: wrap; margin: 0.5rem 0; }
  button, input::file-selector-button {
    font: inherit; color: inherit; cursor: pointer; padding: 0.45rem 0.9rem; border-radius: 6px;
    border: 1px solid color-mix(in srgb, currentColor 25%, transparent); background: color-mix(in srgb, currentColor 10%, transparent);
  }
  button.primary { background: var(--inpage-accent); border-color: var(--inpage-accent); color: var(--inpage-on-accent); font-weight: 600; }
  button:disabled { opacity: 0.5; cursor: default; }
  label { display: inline-flex; gap: 0.4rem; align-items: center; }
  ol { margin: 0.5rem 0; padding-left: 1.5rem; }
  .error { color: #d33; }
  [hidden] { display: none !important; }
`;

/** A task's options from the element's attributes: `score-threshold="0.5"` -> {scoreThreshold: 0.5}; `variant` too. */
function optionsOf(element, task) {
  const options = {};
  for (const name of Object.keys(task?.options || {})) {
    const attribute = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!element.hasAttribute(attribute)) continue;
    const text = element.getAttribute(attribute);
    if (typeof task.options[name] === 'number') {
      // Named here, as the page's author wrote it: Python would only see NaN, under the option's JS name.
      if (text.trim() === '' || !Number.isFinite(Number(text))) {
        throw new inpage.InpageError('InvalidArgumentError', `<${element.localName}> ${attribute}="${text}" is not a number; write e.g. ${attribute}="${task.options[name]}"`);
      }
      options[name] = Number(text);
    } else {
      options[name] = typeof task.options[name] === 'boolean' ? text !== 'false' : text;
    }
  }
  if (element.getAttribute('variant')) options.variant = element.getAttribute('variant');
  return options;
}

/** The model an element runs, and its task (from the site's tasks.json, through window.inpage). */
async function modelOf(element, wanted) {
  const models = await inpage.models();
  const name = element.getAttribute('model');
  const model = name ? models.find((m) => m.name === name)
    : models.find((m) => m.default && wanted.includes(m.task)) || models.find((m) => wanted.includes(m.task));
  if (!model) {
    throw new inpage.InpageError('ManifestError', name ? `this site has no model called ${JSON.stringify(name)}` : `this site has no ${wanted.join(' or ')} model`);
  }
  if (!wanted.includes(model.task)) {
    throw new inpage.InpageError('TaskMismatchError', `model ${JSON.stringify(model.name)} is a ${model.task} model; this element shows ${wanted.join(', ')}`);
  }
  return { model, task: inpage.tasks.find((t) => t.task === model.task) };
}

/** Draw a result over its source, whatever the task: boxes, poses or a mask, as the element's attributes say. */
function drawResult(element, canvas, source, result, model, options) {
  const width = source.videoWidth || source.naturalWidth;
  const height = source.videoHeight || source.naturalHeight;
  const keypointThreshold = Number(element.getAttribute('keypoint-threshold') ?? model.display.keypointThreshold);
  const mode = element.getAttribute('effect') || 'tint';
  if (result.detections) drawDetections(canvas, width, height, result.detections);
  else if (result.poses) drawPoses(canvas, width, height, result.poses, keypointThreshold);
  else if (result.mask) drawMask(canvas, width, height, result, { mode, source, threshold: options.threshold ?? model.options.threshold });
  else clear(canvas);
}

function clear(canvas) {
  canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
}

class InpageElement extends HTMLElement {
  constructor(html) {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>${STYLE}</style>${html}`;
  }

  $(selector) {
    return this.shadowRoot.querySelector(selector);
  }

  status(text, error = false) {
    const line = this.$('[part=status]');
    line.textContent = text;
    line.classList.toggle('error', error);
  }

  fail(error) {
    this.status(`${error.name}: ${error.message}`, true);
    this.fire('inpage-error', error);
  }

  emit(result) {
    this.fire('inpage-result', result);
  }

  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

/** `<inpage-image>`: a picture from a file, a drop or a paste, run through a classify, detect, pose or segment model. */
class InpageImage extends InpageElement {
  static tasks = ['classify', 'detect', 'pose', 'segment'];

  constructor() {
    super(`
      <div class="drop" part="controls">Drop or paste a picture here, or <input type="file" id="file" accept="image/*"></div>
      <slot></slot>
      <div class="stage" part="stage" hidden><img part="image" alt=""><canvas part="overlay"></canvas></div>
      <ol part="result"></ol>
      <div part="status"></div>`);
    this.queue = Promise.resolve();
    // Failures are reported by the element itself (status line and event); nothing is thrown at the page.
    const take = (file) => file && this.run(file).catch(() => {});
    this.$('input').addEventListener('change', (event) => take(event.target.files[0]));
    // The whole element takes a drop, the marked zone shows it.
    const drop = this.$('.drop');
    this.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
    this.addEventListener('dragleave', () => drop.classList.remove('over'));
    this.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      take(event.dataTransfer.files[0]);
    });
    this.onPaste = (event) => take([...(event.clipboardData?.files || [])].find((f) => f.type.startsWith('image/')));
  }

  connectedCallback() {
    document.addEventListener('paste', this.onPaste);
  }

  disconnectedCallback() {
    document.removeEventListener('paste', this.onPaste);
  }

  /** Run the model on `source` (a File, Blob or URL; any source `inpage.call` takes): resolves to the result. One run at a time, in order. */
  run(source) {
    const done = this.queue.then(() => this.runNow(source));
    this.queue = done.catch(() => {});
    return done;
  }

  async runNow(source) {
    this.status('Working…');
    this.fire('inpage-start', { source });
    const img = this.$('img');
    const stage = this.$('.stage');
    stage.hidden = true;
    clear(this.$('canvas'));
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = source instanceof Blob ? URL.createObjectURL(source) : null;
    // The picture shows as soon as it decodes; one the browser cannot show (a TIFF, say) is still run.
    let shown = Promise.resolve(false);
    if (this.url || typeof source === 'string') {
      img.src = this.url || source;
      shown = img.decode().then(() => { stage.hidden = false; return true; }, () => false);
    }
    try {
      const { model, task } = await modelOf(this, InpageImage.tasks);
      const options = optionsOf(this, task);
      const result = await inpage.call(task.method, source, { model: model.name, ...options });
      if (await shown) drawResult(this, this.$('canvas'), img, result, model, options);
      this.show(result);
      const time = result.timings.inference_ms;
      this.status(`${model.name} · ${result.backend}${result.variant !== 'base' ? ` · ${result.variant}` : ''}${time == null ? '' : ` · ${time.toFixed(1)} ms`}`);
      this.emit(result);
      return result;
    } catch (error) {
      await shown;
      stage.hidden = true;
      this.$('[part=result]').replaceChildren();
      this.fail(error);
      throw error;
    }
  }

  show(result) {
    const items = result.predictions
      ? result.predictions.map((p) => `${(100 * p.score).toFixed(1)}%  ${p.label}`)
      : result.detections
        ? result.detections.map((d) => `${(100 * d.score).toFixed(0)}%  ${d.label}`)
        : [];
    // Text, never markup: labels come from files and models.
    this.$('[part=result]').replaceChildren(...items.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
  }
}

/** Why the camera cannot be used, in words a user can act on; `instead` is what else they can try. */
function cameraProblem(error, instead) {
  const say = (text) => new inpage.InpageError('CameraError', text);
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return say(`Camera access was denied. Allow the camera for this site and press Start again, or try ${instead}.`);
    case 'NotFoundError':
    case 'OverconstrainedError':
      return say(`No camera was found on this device. Try ${instead}.`);
    case 'NotReadableError':
      return say(`The camera is in use by another program or could not be started. Close the other program, or try ${instead}.`);
    default:
      return say(`The camera could not be started (${error?.name || 'error'}: ${error?.message || error}). Try ${instead}.`);
  }
}

const READOUT_EVERY_MS = 250; // the fps and status lines change four times a second: each update costs a layout

/**
 * `<inpage-camera>`: the camera, a video or a picture, with the overlay of a detect, pose or segment model.
 *
 * The loop never idles while there is a new frame: as soon as a result is drawn, the video's current
 * frame goes to the worker. It waits only when the video has not presented a frame since the last one
 * was taken, so the frame rate is the worker's throughput (or the camera's, when that is lower).
 */
class InpageCamera extends InpageElement {
  static tasks = ['detect', 'pose', 'segment'];

  constructor() {
    super(`
      <div class="controls" part="controls">
        <button type="button" id="start" class="start primary" part="button primary">Start camera</button>
        <button type="button" id="stop" class="stop" part="button" disabled>Stop</button>
        <button type="button" id="sample" class="sample" part="button" hidden>Play sample clip</button>
        <label>Image or video file <input type="file" id="file" accept="image/*,video/*"></label>
        <span class="fps" part="fps"></span>
      </div>
      <slot></slot>
      <div class="stage screen" part="stage">
        <div class="placeholder"></div>
        <video part="video" playsinline muted hidden></video><img part="image" alt="" hidden><canvas part="overlay"></canvas>
      </div>
      <div part="status"></div>`);
    this.running = false;
    this.generation = 0; // each start, play and stop moves it on: work of an older one stops there
    this.stream = null;
    this.starting = null;
    this.frames = 0;
    this.fps = null;
    this.frameTimes = [];
    this.shownAt = 0;
    this.$('.start').addEventListener('click', () => this.start().catch(() => {}));
    this.$('.stop').addEventListener('click', () => this.stop());
    this.$('.sample').addEventListener('click', () => this.play(this.getAttribute('sample')).catch(() => {}));
    this.$('input').addEventListener('change', (event) => event.target.files[0] && this.play(event.target.files[0]).catch(() => {}));
    this.watchFrames();
    // A changed attribute (model, threshold, effect...) shows at once on a still picture; the live loop reads them each frame.
    new MutationObserver((records) => {
      this.describe();
      if (records.some((r) => !['class', 'style', 'hidden'].includes(r.attributeName)) && !this.running && !this.$('img').hidden) this.refresh();
    }).observe(this, { attributes: true });
  }

  connectedCallback() {
    this.describe();
  }

  disconnectedCallback() {
    this.stop();
  }

  /** The sample button and the placeholder's words, as the attributes say. */
  describe() {
    const sample = this.hasAttribute('sample');
    this.$('.sample').hidden = !sample;
    this.$('.placeholder').textContent = `Start the camera, ${sample ? 'play the sample clip, ' : ''}or open a file.`;
  }

  /** What else to try when the camera cannot run. */
  instead() {
    return this.hasAttribute('sample') ? 'the sample clip or a file' : 'a video or picture file';
  }

  // Count the frames the video presents, so the loop knows whether a new one has arrived.
  watchFrames() {
    const video = this.$('video');
    this.presented = 0;
    this.frameWaiters = [];
    if (!('requestVideoFrameCallback' in video)) return;
    const tick = (_now, metadata) => {
      this.presented = metadata.presentedFrames;
      this.frameWaiters.splice(0).forEach((resolve) => resolve());
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  }

  nextFrame() {
    if (!('requestVideoFrameCallback' in this.$('video'))) return new Promise((resolve) => requestAnimationFrame(() => resolve()));
    return new Promise((resolve) => this.frameWaiters.push(resolve));
  }

  /** Start the camera and the loop. A second start while it starts does nothing more; stop() wins over a start still pending. */
  start() {
    this.starting ??= this.openCamera().finally(() => {
      this.starting = null;
      this.$('.start').disabled = false;
    });
    return this.starting;
  }

  async openCamera() {
    const generation = this.halt();
    try {
      await modelOf(this, InpageCamera.tasks);
      if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
        throw new inpage.InpageError('CameraError', `The camera needs a secure context: open this page over https or from localhost / 127.0.0.1. Meanwhile, try ${this.instead()}.`);
      }
      this.$('.start').disabled = true;
      this.$('.stop').disabled = false;
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
      } catch (error) {
        throw cameraProblem(error, this.instead());
      }
      if (generation !== this.generation) {
        // Stopped while the browser asked for the camera: release it at once.
        stream.getTracks().forEach((track) => track.stop());
        return;
      }
      for (const track of stream.getVideoTracks()) {
        track.addEventListener('ended', () => {
          if (this.stream !== stream) return;
          this.stop();
          this.fail(new inpage.InpageError('CameraError',
            `The camera stopped (unplugged, or taken by another program). Press Start to try again${this.hasAttribute('sample') ? ', or play the sample clip' : ''}.`));
        });
      }
      await this.playVideo(stream, null, generation);
    } catch (error) {
      if (generation !== this.generation) return; // stopped meanwhile: nothing to report
      this.$('.stop').disabled = true;
      if (error.name === 'CameraError') {
        // What still works is the thing to press now.
        this.$('.sample').classList.add('primary');
        this.$('.sample').part.add('primary');
      }
      this.fail(error);
      throw error;
    }
  }

  /** Play `source`: a video URL, or a File or Blob holding a video or a picture (shown still, run once). */
  async play(source) {
    const generation = this.halt();
    const name = source instanceof File ? JSON.stringify(source.name) : source instanceof Blob ? 'the file' : source;
    try {
      await modelOf(this, InpageCamera.tasks);
      if (source instanceof Blob && !source.type.startsWith('video/')) await this.showStill(source, name, generation);
      else await this.playVideo(null, source instanceof Blob ? URL.createObjectURL(source) : source, generation, name);
    } catch (error) {
      if (generation !== this.generation) return;
      this.fail(error);
      throw error;
    }
  }

  async playVideo(stream, url, generation, name) {
    const video = this.$('video');
    this.stream = stream;
    this.showing(video);
    video.srcObject = stream;
    if (url) {
      video.src = url;
      video.loop = true;
    } else video.removeAttribute('src');
    try {
      await video.play();
    } catch (error) {
      if (generation !== this.generation) return; // replaced or stopped while starting
      this.showing(null);
      throw new inpage.InpageError('ImageDecodeError', `${name} could not be played: ${error.message}`);
    }
    if (generation !== this.generation) return;
    this.$('.stop').disabled = false;
    this.fire('inpage-start', { source: stream || url });
    this.loop(generation);
  }

  async showStill(file, name, generation) {
    const img = this.$('img');
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(file);
    try {
      await img.decode();
    } catch {
      if (generation === this.generation) this.showing(null);
      throw new inpage.InpageError('ImageDecodeError', `${name} is not an image or video this browser can open`);
    }
    if (generation !== this.generation) return;
    this.showing(img);
    this.frameTimes = [];
    this.fire('inpage-start', { source: file });
    await this.once(img, generation);
  }

  /** Show the video, the still picture or (null) the placeholder, with a clean overlay. */
  showing(source) {
    this.$('video').hidden = source !== this.$('video');
    this.$('img').hidden = source !== this.$('img');
    this.$('.placeholder').hidden = source !== null;
    clear(this.$('canvas'));
  }

  /** Run a still picture again, with the attributes as they are now; changes that come meanwhile make one more run. */
  async refresh() {
    if (this.refreshing) {
      this.stale = true;
      return;
    }
    this.refreshing = true;
    do {
      this.stale = false;
      await this.once(this.$('img'), this.generation);
    } while (this.stale && !this.running && !this.$('img').hidden);
    this.refreshing = false;
  }

  /** End what plays: the loop, the camera, a start still pending. Returns the new generation. */
  halt() {
    this.generation += 1;
    this.running = false;
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    const video = this.$('video');
    video.pause();
    video.srcObject = null;
    return this.generation;
  }

  stop() {
    this.halt();
    this.$('.stop').disabled = true;
  }

  async loop(generation) {
    const video = this.$('video');
    this.running = true;
    this.frameTimes = [];
    while (this.running && generation === this.generation) {
      if (video.readyState < 2) {
        await this.nextFrame();
        continue;
      }
      const taken = this.presented;
      if (!(await this.once(video, generation))) break;
      // Only wait when the video has nothing new since the frame just processed.
      if (this.presented === taken && this.running && generation === this.generation) await this.nextFrame();
    }
  }

  /** Run and draw one frame (or the still): false when the loop should end. */
  async once(source, generation) {
    try {
      const { model, task } = await modelOf(this, InpageCamera.tasks);
      const options = optionsOf(this, task);
      const result = await inpage.call(task.method, source, { model: model.name, ...options });
      if (generation !== this.generation) return false;
      const drawStart = performance.now();
      drawResult(this, this.$('canvas'), source, result, model, options);
      result.timings.draw_ms = performance.now() - drawStart;
      this.count(model, result);
      this.emit(result);
      return true;
    } catch (error) {
      if (generation !== this.generation) return false;
      this.stop();
      this.fail(error);
      return false;
    }
  }

  /** Frames and frames per second over the last two seconds; the lines that show them change at most four times a second. */
  count(model, result) {
    const now = performance.now();
    this.frames += 1;
    this.frameTimes.push(now);
    while (this.frameTimes.length && now - this.frameTimes[0] > 2000) this.frameTimes.shift();
    const span = (now - this.frameTimes[0]) / 1000;
    this.fps = this.frameTimes.length > 1 && span > 0 ? (this.frameTimes.length - 1) / span : null;
    if (now - this.shownAt < READOUT_EVERY_MS && this.frameTimes.length > 2) return; // the first rate shows at once
    this.shownAt = now;
    this.$('.fps').textContent = this.fps == null ? '' : `${this.fps.toFixed(1)} fps`;
    this.status(`${model.name} · ${result.backend} · ${result.variant}`);
  }
}

if (!customElements.get('inpage-image')) customElements.define('inpage-image', InpageImage);
if (!customElements.get('inpage-camera')) customElements.define('inpage-camera', InpageCamera);

export { InpageCamera, InpageImage };
