// What the Pagefind UI drop-in tests share (tests/js/pagefind-ui.test.mjs: the plain Pagefind UI
// page and the Starlight site): the shown order, Pagefind's own results read in the page, and the
// check that the shown list is the reranker's order of Pagefind's top results.
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { INTEGER_TOLERANCE } from './tolerance.mjs';

const { pagefindText } = await import(pathToFileURL(path.join(process.env.RERANKER_PKG, 'index.js')).href);

// NOTE: the drop-in runs int8 weights in Chromium, the reference in Node: tolerance.mjs says why
// those agree within INTEGER_TOLERANCE, not bit for bit.
export const TOLERANCE = INTEGER_TOLERANCE;

/** The shown results' paths, in the list's order (each result's own link, not its sub-results'). */
export const shownOrder = (page) => page.$$eval('.pagefind-ui__result', (lis) => lis.map((li) => new URL(li.querySelector('.pagefind-ui__result-link').href).pathname));

/** Pagefind's own results for `query` (its module at `bundle`): path and data of the first `n`. */
export const pagefindResults = (page, query, n, bundle = '/pagefind/') => page.evaluate(async ([q, count, at]) => {
  const pagefind = await import(`${at}pagefind.js`);
  const search = await pagefind.search(q);
  const data = await Promise.all(search.results.slice(0, count).map((r) => r.data()));
  return data.map((d) => ({ path: new URL(d.meta?.url ?? d.url, location.href).pathname, data: d }));
}, [query, n, bundle]);

/** Waits until the page's drop-in (`window.__rerank`) is in `state`. */
export const waitForState = (page, state) => page.waitForFunction((s) => window.__rerank?.state === s, state, { timeout: 120_000 });

/**
 * Records, in the page, the result list's first complete rendering (`window.__firstOrder`): it
 * is caught as the UI writes it, before any rerank can run.
 */
export const recordFirstOrder = (page) => page.addInitScript(() => {
  new MutationObserver((_, observer) => {
    const links = [...document.querySelectorAll('.pagefind-ui__result')].map((li) => li.querySelector('.pagefind-ui__result-link'));
    if (links.length === 0 || links.some((a) => !a)) return;
    window.__firstOrder = links.map((a) => new URL(a.href).pathname);
    observer.disconnect();
  }).observe(document, { childList: true, subtree: true });
});

/**
 * After a rerank of `query`: the list first showed Pagefind's order; now its first `topK` are
 * in the order of `reference`'s scores (computed in Node, of each result's text as `passage`
 * says: the drop-in's default, the matched section) and the rest in Pagefind's order; the
 * drop-in's scores are the reference's within TOLERANCE. Returns the number shown.
 */
export async function checkReranked(page, reference, query, topK, bundle = '/pagefind/', passage = 'section') {
  // NOTE: compared by page (no trailing slash): a site may show links without the slash that
  // Pagefind's URLs have, as the drop-in's `last` reports them.
  const key = (p) => p.replace(/\/+$/, '') || '/';
  const keyword = (await page.evaluate(() => window.__firstOrder)).map(key);
  const reranked = (await shownOrder(page)).map(key);
  const shown = (await pagefindResults(page, query, reranked.length, bundle)).map((r) => ({ ...r, path: key(r.path) }));
  assert.deepEqual(keyword, shown.map((r) => r.path), 'the keyword results showed first, in Pagefind\'s order');
  const k = Math.min(topK, shown.length);
  const scores = await reference.predict(shown.slice(0, k).map((r) => [query, pagefindText(r.data, { passage })]));
  const expected = shown.slice(0, k).map((r, i) => ({ path: r.path, score: scores[i] }))
    .sort((a, b) => b.score - a.score).map((r) => r.path);
  assert.deepEqual(reranked.slice(0, k), expected, 'the top ones in the order of the reranker\'s scores (Node)');
  assert.deepEqual(reranked.slice(k), shown.slice(k).map((r) => r.path), 'the rest in Pagefind\'s order');
  const last = await page.evaluate(() => window.__rerank.last);
  assert.equal(last.query, query);
  for (const r of last.order.slice(0, k)) {
    const want = scores[shown.findIndex((s) => s.path === r.url)];
    assert.ok(Math.abs(r.score - want) <= TOLERANCE, `${r.url}: ${r.score} vs ${want}`);
  }
  return shown.length;
}
