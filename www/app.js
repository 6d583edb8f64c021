// The demo: MiniSearch finds candidates in a multilingual corpus, the reranker (in a Web Worker)
// reorders them. Text from the corpus and from the user is only ever set with textContent.
import MiniSearch from './vendor/minisearch.js';
import { createReranker } from './pkg/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const EXAMPLES = [
  'Who painted the Mona Lisa?',
  'How high is Mount Everest?',
  'Einstein Nobel Prize',
  'Wann wurde der Eiffelturm gebaut?',
  'Quand a-t-on marché sur la Lune pour la première fois ?',
  '¿Por qué son importantes las abejas?',
  'Почему мёд не портится?',
  '火山はどうやってできる？',
  '长城是为了什么修建的？',
  'كم يبلغ طول الماراثون؟',
];

// NOTE: MiniSearch splits on spaces and punctuation, which leaves Chinese and Japanese as one
// token per sentence; those scripts are indexed as single characters plus character bigrams.
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
function tokenize(text) {
  const terms = [];
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? []) {
    if (!CJK.test(word)) { terms.push(word); continue; }
    const chars = [...word];
    chars.forEach((c, i) => { terms.push(c); if (i + 1 < chars.length) terms.push(c + chars[i + 1]); });
  }
  return terms;
}

function showError(error) {
  $('error').hidden = false;
  $('error').textContent = `${error.name ?? 'Error'}${error.code ? ` (${error.code})` : ''}: ${error.message}`;
  document.body.dataset.state = 'error';
}

function item(doc, meta) {
  const li = document.createElement('li');
  const head = document.createElement('div');
  head.className = 'meta';
  const lang = document.createElement('span');
  lang.className = 'lang';
  lang.textContent = doc.lang;
  head.append(lang);
  for (const [text, cls] of meta) {
    const span = document.createElement('span');
    span.textContent = text;
    if (cls) span.className = cls;
    head.append(span);
  }
  const body = document.createElement('div');
  body.className = 'text';
  body.textContent = doc.text;
  li.append(head, body);
  return li;
}

async function loadCorpus() {
  const tsv = await (await fetch('./data/passages.tsv')).text();
  const [header, ...lines] = tsv.trimEnd().split('\n');
  const fields = header.split('\t');
  return lines.map((line, id) => {
    const values = line.split('\t');
    return Object.fromEntries([['id', id], ...fields.map((f, i) => [f, values[i]])]);
  });
}

async function main() {
  const corpus = await loadCorpus();
  const search = new MiniSearch({ fields: ['text'], storeFields: ['text', 'lang', 'topic'], tokenize });
  search.addAll(corpus);
  const languages = new Set(corpus.map((d) => d.lang));
  $('corpus-note').textContent = `${corpus.length} passages in ${languages.size} languages (${[...languages].join(', ')}).`;

  const showModel = async () => {
    const manifest = await fetch('./pkg/model/model.json').then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
    $('model-name').textContent = manifest.name ?? 'unknown model';
    $('test-model').hidden = manifest.randomWeights !== true;
    $('unpinned-model').hidden = manifest.source?.pinned !== false;
  };

  // ?load=lazy: the model is fetched on the first search (never under the data saver, unless
  // ?saveData=ignore), as the Pagefind UI drop-in does on a static site; first-stage results show
  // at once either way. The default loads it with the page.
  const lazy = params.get('load') === 'lazy';
  const saving = navigator.connection?.saveData === true && params.get('saveData') !== 'ignore';
  let loading = null;
  let loadMs = 0;
  let reranker = null;
  const showDevice = () => {
    const { backend, matmul, fallbackReason, activations, activationsReason } = reranker.device;
    const seven = activations === 'i7' ? ', 7-bit activations' : '';
    $('backend').textContent = backend === 'webgpu' ? 'WebGPU' : `CPU (WebAssembly, ${matmul} products${seven})`;
    $('backend').dataset.backend = backend;
    const reasons = [fallbackReason, activationsReason && `'i7' not used: ${activationsReason}`].filter(Boolean);
    $('fallback').textContent = reasons.length ? `— ${reasons.join('; ')}` : '';
  };
  /** The reranker, loaded once (null under the data saver in lazy mode). */
  const getReranker = () => loading ??= (async () => {
    if (lazy && saving) {
      $('backend').textContent = 'not loaded: the data saver is on (keyword order only)';
      return null;
    }
    $('backend').textContent = 'loading…';
    const started = performance.now();
    reranker = await createReranker({
      device: params.get('device') ?? 'auto',
      // ?precision=f32 loads the exact f32 weights (a folder built with RERANKER_F32=1).
      precision: params.get('precision') ?? undefined,
      // ?activations=i7: the int8 products on 7-bit activations (relaxed SIMD; faster, coarser).
      activations: params.get('activations') ?? undefined,
      worker: params.get('worker') !== '0',
      // One bar for the whole load: the files' bytes summed, from the network or the store.
      onProgress: ({ status, loaded, total, progress }) => {
        $('progress').max = 1;
        $('progress').value = progress;
        $('progress-text').textContent = `${status}: ${(loaded / 1e6).toFixed(1)} / ${(total / 1e6).toFixed(1)} MB`;
      },
    });
    loadMs = performance.now() - started;
    await showModel();
    showDevice();
    $('timings').textContent = `model loaded in ${loadMs.toFixed(0)} ms (${reranker.precision} weights)`;
    return reranker;
  })();
  if (lazy) {
    $('backend').textContent = saving ? 'not loaded: the data saver is on (keyword order only)' : 'not loaded yet: it loads on the first search';
    $('mode').textContent = 'lazy: the model loads on the first search';
    $('model-name').textContent = 'not loaded yet';
  } else {
    await getReranker();
  }

  async function run(query) {
    $('error').hidden = true;
    document.body.dataset.state = 'running';
    const k = Number($('k').value);
    const t0 = performance.now();
    const hits = search.search(query, { prefix: true, fuzzy: 0.2 }).slice(0, k);
    const searchMs = performance.now() - t0;
    $('first-stage').replaceChildren(...hits.map((h) => item(h, [[`MiniSearch ${h.score.toFixed(2)}`]])));
    if (hits.length === 0) {
      $('reranked').replaceChildren();
      $('timings').textContent = `search ${searchMs.toFixed(1)} ms: no candidates`;
      document.body.dataset.state = 'done';
      return;
    }
    // Let the first stage paint before the reranker runs: it shows at once, and its layout is
    // not counted as the reranker's time.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    if (!(await getReranker())) {
      $('reranked').replaceChildren();
      $('timings').textContent = `search ${searchMs.toFixed(1)} ms · not reranked (data saver)`;
      window.__demo = { searchMs, reranked: false };
      document.body.dataset.state = 'done';
      return;
    }
    const t1 = performance.now();
    const ranked = await reranker.rerank(query, hits, { returnDocuments: true });
    const rerankMs = performance.now() - t1;
    $('reranked').replaceChildren(...ranked.map((r, rank) => {
      const moved = r.index - rank;
      return item(r.document, [
        [`score ${r.score.toFixed(3)}`],
        [`p ${r.probability.toFixed(3)}`],
        [moved === 0 ? 'same place' : `was #${r.index + 1}`, moved > 0 ? 'up' : moved < 0 ? 'down' : ''],
      ]);
    }));
    showDevice();
    $('timings').textContent = `search ${searchMs.toFixed(1)} ms · rerank ${hits.length} passages ${rerankMs.toFixed(0)} ms · model loaded in ${loadMs.toFixed(0)} ms`;
    window.__demo = { searchMs, rerankMs, loadMs, rerankStart: t1, candidates: hits.length, scores: ranked.map((r) => r.score) };
    document.body.dataset.state = 'done';
  }

  for (const q of EXAMPLES) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = q;
    button.addEventListener('click', () => { $('query').value = q; run(q).catch(showError); });
    $('examples').append(button);
  }
  $('search').addEventListener('submit', (event) => {
    event.preventDefault();
    run($('query').value).catch(showError);
  });
  $('go').disabled = false;
  document.body.dataset.state = 'ready';
  if (params.has('q')) { $('query').value = params.get('q'); await run(params.get('q')); }
}

main().catch(showError);
