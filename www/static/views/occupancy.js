// How long each worker has been on its current task (idle workers show nothing).
import { latestSample, daemonNow } from '../lib/feed.js';
import { bars, empty, palette } from '../lib/draw.js';
import { seconds } from '../lib/format.js';

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  return (store) => {
    const workers = latestSample()?.workers ?? [];
    if (!workers.length) return empty(canvas, 'Waiting for samples');
    const started = new Map();
    for (const task of store.tasks.values()) {
      if (task.state === 'running') started.set(task.worker, Math.min(started.get(task.worker) ?? Infinity, task.start));
    }
    const now = daemonNow();
    const color = palette().state.running;
    const items = workers.map((w) => ({
      label: `worker ${w.id}`,
      parts: [{ value: started.has(w.pid) ? Math.max(0, now - started.get(w.pid)) / 1000 : 0, color }],
    }));
    root.dataset.items = items.length;
    bars(canvas, items, { format: seconds });
    canvas.setAttribute('aria-label', items.map((i) => `${i.label}: ${seconds(i.parts[0].value)}`).join(', '));
  };
}
