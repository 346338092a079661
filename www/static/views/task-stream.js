// A bar per task on each worker over the last minute; running tasks grow to "now".
import { daemonNow, latestSample } from '../lib/feed.js';
import { palette, prepare } from '../lib/draw.js';
import { seconds } from '../lib/format.js';

const WINDOW = 60000;

export default function mount(root) {
  const canvas = root.appendChild(document.createElement('canvas'));
  canvas.setAttribute('role', 'img');
  let timer = null;
  let last = null;
  const draw = () => {
    const store = last;
    const now = daemonNow();
    const from = now - WINDOW;
    const pids = new Set((latestSample()?.workers ?? []).map((w) => w.pid).filter((pid) => pid != null));
    const tasks = [...store.tasks.values()].filter((t) => t.start != null && t.worker != null && (t.end ?? now) >= from);
    for (const task of tasks) pids.add(task.worker);
    const rows = [...pids].sort((a, b) => a - b);
    canvas.style.height = `${Math.max(120, rows.length * 28 + 40)}px`;
    const { ctx, width, height } = prepare(canvas, 120);
    const colors = palette();
    const left = 80;
    const x = (t) => left + ((t - from) / WINDOW) * (width - left - 8);
    ctx.fillStyle = colors.muted;
    ctx.textAlign = 'right';
    rows.forEach((pid, row) => ctx.fillText(`pid ${pid}`, left - 6, 20 + row * 28 + 10));
    ctx.textAlign = 'center';
    ctx.fillText('last 60 s', (left + width) / 2, height - 8);
    let drawn = 0;
    for (const task of tasks) {
      const row = rows.indexOf(task.worker);
      const start = Math.max(task.start, from);
      const end = task.end ?? now;
      ctx.fillStyle = task.state === 'running' ? colors.state.running : colors.state[task.state] ?? colors.series[0];
      ctx.fillRect(x(start), 20 + row * 28, Math.max(2, x(end) - x(start)), 20);
      drawn++;
    }
    root.dataset.items = drawn;
    const running = tasks.filter((t) => t.state === 'running');
    canvas.setAttribute('aria-label', `${drawn} tasks in the last minute on ${rows.length} workers, ` +
      `${running.length} running` + (running.length ? ` (longest ${seconds((now - Math.min(...running.map((t) => t.start))) / 1000)})` : ''));
    // Running bars grow: redraw while anything runs.
    clearTimeout(timer);
    if (running.length && store.connected) timer = setTimeout(draw, 250);
  };
  return (store) => {
    last = store;
    draw();
  };
}
