// Threads in Node (where the threaded module is the default): its scores equal the single-threaded
// module's bit for bit and stay within the fixture's tolerance of onnxruntime; the option is
// checked; a package without the threaded module, or a second load asking for another count,
// runs with what there is and says why. Each load that needs a module of its own runs in a
// worker thread: a module is started once per thread.
//
//   RERANKER_PKG=/path/to/pkg node --test tests/js/threads.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { toleranceOn } from './tolerance.mjs';

const pkgDir = process.env.RERANKER_PKG;
assert.ok(pkgDir, 'set RERANKER_PKG to the package folder (./build.sh test does)');
const indexUrl = (dir) => pathToFileURL(path.join(dir, 'index.js')).href;
const { Reranker } = await import(indexUrl(pkgDir));
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const fixture = (name) => readFile(path.join(root, 'tests/fixtures', name), 'utf8').then(JSON.parse);
// The test package is built from tiny-optimum (the default download path); compact.json's int8
// references come from the WebGPU-form export of the same checkpoint.
const reference = await fixture('tiny-optimum/reference.json');
const compact = await fixture('tiny-webgpu/compact.json');
const pairs = reference.cases.map((c) => [c.query, c.passage]);
// Every pair at once, and the pairs repeated: batches with enough rows to be split over threads.
const many = [...pairs, ...pairs, ...pairs];

/** Loads `options` in a fresh worker thread (its own modules) and scores `many` there. */
function inWorker(options, dir = pkgDir) {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    (async () => {
      const { Reranker } = await import(workerData.url);
      const r = await Reranker.load(workerData.options);
      const scores = await r.predict(workerData.many, { batchSize: workerData.many.length });
      parentPort.postMessage({ device: r.device, scores });
    })().catch((e) => parentPort.postMessage({ error: e.message }));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { url: indexUrl(dir), options, many } });
    worker.once('message', (m) => { worker.terminate(); m.error ? reject(new Error(m.error)) : resolve(m); });
    worker.once('error', reject);
  });
}

for (const precision of ['int8', 'f32']) {
  test(`${precision}: two threads give the single-threaded module's scores exactly, within tolerance of onnxruntime`, async () => {
    const threaded = await Reranker.load({ device: 'cpu', precision, threads: 2 });
    assert.equal(threaded.device.threads, 2);
    assert.equal(threaded.device.threadsReason, undefined);
    const scores = await threaded.predict(many, { batchSize: many.length });
    const single = await inWorker({ device: 'cpu', precision, threads: 1 });
    assert.equal(single.device.threads, 1);
    assert.equal(single.device.threadsReason, undefined);
    assert.deepEqual(scores, single.scores);
    const expected = precision === 'f32' ? reference.cases.map((c) => c.ort_batch_logit)
      : compact.cases.map((c) => c.ort_int8_batch_logit);
    const tolerance = toleranceOn(threaded.device);
    for (const [i, score] of scores.entries()) {
      const want = expected[i % expected.length];
      assert.ok(Math.abs(score - want) <= tolerance, `pair ${i}: ${score} vs ${want}`);
    }
    // Overlapping calls share the pool.
    const together = await Promise.all([0, 1, 2].map(() => threaded.predict(many, { batchSize: many.length })));
    for (const again of together) assert.deepEqual(again, scores);
    threaded.dispose();
  });
}

test('the default is one thread per core, at most 8', async () => {
  const { device } = await inWorker({ device: 'cpu' });
  assert.equal(device.threads, Math.min(availableParallelism(), 8));
});

test('threads must be an integer from 1 to 64', async () => {
  for (const threads of [0, 1.5, '2', 65, -1, null]) {
    await assert.rejects(Reranker.load({ device: 'cpu', threads }),
      (e) => e.code === 'INVALID_INPUT' && /threads/.test(e.message), String(threads));
  }
});

test("a second load asking for another count gets the thread's pool, and says so", async () => {
  const first = await Reranker.load({ device: 'cpu', threads: 2 });
  const second = await Reranker.load({ device: 'cpu', threads: 3 });
  assert.equal(second.device.threads, 2);
  assert.match(second.device.threadsReason, /earlier load/);
  first.dispose();
  second.dispose();
});

test('a package without the threaded module runs on one thread and says why', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'reranker-nothreads-'));
  try {
    await cp(pkgDir, dir, { recursive: true });
    for (const file of await readdir(dir)) {
      if (file.startsWith('web_reranker_threads')) await rm(path.join(dir, file));
    }
    const { device, scores } = await inWorker({ device: 'cpu', threads: 2 }, dir);
    assert.equal(device.threads, 1);
    assert.match(device.threadsReason, /threaded module did not load/);
    const single = await inWorker({ device: 'cpu', threads: 1 });
    assert.deepEqual(scores, single.scores);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
