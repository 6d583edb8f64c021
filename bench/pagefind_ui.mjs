// The Pagefind UI drop-in on a static site, as a visitor meets it (BENCHMARKS.md, section 8):
// what the page downloads before the first search, and the time from the first keystroke to the
// reranked list with a cold model cache (a first visit) and a warm one (the next visit, same
// browser profile), then for more queries typed on that page.
//
// --site example (default): the example site (tests/examples/pagefind-site, its ui.html page),
// one short passage a page. --site docs: Git's manual, long real pages (bench/docs_site.mjs;
// --docs-html is the folder of its HTML pages), --page-size results shown and reranked (10;
// Pagefind UI's own default is 5).
// --threads 1 serves the site as GitHub Pages does (no COOP/COEP, so one thread); 2 (default)
// cross-origin isolated. --passage section|page: what of each result is scored (the drop-in's
// option; default its own). Served from 127.0.0.1 with the package at /pkg/.
//
//   node bench/pagefind_ui.mjs --pkg PKG [--runs 3] [--site example|docs --docs-html DIR]
//     [--threads 1|2] [--passage section|page] [--page-size N] [--query Q ...]
//
// Needs PLAYWRIGHT_CORE and NODE_TOOLS (Pagefind) as ./build.sh test sets them.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';
import { buildSite } from '../tests/examples/pagefind-site/build.mjs';
import { buildDocsSite } from './docs_site.mjs';

const { values: args } = parseArgs({
  options: {
    pkg: { type: 'string' }, runs: { type: 'string', default: '3' }, query: { type: 'string', multiple: true },
    site: { type: 'string', default: 'example' }, 'docs-html': { type: 'string' }, threads: { type: 'string', default: '2' },
    passage: { type: 'string' }, 'page-size': { type: 'string', default: '10' },
  },
});
if (!args.pkg || !['example', 'docs'].includes(args.site) || (args.site === 'docs' && !args['docs-html'])
  || !['1', '2'].includes(args.threads)) {
  console.error('usage: node bench/pagefind_ui.mjs --pkg PKG [--runs N] [--site example|docs --docs-html DIR] [--threads 1|2] [--passage section|page] [--query Q ...]');
  process.exit(2);
}
// NOTE: the docs queries are labelled ones (bench/data/git-docs-queries.json) whose pages
// Pagefind returns.
const queries = args.query ?? (args.site === 'docs'
  ? ['delete remote branch', 'stash untracked files', 'squash commits', 'shallow clone', 'revert a merge commit']
  : ['de']);
const page = args.site === 'docs' ? 'search.html' : 'ui.html';
const options = new URLSearchParams({ device: 'auto', ...(args.site === 'docs' && { pageSize: args['page-size'] }), ...(args.passage && { passage: args.passage }) });

/** Types `query`, returns ms from the keystroke to the reranked list (NaN if the rerank failed). */
async function keystrokeToReranked(tab, query) {
  await tab.waitForSelector('.pagefind-ui__search-input');
  await tab.evaluate(() => {
    window.__t0 = undefined;
    document.addEventListener('input', () => { window.__t0 ??= performance.now(); }, { capture: true, once: true });
  });
  await tab.fill('.pagefind-ui__search-input', query);
  await tab.waitForFunction((q) => (window.__rerank?.state === 'reranked' && window.__rerank.last?.query === q)
    || window.__rerank?.state === 'failed' || window.__rerankError, query, { timeout: 600_000, polling: 'raf' });
  const error = await tab.evaluate(() => window.__rerankError);
  if (error) throw new Error(`the search page: ${error}`);
  return tab.evaluate(() => (window.__rerank.state === 'reranked' ? performance.now() - window.__t0 : NaN));
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'reranker-bench-pagefind-'));
const server = await serve({ root: dir, pkg: path.resolve(args.pkg), isolated: args.threads === '2' });
try {
  const built = args.site === 'docs' ? await buildDocsSite(path.resolve(args['docs-html']), dir) : await buildSite(dir);
  const rows = [];
  for (let run = 0; run < Number(args.runs); run++) {
    await withPage({ webgpu: false }, async (tab) => {
      const bytes = [];
      let searching = false;
      tab.context().on('requestfinished', async (request) => {
        const sizes = await request.sizes().catch(() => null);
        bytes.push({ path: new URL(request.url()).pathname, size: sizes ? sizes.responseBodySize : 0, before: !searching });
      });
      await tab.goto(`${server.origin}/${page}?${options}`);
      await tab.waitForSelector('.pagefind-ui__search-input');
      await tab.waitForTimeout(300);
      searching = true;
      const cold = await keystrokeToReranked(tab, queries[0]);
      const before = bytes.filter((b) => b.before);
      const pkgBefore = before.filter((b) => b.path.startsWith('/pkg/'));
      // The next visit: same profile (the model in the browser's store, the code in its cache).
      await tab.goto(`${server.origin}/${page}?${options}`);
      const warm = await keystrokeToReranked(tab, queries[0]);
      // More queries on that page, the model loaded: what each search costs from then on.
      const next = [];
      for (const query of queries.slice(1)) next.push(await keystrokeToReranked(tab, query));
      const state = await tab.evaluate(async () => {
        const reranker = await window.__rerank.ready;
        return { device: reranker?.device?.backend, threads: reranker?.device?.threads, reranked: window.__rerank.last?.order.length };
      });
      rows.push({ cold, warm, next, ...state, before: before.reduce((s, b) => s + b.size, 0), pkgBefore: pkgBefore.reduce((s, b) => s + b.size, 0), pkgFiles: pkgBefore.map((b) => b.path) });
    });
  }
  const range = (values) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
  console.log(`package: ${args.pkg}; site ${args.site} (${built.indexed ?? built.pages} pages indexed); ${rows.length} runs; `
    + `device ${rows[0].device}, ${rows[0].threads} thread(s); ${rows[0].reranked} results reranked; passage ${args.passage ?? "the drop-in's default"}`);
  console.log(`before the first search: ${rows[0].before} bytes in all (the page, Pagefind's UI), of which the package: ${rows[0].pkgBefore} bytes (${rows[0].pkgFiles.join(', ')})`);
  console.log(`first keystroke to reranked list, cold (first visit, "${queries[0]}"): ${range(rows.map((r) => r.cold))} ms`);
  console.log(`first keystroke to reranked list, warm (next visit, "${queries[0]}"):  ${range(rows.map((r) => r.warm))} ms`);
  if (queries.length > 1) {
    const next = rows.flatMap((r) => r.next).sort((a, b) => a - b);
    console.log(`keystroke to reranked list, the next ${queries.length - 1} queries on that page: ${range(next)} ms, median ${next[next.length >> 1].toFixed(0)} ms`);
  }
  console.log(JSON.stringify(rows));
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
