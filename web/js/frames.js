// In the worker: sources sent by the page become what inpage's Python reads (see py/inpage/_page.py):
// encoded bytes, which Pillow decodes exactly as on CPython, or RGBA pixels.
//
// Bitmaps and video frames arrive transferred and are closed here as soon as their pixels are read.
// RGBA buffers for video frames are reused from call to call, but only a couple of them and only
// up to a few megabytes each, so one huge frame is not kept for good.

import { fetchBytes } from './assets.js';
import { InpageError } from './protocol.js';

const KEEP_BUFFERS = 2;
const KEEP_BYTES = 16 * 2 ** 20;
const freeBuffers = [];

function borrowBuffer(size) {
  const index = freeBuffers.findIndex((buffer) => buffer.length === size);
  return index >= 0 ? freeBuffers.splice(index, 1)[0] : new Uint8Array(size);
}

function returnBuffer(buffer) {
  if (buffer.length <= KEEP_BYTES && freeBuffers.length < KEEP_BUFFERS) freeBuffers.push(buffer);
}

let scratch = null;

/** RGBA pixels of anything a 2D canvas can draw (an ImageBitmap, a VideoFrame the browser cannot copy). */
function drawnPixels(image, width, height) {
  if (!width || !height) throw new InpageError('ImageDecodeError', 'the image has no pixels');
  // One canvas, resized as needed; a canvas of a huge frame is shrunk back right after use.
  scratch ??= new OffscreenCanvas(1, 1);
  scratch.width = width;
  scratch.height = height;
  const context = scratch.getContext('2d', { willReadFrequently: true });
  context.clearRect(0, 0, width, height);
  context.drawImage(image, 0, 0, width, height);
  const pixels = context.getImageData(0, 0, width, height);
  if (width * height * 4 > KEEP_BYTES) {
    scratch.width = 1;
    scratch.height = 1;
  }
  return { kind: 'rgba', data: pixels.data, width, height };
}

async function videoFramePixels(frame) {
  const { width, height } = frame.visibleRect;
  const options = { format: 'RGBA', colorSpace: 'srgb' };
  let buffer = null;
  try {
    buffer = borrowBuffer(frame.allocationSize(options));
    await frame.copyTo(buffer, options);
    const kept = buffer;
    return { value: { kind: 'rgba', data: buffer, width, height }, release: () => returnBuffer(kept) };
  } catch {
    if (buffer) returnBuffer(buffer);
    // Some pixel formats cannot be converted by copyTo; a canvas can always draw them.
    return { value: drawnPixels(frame, frame.displayWidth, frame.displayHeight), release: () => {} };
  }
}

const noop = () => {};

/** Turn a source message into `{value, release}`: `value` for Python, `release()` once Python is done. */
export async function toPythonSource(source) {
  switch (source?.kind) {
    case 'url':
      try {
        return { value: { kind: 'encoded', bytes: await fetchBytes(source.url) }, release: noop };
      } catch (error) {
        throw new InpageError('ImageDecodeError', `the image could not be fetched: ${error.message}`);
      }
    case 'blob':
      try {
        return { value: { kind: 'encoded', bytes: new Uint8Array(await source.blob.arrayBuffer()) }, release: noop };
      } catch (error) {
        throw new InpageError('ImageDecodeError', `the file could not be read: ${error.message}`);
      }
    case 'imagedata':
      return { value: { kind: 'rgba', data: source.data, width: source.width, height: source.height }, release: noop };
    case 'bitmap':
      try {
        return { value: drawnPixels(source.bitmap, source.bitmap.width, source.bitmap.height), release: noop };
      } finally {
        source.bitmap.close();
      }
    case 'videoframe':
      try {
        return await videoFramePixels(source.frame);
      } finally {
        source.frame.close();
      }
    case 'text':
    case 'rows':
    case 'feeds':
      return { value: source, release: noop };
    case 'batch': {
      const items = [];
      try {
        for (const item of source.items) items.push(await toPythonSource(item));
      } catch (error) {
        for (const item of items) item.release();
        for (const rest of source.items.slice(items.length)) (rest.bitmap || rest.frame)?.close();
        throw error;
      }
      return { value: { kind: 'batch', items: items.map((item) => item.value) }, release: () => items.forEach((item) => item.release()) };
    }
    default:
      throw new InpageError('InvalidArgumentError', `unknown source kind "${source?.kind}"`);
  }
}
