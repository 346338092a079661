// Tasks running on each worker (tasks that share a computation count on its worker), and tasks waiting.
import { latestSample } from '../lib/feed.js';
import { bars, empty, palette } from '../lib/draw.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return (store) => {
    const workers = latestSample()?.workers ?? [];
    if (!workers.length) return empty(canvas, 'Waiting for samples');
    const running = new Map();
    for (const task of store.tasks.values()) {
      if (task.state === 'running') running.set(task.worker, (running.get(task.worker) ?? 0) + 1);
    }
    const c = palette().state;
    const items = workers.map((w) => ({
      label: `worker ${w.id}`,
      parts: [{ value: running.get(w.pid) ?? (w.state === 'busy' ? 1 : 0), color: c.running }],
    }));
    items.push({ label: 'queued', parts: [{ value: store.status?.tasks.queued ?? 0, color: c.queued }] });
    root.dataset.items = items.length;
    bars(canvas, items, { format: (v) => `${v}` });
    canvas.setAttribute('aria-label', items.map((i) => `${i.label}: ${i.parts[0].value}`).join(', '));
  };
}
