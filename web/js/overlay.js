// Drawing detections over the video: boxes, labels with scores, and face keypoints.

const COLOURS = ['#3fb6a8', '#e3b341', '#f47067', '#57c785', '#6cb6ff', '#dcbdfb', '#f69d50', '#96d0ff'];

/** Draw `detections` (boxes in source pixels) on `canvas`, sized to the source's `width` x `height`. */
export function drawDetections(canvas, width, height, detections) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, width, height);
  const line = Math.max(2, Math.round(width / 320));
  context.lineWidth = line;
  context.font = `${Math.max(12, Math.round(width / 40))}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  for (const { label, index, score, box, keypoints } of detections) {
    const colour = COLOURS[index % COLOURS.length];
    const [x0, y0, x1, y1] = box;
    context.strokeStyle = colour;
    context.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const text = `${label} ${(score * 100).toFixed(0)}%`;
    const textWidth = context.measureText(text).width + 8;
    const textHeight = parseInt(context.font, 10) + 6;
    const textY = y0 >= textHeight ? y0 - textHeight : y0;
    context.fillStyle = colour;
    context.fillRect(x0 - line / 2, textY, textWidth, textHeight);
    context.fillStyle = '#0b0f13';
    context.fillText(text, x0 + 4, textY + 3);
    context.fillStyle = colour;
    for (const [x, y] of keypoints || []) {
      context.beginPath();
      context.arc(x, y, line * 1.5, 0, 2 * Math.PI);
      context.fill();
    }
  }
}
