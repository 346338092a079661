// Drawing on a canvas: sizing for the screen, colours from the CSS theme, bars and lines with axes.

/** Theme colours, read from CSS custom properties (light or dark). */
export function palette() {
  const style = getComputedStyle(document.documentElement);
  const get = (name) => style.getPropertyValue(name).trim();
  return {
    text: get('--text'),
    muted: get('--muted'),
    grid: get('--grid'),
    series: [1, 2, 3, 4, 5, 6].map((i) => get(`--series-${i}`)),
    state: {
      queued: get('--queued'), running: get('--running'), done: get('--done'),
      failed: get('--failed'), cancelled: get('--muted'), timed_out: get('--failed'),
    },
  };
}

/** Prepares a canvas for drawing at its CSS size and the screen's pixel ratio; returns {ctx, width, height}. */
export function prepare(canvas, minHeight = 160) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(120, canvas.clientWidth);
  const height = Math.max(minHeight, canvas.clientHeight);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  return { ctx, width, height };
}

/** A message in the middle of an empty chart. */
export function empty(canvas, message) {
  const { ctx, width, height } = prepare(canvas);
  ctx.fillStyle = palette().muted;
  ctx.textAlign = 'center';
  ctx.fillText(message, width / 2, height / 2);
}

/**
 * Horizontal bars, one row per item: {label, parts: [{value, color}]} stacked left to right.
 * `format` writes the total at the end of the bar.
 */
export function bars(canvas, items, { format = String, max } = {}) {
  const rowHeight = 22;
  canvas.style.height = `${Math.max(60, items.length * rowHeight + 24)}px`;
  const { ctx, width } = prepare(canvas, 60);
  const colors = palette();
  const labelWidth = Math.min(140, Math.max(...items.map((item) => ctx.measureText(item.label).width), 20) + 12);
  const totals = items.map((item) => item.parts.reduce((sum, part) => sum + part.value, 0));
  const top = max ?? Math.max(...totals, 1e-9);
  const span = width - labelWidth - 70;
  items.forEach((item, row) => {
    const y = 8 + row * rowHeight;
    ctx.fillStyle = colors.text;
    ctx.textAlign = 'right';
    ctx.fillText(item.label, labelWidth - 8, y + rowHeight / 2 - 2);
    let x = labelWidth;
    for (const part of item.parts) {
      const w = (part.value / top) * span;
      ctx.fillStyle = part.color;
      ctx.fillRect(x, y + 2, Math.max(w, part.value > 0 ? 1 : 0), rowHeight - 8);
      x += w;
    }
    ctx.fillStyle = colors.muted;
    ctx.textAlign = 'left';
    ctx.fillText(format(totals[row]), x + 6, y + rowHeight / 2 - 2);
  });
}

/**
 * Lines over time: series [{label, color, points: [[timeMs, value]]}] between `from` and `to` (ms), with a
 * y axis from 0 written by `format` and a legend.
 */
export function lines(canvas, series, { from, to, format = String, max } = {}) {
  const { ctx, width, height } = prepare(canvas);
  const colors = palette();
  const left = 64;
  const bottom = height - 22;
  const top = 18;
  const values = series.flatMap((s) => s.points.map((p) => p[1]));
  const yMax = max ?? Math.max(...values, 1e-9) * 1.1;
  const x = (t) => left + ((t - from) / (to - from)) * (width - left - 8);
  const y = (v) => bottom - (v / yMax) * (bottom - top);
  ctx.strokeStyle = colors.grid;
  ctx.fillStyle = colors.muted;
  ctx.textAlign = 'right';
  for (let i = 0; i <= 3; i++) {
    const v = (yMax * i) / 3;
    ctx.beginPath();
    ctx.moveTo(left, y(v));
    ctx.lineTo(width - 8, y(v));
    ctx.stroke();
    ctx.fillText(format(v), left - 6, y(v));
  }
  ctx.textAlign = 'center';
  ctx.fillText(`last ${Math.round((to - from) / 1000)} s`, (left + width) / 2, height - 8);
  ctx.lineWidth = 2;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    s.points.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    ctx.stroke();
  }
  ctx.lineWidth = 1;
  ctx.textAlign = 'left';
  let legendX = left;
  for (const s of series) {
    ctx.fillStyle = s.color;
    ctx.fillRect(legendX, 4, 10, 10);
    ctx.fillStyle = colors.text;
    ctx.fillText(s.label, legendX + 14, 9);
    legendX += ctx.measureText(s.label).width + 30;
  }
}
