// The daemon itself over time: CPU, memory, open files, connections and event-loop lag, one small chart each.
import { lines, empty, palette } from '../lib/draw.js';
import { series, span } from '../lib/series.js';
import { bytes, percent, seconds, count } from '../lib/format.js';

const CHARTS = [
  { label: 'CPU', value: (s) => s.daemon.cpu_seconds, rate: true, format: percent },
  { label: 'memory', value: (s) => s.daemon.rss_bytes, format: bytes },
  { label: 'open fds', value: (s) => s.daemon.open_fds, format: count },
  { label: 'connections', value: (s) => s.daemon.connections, format: count },
  { label: 'event-loop lag', value: (s) => s.daemon.loop_lag_seconds, format: seconds },
];

export default function mount(root) {
  root.classList.add('grid-small');
  const canvases = CHARTS.map((chart) => {
    const figure = root.appendChild(document.createElement('figure'));
    const canvas = figure.appendChild(document.createElement('canvas'));
    canvas.setAttribute('role', 'img');
    figure.appendChild(document.createElement('figcaption')).textContent = chart.label;
    return canvas;
  });
  return () => {
    const [from, to] = span();
    const color = palette().series[2];
    let points = 0;
    CHARTS.forEach((chart, i) => {
      const data = series(chart.value, { rate: chart.rate });
      points += data.length;
      if (!data.length) return empty(canvases[i], 'Waiting for samples');
      lines(canvases[i], [{ label: chart.label, color, points: data }], { from, to, format: chart.format });
      canvases[i].setAttribute('aria-label', `${chart.label}: ${chart.format(data.at(-1)[1])}`);
    });
    root.dataset.items = points;
  };
}
