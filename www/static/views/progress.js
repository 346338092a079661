// Per group: done, failed, running and queued tasks as one stacked bar each.
import { bars, empty, palette } from '../lib/draw.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return (store) => {
    const groups = store.groups.filter((g) => g.queued + g.running + g.done + g.failed + g.timed_out + g.cancelled > 0);
    root.dataset.items = groups.length;
    if (!groups.length) return empty(canvas, 'No tasks yet');
    const c = palette().state;
    bars(canvas, groups.map((g) => ({
      label: g.name,
      parts: [
        { value: g.done, color: c.done }, { value: g.failed + g.timed_out, color: c.failed },
        { value: g.cancelled, color: c.cancelled }, { value: g.running, color: c.running },
        { value: g.queued, color: c.queued },
      ],
    })), { format: (total) => `${total} tasks` });
    canvas.setAttribute('aria-label', groups.map((g) =>
      `${g.name}: ${g.queued} queued, ${g.running} running, ${g.done} done, ${g.failed} failed`).join('; '));
  };
}
