// The browser benchmark's page side (bench/browser.mjs drives it): our wasm CPU path and
// Transformers.js (onnxruntime-web, wasm) on the same model, the same pairs, in one page session.
import { Reranker, createReranker } from '/pkg/index.js';

/**
 * Threads for both libraries (the page's `?threads=N`, default 1). With 1, ours runs in this
 * thread, as Transformers.js does; with more, ours runs through createReranker (a worker, since a
 * page's main thread may not wait for its pool) and onnxruntime-web gets as many.
 */
const threads = Number(new URLSearchParams(location.search).get('threads') ?? 1);

let transformers = null;
async function tjs() {
  if (transformers === null) {
    transformers = await import('/tjs/transformers.js');
    const { env } = transformers;
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = '/models/';
    env.backends.onnx.wasm.wasmPaths = '/ort/';
    // As many threads as ours: by default one, the same work on the same core.
    env.backends.onnx.wasm.numThreads = threads;
  }
  return transformers;
}

/** The benchmark's inputs: a query and two sets of 30 passages from the committed texts. */
export async function inputs() {
  const { texts } = await (await fetch('/data/multilingual_texts.json')).json();
  const all = texts.map((t) => t.text);
  const query = 'Wie hoch ist die Zugspitze und wann wurde sie zuerst bestiegen?';
  // As examples/bench_native.rs builds its mixed set: 1 to 24 consecutive texts.
  const mixed = Array.from({ length: 30 }, (_, i) => {
    const start = (i * 53) % (all.length - 30);
    return all.slice(start, start + 1 + ((i * 7) % 24)).join(' ');
  });
  // Search-result snippets: 1 to 3 texts.
  const snippets = Array.from({ length: 30 }, (_, i) => {
    const start = (i * 71) % (all.length - 3);
    return all.slice(start, start + 1 + (i % 3)).join(' ');
  });
  return { query, sets: { snippets, mixed } };
}

const now = () => performance.now();

/**
 * Loads ours (CPU; in this thread, or with threads in a worker); returns the time and where it
 * went. `int8-i7` is the int8 weights with `activations: 'i7'`.
 */
export async function loadOurs(form) {
  const start = now();
  const [precision, activations] = form === 'int8-i7' ? ['int8', 'i7'] : [form, undefined];
  const options = { device: 'cpu', precision, ...(activations && { activations }) };
  const reranker = threads === 1 ? await Reranker.load(options) : await createReranker({ ...options, threads });
  if (reranker.device.threads !== threads) throw new Error(`ours runs on ${JSON.stringify(reranker.device)}, not ${threads} threads`);
  if (activations && reranker.device.activations !== activations) {
    throw new Error(`ours runs with ${JSON.stringify(reranker.device)}, not ${activations} activations`);
  }
  return { reranker, ms: now() - start, loadTimings: reranker.loadTimings };
}

export async function loadTjs(dtype) {
  const { AutoTokenizer, AutoModelForSequenceClassification } = await tjs();
  const start = now();
  const tokenizer = await AutoTokenizer.from_pretrained('fullshape');
  const tokenizerMs = now() - start;
  const model = await AutoModelForSequenceClassification.from_pretrained('fullshape', { dtype, device: 'wasm' });
  return { tokenizer, model, ms: now() - start, tokenizerMs };
}

/** Logits of (query, passage) pairs with Transformers.js: one padded call, or length-sorted batches. */
export async function tjsLogits({ tokenizer, model }, query, passages, batching) {
  const run = async (subset) => {
    const inputs = tokenizer(new Array(subset.length).fill(query), { text_pair: subset, padding: true, truncation: true, max_length: 512 });
    const { logits } = await model(inputs);
    return Array.from(logits.data);
  };
  if (batching === 'one call') return { logits: await run(passages), tokens: null };
  const lengths = passages.map((p) => tokenizer(query, { text_pair: p, truncation: true, max_length: 512 }).input_ids.size);
  const order = passages.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a]);
  const logits = new Array(passages.length);
  for (let at = 0; at < order.length; at += 16) {
    const batch = order.slice(at, at + 16);
    const got = await run(batch.map((i) => passages[i]));
    batch.forEach((i, k) => { logits[i] = got[k]; });
  }
  return { logits, tokens: lengths.reduce((a, b) => a + b, 0) };
}

/** Times `runs` calls of `call` after one warm-up; returns the times and the last result. */
export async function timed(call, runs) {
  let result = await call();
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const start = now();
    result = await call();
    ms.push(now() - start);
  }
  return { ms, result };
}

/** Cold start: time to the first result, from this page's start. */
export async function firstResult(lib, precision) {
  const t0 = now();
  const { query, sets } = await inputs();
  const passages = sets.snippets.slice(0, 10);
  let loaded; let first; let logits; let detail; let run;
  if (lib === 'ours') {
    loaded = await loadOurs(precision);
    run = () => loaded.reranker.predict(passages.map((p) => [query, p]));
    detail = loaded.loadTimings;
  } else {
    loaded = await loadTjs(precision);
    run = async () => (await tjsLogits(loaded, query, passages, 'one call')).logits;
    detail = { tokenizerMs: loaded.tokenizerMs };
  }
  let start = now();
  logits = await run();
  first = now() - start;
  const totalMs = now();
  // The same call again: what the first one spent compiling and warming up, next to the work.
  start = now();
  await run();
  const secondMs = now() - start;
  return { pageStartMs: t0, loadMs: loaded.ms, firstMs: first, secondMs, totalMs, detail, logits };
}

/**
 * WebGPU timing (SwiftShader here, so correctness-level): the first call (pipelines compile) and
 * the calls after it, for 1 and 8 snippets. `dtype`: Transformers.js's weights ('q8', 'fp32').
 */
export async function webgpu(lib, runs, dtype = 'q8') {
  const { query, sets } = await inputs();
  const out = { lib, ...(lib === 'ours' ? {} : { dtype }) };
  const start = now();
  let predict;
  let dispose;
  if (lib === 'ours') {
    const reranker = await Reranker.load({ device: 'webgpu', precision: 'int8' });
    out.device = reranker.device;
    out.loadTimings = reranker.loadTimings;
    predict = (passages) => reranker.predict(passages.map((p) => [query, p]));
    dispose = () => reranker.dispose();
  } else {
    const { AutoTokenizer, AutoModelForSequenceClassification } = await tjs();
    const tokenizer = await AutoTokenizer.from_pretrained('fullshape');
    const model = await AutoModelForSequenceClassification.from_pretrained('fullshape', { dtype, device: 'webgpu' });
    predict = async (passages) => (await tjsLogits({ tokenizer, model }, query, passages, 'one call')).logits;
    dispose = () => model.dispose();
  }
  out.loadMs = now() - start;
  for (const n of [1, 8]) {
    const passages = sets.snippets.slice(0, n);
    const ms = [];
    for (let i = 0; i <= runs; i++) {
      const t = now();
      await predict(passages);
      ms.push(now() - t);
    }
    out[`${n} pairs`] = { firstMs: ms[0], laterMs: ms.slice(1) };
  }
  await dispose();
  return out;
}

window.bench = { threads, inputs, loadOurs, loadTjs, tjsLogits, timed, firstResult, webgpu };
window.benchReady = true;
