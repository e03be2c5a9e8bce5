// Page furniture shared by the pages: start-up progress, notices, the environment line and the
// execution-provider picker. Pages import it after inpage.js has set up `window.inpage`.

const inpage = window.inpage;

/**
 * Show start-up and model-download progress in `element` (a .loader with a <progress> and a
 * <span>). It stays up until start-up is done and no model download is under way.
 */
export function bindProgress(element) {
  const bar = element.querySelector('progress');
  const text = element.querySelector('span');
  let started = false;
  const downloads = new Set(); // files still downloading
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
  inpage.events.addEventListener('model', ({ detail }) => {
    if (detail.loaded >= detail.total) downloads.delete(detail.file);
    else downloads.add(detail.file);
    if (started && downloads.size) {
      bar.value = detail.loaded / detail.total;
      text.textContent = `Downloading ${detail.file}: ${(detail.loaded / 1e6).toFixed(1)} of ${(detail.total / 1e6).toFixed(1)} MB`;
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

/** Describe threading in the header, and warn when the page is not cross-origin isolated. */
export function describeEnvironment(envElement, notices) {
  const threads = inpage.threads;
  envElement.textContent = `WASM threads: ${threads}`;
  if (!inpage.crossOriginIsolated) {
    notify(notices, 'warn',
      'This page is not cross-origin isolated (the server sent no COOP/COEP headers), so ' +
      'WebAssembly runs single-threaded and slower. Serve it with `inpage serve` for threads.',
      'isolation');
  }
}

/**
 * Wire a <select> of execution providers. WebGPU is offered only when an adapter exists; when it
 * is chosen but a model falls back, `reportBackend` tells the user why.
 */
export async function bindProviderSelect(select, notices, onChange) {
  const gpu = await inpage.probeWebGpu();
  const option = select.querySelector('option[value="webgpu"]');
  if (!gpu.available) {
    option.textContent = 'WebGPU (unavailable)';
    option.title = gpu.reason;
  }
  select.value = inpage.settings.provider;
  select.addEventListener('change', () => {
    inpage.settings.provider = select.value;
    if (select.value === 'webgpu' && !gpu.available) {
      notify(notices, 'warn', `WebGPU is not available here (${gpu.reason}); models will run on WASM.`, 'backend');
    } else {
      clearNotice(notices, 'backend');
    }
    onChange?.(select.value);
  });
}

/** After a result, say which provider ran, and why it is not the requested one if it fell back. */
export function reportBackend(notices, result) {
  if (result.fallbackReason) {
    notify(notices, 'warn', `Running on ${result.backend.toUpperCase()}: ${result.fallbackReason}.`, 'backend');
  }
}

export function ms(value) {
  return value == null ? '–' : `${value.toFixed(1)} ms`;
}
