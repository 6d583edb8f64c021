// Search-library adapters on real library output (MiniSearch and Orama from npm, in Node; the
// Pagefind adapter runs on a real Pagefind index in tests/js/site.test.mjs), the generic
// rerankResults, and chunked long documents against the Python reference.
//
//   RERANKER_PKG=/path/to/pkg NODE_TOOLS=~/.cache/reranker/node-tools node --test tests/js/adapters.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const pkgDir = process.env.RERANKER_PKG;
const tools = process.env.NODE_TOOLS;
assert.ok(pkgDir && tools, 'set RERANKER_PKG and NODE_TOOLS (./build.sh test does)');
const pkg = await import(pathToFileURL(path.join(pkgDir, 'index.js')).href);
const { Reranker, RerankerError, rerankResults, rerankMiniSearch, rerankOrama, oramaReranker } = pkg;
const requireTool = createRequire(path.join(tools, 'package.json'));
const { default: MiniSearch } = await import(pathToFileURL(requireTool.resolve('minisearch')).href);
const orama = await import(pathToFileURL(requireTool.resolve('@orama/orama')).href);

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const fixture = path.join(root, 'tests/fixtures/tiny-webgpu');
const chunking = JSON.parse(await readFile(path.join(fixture, 'chunking.json'), 'utf8'));
const TOLERANCE = 1e-4;

const reranker = await Reranker.load({ device: 'cpu' });

/** The demo's corpus, as `{ id, lang, topic, title, text }` documents. */
const corpus = (await readFile(path.join(root, 'www/data/passages.tsv'), 'utf8')).trimEnd().split('\n').slice(1)
  .map((line, id) => {
    const [lang, topic, text] = line.split('\t');
    return { id, lang, topic, title: `${topic} (${lang})`, text };
  });

/** Scores the reranker gives these texts, by text. */
async function scoresOf(query, texts) {
  const scores = await reranker.predict(texts.map((t) => [query, t]));
  return new Map(texts.map((t, i) => [t, scores[i]]));
}

/** `reranked` is `original`'s first `topK` reordered by `score` (descending), then the rest as they were. */
function checkOrder(original, reranked, topK, score) {
  assert.equal(reranked.length, original.length, 'nothing dropped or added');
  const head = original.slice(0, topK);
  assert.deepEqual(new Set(reranked.slice(0, head.length)), new Set(head), 'the head holds the same objects');
  assert.deepEqual(reranked.slice(head.length), original.slice(head.length), 'the tail keeps its order');
  for (let i = 1; i < head.length; i++) assert.ok(score(reranked[i - 1]) >= score(reranked[i]) - 1e-6, `order at ${i}`);
}

test('generic rerankResults: order by score, same objects, topK, empty, scores, errors', async () => {
  const results = corpus.slice(0, 12).map((d) => ({ ...d }));
  const query = 'Where is the Eiffel Tower?';
  const byText = await scoresOf(query, results.map((r) => r.text));
  const reranked = await rerankResults(reranker, query, results, { getText: (r) => r.text, topK: 8 });
  checkOrder(results, reranked, 8, (r) => byText.get(r.text));
  assert.ok(reranked.every((r) => results.includes(r)), 'the caller\'s own objects');
  const scored = await rerankResults(reranker, query, results, { getText: async (r) => r.text, topK: 5, withScores: true });
  scored.slice(0, 5).forEach(({ result, score }) => assert.ok(Math.abs(score - byText.get(result.text)) <= TOLERANCE));
  assert.ok(scored.slice(5).every((e) => e.score === undefined));
  assert.deepEqual(await rerankResults(reranker, query, [], { getText: (r) => r.text }), []);
  const bad = (e) => e instanceof RerankerError && e.code === 'INVALID_INPUT';
  await assert.rejects(rerankResults(reranker, query, results, {}), bad);
  await assert.rejects(rerankResults(reranker, query, results, { getText: (r) => r.id }), bad);
  await assert.rejects(rerankResults(reranker, query, results, { getText: (r) => r.text, topK: 0 }), bad);
  await assert.rejects(rerankResults(reranker, query, 'nope', { getText: (r) => r.text }), bad);
  await assert.rejects(rerankResults(reranker, query, results, { getText: (r) => r.text, topN: 3 }), bad);
});

test('MiniSearch: its search() results reranked, its objects kept, topK respected', async () => {
  const mini = new MiniSearch({ fields: ['title', 'text'], storeFields: ['title', 'text', 'lang'] });
  mini.addAll(corpus);
  const query = 'the city in the world';
  const results = mini.search(query, { fuzzy: 0.2, prefix: true });
  assert.ok(results.length > 20, `MiniSearch found ${results.length}`);
  const snapshot = results.map((r) => ({ ...r }));
  const byText = await scoresOf(query, results.slice(0, 20).map((r) => `${r.title}\n${r.text}`));
  const reranked = await rerankMiniSearch(reranker, query, results, { topK: 20 });
  checkOrder(results, reranked, 20, (r) => byText.get(`${r.title}\n${r.text}`));
  assert.deepEqual(results.map((r) => ({ ...r })), snapshot, 'the results are not modified');
  assert.ok('match' in reranked[0] && 'terms' in reranked[0] && typeof reranked[0].score === 'number', 'MiniSearch objects');
  assert.deepEqual(await rerankMiniSearch(reranker, query, mini.search('zzzzqqqq')), []);
  const bare = new MiniSearch({ fields: ['text'] });
  bare.addAll(corpus.slice(0, 5));
  await assert.rejects(rerankMiniSearch(reranker, 'the', bare.search('the tower')), /storeFields/);
});

test('Orama: rerankOrama and the afterSearch plugin rerank its hits, same hit objects', async () => {
  const schema = { title: 'string', text: 'string', lang: 'string' };
  const db = orama.create({ schema });
  for (const { title, text, lang } of corpus) orama.insert(db, { title, text, lang });
  const query = 'the tallest tower in the world';
  const found = await orama.search(db, { term: query, limit: 25 });
  assert.ok(found.hits.length > 5, `Orama found ${found.hits.length}`);
  const text = (hit) => `${hit.document.title}\n${hit.document.text}`;
  const byText = await scoresOf(query, found.hits.map(text));
  const reranked = await rerankOrama(reranker, query, found, { topK: 10 });
  assert.equal(reranked.count, found.count);
  checkOrder(found.hits, reranked.hits, 10, (hit) => byText.get(text(hit)));
  assert.ok(reranked.hits.every((h) => found.hits.includes(h)));

  const withPlugin = orama.create({ schema, plugins: [oramaReranker(reranker, { topK: 10 })] });
  for (const { title, text: t, lang } of corpus) orama.insert(withPlugin, { title, text: t, lang });
  const plain = await orama.search(db, { term: query, limit: 25 });
  const hooked = await orama.search(withPlugin, { term: query, limit: 25 });
  checkOrder(plain.hits.map(text), hooked.hits.map(text), 10, (t) => byText.get(t));
  const empty = await orama.search(withPlugin, { term: 'zzzzqqqq' });
  assert.deepEqual(empty.hits, []);
});

test('chunked long documents score as Python\'s best window (per-window logits: tests/parity.rs)', async () => {
  for (const c of chunking.cases) {
    // chunking.json is onnxruntime on the f32 model.
    const local = await Reranker.load({ device: 'cpu', maxLength: c.max_length, precision: 'f32' });
    const [chunked] = await local.rerank(c.query, [c.document], { maxChunksPerDoc: c.max_chunks });
    assert.ok(Math.abs(chunked.score - c.score) <= TOLERANCE, `${chunked.score} vs ${c.score}`);
    const [plain] = await local.rerank(c.query, [c.document]);
    if (c.chunk_ids.length === 1) {
      assert.equal(chunked.score, plain.score, 'a document that fits is scored as without chunking');
    }
    local.dispose();
  }
  await assert.rejects(reranker.rerank('q', ['a'], { maxChunksPerDoc: 0 }), (e) => e.code === 'INVALID_INPUT');
});
