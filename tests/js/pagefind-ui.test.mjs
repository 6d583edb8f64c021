// The Pagefind UI drop-in (js/pagefind-ui.js) on the example site's page with Pagefind's own
// Default UI (tests/examples/pagefind-site/ui.html), in headless Chromium: keyword results show
// first, then the top ones move into the reranker's order (its scores computed here in Node, the
// rest in Pagefind's order); a query typed during a rerank wins; under the data saver no model
// file is fetched; before the first search the page fetches the drop-in alone.
//
//   RERANKER_PKG=/path/to/pkg NODE_TOOLS=~/.cache/reranker/node-tools node --test tests/js/pagefind-ui.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../serve.mjs';
import { withPage } from './chromium.mjs';
import { buildSite } from '../examples/pagefind-site/build.mjs';

const TOLERANCE = 1e-4;
const artifacts = process.env.RERANKER_ARTIFACTS ?? path.join(os.homedir(), '.cache/reranker/artifacts');
let server;
let dir;
let reference;

before(async () => {
  assert.ok(process.env.RERANKER_PKG && process.env.NODE_TOOLS, 'set RERANKER_PKG and NODE_TOOLS (./build.sh test does)');
  dir = await mkdtemp(path.join(os.tmpdir(), 'reranker-pagefind-ui-'));
  await buildSite(dir);
  server = await serve({ root: dir, pkg: process.env.RERANKER_PKG });
  const { Reranker } = await import(pathToFileURL(path.join(process.env.RERANKER_PKG, 'index.js')).href);
  reference = await Reranker.load({ device: 'cpu' });
});
after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Opens ui.html in a fresh Chromium; `use(page, log)` with the requests and console errors. */
function withUiPage({ query = '', saveData = false } = {}, use) {
  return withPage({ webgpu: false }, async (page, errors) => {
    const log = { requests: [], errors };
    page.context().on('request', (r) => log.requests.push(new URL(r.url()).pathname));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    // The list's first complete rendering, caught as the UI writes it (before any rerank can run).
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        const links = [...document.querySelectorAll('.pagefind-ui__result')].map((li) => li.querySelector('.pagefind-ui__result-link'));
        if (links.length === 0 || links.some((a) => !a)) return;
        window.__firstOrder = links.map((a) => new URL(a.href).pathname);
        observer.disconnect();
      }).observe(document, { childList: true, subtree: true });
    });
    if (saveData) {
      await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'connection', { get: () => ({ saveData: true }) }));
    }
    await page.goto(`${server.origin}/ui.html?device=cpu${query}`);
    await page.waitForSelector('.pagefind-ui__search-input');
    return use(page, log);
  });
}

/** The shown results' paths, in the list's order. */
const shownOrder = (page) => page.$$eval('.pagefind-ui__result-link', (as) => as.map((a) => new URL(a.href).pathname));

/** Pagefind's own results for `query`: path, title and content of the first `n`. */
const pagefindResults = (page, query, n) => page.evaluate(async ([q, count]) => {
  const pagefind = await import('/pagefind/pagefind.js');
  const search = await pagefind.search(q);
  const data = await Promise.all(search.results.slice(0, count).map((r) => r.data()));
  return data.map((d) => ({ path: new URL(d.url, location.href).pathname, title: d.meta.title, content: d.content }));
}, [query, n]);

const waitFor = (page, state) => page.waitForFunction((s) => window.__rerank?.state === s, state, { timeout: 120_000 });

test('Pagefind UI: keyword results first, then the top ones in the reranker\'s order, the rest in Pagefind\'s; the drop-in alone before the first search', async () => {
  // topK 3 of the 5 results Pagefind UI shows: the last 2 keep Pagefind's order.
  await withUiPage({ query: '&topK=3' }, async (page, log) => {
    const before = log.requests.filter((p) => p.startsWith('/pkg/'));
    assert.deepEqual(before, ['/pkg/pagefind-ui.js'], 'before a search the page fetched only the drop-in from the package');
    const query = 'de';
    await page.fill('.pagefind-ui__search-input', query);
    await waitFor(page, 'reranked');
    const keyword = await page.evaluate(() => window.__firstOrder);
    const reranked = await shownOrder(page);
    const expectedKeyword = (await pagefindResults(page, query, keyword.length)).map((r) => r.path);
    assert.deepEqual(keyword, expectedKeyword, 'the keyword results showed first, in Pagefind\'s order');
    assert.equal(reranked.length, keyword.length);
    const shown = await pagefindResults(page, query, reranked.length);
    const topK = 3;
    assert.ok(shown.length > topK, `${shown.length} shown`);
    const scores = await reference.predict(shown.slice(0, topK).map((r) => [query, `${r.title}\n${r.content}`]));
    const expected = shown.slice(0, topK).map((r, i) => ({ path: r.path, score: scores[i] }))
      .sort((a, b) => b.score - a.score).map((r) => r.path);
    assert.deepEqual(reranked.slice(0, topK), expected, 'the top ones in the order of the reranker\'s scores (Node)');
    assert.deepEqual(reranked.slice(topK), shown.slice(topK).map((r) => r.path), 'the rest in Pagefind\'s order');
    const last = await page.evaluate(() => window.__rerank.last);
    for (const r of last.order.slice(0, topK)) {
      const want = scores[shown.findIndex((s) => s.path === r.url)];
      assert.ok(Math.abs(r.score - want) <= TOLERANCE, `${r.url}: ${r.score} vs ${want}`);
    }
    assert.match(await page.textContent('.web-reranker-status'), /reranked.*the CPU/);
    assert.deepEqual(log.errors, []);
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'pagefind-ui.png'), fullPage: true });
    console.log(`pagefind-ui: ${shown.length} shown, top ${topK} reranked; screenshot ${path.join(artifacts, 'pagefind-ui.png')}`);
  });
});

test('Pagefind UI: a query typed during a rerank wins; the focus stays in the search box', async () => {
  await withUiPage({ query: '&load=now' }, async (page, log) => {
    await page.evaluate(() => window.__rerank.ready);
    await page.fill('.pagefind-ui__search-input', 'de');
    await waitFor(page, 'reranking');
    await page.fill('.pagefind-ui__search-input', 'la');
    await page.waitForFunction(() => window.__rerank.state === 'reranked' && window.__rerank.last?.query === 'la', null, { timeout: 120_000 });
    const shown = await shownOrder(page);
    const expected = (await pagefindResults(page, 'la', shown.length)).map((r) => r.path);
    assert.deepEqual([...shown].sort(), [...expected].sort(), 'the list is the second query\'s');
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('pagefind-ui__search-input')), true);
    assert.deepEqual(log.errors, []);
  });
});

test('Pagefind UI under the data saver: keyword results, no model download, and the status says why', async () => {
  await withUiPage({ saveData: true }, async (page, log) => {
    await page.fill('.pagefind-ui__search-input', 'de');
    await page.waitForSelector('.pagefind-ui__result-link');
    await waitFor(page, 'off');
    await page.waitForTimeout(500);
    const fetched = log.requests.filter((p) => p.startsWith('/pkg/'));
    assert.deepEqual(fetched, ['/pkg/pagefind-ui.js'], 'no model, no wasm, no worker');
    assert.match(await page.textContent('.web-reranker-status'), /data saver/);
    assert.deepEqual(log.errors, []);
  });
});
