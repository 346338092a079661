// Seconds spent computing per group of tasks (algorithm and magnitude of n).
import { bars, empty, palette } from '../lib/draw.js';
import { seconds } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return (store) => {
    const groups = store.groups.filter((g) => g.computations > 0);
    root.dataset.items = groups.length;
    if (!groups.length) return empty(canvas, 'Nothing computed yet');
    const colors = palette().series;
    bars(canvas, groups.map((g, i) => ({ label: g.name, parts: [{ value: g.seconds.computing, color: colors[i % colors.length] }] })),
      { format: seconds });
    canvas.setAttribute('aria-label', groups.map((g) => `${g.name}: ${seconds(g.seconds.computing)}`).join(', '));
  };
}
