// web-reranker adapters: rerank what a site's client-side search already returns, keeping the
// search library's own result objects. `rerankResults` is the generic one; MiniSearch, Pagefind
// and Orama get thin wrappers that know where each library keeps the text.
import { RerankerError } from './errors.js';
import { checkOptions } from './options.js';

/** How many of the first results are reranked unless `topK` says otherwise. */
export const DEFAULT_TOP_K = 30;

/** The options `reranker.rerank` takes that the adapters pass on. */
const PASSED_ON = ['batchSize', 'signal', 'maxChunksPerDoc'];

const invalid = (message) => new RerankerError('INVALID_INPUT', message);

function checkTopK(topK) {
  if (!(topK === Infinity || (Number.isInteger(topK) && topK >= 1))) {
    throw invalid(`topK must be a whole number of at least 1 (or Infinity), got ${String(topK)}`);
  }
}

/**
 * Reranks the first `topK` of `results` by the reranker's score and puts them first; the rest
 * follow in their original order (nothing is dropped). The objects are the caller's own,
 * unchanged. With `withScores`, each entry is `{ result, score }` (`score` undefined past `topK`).
 */
export async function rerankResults(reranker, query, results, options = {}) {
  checkOptions(options, ['getText', 'topK', 'withScores', ...PASSED_ON], 'rerankResults options');
  const { getText, topK = DEFAULT_TOP_K, withScores = false, ...rerankOptions } = options;
  if (!Array.isArray(results)) throw invalid('results must be an array');
  if (typeof getText !== 'function') throw invalid('getText must be a function: result => its text');
  checkTopK(topK);
  const head = results.slice(0, topK);
  const texts = await Promise.all(head.map(async (result, i) => {
    const text = await getText(result);
    if (typeof text !== 'string') throw invalid(`getText gave ${typeof text}, not a string, for result ${i}`);
    return text;
  }));
  const ranked = head.length === 0 ? [] : await reranker.rerank(query, texts, rerankOptions);
  const entries = [
    ...ranked.map((r) => ({ result: head[r.index], score: r.score })),
    ...results.slice(head.length).map((result) => ({ result, score: undefined })),
  ];
  return withScores ? entries : entries.map((e) => e.result);
}

/** `getText` for results that carry their text in named string fields, joined by new lines. */
function fieldsText(fields, where, what, hint) {
  if (!Array.isArray(fields) || fields.length === 0 || !fields.every((f) => typeof f === 'string')) {
    throw invalid('fields must be a non-empty array of field names');
  }
  return (result) => {
    const source = where(result);
    const parts = fields.map((f) => source?.[f]).filter((v) => typeof v === 'string' && v !== '');
    if (parts.length === 0) {
      throw invalid(`${what} has none of the text fields ${fields.join(', ')}: ${hint}, or pass getText`);
    }
    return parts.join('\n');
  };
}

/**
 * MiniSearch: reranks `miniSearch.search(query)` results. Their text comes from stored fields
 * (`storeFields`): `fields` (default `['title', 'text']`) joined, or your `getText(result)`.
 */
export function rerankMiniSearch(reranker, query, results, options = {}) {
  const { fields = ['title', 'text'], getText, ...rest } = options ?? {};
  return rerankResults(reranker, query, results, {
    getText: getText ?? fieldsText(fields, (r) => r, 'a MiniSearch result', 'list them in storeFields'), ...rest,
  });
}

/**
 * Orama: reranks the hits of `search(db, { term })`; returns the search result with `hits`
 * reordered (the same hit objects). Text from `hit.document`'s `fields` (default
 * `['title', 'text']`), or your `getText(hit)`.
 */
export async function rerankOrama(reranker, query, searchResult, options = {}) {
  if (searchResult === null || typeof searchResult !== 'object' || !Array.isArray(searchResult.hits)) {
    throw invalid('searchResult must be what Orama search() returned ({ hits })');
  }
  const { fields = ['title', 'text'], getText, ...rest } = options ?? {};
  const hits = await rerankResults(reranker, query, searchResult.hits, {
    getText: getText ?? fieldsText(fields, (hit) => hit.document, 'an Orama hit\'s document', 'name them in fields'), ...rest,
  });
  return { ...searchResult, hits };
}

/**
 * Orama plugin: every full-text `search()` of a database created with
 * `plugins: [oramaReranker(reranker, options)]` comes back reranked (its `term` is the query).
 */
export function oramaReranker(reranker, options = {}) {
  return {
    name: 'web-reranker',
    afterSearch: async (orama, params, language, results) => {
      if (typeof params?.term !== 'string' || params.term.trim() === '' || results.hits.length === 0) return;
      results.hits = (await rerankOrama(reranker, params.term, results, options)).hits;
    },
  };
}

/**
 * Pagefind: reranks the results of `pagefind.search(query)` (the response or its `results`).
 * Only the first `topK` results' `data()` is loaded (Pagefind loads it lazily); the text is the
 * page's title and content, or your `getText(data, result)`. Returns `{ result, data, score }`
 * entries, best first (`data` and `score` undefined past `topK`), so pages render without a
 * second `data()` call.
 */
export async function rerankPagefind(reranker, query, search, options = {}) {
  const results = Array.isArray(search) ? search : search?.results;
  if (!Array.isArray(results)) throw invalid('pass what pagefind.search() returned, or its results');
  const { getText, topK = DEFAULT_TOP_K, ...rest } = options ?? {};
  checkTopK(topK);
  const text = getText ?? ((data) => [data.meta?.title, data.content].filter(Boolean).join('\n'));
  const loaded = await Promise.all(results.slice(0, topK).map(async (result) => ({ result, data: await result.data() })));
  const entries = [...loaded, ...results.slice(loaded.length).map((result) => ({ result, data: undefined }))];
  const ranked = await rerankResults(reranker, query, entries, {
    ...rest, topK, withScores: true, getText: (e) => text(e.data, e.result),
  });
  return ranked.map(({ result: e, score }) => ({ result: e.result, data: e.data, score }));
}
