// The example site's search: Pagefind finds candidates in its static index, the reranker
// (package served at /pkg/) reorders the first 10 in a worker. Results are rendered as text.
// Exposes window.__site for the test: { state, query, pagefindOrder, shown: [{ url, title, data, score }] }.
import * as pagefind from '/pagefind/pagefind.js';
import { createReranker, rerankPagefind } from '/pkg/index.js';

const $ = (id) => document.getElementById(id);
const site = (window.__site = { state: 'loading' });
const reranker = await createReranker({ device: new URLSearchParams(location.search).get('device') ?? 'auto' });
site.state = 'ready';
$('status').textContent = `ready (${reranker.device.backend})`;

$('form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const query = $('query').value;
  site.state = 'running';
  try {
    const search = await pagefind.search(query);
    site.pagefindOrder = search.results.map((r) => r.id);
    const ranked = await rerankPagefind(reranker, query, search, { topK: 10 });
    $('results').replaceChildren();
    const items = ranked.map(({ result, data, score }) => {
      const li = document.createElement('li');
      li.textContent = data ? `${data.meta.title}: ${data.content} [${score.toFixed(3)}]` : `(not reranked) ${result.id}`;
      $('results').append(li);
      return { id: result.id, url: data?.url, title: data?.meta.title, data, score };
    });
    Object.assign(site, { state: 'done', query, shown: items });
  } catch (error) {
    Object.assign(site, { state: 'error', error: `${error.name}: ${error.message}` });
  }
});
