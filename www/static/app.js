// The app: submit F(n), watch it in progress, read the result lines; results arrive through the events feed.
import { api } from './lib/api.js';
import { startFeeds, subscribe, store } from './lib/feed.js';
import { seconds } from './lib/format.js';

const form = document.getElementById('submit-form');
const nField = document.getElementById('n');
const algorithmField = document.getElementById('algorithm');
const message = document.getElementById('message');
const progressList = document.getElementById('in-progress');
const resultsList = document.getElementById('results');
const picker = document.getElementById('view-picker');
const frame = document.getElementById('view-frame');

/** My tasks not yet shown as results: id → {task, item}. */
const pending = new Map();
const FINAL = new Set(['done', 'failed', 'cancelled', 'timed_out']);
const SHOWN_DIGITS = 24;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const n = Number(nField.value);
  if (!Number.isInteger(n) || n < 0) {
    message.textContent = 'n must be a whole number, 0 or more.';
    nField.focus();
    return;
  }
  message.textContent = '';
  nField.value = String(n + 1);
  try {
    const task = await api('tasks', { method: 'POST', body: { n, algorithm: algorithmField.value } });
    track(task);
  } catch (error) {
    message.textContent = `Not submitted: ${error.message}`;
  }
});

function track(task) {
  const item = document.createElement('li');
  item.dataset.task = task.id;
  const label = item.appendChild(document.createElement('span'));
  const cancel = item.appendChild(document.createElement('button'));
  cancel.type = 'button';
  cancel.textContent = 'Cancel';
  cancel.setAttribute('aria-label', `Cancel fibonacci(${task.n})`);
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      finish(await api(`tasks/${task.id}`, { method: 'DELETE' }));
    } catch (error) {
      cancel.disabled = false;
      message.textContent = `Not cancelled: ${error.message}`;
    }
  });
  pending.set(task.id, { task, item, label });
  progressList.append(item);
  update(task.id);
}

function update(id) {
  const entry = pending.get(id);
  if (!entry) return;
  const seen = store.tasks.get(id);
  const state = seen?.state ?? entry.task.state;
  if (FINAL.has(entry.task.state)) return finish(entry.task);
  if (seen && FINAL.has(seen.state)) return finish({ ...entry.task, ...seen, id });
  entry.item.dataset.state = state;
  entry.label.textContent = `fibonacci(${entry.task.n}) ${entry.task.algorithm}: ${state}` +
    (seen?.start && state === 'running' ? ` for ${seconds((Date.now() - store.clockSkew - seen.start) / 1000)}` : '');
}

async function finish(task) {
  const entry = pending.get(task.id);
  if (!entry) return;
  pending.delete(task.id);
  entry.item.remove();
  let digits = task.result;
  if (task.state === 'done' && digits == null) {
    try {
      digits = (await api(`tasks/${task.id}`, { timeout: 60000 })).result;
    } catch (error) {
      digits = null;
    }
  }
  resultsList.prepend(resultLine(task, digits));
}

function resultLine(task, digits) {
  const line = document.createElement('li');
  line.dataset.task = task.id;
  line.dataset.state = task.state;
  const text = line.appendChild(document.createElement('span'));
  text.className = 'value';
  if (task.state !== 'done' || digits == null) {
    const why = task.state === 'done' ? 'result no longer kept' : task.state.replace('_', ' ');
    text.textContent = `fibonacci(${task.n}) ${why}${task.error ? `: ${task.error}` : ''}`;
    return line;
  }
  const shown = digits.length > 2 * SHOWN_DIGITS
    ? `${digits.slice(0, SHOWN_DIGITS)}…${digits.slice(-SHOWN_DIGITS)} (${digits.length} digits)` : digits;
  text.textContent = `fibonacci(${task.n})=${shown} in ${(task.duration ?? 0).toFixed(3)} s`;
  if (digits.length > 2 * SHOWN_DIGITS) {
    line.dataset.digits = String(digits.length);
    const copy = line.appendChild(document.createElement('button'));
    copy.type = 'button';
    copy.textContent = 'Copy';
    copy.setAttribute('aria-label', `Copy all ${digits.length} digits of fibonacci(${task.n})`);
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(digits);
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Copy refused: use Download';
      }
    });
    const download = line.appendChild(document.createElement('a'));
    download.textContent = 'Download';
    download.download = `fibonacci-${task.n}.txt`;
    download.href = URL.createObjectURL(new Blob([digits, '\n'], { type: 'text/plain' }));
  }
  return line;
}

subscribe(() => {
  for (const id of [...pending.keys()]) update(id);
});
// Running tasks show their time growing.
setInterval(() => {
  for (const id of pending.keys()) update(id);
}, 500);

// The status viewer: one view in an iframe, chosen from the list the daemon serves.
const index = await (await fetch(new URL('../status/index.json', import.meta.url))).json();
for (const view of index.views) picker.add(new Option(view.title, view.name));
const showView = () => {
  frame.src = `status/${picker.value}`;
  frame.title = `Status view: ${picker.selectedOptions[0]?.text ?? ''}`;
};
picker.value = 'task-stream';
picker.addEventListener('change', showView);
showView();
startFeeds({ samples: false });
