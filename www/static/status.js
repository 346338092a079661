// The status pages: every view (/status) or the one the URL names (/status/<view>, made for an iframe).
import { startFeeds, subscribe } from './lib/feed.js';

const index = await (await fetch(new URL('../status/index.json', import.meta.url))).json();
const single = document.body.dataset.page === 'view';
const wanted = single ? [decodeURIComponent(location.pathname.split('/').pop())] : index.views.map((v) => v.name);
const container = document.getElementById('views');

for (const name of wanted) {
  const view = index.views.find((v) => v.name === name);
  if (!view) continue;
  const section = container.appendChild(document.createElement('section'));
  section.className = 'view';
  section.id = `view-${name}`;
  section.setAttribute('aria-labelledby', `title-${name}`);
  const title = section.appendChild(document.createElement(single ? 'h1' : 'h2'));
  title.id = `title-${name}`;
  title.textContent = view.title;
  if (!single) {
    const link = title.appendChild(document.createElement('a'));
    link.href = `status/${name}`;
    link.className = 'open';
    link.textContent = 'open alone';
  }
  section.appendChild(document.createElement('p')).textContent = view.description;
  const body = section.appendChild(document.createElement('div'));
  body.className = 'view-body';
  body.dataset.view = name;
  body.dataset.updates = '0';
  const { default: mount } = await import(`./views/${name}.js`);
  const update = mount(body);
  subscribe((store) => {
    update(store);
    body.dataset.updates = String(Number(body.dataset.updates) + 1);
  });
}
if (single) document.title = `${index.views.find((v) => v.name === wanted[0])?.title ?? 'Unknown view'} · fibd`;
startFeeds();
