// Drawing results over the video: boxes with readable labels, face keypoints, pose skeletons and
// segmentation masks. Everything is in the source's pixels; the canvas is sized to the source.

const COLOURS = ['#3fb6a8', '#e3b341', '#f47067', '#57c785', '#6cb6ff', '#dcbdfb', '#f69d50', '#96d0ff'];

function prepare(canvas, width, height) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, width, height);
  return context;
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Where a box's label goes: above its top-left corner, else inside it, else below it, moved down
 * (then up) past labels already placed, so boxes that share a corner keep both labels readable.
 */
export function placeLabel(box, size, placed, frame) {
  const [x0, y0, , y1] = box;
  const x = Math.max(0, Math.min(x0, frame.width - size.w));
  const candidates = [y0 - size.h, y0, y1];
  for (let step = 1; step <= 12; step += 1) candidates.push(y0 + step * size.h, y0 - (step + 1) * size.h);
  for (const y of candidates) {
    const rect = { x, y, w: size.w, h: size.h };
    if (y < 0 || y + size.h > frame.height) continue;
    if (!placed.some((other) => overlaps(rect, other))) return rect;
  }
  return { x, y: Math.max(0, Math.min(y0, frame.height - size.h)), w: size.w, h: size.h };
}

/** Draw `detections` (boxes in source pixels) on `canvas`, sized to the source's `width` x `height`. */
export function drawDetections(canvas, width, height, detections) {
  const context = prepare(canvas, width, height);
  const line = Math.max(2, Math.round(width / 320));
  const fontSize = Math.max(12, Math.round(width / 40));
  context.lineWidth = line;
  context.font = `${fontSize}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  const placed = [];
  // Best first, so the most confident labels get the best places.
  const ordered = [...detections].sort((a, b) => b.score - a.score);
  for (const { box, index } of ordered) {
    context.strokeStyle = COLOURS[index % COLOURS.length];
    const [x0, y0, x1, y1] = box;
    context.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
  for (const { label, index, score, box, keypoints } of ordered) {
    const colour = COLOURS[index % COLOURS.length];
    const text = `${label} ${(score * 100).toFixed(0)}%`;
    const rect = placeLabel(box, { w: context.measureText(text).width + 8, h: fontSize + 6 }, placed, { width, height });
    placed.push(rect);
    context.fillStyle = colour;
    context.fillRect(rect.x, rect.y, rect.w, rect.h);
    context.fillStyle = '#0b0f13';
    context.fillText(text, rect.x + 4, rect.y + 3);
    context.fillStyle = colour;
    for (const [x, y] of keypoints || []) {
      context.beginPath();
      context.arc(x, y, line * 1.5, 0, 2 * Math.PI);
      context.fill();
    }
  }
  return placed;
}

/** Draw poses: `[{score, keypoints: [{name, x, y, score}], edges: [[i, j], ...]}]`, keypoints at or above `minScore` (the pose task's display.keypointThreshold). */
export function drawPoses(canvas, width, height, poses, minScore) {
  const context = prepare(canvas, width, height);
  const line = Math.max(2, Math.round(width / 200));
  context.lineWidth = line;
  context.lineCap = 'round';
  for (const [n, pose] of poses.entries()) {
    const colour = COLOURS[n % COLOURS.length];
    const points = pose.keypoints;
    context.strokeStyle = colour;
    for (const [i, j] of pose.edges || []) {
      const a = points[i];
      const b = points[j];
      if (!a || !b || a.score < minScore || b.score < minScore) continue;
      context.beginPath();
      context.moveTo(a.x, a.y);
      context.lineTo(b.x, b.y);
      context.stroke();
    }
    context.fillStyle = '#ffffff';
    for (const point of points) {
      if (point.score < minScore) continue;
      context.beginPath();
      context.arc(point.x, point.y, line * 1.6, 0, 2 * Math.PI);
      context.fill();
    }
  }
}

let maskCanvas = null;

/**
 * Draw a segmentation mask: `mask` is `{data, dims: [h, w], type}` of probabilities in [0, 1] for the
 * region `box` ([x0, y0, x1, y1] in source pixels). `mode` is 'tint' (colour the person), or 'blur' /
 * 'replace' (treat the background of `source`, drawn under the overlay).
 */
export function drawMask(canvas, width, height, { mask, box }, { mode = 'tint', source = null, threshold = 0.5 } = {}) {
  const context = prepare(canvas, width, height);
  const [h, w] = mask.dims.slice(-2);
  maskCanvas ??= new OffscreenCanvas(w, h);
  if (maskCanvas.width !== w || maskCanvas.height !== h) {
    maskCanvas.width = w;
    maskCanvas.height = h;
  }
  const maskContext = maskCanvas.getContext('2d');
  const pixels = maskContext.createImageData(w, h);
  const background = mode !== 'tint';
  for (let i = 0; i < w * h; i += 1) {
    const p = mask.data[i];
    const alpha = background ? 1 - p : p;
    pixels.data[i * 4] = 63;
    pixels.data[i * 4 + 1] = 182;
    pixels.data[i * 4 + 2] = 168;
    pixels.data[i * 4 + 3] = Math.round(255 * (mode === 'tint' ? Math.min(0.6, alpha) * (p >= threshold ? 1 : 0.4) : alpha));
  }
  maskContext.putImageData(pixels, 0, 0);
  const [x0, y0, x1, y1] = box;
  if (mode === 'tint' || !source) {
    context.drawImage(maskCanvas, x0, y0, x1 - x0, y1 - y0);
    return;
  }
  // Background effects: the source, blurred or blanked, kept only where the mask says background.
  context.save();
  if (mode === 'blur') {
    context.filter = `blur(${Math.max(4, Math.round(width / 60))}px)`;
    context.drawImage(source, 0, 0, width, height);
  } else {
    context.fillStyle = '#1d2b36';
    context.fillRect(0, 0, width, height);
  }
  context.restore();
  context.globalCompositeOperation = 'destination-in';
  context.drawImage(maskCanvas, x0, y0, x1 - x0, y1 - y0);
  context.globalCompositeOperation = 'source-over';
}
