// Failed and timed-out tasks grouped by their error.
export default function mount(root) {
  const table = root.appendChild(document.createElement('table'));
  table.createCaption().textContent = 'Failed and timed-out tasks by error';
  const head = table.createTHead().insertRow();
  for (const name of ['Error', 'Tasks', 'Last n', 'Kind']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  return (store) => {
    const byError = new Map();
    for (const task of store.tasks.values()) {
      if (task.state !== 'failed' && task.state !== 'timed_out') continue;
      const key = task.error ?? task.state;
      const entry = byError.get(key) ?? { count: 0, n: task.n, kind: task.state };
      entry.count++;
      entry.n = task.n;
      byError.set(key, entry);
    }
    const rows = [...byError].sort((a, b) => b[1].count - a[1].count);
    body.replaceChildren(...rows.map(([error, entry]) => {
      const row = document.createElement('tr');
      for (const value of [error, entry.count, entry.n, entry.kind.replace('_', ' ')]) row.insertCell().textContent = value;
      return row;
    }));
    if (!rows.length) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 4;
      cell.textContent = `No failures among the last ${store.tasks.size} tasks`;
    }
    root.dataset.items = rows.length || (store.tasks.size ? 1 : 0);
  };
}
