// The app's own script. `window.inpage` (js/inpage.js) runs the project's models in this page, in a
// worker, with the project's Python pre- and post-processing: nothing leaves the page.
//   inpage.models()                      the project's models: name, task, method, input, options
//   inpage.call(method, source, {model})  run a model's task on an image, a video, a canvas, a file
//   inpage.classify(img), inpage.detect(video), ...   one method per task, by its default model
const inpage = window.inpage;
const $ = (id) => document.getElementById(id);

function show(value) {
  $('result').classList.remove('error');
  // Tensors (masks, embeddings) are typed arrays: show their type and length, not every value.
  $('result').textContent = JSON.stringify(value, (key, v) => (ArrayBuffer.isView(v) ? `${v.constructor.name}(${v.length})` : v), 2);
}

function fail(error) {
  $('result').classList.add('error');
  $('result').textContent = `${error.name}: ${error.message}`;
}

inpage.events.addEventListener('progress', (event) => { $('status').textContent = event.detail.message; });

const models = (await inpage.models()).filter((m) => m.input === 'image');
if (!models.length) {
  $('status').textContent = 'This project has no image model yet: run `inpage add MODEL.onnx` in its folder, then reload.';
}
for (const m of models) $('model').append(new Option(`${m.name} (${m.task})`, m.name));

function run(source) {
  const model = models.find((m) => m.name === $('model').value);
  return inpage.call(model.method, source, { model: model.name });
}

$('file').addEventListener('change', async (event) => {
  const [file] = event.target.files;
  if (!file) return;
  $('picture').src = URL.createObjectURL(file);
  try {
    show(await run(file));
  } catch (error) {
    fail(error);
  }
});

$('camera').addEventListener('click', async () => {
  const video = $('video');
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    // Browsers offer the camera only to https pages and localhost.
    fail({ name: 'CameraError', message: 'the camera needs a secure context: open this page over https, or from localhost' });
    return;
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    await video.play();
  } catch (error) {
    fail({ name: 'CameraError', message: `the camera could not start: ${error.message}` });
    return;
  }
  // One frame at a time: the next call starts when the last answer is in.
  while (video.srcObject) {
    try {
      show(await run(video));
    } catch (error) {
      fail(error);
      break;
    }
  }
});

await inpage.ready;
$('status').textContent = models.length ? 'Ready: pick a picture or start the camera.' : $('status').textContent;
if (!crossOriginIsolated) {
  // The site's service worker makes any https or localhost page isolated after one reload; elsewhere
  // (plain http from another machine, a private window) onnxruntime-web runs on one thread.
  $('status').textContent += ' This page is not cross-origin isolated, so models run on one thread: serve it over https '
    + '(or from localhost), or have the host send the COOP/COEP headers ("Hosting" in inpage\'s README).';
}
