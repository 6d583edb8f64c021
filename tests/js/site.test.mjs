// The example static site (tests/examples/pagefind-site): pages indexed at build time by
// Pagefind (npm), searched in headless Chromium, Pagefind's results reranked in the page with
// rerankPagefind. Checks the shown order against Pagefind's own and against the reranker's
// scores computed here in Node.
//
//   RERANKER_PKG=/path/to/pkg NODE_TOOLS=~/.cache/reranker/node-tools node --test tests/js/site.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../serve.mjs';
import { withPage } from './chromium.mjs';
import { buildSite } from '../examples/pagefind-site/build.mjs';

const TOLERANCE = 1e-4;
let server;
let dir;
let built;

before(async () => {
  assert.ok(process.env.RERANKER_PKG && process.env.NODE_TOOLS, 'set RERANKER_PKG and NODE_TOOLS (./build.sh test does)');
  dir = await mkdtemp(path.join(os.tmpdir(), 'reranker-site-'));
  built = await buildSite(dir);
  server = await serve({ root: dir, pkg: process.env.RERANKER_PKG });
});
after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('example site: Pagefind finds, the reranker reorders its top 10, the page shows them', async () => {
  console.log(`# site: ${built.pages} pages written, ${built.indexed} indexed by Pagefind`);
  assert.ok(built.pages >= 24 && built.indexed === built.pages + 3, JSON.stringify(built)); // + search.html, ui.html, ghp.html
  const { Reranker } = await import(pathToFileURL(path.join(process.env.RERANKER_PKG, 'index.js')).href);
  const reference = await Reranker.load({ device: 'cpu' });
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.goto(`${server.origin}/search.html?device=cpu`);
    await page.waitForFunction(() => window.__site?.state === 'ready', null, { timeout: 120_000 });
    // NOTE: Pagefind needs every word to match; `de` is in most French and Spanish pages.
    const query = 'de';
    await page.fill('#query', query);
    await page.click('#go');
    await page.waitForFunction(() => ['done', 'error'].includes(window.__site.state), null, { timeout: 120_000 });
    const site = await page.evaluate(() => window.__site);
    assert.equal(site.error, undefined, site.error);
    const order = site.pagefindOrder;
    assert.ok(order.length > 10, `Pagefind found ${order.length}`);
    assert.equal(site.shown.length, order.length, 'nothing dropped');
    const head = site.shown.slice(0, 10);
    assert.deepEqual(new Set(head.map((r) => r.id)), new Set(order.slice(0, 10)), 'the top 10 are Pagefind\'s top 10');
    assert.deepEqual(site.shown.slice(10).map((r) => r.id), order.slice(10), 'the rest keep Pagefind\'s order');
    assert.ok(site.shown.slice(10).every((r) => r.score === undefined));
    for (let i = 1; i < head.length; i++) assert.ok(head[i - 1].score >= head[i].score, `sorted at ${i}`);
    assert.notDeepEqual(head.map((r) => r.id), order.slice(0, 10), 'reranking changed the order');
    // The scores are the reranker's for each page's title and content.
    const expected = await reference.predict(head.map((r) => [query, `${r.title}\n${r.text}`]));
    head.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i]) <= TOLERANCE, `${r.url}: ${r.score} vs ${expected[i]}`));
    const items = await page.$$eval('#results li', (lis) => lis.map((li) => li.textContent));
    assert.equal(items.length, order.length);
    assert.ok(items[0].startsWith(`${head[0].title}:`));
    console.log(`# site: "${query}": Pagefind ${order.length} results; reranked top 10: ${head.map((r) => r.url).join(' ')}`);
    // A query Pagefind finds nothing for: no results, no error.
    await page.fill('#query', 'zzqxv');
    await page.click('#go');
    await page.waitForFunction(() => ['done', 'error'].includes(window.__site.state) && window.__site.query === 'zzqxv',
      null, { timeout: 60_000 });
    const empty = await page.evaluate(() => window.__site);
    assert.equal(empty.error, undefined, empty.error);
    assert.deepEqual(empty.shown, []);
    assert.equal(await page.$$eval('#results li', (lis) => lis.length), 0);
    assert.deepEqual(errors, []);
  });
  reference.dispose();
});
