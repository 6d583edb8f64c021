// The package used four ways, each from a clean install of the built package's npm tarball:
// Node (tests/examples/node), a Vite app (tests/examples/vite: built by Vite, run in Chromium),
// a plain <script type="module"> page (tests/examples/script-tag, in Chromium), and TypeScript
// (tests/examples/typescript: the shipped types checked with `tsc --strict`).
//
//   RERANKER_PKG=/path/to/pkg node --test tests/js/examples.test.mjs   (needs npm and the registry)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../serve.mjs';
import { withPage } from './chromium.mjs';

const examples = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../examples');
let work;
let tarball;

const npm = (cwd, ...args) => execFileSync('npm', ['--no-audit', '--no-fund', '--loglevel=error', ...args], { cwd, encoding: 'utf8' });

before(async () => {
  assert.ok(process.env.RERANKER_PKG, 'set RERANKER_PKG (./build.sh test does)');
  work = await mkdtemp(path.join(os.tmpdir(), 'reranker-examples-'));
  await cp(examples, work, { recursive: true });
  const packed = JSON.parse(npm(work, 'pack', '--json', '--pack-destination', work, process.env.RERANKER_PKG));
  tarball = path.join(work, packed[0].filename);
});
after(async () => { if (work) await rm(work, { recursive: true, force: true }); });

/** What every example page must show: ranked, sorted, rendered, documents returned unchanged. */
async function checkPage(url) {
  return withPage({ webgpu: false }, async (page, errors) => {
    await page.goto(url);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 120_000 });
    const result = await page.evaluate(() => window.__result);
    assert.equal(result.error, undefined, `${url}: ${result.error}`);
    assert.equal(result.rendered, 5);
    assert.equal(result.device.backend, 'cpu');
    assert.equal(result.sameObject, true, 'a { text } document comes back as the same object');
    for (let i = 1; i < result.scores.length; i++) assert.ok(result.scores[i - 1] >= result.scores[i]);
    assert.equal(await page.textContent('#backend'), 'cpu');
    assert.deepEqual(errors, []);
  });
}

test('Node: the example runs from an npm install of the package', async () => {
  const dir = path.join(work, 'node');
  npm(dir, 'init', '-y');
  npm(dir, 'install', tarball);
  // The model folder is not in the npm package: the example reads it from ./model/ beside it.
  await cp(path.join(process.env.RERANKER_PKG, 'model'), path.join(dir, 'model'), { recursive: true });
  const out = JSON.parse(execFileSync(process.execPath, ['rerank.mjs'], { cwd: dir, encoding: 'utf8' }));
  assert.equal(out.device.backend, 'cpu');
  assert.equal(out.ranked.length, 2);
  assert.ok(out.ranked[0].score >= out.ranked[1].score);
  const best = [...out.scores].map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]);
  out.ranked.forEach((r, k) => {
    assert.equal(r.index, best[k][1]);
    assert.ok(Math.abs(r.score - out.scores[r.index]) <= 1e-6);
    assert.equal(typeof r.document, 'string');
  });
  console.log(`node example: ${JSON.stringify(out.ranked.map((r) => [r.index, r.score.toFixed(4)]))}`);
});

test('Vite: the example app builds and its page works', async () => {
  const dir = path.join(work, 'vite');
  npm(dir, 'install', tarball);
  // The model folder is not in the npm package (nor in a bundle): the app serves it from public/reranker/, as the README's quick start says.
  assert.equal(existsSync(path.join(dir, 'node_modules/web-reranker/model')), false, 'npm installs no model');
  await cp(path.join(process.env.RERANKER_PKG, 'model'), path.join(dir, 'public/reranker'), { recursive: true });
  execFileSync(path.join(dir, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: dir, encoding: 'utf8' });
  const assets = await readdir(path.join(dir, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `no .wasm emitted: ${assets}`);
  assert.ok(assets.some((f) => f.startsWith('worker')), `no worker chunk emitted: ${assets}`);
  const server = await serve({ root: path.join(dir, 'dist') });
  try {
    await checkPage(`${server.origin}/`);
  } finally {
    await server.close();
  }
});

test('plain <script type="module">: the package imported by URL', async () => {
  const server = await serve({ root: work, pkg: process.env.RERANKER_PKG });
  try {
    await checkPage(`${server.origin}/script-tag/index.html`);
  } finally {
    await server.close();
  }
});

test('TypeScript: the shipped types check a typical use with tsc --strict, and reject wrong options', async () => {
  const dir = path.join(work, 'typescript');
  npm(dir, 'install', tarball);
  // Any type error fails, an unused @ts-expect-error included; tsc prints them on stdout.
  try {
    execFileSync(path.join(dir, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: dir, encoding: 'utf8' });
  } catch (error) {
    assert.fail(`tsc: ${error.stdout}${error.stderr}`);
  }
});
