// Time series out of the samples: values or per-second rates, per worker or for the daemon.
import { store } from './feed.js';

const time = (sample) => Date.parse(sample.time);

/** Points [[ms, value]] of `value(sample)`; with `rate`, the change per second between samples. */
export function series(value, { rate = false } = {}) {
  const points = [];
  let previous = null;
  for (const sample of store.samples) {
    const v = value(sample);
    if (v == null) {
      previous = null;
      continue;
    }
    if (!rate) points.push([time(sample), v]);
    else if (previous) {
      const dt = (time(sample) - time(previous.sample)) / 1000;
      if (dt > 0) points.push([time(sample), Math.max(0, (v - previous.v) / dt)]);
    }
    previous = { sample, v };
  }
  return points;
}

/** One series per worker slot (by id; a restarted worker's counters start again, so rates skip the gap). */
export function workerSeries(value, options) {
  const ids = new Set(store.samples.flatMap((s) => s.workers.map((w) => w.id)));
  return [...ids].sort((a, b) => a - b).map((id) => {
    let pid = null;
    return {
      id,
      points: series((sample) => {
        const worker = sample.workers.find((w) => w.id === id);
        const restarted = worker && pid !== null && worker.pid !== pid;
        pid = worker?.pid ?? null;
        return !worker || restarted ? null : value(worker);
      }, options),
    };
  });
}

/** The time span of the samples kept, in ms: [from, to]. */
export function span() {
  const samples = store.samples;
  if (!samples.length) return [Date.now() - 60000, Date.now()];
  const to = time(samples[samples.length - 1]);
  return [Math.min(time(samples[0]), to - 60000), to];
}
