// Bytes of results kept in the cache, per group.
import { bars, empty, palette } from '../lib/draw.js';
import { bytes } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return (store) => {
    const groups = store.groups.filter((g) => g.cached_bytes > 0);
    root.dataset.items = groups.length;
    if (!groups.length) return empty(canvas, 'No results kept');
    const colors = palette().series;
    bars(canvas, groups.map((g, i) => ({ label: g.name, parts: [{ value: g.cached_bytes, color: colors[i % colors.length] }] })),
      { format: bytes });
    canvas.setAttribute('aria-label', groups.map((g) => `${g.name}: ${bytes(g.cached_bytes)} in ${g.cached_results} results`).join(', '));
  };
}
