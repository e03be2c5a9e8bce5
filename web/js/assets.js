// Downloads in the worker: the site's files by path, with progress events and sha256 checks.
//
// The build writes `assets.json`: every file of the site with its sha256 (and the Python packages
// the page loads). The service worker (sw.js) keeps those files in Cache Storage keyed by that
// sha256, so a repeat visit downloads nothing and a changed file is fetched again; here we only
// read them. A response may be compressed on the wire (Content-Encoding: br or gzip, from the dev
// server's precompressed files or from any CDN): its Content-Length is then the compressed size,
// so the body is read as a stream of chunks and never into a buffer sized from that header.

import { sha256Hex, siteRoot } from './config.js';
import { InpageError } from './protocol.js';

let index = null;

/** The site's asset index: `{files: {path: sha256}, packages: [...]}` (empty where the site has none). */
export function assetIndex() {
  index ??= fetch(new URL('assets.json', siteRoot), { cache: 'no-cache' })
    .then((response) => (response.ok ? response.json() : { files: {}, packages: [] }))
    .catch(() => ({ files: {}, packages: [] }));
  return index;
}

/**
 * The URL to fetch a site file at: with `?sha256=` of its current content where the index knows
 * it, so HTTP caches may keep it for good (the dev server marks such responses immutable) and a
 * changed file gets a new URL.
 */
export async function versionedUrl(path) {
  const url = new URL(path, siteRoot);
  const { files } = await assetIndex();
  const relative = url.href.startsWith(siteRoot.href) ? url.href.slice(siteRoot.href.length).split('?')[0] : null;
  const sha = relative && files?.[relative];
  if (sha) url.searchParams.set('sha256', sha);
  return url.href;
}

/**
 * Read a URL's bytes. `onProgress({loaded, total})` is called as chunks arrive; `total` is null when
 * the size is not known (compressed responses). Rejects with a ModelLoadError naming the URL.
 */
export async function fetchBytes(url, onProgress = null) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new InpageError('ModelLoadError', `cannot fetch ${url}: ${error.message} (is the server still running?)`);
  }
  if (!response.ok) throw new InpageError('ModelLoadError', `${url} answered HTTP ${response.status} ${response.statusText}`.trim());
  const encoded = response.headers.get('content-encoding');
  const declared = Number(response.headers.get('content-length')) || null;
  // With an encoding, Content-Length counts the compressed bytes, not the ones we will read.
  const total = encoded && encoded !== 'identity' ? null : declared;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ loaded, total });
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * Fail with a ModelIntegrityError unless `bytes` hash to `expected` (the words match inpage's Python).
 * `fallback` hashes where the browser cannot (see sha256Hex).
 */
export async function verify(bytes, expected, fileName, fallback) {
  const actual = await sha256Hex(bytes, fallback);
  if (actual !== expected) {
    throw new InpageError('ModelIntegrityError',
      `${fileName}: sha256 is ${actual}, but the manifest expects ${expected}; the file was changed or damaged ` +
      'after the manifest was written (restore it, or run `inpage add` again)');
  }
}
