// Resident memory of each worker over the last minutes.
import { lines, empty, palette } from '../lib/draw.js';
import { workerSeries, span } from '../lib/series.js';
import { bytes } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return () => {
    const workers = workerSeries((w) => w.rss_bytes);
    const points = workers.reduce((sum, w) => sum + w.points.length, 0);
    root.dataset.items = points;
    if (!points) return empty(canvas, 'Waiting for samples');
    const [from, to] = span();
    const colors = palette().series;
    lines(canvas, workers.map((w, i) => ({ label: `worker ${w.id}`, color: colors[i % colors.length], points: w.points })),
      { from, to, format: bytes });
    canvas.setAttribute('aria-label', workers.map((w) => `worker ${w.id}: ${bytes(w.points.at(-1)?.[1] ?? 0)}`).join(', '));
  };
}
