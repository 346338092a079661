// CPU use of each worker over the last second, one bar per worker.
import { latestSample, workerRates } from '../lib/feed.js';
import { bars, empty, palette } from '../lib/draw.js';
import { percent } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return () => {
    const workers = latestSample()?.workers ?? [];
    const rates = workerRates((w) => w.cpu_seconds);
    root.dataset.items = rates.size;
    if (!workers.length) return empty(canvas, 'Waiting for samples');
    const color = palette().series[0];
    bars(canvas, workers.map((w) => ({ label: `worker ${w.id}`, parts: [{ value: rates.get(w.id) ?? 0, color }] })),
      { format: percent, max: 1 });
    canvas.setAttribute('aria-label', workers.map((w) => `worker ${w.id}: ${percent(rates.get(w.id) ?? 0)}`).join(', '));
  };
}
