// Robustness of the package at its JS boundary (Node, CPU path): typed errors for every bad
// input, edge-case texts, flat memory over 10,000 documents, AbortSignal, integrity checks of the
// model files against their manifest, and a fuzz run of 10,000 random and malformed calls after
// which a valid call still returns the reference scores.
//
//   RERANKER_PKG=/path/to/pkg node --test tests/js/robustness.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp, cp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { toleranceOn } from './tolerance.mjs';

const pkgDir = process.env.RERANKER_PKG;
assert.ok(pkgDir, 'set RERANKER_PKG to the package folder (./build.sh test does)');
const { Reranker, RerankerError, CODES, createReranker } = await import(pathToFileURL(path.join(pkgDir, 'index.js')).href);
const { wasmMemoryBytes } = await import(pathToFileURL(path.join(pkgDir, 'modules.js')).href);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const reference = JSON.parse(await readFile(path.join(root, 'tests/fixtures/tiny-optimum/reference.json'), 'utf8'));
const compact = JSON.parse(await readFile(path.join(root, 'tests/fixtures/tiny-webgpu/compact.json'), 'utf8'));

const reranker = await Reranker.load({ device: 'cpu' });
const [firstCase] = reference.cases;
/** onnxruntime's logit for the first case with the default (int8) weights. */
const firstExpected = compact.cases[0].ort_int8_logit;

/** A valid call still gives onnxruntime's logit: the instance survived whatever came before. */
async function stillExact(target = reranker) {
  const [score] = await target.predict([[firstCase.query, firstCase.passage]]);
  assert.ok(Math.abs(score - firstExpected) <= toleranceOn(target.device), `${score} vs ${firstExpected}`);
}

const typed = (code) => (e) => {
  assert.ok(e instanceof RerankerError, `not a RerankerError: ${e?.stack ?? e}`);
  assert.equal(e.name, 'RerankerError');
  assert.ok(CODES.includes(e.code), `unknown code ${e.code}`);
  if (code !== undefined) assert.equal(e.code, code, e.message);
  return true;
};

test('every bad argument is a RerankerError with code INVALID_INPUT', async () => {
  const cases = {
    'query number': () => reranker.rerank(42, ['a']),
    'query null': () => reranker.rerank(null, ['a']),
    'query object': () => reranker.rerank({ text: 'q' }, ['a']),
    'query empty': () => reranker.rerank('', ['a']),
    'query blank': () => reranker.rerank(' \t\n', ['a']),
    'documents string': () => reranker.rerank('q', 'a'),
    'documents object': () => reranker.rerank('q', { 0: 'a', length: 1 }),
    'document number': () => reranker.rerank('q', ['a', 7]),
    'document null': () => reranker.rerank('q', [null]),
    'document without text': () => reranker.rerank('q', [{ title: 'x' }]),
    'document text not a string': () => reranker.rerank('q', [{ text: 5 }]),
    'sparse documents': () => reranker.rerank('q', [, 'a']), // eslint-disable-line no-sparse-arrays
    'topN 0': () => reranker.rerank('q', ['a'], { topN: 0 }),
    'topN -1': () => reranker.rerank('q', ['a'], { topN: -1 }),
    'topN NaN': () => reranker.rerank('q', ['a'], { topN: Number.NaN }),
    'topN Infinity': () => reranker.rerank('q', ['a'], { topN: Infinity }),
    'topN 1e300': () => reranker.rerank('q', ['a'], { topN: 1e300 }),
    'topN 1.5': () => reranker.rerank('q', ['a'], { topN: 1.5 }),
    'topN string': () => reranker.rerank('q', ['a'], { topN: '3' }),
    'batchSize 0': () => reranker.rerank('q', ['a'], { batchSize: 0 }),
    'returnDocuments string': () => reranker.rerank('q', ['a'], { returnDocuments: 'yes' }),
    'options number': () => reranker.rerank('q', ['a'], 5),
    'unknown option': () => reranker.rerank('q', ['a'], { top_n: 1 }),
    'signal not a signal': () => reranker.rerank('q', ['a'], { signal: {} }),
    'pairs not an array': () => reranker.predict('q'),
    'pair of one': () => reranker.predict([['q']]),
    'pair of three': () => reranker.predict([['q', 'p', 'r']]),
    'pair of numbers': () => reranker.predict([[1, 2]]),
    'pair object': () => reranker.predict([{ query: 'q', passage: 'p' }]),
  };
  for (const [name, call] of Object.entries(cases)) {
    await assert.rejects(call, typed('INVALID_INPUT'), name);
  }
  for (const maxLength of [3, 513, 1.5, -1, Number.NaN, '64']) {
    await assert.rejects(Reranker.load({ device: 'cpu', maxLength }), typed('INVALID_INPUT'), `maxLength ${maxLength}`);
  }
  await assert.rejects(Reranker.load({ device: 'cpu', verify: 'yes' }), typed('INVALID_INPUT'));
  await stillExact();
});

test('edge-case texts: empty list, huge topN, surrogates, control characters, a 1 MB document', async () => {
  assert.deepEqual(await reranker.rerank('q', []), []);
  assert.deepEqual(await reranker.predict([]), []);
  const all = await reranker.rerank('q', ['a', 'b'], { topN: Number.MAX_SAFE_INTEGER });
  assert.equal(all.length, 2, 'a topN past the list returns all of it');
  // Lone surrogates cannot be UTF-8: they are read as U+FFFD, as TextEncoder does.
  const [lone, replaced] = await reranker.predict([['q\uD800', 'abc\uDC00'], ['q\uFFFD', 'abc\uFFFD']]);
  assert.equal(lone, replaced);
  const control = await reranker.predict([['\u0000\u0007 query', 'line\r\nfeed\u0000\u001b[31m \u202e \uFEFF']]);
  assert.ok(Number.isFinite(control[0]));
  // A 1 MB document is truncated, not rejected: it scores as its first words do.
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'δέλτα', 'данные', '数据'];
  const huge = Array.from({ length: 200_000 }, (_, i) => words[(i * 5 + (i >> 3)) % words.length]).join(' ');
  assert.ok(huge.length > 1_000_000);
  const prefix = huge.slice(0, huge.indexOf(' ', 20_000));
  const [whole, start] = await reranker.predict([[firstCase.query, huge], [firstCase.query, prefix]], { batchSize: 1 });
  assert.equal(whole, start);
  const [ranked] = await reranker.rerank(firstCase.query, [{ text: huge, id: 1 }], { returnDocuments: true });
  assert.equal(ranked.score, whole);
});

test('10,000 documents run in bounded batches: wasm memory does not grow with the count', async () => {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];
  const docs = (n) => Array.from({ length: n }, (_, i) => `${words[i % 10]} ${words[(i * 7) % 10]} ${i}`);
  await reranker.rerank('alpha query', docs(1_000), { batchSize: 256 });
  const before = wasmMemoryBytes();
  const ranked = await reranker.rerank('alpha query', docs(10_000), { batchSize: 256, topN: 10_000 });
  const growth = wasmMemoryBytes() - before;
  console.log(`# 10,000 documents: wasm memory ${before} -> ${wasmMemoryBytes()} bytes (+${growth})`);
  assert.equal(ranked.length, 10_000);
  assert.deepEqual(new Set(ranked.map((r) => r.index)).size, 10_000);
  // Scores and order: every result is a real score, sorted.
  for (let i = 1; i < ranked.length; i++) assert.ok(ranked[i - 1].score >= ranked[i].score);
  assert.ok(growth <= 1 << 20, `wasm memory grew by ${growth} bytes for 9,000 more documents`);
});

test('AbortSignal: rejects with ABORTED between batches; the instance stays usable', async () => {
  const pairs = Array.from({ length: 600 }, (_, i) => [firstCase.query, `${firstCase.passage} ${i}`]);
  // Already aborted: rejects without running, with the signal's reason as the cause.
  const done = AbortSignal.abort(new Error('user left'));
  await assert.rejects(reranker.predict(pairs, { signal: done }), (e) => typed('ABORTED')(e) && e.cause?.message === 'user left');
  // A full run, for scale.
  let start = performance.now();
  await reranker.predict(pairs, { batchSize: 8 });
  const full = performance.now() - start;
  // Aborted mid-run: the call rejects, and the next call, queued behind it, starts once the
  // aborted one has stopped at its next batch, long before it would have finished.
  const controller = new AbortController();
  const running = reranker.predict(pairs, { batchSize: 8, signal: controller.signal });
  const rejected = assert.rejects(running, typed('ABORTED'));
  setTimeout(() => controller.abort(), full / 10);
  start = performance.now();
  const next = reranker.predict([[firstCase.query, firstCase.passage]]);
  await rejected;
  const [score] = await next;
  const waited = performance.now() - start;
  console.log(`# abort: a full run takes ${full.toFixed(0)} ms; the call behind an aborted one answered after ${waited.toFixed(0)} ms`);
  assert.ok(Math.abs(score - firstExpected) <= toleranceOn(reranker.device));
  assert.ok(waited < full / 2, `the aborted call ran on: ${waited} ms vs ${full} ms for all of it`);
  // rerank honours it too, and so does the createReranker surface.
  const made = await createReranker({ device: 'cpu' });
  await assert.rejects(made.rerank('q', ['a'], { signal: AbortSignal.abort() }), typed('ABORTED'));
  await stillExact(made);
  made.dispose();
});

test('integrity: a flipped byte, a truncated file or a wrong manifest is rejected with INTEGRITY', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'reranker-model-'));
  try {
    const base = pathToFileURL(`${dir}/`).href;
    const reset = () => cp(path.join(pkgDir, 'model'), dir, { recursive: true });
    const weights = path.join(dir, 'weights-int8.bpk');
    await reset();
    const good = await Reranker.load({ device: 'cpu', baseUrl: base });
    await stillExact(good);
    good.dispose();

    const bytes = await readFile(weights);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length >> 1] ^= 0x01;
    await writeFile(weights, flipped);
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: base }), (e) => typed('INTEGRITY')(e) && /sha256/.test(e.message));
    // verify: false skips the check (the caller vouches for the files).
    await Reranker.load({ device: 'cpu', baseUrl: base, verify: false }).then((r) => r.dispose(), (e) => assert.notEqual(e.code, 'INTEGRITY'));

    await writeFile(weights, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: base }), (e) => typed('INTEGRITY')(e) && /truncated/.test(e.message));

    await reset();
    const manifestPath = path.join(dir, 'model.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.files['tokenizer.bin'].sha256 = '0'.repeat(64);
    await writeFile(manifestPath, JSON.stringify(manifest));
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: base }), (e) => typed('INTEGRITY')(e) && /tokenizer\.bin/.test(e.message));
    // Chunk digests (here 64 KiB pieces of the tokenizer): all must match too, and cover the file.
    const chunked = JSON.parse(await readFile(path.join(pkgDir, 'model/model.json'), 'utf8'));
    const tokenizerBytes = await readFile(path.join(dir, 'tokenizer.bin'));
    const step = 65536;
    const pieces = [];
    for (let at = 0; at < tokenizerBytes.length; at += step) {
      pieces.push(createHash('sha256').update(tokenizerBytes.subarray(at, at + step)).digest('hex'));
    }
    assert.ok(pieces.length >= 3, `${pieces.length} pieces`);
    const withChunks = (sha256) => {
      chunked.files['tokenizer.bin'].chunks = { size: step, sha256 };
      return writeFile(manifestPath, JSON.stringify(chunked));
    };
    await withChunks(pieces);
    (await Reranker.load({ device: 'cpu', baseUrl: base })).dispose();
    await withChunks(pieces.map((digest, i) => (i === 2 ? '0'.repeat(64) : digest)));
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: base }),
      (e) => typed('INTEGRITY')(e) && e.message.includes(`at bytes ${2 * step}..${3 * step}`));
    await withChunks(pieces.slice(1));
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: base }), (e) => typed('INTEGRITY')(e) && /do not cover/.test(e.message));
    await writeFile(manifestPath, '{"files": ');
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: base }), typed('INTEGRITY'));
    const unlisted = JSON.parse(await readFile(path.join(pkgDir, 'model/model.json'), 'utf8'));
    // (A manifest without the weights of one precision is a folder built without them: MODEL_LOAD,
    // node.test.mjs. One without the tokenizer every load needs is broken.)
    delete unlisted.files['tokenizer.bin'];
    await writeFile(manifestPath, JSON.stringify(unlisted));
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: base }), (e) => typed('INTEGRITY')(e) && /does not list tokenizer\.bin/.test(e.message));

    // A folder without a manifest (a model of your own) loads unchecked.
    await reset();
    await rm(manifestPath);
    const unchecked = await Reranker.load({ device: 'cpu', baseUrl: base });
    await stillExact(unchecked);
    unchecked.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A small seeded PRNG (mulberry32), so a failing fuzz case can be replayed. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('fuzz: 10,000 random and malformed calls answer or reject with a typed error; then reference scores', async () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261127);
  const random = prng(seed);
  const int = (n) => Math.floor(random() * n);
  const pick = (items) => items[int(items.length)];
  const pieces = ['the', 'Paris', 'données', 'данные', '数据', 'بيانات', '\uD800', '\uDFFF', '\u0000', '\u200d', '🙂',
    '\r\n', ' ', '\t', '<img src=x onerror=alert(1)>', 'a'.repeat(300), '\uFFFF', '\u{10FFFF}', '’'];
  const text = () => Array.from({ length: int(12) }, () => pick(pieces)).join(pick(['', ' ', ' ']));
  const junk = () => pick([undefined, null, 0, -1, 1.5, Number.NaN, Infinity, true, 'str', [], {}, [1, 2], { text: 7 },
    Symbol('s'), () => 1, new Uint8Array(3), new Date(0), Object.create(null), 10n]);
  const value = () => (random() < 0.7 ? text() : junk());
  const doc = () => pick([text, text, () => ({ text: text(), id: int(9) }), junk])();
  const documents = () => (random() < 0.9 ? Array.from({ length: int(6) }, doc) : junk());
  const options = () => pick([
    undefined, {}, { topN: pick([1, 2, 0, -3, 2.5, Number.NaN, 1e9, '1']) }, { batchSize: pick([1, 3, 64, 0, 1e12, -1]) },
    { returnDocuments: pick([true, false, 1]) }, { signal: pick([AbortSignal.abort(), new AbortController().signal, 'x']) },
    { [pick(['top_n', 'batch', 'signals'])]: 1 }, junk(),
  ]);
  const calls = [
    () => reranker.rerank(value(), documents(), options()),
    () => reranker.predict(random() < 0.9 ? Array.from({ length: int(5) }, () => (random() < 0.8 ? [value(), value()] : junk())) : junk(), options()),
  ];
  const tally = { answered: 0 };
  const TOTAL = 10_000;
  for (let done = 0; done < TOTAL;) {
    const wave = Array.from({ length: Math.min(50, TOTAL - done) }, () => {
      const which = int(calls.length);
      let promise;
      try {
        promise = calls[which]();
      } catch (error) {
        promise = Promise.reject(error); // a synchronous throw would be a bug too: recorded below
        promise.sync = true;
      }
      return promise;
    });
    const settled = await Promise.allSettled(wave);
    for (const [i, outcome] of settled.entries()) {
      assert.ok(!wave[i].sync, `call ${done + i} threw synchronously (seed ${seed})`);
      if (outcome.status === 'fulfilled') {
        assert.ok(Array.isArray(outcome.value), `call ${done + i} answered ${outcome.value} (seed ${seed})`);
        for (const r of outcome.value) {
          assert.ok(typeof r === 'number' ? !Number.isNaN(r) : Number.isFinite(r.score), `call ${done + i} (seed ${seed})`);
        }
        tally.answered += 1;
      } else {
        typed()(outcome.reason);
        tally[outcome.reason.code] = (tally[outcome.reason.code] ?? 0) + 1;
      }
    }
    done += wave.length;
  }
  console.log(`# fuzz (seed ${seed}): ${JSON.stringify(tally)}`);
  assert.ok(tally.answered > 500 && tally.INVALID_INPUT > 500, 'the fuzz mixes valid and invalid calls');
  await stillExact();
});
