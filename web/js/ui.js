// Page furniture shared by the pages: start-up progress, notices, the environment line, the
// execution-provider picker and model pickers filled from the site's manifest. Pages import it after
// inpage.js has set up `window.inpage`.

const inpage = window.inpage;

/**
 * Show start-up and model-download progress in `element` (a .loader with a <progress> and a
 * <span>). It stays up until start-up is done and no model download is under way.
 */
export function bindProgress(element) {
  const bar = element.querySelector('progress');
  const text = element.querySelector('span');
  let started = false;
  const downloads = new Map(); // file -> {loaded, total}
  const update = () => { element.hidden = started && downloads.size === 0; };
  element.hidden = false;
  inpage.events.addEventListener('progress', ({ detail }) => {
    started = detail.stage === 'ready' || detail.stage === 'failed';
    if (!started || downloads.size === 0) {
      bar.value = detail.fraction;
      text.textContent = detail.message;
    }
    update();
  });
  inpage.events.addEventListener('download', ({ detail }) => {
    if (detail.done) downloads.delete(detail.file);
    else downloads.set(detail.file, detail);
    if (started && downloads.size) {
      const { file, loaded, total } = [...downloads.values()][0];
      if (total) bar.value = loaded / total;
      else bar.removeAttribute('value');
      text.textContent = `Downloading ${file}: ${(loaded / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB`;
    }
    update();
  });
}

/** Add a notice; `key` replaces an earlier notice with the same key instead of piling up. */
export function notify(container, kind, text, key = text) {
  let note = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!note) {
    note = document.createElement('div');
    note.dataset.key = key;
    container.append(note);
  }
  note.className = `notice ${kind}`;
  note.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  note.textContent = text;
  return note;
}

export function clearNotice(container, key) {
  container.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
}

/**
 * Describe threading in the header, and say why the page is not cross-origin isolated when it is not.
 * The thread count is the worker's (inpage.threads), known once inpage is ready.
 */
export function describeEnvironment(envElement, notices) {
  const showThreads = () => {
    envElement.textContent = `WASM threads: ${inpage.threads ?? '…'}`;
  };
  showThreads();
  inpage.ready.then(showThreads, () => {});
  if (inpage.crossOriginIsolated) return;
  if (!inpage.secureContext) {
    // Over plain http from another machine the browser ignores COOP/COEP, even when they are sent.
    notify(notices, 'warn',
      'This page came over plain http from another machine, which is not a secure context: the browser ignores its ' +
      'isolation headers, so WebAssembly runs on one thread, and the camera and the offline cache are unavailable. ' +
      'Open it over https, or from localhost on the machine that serves it.',
      'isolation');
  } else {
    // Said once start-up settles: on a host without the headers the service worker supplies them
    // after one reload, and a page that is reloading never gets here.
    inpage.startup().then(({ cache }) => {
      const why = cache === 'active'
        ? ''
        : ', and the service worker that would supply them is not running here (a private window, or service workers blocked)';
      notify(notices, 'warn',
        'This page is not cross-origin isolated: its host sends no "Cross-Origin-Opener-Policy: same-origin" and ' +
        `"Cross-Origin-Embedder-Policy: require-corp" headers${why}, so WebAssembly runs on one thread, slower. ` +
        'Have the host send them (see "Hosting" in inpage\'s README: the site\'s _headers file, an nginx snippet), or use `inpage serve`.',
        'isolation');
    }, () => {});
  }
}

/**
 * Wire a <select> of execution providers. WebGPU is offered only when an adapter exists; when it
 * is chosen but a model falls back, `reportBackend` tells the user why.
 */
export async function bindProviderSelect(select, notices, onChange) {
  select.value = inpage.settings.provider;
  select.addEventListener('change', async () => {
    inpage.settings.provider = select.value;
    const gpu = await inpage.probeWebGpu();
    if (select.value === 'webgpu' && !gpu.available) {
      notify(notices, 'warn', `WebGPU is not available here (${gpu.reason}); models will run on WASM.`, 'backend');
    } else {
      clearNotice(notices, 'backend');
    }
    onChange?.(select.value);
  });
  const gpu = await inpage.probeWebGpu().catch(() => ({ available: false, reason: 'the worker did not answer' }));
  const option = select.querySelector('option[value="webgpu"]');
  if (!gpu.available && option) {
    option.textContent = 'WebGPU (unavailable)';
    option.title = gpu.reason;
  }
}

/**
 * Fill a <select> with the site's models of the given tasks (their descriptions as labels), the
 * manifest's default selected. Resolves to the models offered; a site without one says so.
 */
export async function fillModelSelect(select, tasks, notices) {
  let models;
  try {
    models = (await inpage.models()).filter((m) => tasks.includes(m.task));
  } catch (error) {
    notify(notices, 'error', `The site's model list could not be read: ${error.message}`, 'manifest');
    select.disabled = true;
    return [];
  }
  select.replaceChildren(...models.map((m) => {
    const option = document.createElement('option');
    option.value = m.name;
    option.textContent = m.description ? `${m.name}: ${m.description.split(/[:(]/)[0].trim()}` : m.name;
    option.dataset.task = m.task;
    return option;
  }));
  const chosen = tasks.map((task) => models.find((m) => m.task === task && m.default) || models.find((m) => m.task === task)).find(Boolean);
  if (chosen) select.value = chosen.name;
  if (!models.length) {
    notify(notices, 'warn', `This site has no ${tasks.join(' or ')} model. Add one with \`inpage add MODEL.onnx\` and rebuild.`, 'manifest');
    select.disabled = true;
  }
  return models;
}

/** After a result, say which provider ran, and why it is not the requested one if it fell back. */
export function reportBackend(notices, result) {
  if (result.fallbackReason) {
    notify(notices, 'warn', `Running on ${result.backend.toUpperCase()}: ${result.fallbackReason}.`, 'backend');
  }
}

/** One list item per prediction: label and score as text (never markup), and a bar as wide as the score. */
export function predictionItems(predictions) {
  return predictions.map(({ label, score }) => {
    const item = document.createElement('li');
    item.innerHTML = '<span class="label"></span><span class="score"></span><span class="bar"><span></span></span>';
    item.querySelector('.label').textContent = label;
    item.querySelector('.score').textContent = `${(score * 100).toFixed(1)}%`;
    item.querySelector('.bar span').style.width = `${(score * 100).toFixed(1)}%`;
    return item;
  });
}

export function ms(value) {
  return value == null ? '–' : `${value.toFixed(1)} ms`;
}
