// Resident memory of each worker, one bar per worker.
import { latestSample } from '../lib/feed.js';
import { bars, empty, palette } from '../lib/draw.js';
import { bytes } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return () => {
    const workers = latestSample()?.workers ?? [];
    root.dataset.items = workers.length;
    if (!workers.length) return empty(canvas, 'Waiting for samples');
    const color = palette().series[1];
    bars(canvas, workers.map((w) => ({ label: `worker ${w.id}`, parts: [{ value: w.rss_bytes, color }] })),
      { format: bytes });
    canvas.setAttribute('aria-label', workers.map((w) => `worker ${w.id}: ${bytes(w.rss_bytes)}`).join(', '));
  };
}
