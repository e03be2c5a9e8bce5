// inpage's service worker: the site's files kept in Cache Storage, keyed by their sha256, so a repeat
// visit downloads nothing and a changed file is fetched again.
//
// The build lists every file with its sha256 in assets.json. For a request of such a file, a
// cached copy with the same sha256 is answered at once; otherwise the file is fetched at its
// versioned URL (`?sha256=...`, which HTTP caches may keep for good), checked against the sha256
// before it is cached, and older copies of the same path are dropped. Pages, page scripts and
// anything not in the index go to the network as usual. A response read back from Cache Storage
// keeps its type and URL, so .wasm files still compile by streaming and the browser's
// compiled-code cache still applies.
//
// It also makes the site cross-origin isolated where the host sends no COOP/COEP headers (python -m
// http.server, GitHub Pages, most static hosts): pages and worker scripts it answers carry
// Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy, so after one reload (inpage.js does
// it, once) SharedArrayBuffer exists and onnxruntime-web runs on threads. A host that sends them
// itself is left as it is.

const CACHE = 'inpage-assets-v1';
const scope = new URL(self.registration.scope);
let index = null;

function loadIndex() {
  index = fetch(new URL('assets.json', scope), { cache: 'no-cache' })
    .then((response) => (response.ok ? response.json() : null))
    .catch(() => null);
  return index;
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  if (request.mode === 'navigate') {
    // A page load: the files may have been rebuilt since; read the index again.
    loadIndex();
    event.respondWith(fetch(request).then(isolated));
    return;
  }
  const path = decodeURIComponent(url.pathname.slice(scope.pathname.length));
  if (path === 'assets.json' || request.headers.has('range')) return;
  const isWorker = request.destination === 'worker' || request.destination === 'sharedworker';
  event.respondWith(answer(request, path, event).then((response) => (isWorker ? isolated(response) : response)));
});

/**
 * The response with cross-origin isolation headers, where it has none: a document or a worker
 * script is isolated only if its own response says so. Only same-origin, non-opaque responses
 * reach here; a host's own headers are kept.
 */
function isolated(response) {
  if (!response.ok || response.type === 'opaque' || response.headers.has('cross-origin-embedder-policy')) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function answer(request, path, event) {
  const files = (await (index || loadIndex()))?.files;
  const sha256 = files?.[path];
  if (!sha256) return fetch(request);
  const key = new URL(path, scope);
  key.searchParams.set('sha256', sha256);
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key.href);
  if (cached) return cached;
  // The request as the page made it: a versioned URL (?sha256=) may come from the HTTP cache for
  // good, a plain one is revalidated (a 304 costs no body), so what the browser already has on
  // its first visit, before this worker controlled the page, is not downloaded again.
  const response = await fetch(request);
  if (response.ok) {
    // Checked before it is kept: a damaged or tampered file must not live on in the cache. The
    // network response itself is kept (not a copy made from bytes), so it keeps its URL.
    const forCache = response.clone();
    const forCheck = response.clone();
    event.waitUntil(forCheck.arrayBuffer().then(async (bytes) => {
      if ((await hex(bytes)) !== sha256) {
        await forCache.body?.cancel();
        return;
      }
      await cache.put(key.href, forCache);
      for (const old of await cache.keys()) {
        const oldUrl = new URL(old.url);
        if (oldUrl.pathname === key.pathname && oldUrl.href !== key.href) await cache.delete(old);
      }
    }).catch(() => {}));
  }
  return response;
}

async function hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
