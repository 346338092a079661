// Bytes per second received from each worker (the digits of results), and in all.
import { latestSample, workerRates } from '../lib/feed.js';
import { bars, empty, palette } from '../lib/draw.js';
import { bytes } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  const note = root.appendChild(document.createElement('p'));
  return () => {
    const workers = latestSample()?.workers ?? [];
    root.dataset.items = workers.length;
    if (!workers.length) return empty(canvas, 'Waiting for samples');
    const rates = workerRates((w) => w.bytes_received);
    const color = palette().series[3];
    bars(canvas, workers.map((w) => ({ label: `worker ${w.id}`, parts: [{ value: rates.get(w.id) ?? 0, color }] })),
      { format: (v) => `${bytes(v)}/s` });
    const total = workers.reduce((sum, w) => sum + w.bytes_received, 0);
    note.textContent = `Received from workers since start: ${bytes(total)}`;
    canvas.setAttribute('aria-label', workers.map((w) => `worker ${w.id}: ${bytes(rates.get(w.id) ?? 0)}/s`).join(', '));
  };
}
