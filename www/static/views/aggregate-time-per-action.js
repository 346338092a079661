// Where the time went, over all tasks: queued, computing, encoding to decimal, sending the digits back.
import { bars, empty, palette } from '../lib/draw.js';
import { seconds } from '../lib/format.js';

const ACTIONS = ['queued', 'computing', 'encoding', 'sending'];

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return (store) => {
    const totals = ACTIONS.map((action) => store.groups.reduce((sum, g) => sum + g.seconds[action], 0));
    const any = store.groups.some((g) => g.computations > 0 || g.done > 0);
    root.dataset.items = any ? ACTIONS.length : 0;
    if (!any) return empty(canvas, 'No finished tasks yet');
    const colors = palette().series;
    bars(canvas, ACTIONS.map((action, i) => ({ label: action, parts: [{ value: totals[i], color: colors[i] }] })),
      { format: seconds });
    canvas.setAttribute('aria-label', ACTIONS.map((action, i) => `${action}: ${seconds(totals[i])}`).join(', '));
  };
}
