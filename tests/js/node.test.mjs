// The built package in Node (CPU path): fixture logits within 1e-4 of onnxruntime (f32 weights
// against the f32 model, the default int8 weights against onnxruntime on the same int8
// quantization), rerank order, topN, returned documents, typed errors, overlapping calls.
//
//   RERANKER_PKG=/path/to/pkg node --test tests/js/node.test.mjs
// (./build.sh test builds the package from the hub-form fixture and sets RERANKER_PKG.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { toleranceOn } from './tolerance.mjs';

const pkgDir = process.env.RERANKER_PKG;
assert.ok(pkgDir, 'set RERANKER_PKG to the package folder (./build.sh test does)');
const { Reranker, createReranker } = await import(pathToFileURL(path.join(pkgDir, 'index.js')).href);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const reference = JSON.parse(await readFile(path.join(root, 'tests/fixtures/tiny-optimum/reference.json'), 'utf8'));
const compact = JSON.parse(await readFile(path.join(root, 'tests/fixtures/tiny-webgpu/compact.json'), 'utf8'));
// What each case should score with the default (int8) weights.
for (const [i, c] of reference.cases.entries()) c.int8 = compact.cases[i].ort_int8_logit;

const reranker = await Reranker.load({ device: 'cpu' });

test('device is the CPU; the default weights are int8', () => {
  assert.equal(reranker.device.backend, 'cpu');
  assert.equal(reranker.maxLength, 512);
  assert.equal(reranker.precision, 'int8');
});

test('loadTimings says where the load went: every step, none negative, within the total', () => {
  const t = reranker.loadTimings;
  assert.deepEqual(Object.keys(t).sort(), ['checkedMs', 'deviceMs', 'filesMs', 'tokenizerMs', 'totalMs', 'wasmMs', 'weightsMs']);
  for (const [key, ms] of Object.entries(t)) assert.ok(Number.isFinite(ms) && ms >= 0, `${key}: ${ms}`);
  assert.ok(t.tokenizerMs > 0 && t.weightsMs > 0 && t.filesMs > 0, JSON.stringify(t));
  // The module compiles while the files are read, the tokenizer is built while the weights
  // arrive; the weights are read into the model once all of that is done.
  assert.ok(Math.max(t.wasmMs, t.filesMs) + t.weightsMs <= t.totalMs + 1e-6, JSON.stringify(t));
  for (const key of ['wasmMs', 'filesMs', 'checkedMs', 'deviceMs', 'tokenizerMs']) assert.ok(t[key] <= t.totalMs, `${key}: ${JSON.stringify(t)}`);
  assert.ok(t.checkedMs >= t.filesMs, `the files are checked once they are here: ${JSON.stringify(t)}`);
  t.totalMs = -1; // a copy
  assert.notEqual(reranker.loadTimings.totalMs, -1);
});

for (const precision of ['f32', 'int8']) {
  test(`predict with ${precision} weights matches onnxruntime (1e-4; 1e-3 for integer products), one by one and batched`, async () => {
    const model = await Reranker.load({ device: 'cpu', precision });
    assert.equal(model.precision, precision);
    // int8 weights multiply in integers on the CPU; f32 ones in f32.
    assert.equal(model.device.matmul, precision);
    const tolerance = toleranceOn(model.device);
    const [single, batch] = precision === 'f32' ? ['ort_logit', 'ort_batch_logit'] : ['ort_int8_logit', 'ort_int8_batch_logit'];
    const expected = precision === 'f32' ? reference.cases : compact.cases;
    const pairs = reference.cases.map((c) => [c.query, c.passage]);
    for (const [i, c] of expected.entries()) {
      const [score] = await model.predict([pairs[i]]);
      assert.ok(Math.abs(score - c[single]) <= tolerance, `pair ${i}: ${score} vs ${c[single]}`);
    }
    const batched = await model.predict(pairs, { batchSize: pairs.length });
    let worst = 0;
    for (const [i, c] of expected.entries()) worst = Math.max(worst, Math.abs(batched[i] - c[batch]));
    console.log(`node wasm cpu, ${precision} weights: max |logit - onnxruntime| batched = ${worst.toExponential(2)}`);
    assert.ok(worst <= tolerance);
    model.dispose();
  });
}

test("activations: 'i7' where the engine has no relaxed SIMD runs 'i16', with the reason; a bad value is a typed error", async () => {
  // Node 20's V8 validates relaxed SIMD only behind --experimental-wasm-relaxed-simd. This is a
  // function returning i32x4.relaxed_dot_i8x16_i7x16_add_s of three zero vectors.
  const zeros = () => [253, 12, ...new Array(16).fill(0)];
  const relaxed = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
    10, 61, 1, 59, 0, ...zeros(), ...zeros(), ...zeros(), 253, 147, 2, 11]));
  const model = await Reranker.load({ device: 'cpu', activations: 'i7' });
  if (relaxed) {
    assert.equal(model.device.activations, 'i7', JSON.stringify(model.device));
  } else {
    assert.equal(model.device.activations, 'i16', JSON.stringify(model.device));
    assert.match(model.device.activationsReason, /relaxed SIMD/);
    // The same numbers as without the option.
    const pairs = reference.cases.map((c) => [c.query, c.passage]);
    assert.deepEqual(await model.predict(pairs), await reranker.predict(pairs));
  }
  model.dispose();
  assert.equal(reranker.device.activations, 'i16');
  assert.equal(reranker.device.activationsReason, undefined);
  for (const activations of ['i8', 'I7', 7, null]) {
    await assert.rejects(Reranker.load({ device: 'cpu', activations }),
      (e) => e.code === 'INVALID_INPUT' && /activations/.test(e.message), String(activations));
  }
});

test('the load options the module reads are the ones js/options.js passes to it, and a misspelt one is named', async () => {
  // The single-threaded module (this process's loads may have started only the threaded one).
  const glue = await import(pathToFileURL(path.join(pkgDir, 'web_reranker.js')).href);
  await glue.default({ module_or_path: await readFile(path.join(pkgDir, 'web_reranker_bg.wasm')) });
  const { loadOptionNames } = glue;
  const { MODULE_OPTIONS, LOAD_OPTIONS } = await import(pathToFileURL(path.join(pkgDir, 'options.js')).href);
  assert.deepEqual([...loadOptionNames()].sort(), [...MODULE_OPTIONS].sort());
  assert.ok(MODULE_OPTIONS.every((name) => LOAD_OPTIONS.includes(name)));
  await assert.rejects(Reranker.load({ device: 'cpu', int8Activations: 'i7' }),
    (e) => e.code === 'INVALID_INPUT' && /unknown field `int8Activations`/.test(e.message));
});

test('an unknown precision is a typed error', async () => {
  for (const precision of ['fp16', 'F32', 8, null]) {
    await assert.rejects(Reranker.load({ device: 'cpu', precision }), (e) => e.code === 'INVALID_INPUT' && /precision/.test(e.message));
  }
});

test("a model folder built without f32 weights: precision 'f32' is a MODEL_LOAD error that says how to get them", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reranker-no-f32-'));
  try {
    await cp(path.join(pkgDir, 'model'), dir, { recursive: true });
    const manifest = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    delete manifest.files['weights-f32.bpk'];
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(manifest));
    await rm(path.join(dir, 'weights-f32.bpk'));
    const baseUrl = pathToFileURL(`${dir}/`).href;
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl, precision: 'f32' }),
      (e) => e.code === 'MODEL_LOAD' && /has no weights-f32\.bpk \(it has weights-int8\.bpk\).*RERANKER_F32=1/.test(e.message));
    // The int8 weights it has load.
    const int8 = await Reranker.load({ device: 'cpu', baseUrl });
    assert.equal(int8.precision, 'int8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('rerank sorts by score, respects topN and returns documents unchanged', async () => {
  const query = 'What is the capital of France?';
  const docs = reference.cases.map((c, i) => (i % 2 ? c.passage : { text: c.passage, id: `doc-${i}` }));
  const all = await reranker.rerank(query, docs, { returnDocuments: true });
  assert.equal(all.length, docs.length);
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].score >= all[i].score);
  for (const r of all) {
    assert.equal(r.document, docs[r.index], 'the very same document object');
    assert.ok(Math.abs(r.probability - 1 / (1 + Math.exp(-r.score))) < 1e-6);
  }
  const top = await reranker.rerank(query, docs, { topN: 3 });
  assert.deepEqual(top.map((r) => r.index), all.slice(0, 3).map((r) => r.index));
  assert.equal(top[0].document, undefined);
  assert.deepEqual(await reranker.rerank(query, []), []);
});

test('bad input rejects with a typed error and the instance keeps working', async () => {
  const cases = [
    () => reranker.rerank('', ['a']),
    () => reranker.rerank(42, ['a']),
    () => reranker.rerank('q', 'not an array'),
    () => reranker.rerank('q', [{ title: 'no text' }]),
    () => reranker.rerank('q', ['a'], { topN: 0 }),
    () => reranker.rerank('q', ['a'], { topN: Number.NaN }),
    () => reranker.rerank('q', ['a'], { batchSize: -1 }),
    () => reranker.rerank('q', ['a'], { unknownOption: 1 }),
    () => reranker.predict([['only one']]),
  ];
  for (const [i, call] of cases.entries()) {
    await assert.rejects(call, (e) => e.name === 'RerankerError' && e.code === 'INVALID_INPUT', `case ${i}`);
  }
  await assert.rejects(Reranker.load({ device: 'cpu', maxLength: 3 }), (e) => e.code === 'INVALID_INPUT');
  await assert.rejects(Reranker.load({ device: 'tpu' }), (e) => e.code === 'INVALID_INPUT');
  await assert.rejects(Reranker.load({ devcie: 'cpu' }), (e) => e.code === 'INVALID_INPUT' && /devcie/.test(e.message));
  await assert.rejects(createReranker({ device: 'cpu', baseUrl: 'http://127.0.0.1:9/none/' }), (e) => e.code === 'MODEL_LOAD');
  await assert.rejects(
    Reranker.load({ device: 'cpu', weights: new Uint8Array([1, 2, 3]) }),
    (e) => e.code === 'MODEL_LOAD',
  );
  const [score] = await reranker.predict([[reference.cases[0].query, reference.cases[0].passage]]);
  assert.ok(Math.abs(score - reference.cases[0].int8) <= toleranceOn(reranker.device));
});

test('webgpu when none exists is a clear error; auto falls back with the reason', async () => {
  await assert.rejects(Reranker.load({ device: 'webgpu' }), (e) => e.code === 'DEVICE' && /WebGPU/.test(e.message));
  const auto = await Reranker.load({ device: 'auto' });
  assert.equal(auto.device.backend, 'cpu');
  assert.match(auto.device.fallbackReason, /WebGPU/);
});

test('overlapping calls on one instance all answer correctly', async () => {
  const pairs = reference.cases.slice(0, 8).map((c) => [c.query, c.passage]);
  const results = await Promise.all(pairs.map((p) => reranker.predict([p])));
  for (const [i, [score]] of results.entries()) {
    assert.ok(Math.abs(score - reference.cases[i].int8) <= toleranceOn(reranker.device), `call ${i}`);
  }
});

test('progress: one stream over every file, its sums monotone, 0 to 1, ending ready', async () => {
  const events = [];
  // A tokenizer.json given as bytes works as well as the package's compact tokenizer.bin.
  const bytes = await readFile(path.join(root, 'tests/fixtures/tiny-webgpu/tokenizer.json'));
  const loaded = await Reranker.load({ device: 'cpu', tokenizer: bytes, onProgress: (e) => events.push(e) });
  const files = new Set(events.filter((e) => e.file !== undefined).map((e) => e.file));
  assert.deepEqual([...files].sort(), ['tokenizer.bin', 'weights-int8.bpk']);
  const { PROGRESS_STATUSES } = await import(pathToFileURL(path.join(pkgDir, 'progress.js')).href);
  for (const [i, e] of events.entries()) {
    assert.ok(PROGRESS_STATUSES.includes(e.status), e.status);
    assert.ok(e.progress >= 0 && e.progress <= 1 && e.loaded <= e.total, JSON.stringify(e));
    if (i > 0) {
      assert.ok(e.progress >= events[i - 1].progress, `progress went back at event ${i}`);
      assert.ok(e.loaded >= events[i - 1].loaded, `loaded went back at event ${i}`);
    }
  }
  const weights = (await readFile(path.join(pkgDir, 'model/weights-int8.bpk'))).length;
  assert.deepEqual(events.at(-1), { status: 'ready', loaded: weights + bytes.length, total: weights + bytes.length, progress: 1 });
  assert.equal(events.filter((e) => e.status === 'ready').length, 1);
  // The bytes given are there at once; the weights are read from disk and checked.
  assert.deepEqual(events.filter((e) => e.file === 'tokenizer.bin').map((e) => e.status), ['cached']);
  assert.ok(events.some((e) => e.file === 'weights-int8.bpk' && e.status === 'verify'));
  const [score] = await loaded.predict([[reference.cases[0].query, reference.cases[0].passage]]);
  assert.ok(Math.abs(score - reference.cases[0].int8) <= toleranceOn(loaded.device), 'same scores with tokenizer.json');
  loaded.dispose();
});

test('createReranker in Node runs in this thread with the same surface; dispose ends it', async () => {
  const made = await createReranker({ device: 'cpu' });
  assert.equal(made.device.backend, 'cpu');
  assert.equal(made.precision, 'int8');
  const [score] = await made.predict([[reference.cases[0].query, reference.cases[0].passage]]);
  assert.ok(Math.abs(score - reference.cases[0].int8) <= toleranceOn(made.device));
  made.dispose();
  await assert.rejects(made.predict([['q', 'p']]), (e) => e.code === 'ABORTED');
  await assert.rejects(made.rerank('q', ['p']), (e) => e.code === 'ABORTED');
});
