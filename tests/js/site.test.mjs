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
import { INTEGER_TOLERANCE } from './tolerance.mjs';
import { buildSite, indexSite } from '../examples/pagefind-site/build.mjs';

// NOTE: the page runs int8 weights in Chromium, the reference in Node: tolerance.mjs says why
// those agree within INTEGER_TOLERANCE, not bit for bit.
const TOLERANCE = INTEGER_TOLERANCE;
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
  const { Reranker, pagefindText } = await import(pathToFileURL(path.join(process.env.RERANKER_PKG, 'index.js')).href);
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
    // The scores are the reranker's for each page's matched section (the adapter's default; what
    // that text is, is tested on long pages below).
    const expected = await reference.predict(head.map((r) => [query, pagefindText(r.data)]));
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

/** Words `from`..`to` of a numbered filler text: `w{from} w{from+1} …`, so positions can be read back. */
const filler = (from, to) => Array.from({ length: to - from }, (_, i) => `w${from + i}`).join(' ');

test('Pagefind on long pages: the adapter scores the page\'s opening and the matched section around its matches, or the whole page', async () => {
  // One long page: a title, an opening, then sections with ids (what Pagefind makes sub-results
  // of); the query's two words sit in the middle of the third section, far from its heading.
  const site = await mkdtemp(path.join(os.tmpdir(), 'reranker-sections-'));
  const sections = [['setup', 'Setting up', 120], ['usage', 'Everyday usage', 150], ['zebras', 'Handling animals', 200], ['faq', 'Questions', 80]];
  let body = `<h1>Long manual</h1><p>${filler(0, 40)}</p>`;
  for (const [id, heading, words] of sections) {
    const text = id === 'zebras' ? `${filler(0, 90)} the quantum zebra gallops ${filler(90, words)}` : filler(0, words);
    body += `<h2 id="${id}">${heading}</h2><p>${text}</p>`;
  }
  const { writeFile, mkdir } = await import('node:fs/promises');
  await mkdir(path.join(site, 'manual'), { recursive: true });
  await writeFile(path.join(site, 'manual/index.html'), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Long manual</title></head><body><main data-pagefind-body>${body}</main></body></html>`);
  await writeFile(path.join(site, 'index.html'), '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>x</title></head><body></body></html>');
  await indexSite(site);
  const local = await serve({ root: site, pkg: process.env.RERANKER_PKG });
  try {
    await withPage({ webgpu: false }, async (page) => {
      await page.goto(`${local.origin}/index.html`);
      const got = await page.evaluate(async () => {
        const pf = await import('/pagefind/pagefind.js');
        const { pagefindText, rerankPagefind, Reranker } = await import('/pkg/index.js');
        const search = await pf.search('quantum zebra');
        const data = await search.results[0].data();
        const reranker = await Reranker.load({ device: 'cpu' });
        const ranked = await rerankPagefind(reranker, 'quantum zebra', search);
        const asPages = await rerankPagefind(reranker, 'quantum zebra', search, { passage: 'page' });
        const expected = await reranker.predict([['quantum zebra', pagefindText(data)], ['quantum zebra', pagefindText(data, { passage: 'page' })]]);
        const errors = [];
        for (const options of [{ passage: 'pages' }, { sectionWords: 4 }, { leadWords: -1 }, { sectionwords: 32 }]) {
          await rerankPagefind(reranker, 'q', search, options).then(() => errors.push(null), (e) => errors.push(e.code));
        }
        reranker.dispose();
        return {
          count: search.results.length, content: data.content, subs: data.sub_results.map((s) => s.title),
          section: pagefindText(data), short: pagefindText(data, { sectionWords: 8, leadWords: 4 }), noLead: pagefindText(data, { leadWords: 0 }),
          page: pagefindText(data, { passage: 'page' }), scores: [ranked[0].score, asPages[0].score], expected, errors,
        };
      });
      assert.equal(got.count, 1);
      assert.ok(got.subs.includes('Handling animals'), JSON.stringify(got.subs));
      const words = got.content.split(/\s+/);
      const [title, lead, heading, window] = got.section.split('\n');
      assert.equal(title, 'Long manual');
      assert.equal(lead, words.slice(0, 16).join(' '), 'the page\'s opening: its first 16 words');
      assert.equal(heading, 'Handling animals', 'the heading of the section that holds the match');
      const windowWords = window.split(' ');
      assert.equal(windowWords.length, 32);
      assert.ok(window.includes('quantum zebra'), window);
      // The window starts a quarter of its length before the first match, inside the section.
      assert.equal(windowWords.indexOf('quantum'), 8, window);
      assert.deepEqual(got.short.split('\n').map((l) => l.split(' ').length), [2, 4, 2, 8], got.short);
      assert.equal(got.noLead.split('\n').length, 3, 'no opening with leadWords 0');
      assert.equal(got.page, `Long manual\n${got.content}`);
      // rerankPagefind scores those texts: sections by default, pages when asked.
      got.scores.forEach((s, i) => assert.ok(Math.abs(s - got.expected[i]) <= TOLERANCE, `${s} vs ${got.expected[i]}`));
      assert.deepEqual(got.errors, ['INVALID_INPUT', 'INVALID_INPUT', 'INVALID_INPUT', 'INVALID_INPUT']);
    });
  } finally {
    await local.close();
    await rm(site, { recursive: true, force: true });
  }
});
