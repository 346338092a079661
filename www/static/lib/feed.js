// The one store of what the daemon last said, kept current by long-polls: the events feed (tasks), the
// samples feed (workers and the daemon over time) and, after events, the groups and the status.
import { api } from './api.js';

const WAIT = '25s';
const MAX_TASKS = 600;
const MAX_SAMPLES = 300;
const MAX_EVENTS = 400;

export const store = {
  connected: false,
  status: null,
  samples: [],
  groups: [],
  /** Tasks seen in the events, newest last: {id, n, algorithm, worker, start, end, state, error, result}. */
  tasks: new Map(),
  /** Recent events, newest last. */
  events: [],
  /** Browser time minus daemon time, in ms, so that "now" lines up with the daemon's timestamps. */
  clockSkew: 0,
};

const listeners = new Set();
let scheduled = false;

/** Calls `listener(store)` after every change (at most once per animation frame). */
export function subscribe(listener) {
  listeners.add(listener);
  listener(store);
  return () => listeners.delete(listener);
}

function changed() {
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    for (const listener of listeners) listener(store);
  };
  if (document.hidden) setTimeout(run, 250);
  else requestAnimationFrame(run);
}

/** The daemon's "now" in ms since the epoch. */
export const daemonNow = () => Date.now() - store.clockSkew;

function setConnected(connected) {
  if (store.connected === connected) return;
  store.connected = connected;
  document.body.dataset.connection = connected ? 'connected' : 'disconnected';
  const banner = document.getElementById('connection');
  if (banner) banner.textContent = connected ? 'Connected to fibd' : 'Lost fibd: reconnecting…';
  changed();
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `step` for ever; while it fails, marks the store disconnected and retries with backoff. */
async function forever(step) {
  let backoff = 250;
  for (;;) {
    try {
      await step();
      backoff = 250;
    } catch (error) {
      if (error?.status === 410) continue;
      setConnected(false);
      await pause(backoff);
      backoff = Math.min(backoff * 2, 4000);
    }
  }
}

let startedAt = null;
let refreshTimer = null;
let lastRefresh = 0;

/** Status and groups after a change, at most twice a second. */
function refreshSoon() {
  if (refreshTimer) return;
  const delay = Math.max(0, 500 - (Date.now() - lastRefresh));
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    lastRefresh = Date.now();
    try {
      await refresh();
    } catch {
      // The events loop notices a lost daemon.
    }
  }, delay);
}

async function refresh() {
  const [status, groups] = await Promise.all([api('status'), api('groups')]);
  if (startedAt && status.started_at !== startedAt) {
    store.tasks.clear();
    store.events = [];
    store.samples = [];
  }
  startedAt = status.started_at;
  store.status = status;
  store.groups = groups.groups;
  changed();
}

function taskOf(event) {
  let task = store.tasks.get(event.task);
  if (!task) {
    task = { id: event.task, n: event.n, algorithm: event.algorithm, state: 'queued', submitted: Date.parse(event.time) };
    store.tasks.set(event.task, task);
    if (store.tasks.size > MAX_TASKS) store.tasks.delete(store.tasks.keys().next().value);
  }
  return task;
}

function apply(event) {
  const time = Date.parse(event.time);
  if (event.task) {
    const task = taskOf(event);
    switch (event.type) {
      case 'task.started':
        Object.assign(task, { state: 'running', start: time, worker: event.worker, end: undefined });
        break;
      case 'task.requeued':
        Object.assign(task, { state: 'queued', start: undefined });
        break;
      case 'task.done':
      case 'task.failed':
      case 'task.cancelled':
      case 'task.timed_out':
        task.state = event.type.slice(5);
        task.end = time;
        task.start ??= event.duration != null ? time - event.duration * 1000 : undefined;
        task.worker ??= event.worker;
        task.duration = event.duration;
        task.error = event.error;
        task.digits = event.digits;
        task.result = event.result;
        task.cached = event.cached;
        break;
    }
  }
  store.events.push(event);
  if (store.events.length > MAX_EVENTS) store.events.splice(0, store.events.length - MAX_EVENTS);
}

/** The events long-poll: a recent backlog first, then every new event; 410 starts again at the head. */
async function eventsLoop() {
  let cursor = null;
  await forever(async () => {
    if (cursor === null) {
      const status = await api('status');
      store.status = status;
      const head = status.events.head;
      cursor = Math.max(status.events.oldest - 1, head - MAX_EVENTS, 0);
      await refresh();
    }
    try {
      const reply = await api(`events?after=${cursor}&wait=${WAIT}&limit=2000`, { timeout: 40000 });
      setConnected(true);
      cursor = reply.next;
      if (reply.events.length) {
        for (const event of reply.events) apply(event);
        const last = reply.events[reply.events.length - 1];
        store.clockSkew = Date.now() - Date.parse(last.time);
        refreshSoon();
        changed();
      }
    } catch (error) {
      // A new daemon or a cursor too old: start again from the head (410 carries it).
      if (error?.status === 410) cursor = null;
      throw error;
    }
  });
}

/** The samples long-poll: one sample a second while anyone watches. */
async function samplesLoop() {
  let cursor = null;
  await forever(async () => {
    const query = cursor === null ? 'samples?limit=120' : `samples?after=${cursor}&wait=${WAIT}`;
    const reply = await api(query, { timeout: 40000 });
    setConnected(true);
    if (cursor !== null && reply.next < cursor) store.samples = [];
    cursor = reply.next;
    if (reply.samples.length) {
      store.samples.push(...reply.samples);
      if (store.samples.length > MAX_SAMPLES) store.samples.splice(0, store.samples.length - MAX_SAMPLES);
      store.clockSkew = Date.now() - Date.parse(reply.samples[reply.samples.length - 1].time);
      changed();
    }
  });
}

let started = false;

/** Starts the feeds (once per page). */
export function startFeeds({ samples = true } = {}) {
  if (started) return;
  started = true;
  document.body.dataset.connection = 'connecting';
  eventsLoop();
  if (samples) samplesLoop();
}

/** The newest sample, or null. */
export const latestSample = () => store.samples[store.samples.length - 1] ?? null;

/** Per-second rate of `value(worker)` for each worker between the two newest samples: Map pid → rate. */
export function workerRates(value) {
  const rates = new Map();
  const samples = store.samples;
  if (samples.length < 2) return rates;
  const [before, after] = samples.slice(-2);
  const seconds = (Date.parse(after.time) - Date.parse(before.time)) / 1000;
  if (seconds <= 0) return rates;
  const previous = new Map(before.workers.map((w) => [w.id, w]));
  for (const worker of after.workers) {
    const old = previous.get(worker.id);
    if (old && old.pid === worker.pid) rates.set(worker.id, Math.max(0, (value(worker) - value(old)) / seconds));
  }
  return rates;
}
