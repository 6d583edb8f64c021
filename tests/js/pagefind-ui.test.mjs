// The Pagefind UI drop-in (js/pagefind-ui.js) in headless Chromium, on the example site's page
// with Pagefind's own Default UI (tests/examples/pagefind-site/ui.html) and on an Astro Starlight
// site (tests/examples/starlight: real npm packages, built here): keyword results show first, then
// the top ones move into the reranker's order (its scores computed here in Node, the rest in
// Pagefind's order); a query typed during a rerank wins; under the data saver no model file is
// fetched; before the first search a page fetches the drop-in alone.
//
//   RERANKER_PKG=/path/to/pkg NODE_TOOLS=~/.cache/reranker/node-tools node --test tests/js/pagefind-ui.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../serve.mjs';
import { withPage } from './chromium.mjs';
import { buildSite } from '../examples/pagefind-site/build.mjs';
import { checkReranked, pagefindResults, recordFirstOrder, shownOrder, waitForState } from './pagefind-page.mjs';

const artifacts = process.env.RERANKER_ARTIFACTS ?? path.join(os.homedir(), '.cache/reranker/artifacts');
let server;
let dir;
let reference;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const npm = (cwd, ...args) => execFileSync('npm', ['--no-audit', '--no-fund', '--loglevel=error', ...args], { cwd, encoding: 'utf8' });

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
    await recordFirstOrder(page);
    if (saveData) {
      await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'connection', { get: () => ({ saveData: true }) }));
    }
    await page.goto(`${server.origin}/ui.html?device=cpu${query}`);
    await page.waitForSelector('.pagefind-ui__search-input');
    return use(page, log);
  });
}

test('Pagefind UI: keyword results first, then the top ones in the reranker\'s order, the rest in Pagefind\'s; the drop-in alone before the first search', async () => {
  // topK 3 of the 5 results Pagefind UI shows: the last 2 keep Pagefind's order.
  await withUiPage({ query: '&topK=3' }, async (page, log) => {
    const before = log.requests.filter((p) => p.startsWith('/pkg/'));
    assert.deepEqual(before, ['/pkg/pagefind-ui.js'], 'before a search the page fetched only the drop-in from the package');
    const query = 'de';
    const topK = 3;
    await page.fill('.pagefind-ui__search-input', query);
    await waitForState(page, 'reranked');
    const shown = await checkReranked(page, reference, query, topK);
    assert.ok(shown > topK, `${shown} shown`);
    assert.match(await page.textContent('.web-reranker-status'), /reranked.*the CPU/);
    assert.deepEqual(log.errors, []);
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'pagefind-ui.png'), fullPage: true });
    console.log(`pagefind-ui: ${shown} shown, top ${topK} reranked; screenshot ${path.join(artifacts, 'pagefind-ui.png')}`);
  });
});

test('Pagefind UI rendering slowly (each result\'s page data late): the ranking waits for the list instead of failing; passage \'page\' scores whole pages', async () => {
  await withUiPage({ query: '&passage=page' }, async (page, log) => {
    // NOTE: Pagefind UI shows a result's link only once its page data has come, so a slow host
    // leaves the last query's links (or none) in the list after the model has ranked.
    await page.route('**/pagefind/fragment/**', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await route.continue();
    });
    for (const query of ['de', 'la']) {
      await page.fill('.pagefind-ui__search-input', query);
      await page.waitForFunction((q) => window.__rerank?.state === 'failed' || (window.__rerank?.state === 'reranked' && window.__rerank.last?.query === q), query, { timeout: 120_000 });
      assert.equal(await page.evaluate(() => window.__rerank.state), 'reranked', await page.textContent('.web-reranker-status'));
      if (query === 'de') await checkReranked(page, reference, query, 10, '/pagefind/', 'page');
    }
    assert.deepEqual(log.errors, []);
  });
});

test('Pagefind UI as GitHub Pages serves a project site: under /repo/, no COOP/COEP (one thread, and why), a bundled UI with its own bundlePath, links without the trailing slash, status texts translated', async () => {
  // NOTE: the package under the site, where a project site would copy it.
  // NOTE: git (and so GitHub Pages) refuses files over 100 MB.
  const ghp = await serve({ root: dir, isolated: false, fileCap: { '/': 100e6 }, mounts: { '/repo/pkg/': process.env.RERANKER_PKG, '/repo/': dir } });
  try {
    await withPage({ webgpu: false }, async (page, errors) => {
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await recordFirstOrder(page);
      await page.goto(`${ghp.origin}/repo/ghp.html`);
      await page.waitForSelector('.pagefind-ui__search-input');
      const query = 'de';
      await page.fill('.pagefind-ui__search-input', query);
      await waitForState(page, 'reranked');
      const links = await shownOrder(page);
      assert.ok(links.every((p) => p.startsWith('/repo/') && !p.endsWith('/')), `links as the site shows them: ${links}`);
      const shown = await checkReranked(page, reference, query, 10, '/repo/pagefind/');
      assert.match(await page.textContent('.web-reranker-status'), /^Die ersten \d+ nach Relevanz sortiert \(auf der CPU\)\.$/);
      const device = await page.evaluate(async () => (await window.__rerank.ready).device);
      assert.equal(device.threads, 1);
      assert.match(device.threadsReason, /cross-origin isolated/);
      assert.deepEqual(errors, []);
      console.log(`pagefind-ui under /repo/ without COOP/COEP: ${shown} shown, reranked on ${device.threads} thread (${device.threadsReason})`);
    });
  } finally {
    await ghp.close();
  }
});

test('Pagefind UI as Cloudflare Pages serves the site: docs/hosting.md\'s _headers file (two threads, each model file\'s cache policy), a 25 MiB cap, the model folder under /models/', async () => {
  // The `_headers` block of docs/hosting.md, as a user copies it.
  const hosting = await readFile(path.join(root, 'docs/hosting.md'), 'utf8');
  const block = /headers from a `_headers` file[\s\S]*?```text\n([\s\S]*?)```/.exec(hosting)[1].replace(/^ {2}/gm, '');
  const headersFile = path.join(dir, '_headers');
  await writeFile(headersFile, block);
  const host = await serve({
    root: dir, pkg: process.env.RERANKER_PKG, isolated: false, headersFile, fileCap: { '/': 25 * 1024 * 1024 },
    mounts: { '/models/mmarco-test/': path.join(process.env.RERANKER_PKG, 'model') },
  });
  try {
    await withPage({ webgpu: false }, async (page, errors) => {
      await recordFirstOrder(page);
      await page.goto(`${host.origin}/ui.html?device=cpu&baseUrl=/models/mmarco-test/`);
      await page.waitForSelector('.pagefind-ui__search-input');
      await page.fill('.pagefind-ui__search-input', 'de');
      await waitForState(page, 'reranked');
      await checkReranked(page, reference, 'de', 10);
      const got = await page.evaluate(async () => {
        const reranker = await window.__rerank.ready;
        const model = await fetch('/models/mmarco-test/model.json');
        const files = Object.keys((await model.clone().json()).files);
        const weights = await fetch(`/models/mmarco-test/${files.find((f) => f.startsWith('weights'))}`, { method: 'GET' });
        return {
          isolated: crossOriginIsolated, threads: reranker.device.threads >= 2,
          model: model.headers.get('cache-control'), weights: weights.headers.get('cache-control'), cors: weights.headers.get('access-control-allow-origin'),
        };
      });
      assert.deepEqual(got, {
        isolated: true, threads: true, model: 'no-cache', weights: 'public, max-age=31536000, immutable', cors: '*',
      });
      assert.deepEqual(errors, []);
    });
  } finally {
    await host.close();
  }
});

test('Pagefind UI: a query typed during a rerank wins; focus and scroll stay as the list moves (Load more)', async () => {
  await withUiPage({ query: '&load=now' }, async (page, log) => {
    await page.evaluate(() => window.__rerank.ready);
    await page.fill('.pagefind-ui__search-input', 'de');
    await waitForState(page, 'reranking');
    await page.fill('.pagefind-ui__search-input', 'la');
    await page.waitForFunction(() => window.__rerank.state === 'reranked' && window.__rerank.last?.query === 'la', null, { timeout: 120_000 });
    const shown = await shownOrder(page);
    const expected = (await pagefindResults(page, 'la', shown.length)).map((r) => r.path);
    assert.deepEqual([...shown].sort(), [...expected].sort(), 'the list is the second query\'s');
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('pagefind-ui__search-input')), true);
    // "Load more results" shows more: the larger list is reranked and its items move under the
    // visitor, who keeps the focus (on a result's link, which moves) and the scroll position.
    await page.setViewportSize({ width: 800, height: 400 });
    const focused = await page.evaluate(() => {
      const links = [...document.querySelectorAll('.pagefind-ui__result-link')];
      links.at(-1).focus();
      window.scrollTo(0, document.documentElement.scrollHeight);
      return links.at(-1).href;
    });
    const scrolled = await page.evaluate(() => window.scrollY);
    assert.ok(scrolled > 0, 'the page scrolls');
    const before = await page.evaluate(() => window.__rerank.last.order.length);
    await page.$eval('.pagefind-ui__button', (button) => button.click());
    await page.waitForFunction((n) => window.__rerank.state === 'reranked' && window.__rerank.last.order.length > n, before, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => document.activeElement?.href), focused, 'the focus stayed on the link');
    assert.equal(await page.evaluate(() => window.scrollY), scrolled, 'the scroll position stayed');
    assert.deepEqual(log.errors, []);
  });
});

test('Pagefind UI under the data saver: keyword results, no model download, and the status says why', async () => {
  await withUiPage({ saveData: true }, async (page, log) => {
    await page.fill('.pagefind-ui__search-input', 'de');
    await page.waitForSelector('.pagefind-ui__result-link');
    await waitForState(page, 'off');
    await page.waitForTimeout(500);
    const fetched = log.requests.filter((p) => p.startsWith('/pkg/'));
    assert.deepEqual(fetched, ['/pkg/pagefind-ui.js'], 'no model, no wasm, no worker');
    assert.match(await page.textContent('.web-reranker-status'), /data saver/);
    assert.deepEqual(log.errors, []);
  });
});

test('Pagefind UI: load \'idle\' fetches the model without a search; saveData \'ignore\' loads it under the data saver', async () => {
  await withUiPage({ query: '&load=idle&saveData=ignore', saveData: true }, async (page, log) => {
    await waitForState(page, 'ready');
    assert.ok(log.requests.includes('/pkg/model/weights-int8.bpk'), 'the model came while the page was idle');
    assert.equal(await page.inputValue('.pagefind-ui__search-input'), '', 'no search was made');
    assert.deepEqual(log.errors, []);
  });
});

test('Pagefind UI: a reranker that cannot load leaves Pagefind\'s order, and the status line says why', async () => {
  await withUiPage({ query: '&baseUrl=/no-such-model/' }, async (page, log) => {
    await page.fill('.pagefind-ui__search-input', 'de');
    await waitForState(page, 'failed');
    await page.waitForTimeout(300);
    const shown = await shownOrder(page);
    const expected = (await pagefindResults(page, 'de', shown.length)).map((r) => r.path);
    assert.deepEqual(shown, expected, 'Pagefind\'s order');
    assert.match(await page.textContent('.web-reranker-status'), /keyword order \(the reranker did not load: .+\)/);
    // The 404s of the missing model folder are the only console errors.
    assert.ok(log.errors.every((e) => /404/.test(e)), JSON.stringify(log.errors));
  });
});

test('Astro Starlight under a base path with trailingSlash \'never\', served as GitHub Pages serves it: its built-in search, reranked by the drop-in; nothing of the model before the first search', async () => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'reranker-starlight-'));
  const example = path.join(root, 'tests/examples/starlight');
  await cp(example, work, { recursive: true, filter: (src) => !/[/\\](node_modules|dist|\.astro)$/.test(src) });
  let site;
  try {
    npm(work, 'install'); // the pinned astro and @astrojs/starlight
    const packed = JSON.parse(npm(work, 'pack', '--json', '--pack-destination', work, process.env.RERANKER_PKG));
    npm(work, 'install', path.join(work, packed[0].filename));
    execFileSync(process.execPath, ['build.mjs', path.join(root, 'www/data/passages.tsv')], { cwd: work });
    await cp(path.join(process.env.RERANKER_PKG, 'model'), path.join(work, 'public/reranker'), { recursive: true });
    // NOTE: no telemetry: the build must not wait on a network it may not have.
    execFileSync(path.join(work, 'node_modules/.bin/astro'), ['build'], { cwd: work, encoding: 'utf8', env: { ...process.env, ASTRO_TELEMETRY_DISABLED: '1' } });
    // As GitHub Pages serves a project site: under its base path, without COOP/COEP.
    site = await serve({ root: path.join(work, 'empty'), isolated: false, fileCap: { '/': 100e6 }, mounts: { '/docs/': path.join(work, 'dist') } });
    await withPage({ webgpu: false }, async (page, errors) => {
      const requests = [];
      page.context().on('request', (r) => requests.push(new URL(r.url()).pathname));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await recordFirstOrder(page);
      await page.goto(`${site.origin}/docs/`);
      await page.click('button[data-open-modal]');
      await page.waitForSelector('#starlight__search .pagefind-ui__search-input');
      const model = () => requests.filter((p) => p.startsWith('/docs/reranker/') || p.endsWith('.wasm') && !p.includes('pagefind'));
      assert.deepEqual(model(), [], 'nothing of the model before the first search');
      const query = 'the';
      await page.fill('#starlight__search .pagefind-ui__search-input', query);
      await waitForState(page, 'reranked');
      const links = await shownOrder(page);
      assert.ok(links.every((p) => p.startsWith('/docs/') && !p.endsWith('/')), `links under the base, without the slash: ${links}`);
      const shown = await checkReranked(page, reference, query, 10, '/docs/pagefind/');
      assert.ok(model().some((p) => p === '/docs/reranker/weights-int8.bpk'), 'the model came with the search');
      assert.match(await page.textContent('.web-reranker-status'), /reranked/);
      assert.deepEqual(errors, []);
      await mkdir(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, 'starlight.png') });
      console.log(`starlight: ${shown} shown and reranked; screenshot ${path.join(artifacts, 'starlight.png')}`);
    });
  } finally {
    await site?.close();
    await rm(work, { recursive: true, force: true });
  }
});
