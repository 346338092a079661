// Every worker as a table row: pid, state, task, CPU, memory, done, failed, restarts, uptime.
import { latestSample, workerRates, daemonNow } from '../lib/feed.js';
import { bytes, percent } from '../lib/format.js';

const COLUMNS = ['Worker', 'PID', 'State', 'Task', 'CPU', 'Memory', 'Done', 'Failed', 'Restarts', 'Uptime'];

export default function mount(root) {
  const table = root.appendChild(document.createElement('table'));
  table.createCaption().textContent = 'Workers';
  table.createTHead().insertRow().append(...COLUMNS.map((name) => {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    return th;
  }));
  const body = table.createTBody();
  return () => {
    const workers = latestSample()?.workers ?? [];
    const cpu = workerRates((w) => w.cpu_seconds);
    body.replaceChildren(...workers.map((w) => {
      const row = document.createElement('tr');
      const uptime = w.started_at ? Math.max(0, (daemonNow() - Date.parse(w.started_at)) / 1000) : null;
      const cells = [w.id, w.pid ?? '–', w.state, w.task ? `F(${w.n})` : '–',
        cpu.has(w.id) ? percent(cpu.get(w.id)) : '–', bytes(w.rss_bytes), w.done, w.failed, w.restarts,
        uptime == null ? '–' : `${Math.round(uptime)} s`];
      for (const value of cells) row.insertCell().textContent = value;
      row.dataset.state = w.state;
      return row;
    }));
    root.dataset.items = workers.length;
  };
}
