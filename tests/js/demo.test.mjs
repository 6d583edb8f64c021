// The demo page (www/) in headless Chromium with the built package: a query renders both lists,
// reranked scores are sorted, the backend is shown, nothing is thrown, passages stay text; the
// page stays responsive while the worker reranks 30 passages on the CPU; ?load=lazy loads the model
// only on the first search, and never under the data saver. Saves a screenshot.
//
//   RERANKER_PKG=/path/to/pkg node --test tests/js/demo.test.mjs   (www/vendor from ./build.sh demo)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../serve.mjs';
import { withPage } from './chromium.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const artifacts = process.env.RERANKER_ARTIFACTS ?? path.join(os.homedir(), '.cache/reranker/artifacts');
let server;

before(async () => {
  assert.ok(process.env.RERANKER_PKG, 'set RERANKER_PKG (./build.sh test does)');
  server = await serve({ root: path.join(root, 'www'), pkg: process.env.RERANKER_PKG });
});
after(async () => server?.close());

/** Opens the demo, waits until it is ready, runs `query` by typing it, returns what it shows. */
async function search(page, query, { k = 30 } = {}) {
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('body', 'data-state'), 'ready', await page.textContent('#error'));
  await page.selectOption('#k', String(k));
  await page.fill('#query', query);
  await page.click('#go');
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('body', 'data-state'), 'done', await page.textContent('#error'));
  return page.evaluate(() => ({
    demo: window.__demo,
    first: [...document.querySelectorAll('#first-stage li .text')].map((e) => e.textContent),
    reranked: [...document.querySelectorAll('#reranked li .text')].map((e) => e.textContent),
    backend: document.getElementById('backend').textContent,
    testModel: !document.getElementById('test-model').hidden,
    unpinned: !document.getElementById('unpinned-model').hidden,
    images: document.querySelectorAll('main img').length,
  }));
}

test('demo: a query renders both lists, sorted scores, the backend; screenshot saved', async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.goto(`${server.origin}/?device=auto`);
    const shown = await search(page, 'Who painted the Mona Lisa?');
    assert.ok(shown.first.length > 0, 'first stage found nothing');
    assert.equal(shown.reranked.length, shown.first.length);
    assert.deepEqual([...shown.reranked].sort(), [...shown.first].sort(), 'reranking changed the set');
    assert.ok(shown.first.some((t) => /Mona Lisa|Joconde/.test(t)));
    for (let i = 1; i < shown.demo.scores.length; i++) assert.ok(shown.demo.scores[i - 1] >= shown.demo.scores[i]);
    assert.match(shown.backend, /CPU \(WebAssembly, int8 products\)/);
    assert.match(await page.textContent('#fallback'), /WebGPU/, 'the fallback reason is shown');
    assert.equal(shown.testModel, true, 'a random-weight build must say so');
    assert.equal(shown.unpinned, false, 'the tests\' package is pinned');
    assert.equal(shown.images, 0);
    assert.deepEqual(errors, []);
    await mkdir(artifacts, { recursive: true });
    const file = path.join(artifacts, 'demo.png');
    await page.screenshot({ path: file, fullPage: true });
    console.log(`demo screenshot: ${file}; ${shown.first.length} candidates reranked in ${shown.demo.rerankMs.toFixed(0)} ms`);
  });
});

test('demo: a model folder downloaded unpinned says so', async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.route('**/pkg/model/model.json', async (route) => {
      const manifest = await (await route.fetch()).json();
      await route.fulfill({ json: { ...manifest, source: { ...manifest.source, pinned: false } } });
    });
    await page.goto(`${server.origin}/?device=cpu`);
    const shown = await search(page, 'Who painted the Mona Lisa?');
    assert.equal(shown.unpinned, true);
    assert.deepEqual(errors, []);
  });
});

test('demo: ?activations=i7 reranks with 7-bit activations and says so', async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.goto(`${server.origin}/?device=cpu&activations=i7`);
    const shown = await search(page, 'Who painted the Mona Lisa?');
    assert.ok(shown.first.length > 0, 'first stage found nothing');
    assert.deepEqual([...shown.reranked].sort(), [...shown.first].sort(), 'reranking changed the set');
    assert.match(shown.backend, /CPU \(WebAssembly, int8 products, 7-bit activations\)/);
    assert.deepEqual(errors, []);
  });
});

test('demo: no long task on the page while the worker reranks 30 passages on the CPU', async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.goto(`${server.origin}/?device=cpu`);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 120_000 });
    await page.evaluate(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => window.__longTasks.push(...list.getEntries()
        .map((e) => ({ start: e.startTime, duration: e.duration }))))
        .observe({ type: 'longtask' });
    });
    // A query that matches far more than 30 passages, so the reranker gets exactly 30.
    const shown = await search(page, 'the of and in is was de la le der die el en', { k: 30 });
    assert.equal(shown.demo.candidates, 30);
    const longTasks = await page.evaluate(() => window.__longTasks);
    // NOTE: only the time the worker reranks counts; the page's own first stage (MiniSearch) and
    // rendering before it are the demo's work, not the reranker's.
    const { rerankStart, rerankMs } = shown.demo;
    const during = longTasks.filter((t) => t.start + t.duration > rerankStart && t.start < rerankStart + rerankMs);
    console.log(`rerank of 30 in the worker: ${rerankMs.toFixed(0)} ms; long tasks on the page during it: `
      + `${JSON.stringify(during.map((t) => Math.round(t.duration)))} (all: ${JSON.stringify(longTasks.map((t) => Math.round(t.duration)))})`);
    assert.ok(during.every((t) => t.duration <= 100), `long tasks over 100 ms while reranking: ${JSON.stringify(during)}`);
    assert.deepEqual(errors, []);
  });
});

test('demo: hostile passages (<img onerror>, <script>) are shown as text and never run', async () => {
  const hostile = [
    '<img src=x onerror="window.__pwned = (window.__pwned || 0) + 1"> Eiffel Tower hostile image',
    '<script>window.__pwned = 1</script> Eiffel Tower hostile script',
    '<a href="javascript:window.__pwned=1">Eiffel Tower hostile link</a>',
    '<svg onload="window.__pwned = 1"></svg> Eiffel Tower hostile svg',
  ];
  const tsv = ['lang\ttopic\ttext', 'en\teiffel\tThe Eiffel Tower in Paris was completed in 1889.',
    ...hostile.map((text) => `en\teiffel\t${text}`)].join('\n');
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.route('**/data/passages.tsv', (route) => route.fulfill({ body: tsv, contentType: 'text/tab-separated-values' }));
    await page.goto(`${server.origin}/?device=cpu`);
    const shown = await search(page, 'Eiffel Tower hostile', { k: 10 });
    for (const text of hostile) {
      assert.ok(shown.first.includes(text), `first stage shows the raw text: ${text}`);
      assert.ok(shown.reranked.includes(text), `reranked list shows the raw text: ${text}`);
    }
    await page.waitForTimeout(200); // an image error or svg load would have fired by now
    const found = await page.evaluate(() => ({
      pwned: window.__pwned,
      elements: document.querySelectorAll('main img, main script, main svg, main a[href^="javascript:"]').length,
    }));
    assert.equal(found.pwned, undefined, 'a passage ran code');
    assert.equal(found.elements, 0, 'a passage became markup');
    assert.deepEqual(errors, []);
  });
});

test('demo: ?load=lazy fetches no model before the first search, then reranks; under the data saver never', async () => {
  for (const saveData of [false, true]) {
    await withPage({ webgpu: false }, async (page, errors) => {
      const model = [];
      page.context().on('request', (r) => { if (/\/pkg\/(model\/|.*\.wasm$)/.test(new URL(r.url()).pathname)) model.push(new URL(r.url()).pathname); });
      if (saveData) {
        await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'connection', { get: () => ({ saveData: true }) }));
      }
      await page.goto(`${server.origin}/?device=cpu&load=lazy`);
      await page.waitForSelector('body[data-state="ready"]', { timeout: 120_000 });
      assert.deepEqual(model, [], 'nothing of the model before the first search');
      assert.match(await page.textContent('#backend'), saveData ? /data saver/ : /first search/);
      const shown = await search(page, 'Who painted the Mona Lisa?');
      assert.ok(shown.first.length > 0);
      if (saveData) {
        assert.deepEqual(model, [], 'the data saver keeps the model away');
        assert.equal(shown.reranked.length, 0);
        assert.equal(shown.demo.reranked, false);
      } else {
        assert.ok(model.some((p) => p.endsWith('/weights-int8.bpk')), `the model came with the search: ${model}`);
        assert.equal(shown.reranked.length, shown.first.length);
        assert.match(shown.backend, /CPU/);
      }
      assert.deepEqual(errors, []);
    });
  }
});
