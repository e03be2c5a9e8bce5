// Drop-in elements for a page of your own: one import, then a few lines of HTML.
//
//   <script type="module" src="js/elements.js"></script>
//   <inpage-image model="efficientnet-lite0"></inpage-image>     a picture in (file, drop or paste), its result out
//   <inpage-camera model="nanodet-m"></inpage-camera>           the camera (or a video file) live, with the overlay
//
// `model` names a model of the site (default: the site's default model of an image task). Any other
// attribute is an option of the model's task in kebab case (`score-threshold="0.5"`, `top-k="3"`).
// Each element fires `inpage-result` (detail: the result, as `inpage.call` resolves it) and
// `inpage-error` (detail: the error, with `name` and `message`). They use shadow DOM; style them from
// outside with ::part() (image, video, overlay, result, controls, status) and the custom properties
// --inpage-accent and --inpage-max-height. Labels, model names and results are always shown as text.

import './inpage.js';
import { drawDetections, drawMask, drawPoses } from './overlay.js';

const inpage = window.inpage;

const STYLE = `
  :host { display: block; font: inherit; --inpage-accent: #0b6bcb; --inpage-max-height: 28rem; }
  .stage { position: relative; display: inline-block; max-width: 100%; }
  img, video { display: block; max-width: 100%; max-height: var(--inpage-max-height); }
  canvas { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
  .drop { border: 2px dashed #bbb; border-radius: 8px; padding: 1rem; text-align: center; }
  .drop.over { border-color: var(--inpage-accent); }
  .controls { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; margin: 0.5rem 0; }
  button { font: inherit; padding: 0.3rem 0.8rem; }
  ol { margin: 0.5rem 0; padding-left: 1.5rem; }
  .error { color: #a00; }
  [hidden] { display: none !important; }
`;

/** A task's options from the element's attributes: `score-threshold="0.5"` -> {scoreThreshold: 0.5}. */
function optionsOf(element, task) {
  const options = {};
  for (const name of Object.keys(task?.options || {})) {
    const attribute = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!element.hasAttribute(attribute)) continue;
    const text = element.getAttribute(attribute);
    options[name] = typeof task.options[name] === 'number' ? Number(text) : typeof task.options[name] === 'boolean' ? text !== 'false' : text;
  }
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

/** Draw a result over its source, whatever the task: boxes, poses or a mask. */
function drawResult(canvas, width, height, result, task, source) {
  canvas.width = width;
  canvas.height = height;
  if (result.detections) drawDetections(canvas, width, height, result.detections);
  else if (result.poses) drawPoses(canvas, width, height, result.poses, task.display.keypointThreshold);
  else if (result.mask) drawMask(canvas, width, height, result, { source, threshold: task.options.threshold });
  else canvas.getContext('2d').clearRect(0, 0, width, height);
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
    this.dispatchEvent(new CustomEvent('inpage-error', { detail: error, bubbles: true, composed: true }));
  }

  emit(result) {
    this.dispatchEvent(new CustomEvent('inpage-result', { detail: result, bubbles: true, composed: true }));
  }
}

/** `<inpage-image>`: a picture from a file, a drop or a paste, run through a classify or detect model. */
class InpageImage extends InpageElement {
  static tasks = ['classify', 'detect', 'pose', 'segment'];

  constructor() {
    super(`
      <div class="drop" part="controls"><input type="file" accept="image/*"> or drop or paste a picture</div>
      <div class="stage" hidden><img part="image" alt=""><canvas part="overlay"></canvas></div>
      <ol part="result"></ol>
      <div part="status"></div>`);
    const drop = this.$('.drop');
    this.$('input').addEventListener('change', (event) => event.target.files[0] && this.run(event.target.files[0]));
    drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      if (event.dataTransfer.files[0]) this.run(event.dataTransfer.files[0]);
    });
    this.onPaste = (event) => {
      const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith('image/'));
      if (file) this.run(file);
    };
  }

  connectedCallback() {
    document.addEventListener('paste', this.onPaste);
  }

  disconnectedCallback() {
    document.removeEventListener('paste', this.onPaste);
  }

  /** Run the model on `source` (a File, Blob, URL, image element...): resolves to the result. */
  async run(source) {
    this.status('Working…');
    try {
      const { model, task } = await modelOf(this, InpageImage.tasks);
      const img = this.$('img');
      const url = source instanceof Blob ? URL.createObjectURL(source) : String(source);
      img.src = url;
      await img.decode();
      this.$('.stage').hidden = false;
      const result = await inpage.call(task.method, source, { model: model.name, ...optionsOf(this, task) });
      drawResult(this.$('canvas'), img.naturalWidth, img.naturalHeight, result, task, img);
      this.show(result);
      this.status(`${model.name} · ${result.backend}${result.variant !== 'base' ? ` · ${result.variant}` : ''} · ${result.timings.inference_ms.toFixed(1)} ms`);
      this.emit(result);
      return result;
    } catch (error) {
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

/** `<inpage-camera>`: the camera or a video file, live, with the overlay of a detect, pose or segment model. */
class InpageCamera extends InpageElement {
  static tasks = ['detect', 'pose', 'segment'];

  constructor() {
    super(`
      <div class="controls" part="controls">
        <select aria-label="source"><option value="camera">Camera</option><option value="file">Video file…</option></select>
        <input type="file" accept="video/*" hidden>
        <button type="button" class="start">Start</button><button type="button" class="stop" disabled>Stop</button>
        <span class="fps"></span>
      </div>
      <div class="stage"><video part="video" playsinline muted></video><canvas part="overlay"></canvas></div>
      <div part="status"></div>`);
    this.running = false;
    this.frames = 0;
    this.$('.start').addEventListener('click', () => this.start().catch(() => {}));
    this.$('.stop').addEventListener('click', () => this.stop());
    this.$('select').addEventListener('change', (event) => { this.$('input').hidden = event.target.value !== 'file'; });
  }

  disconnectedCallback() {
    this.stop();
  }

  /** Start the chosen source and the loop: one frame at a time, the next when the last answer is in. */
  async start() {
    this.stop();
    const video = this.$('video');
    try {
      const { model, task } = await modelOf(this, InpageCamera.tasks);
      if (this.$('select').value === 'file') {
        const [file] = this.$('input').files;
        if (!file) throw new inpage.InpageError('InvalidArgumentError', 'choose a video file first');
        video.src = URL.createObjectURL(file);
        video.loop = true;
      } else {
        if (!navigator.mediaDevices?.getUserMedia) throw new inpage.InpageError('CameraError', 'this page cannot use a camera here (it needs https or localhost)');
        try {
          video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
        } catch (error) {
          throw new inpage.InpageError('CameraError', `the camera could not start (${error.name}: ${error.message}); allow it, or pick a video file`);
        }
      }
      await video.play();
      this.running = true;
      this.$('.stop').disabled = false;
      this.loop(model, task);
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  stop() {
    this.running = false;
    const video = this.$('video');
    video.srcObject?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    this.$('.stop').disabled = true;
  }

  async loop(model, task) {
    const video = this.$('video');
    const times = [];
    const options = { model: model.name, ...optionsOf(this, task) };
    while (this.running) {
      if (video.srcObject?.getVideoTracks().every((t) => t.readyState === 'ended')) {
        this.stop();
        this.fail(new inpage.InpageError('CameraError', 'the camera went away; start it again'));
        return;
      }
      if (video.readyState < 2) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      try {
        const result = await inpage.call(task.method, video, options);
        if (!this.running) return;
        drawResult(this.$('canvas'), video.videoWidth, video.videoHeight, result, task, video);
        this.frames += 1;
        times.push(performance.now());
        while (times.length > 1 && times[times.length - 1] - times[0] > 2000) times.shift();
        const fps = times.length > 1 ? (1000 * (times.length - 1)) / (times[times.length - 1] - times[0]) : 0;
        this.$('.fps').textContent = `${fps.toFixed(1)} fps`;
        this.status(`${model.name} · ${result.backend} · ${result.variant}`);
        this.emit(result);
      } catch (error) {
        this.stop();
        this.fail(error);
        return;
      }
    }
  }
}

if (!customElements.get('inpage-image')) customElements.define('inpage-image', InpageImage);
if (!customElements.get('inpage-camera')) customElements.define('inpage-camera', InpageCamera);

export { InpageCamera, InpageImage };
