// Memory of the workers (together) and of the daemon over time; the result cache's fill in the label.
import { lines, empty, palette } from '../lib/draw.js';
import { series, span } from '../lib/series.js';
import { bytes } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  const note = root.appendChild(document.createElement('p'));
  return (store) => {
    const workers = series((s) => s.workers.reduce((sum, w) => sum + w.rss_bytes, 0));
    const daemon = series((s) => s.daemon.rss_bytes);
    root.dataset.items = workers.length;
    const cache = store.status?.cache;
    note.textContent = cache ? `Result cache: ${bytes(cache.bytes)} of ${bytes(cache.max_bytes)} (${cache.entries} results)` : '';
    if (!workers.length) return empty(canvas, 'Waiting for samples');
    const [from, to] = span();
    const c = palette().series;
    lines(canvas, [
      { label: 'workers', color: c[0], points: workers },
      { label: 'daemon', color: c[1], points: daemon },
    ], { from, to, format: bytes });
    canvas.setAttribute('aria-label', `workers ${bytes(workers.at(-1)[1])}, daemon ${bytes(daemon.at(-1)[1])}`);
  };
}
