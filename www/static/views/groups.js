// Tasks per group in every state, as a table.
const COLUMNS = ['Group', 'Queued', 'Running', 'Done', 'Failed', 'Cancelled', 'Timed out', 'Computations'];
const KEYS = ['name', 'queued', 'running', 'done', 'failed', 'cancelled', 'timed_out', 'computations'];

export default function mount(root) {
  const table = root.appendChild(document.createElement('table'));
  table.createCaption().textContent = 'Task groups: algorithm and magnitude of n';
  table.createTHead().insertRow().append(...COLUMNS.map((name) => {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    return th;
  }));
  const body = table.createTBody();
  return (store) => {
    body.replaceChildren(...store.groups.map((group) => {
      const row = document.createElement('tr');
      for (const key of KEYS) row.insertCell().textContent = group[key];
      return row;
    }));
    root.dataset.items = store.groups.length;
  };
}
