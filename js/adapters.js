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

/** What of a Pagefind result is scored: its matched section (default) or the whole page. */
export const PAGEFIND_PASSAGES = Object.freeze(['section', 'page']);

/**
 * The section text's parts, in words: the page's opening (`leadWords`, what the page is about)
 * and a window of the matched section around its matches (`sectionWords`). NOTE: chosen on a
 * labelled set from Git's manual (bench/docs_ranking.mjs, BENCHMARKS.md section 8): the page's
 * title, 16 words of its opening, the section's heading and 32 words of it ranked the answering
 * page first more often than the whole page did, at about a fifth of its tokens; without the
 * opening, sections ranked no better than whole pages.
 */
export const SECTION_WORDS = 32;
export const LEAD_WORDS = 16;

// Pagefind's own word split: a location indexes `content` split like this.
const WORDS = /[\r\n\s]+/g;

/** The sub-result whose matches weigh most (Pagefind's `balanced_score`), else the first. */
function bestSection(data) {
  let best;
  let bestScore = -Infinity;
  for (const sub of Array.isArray(data.sub_results) ? data.sub_results : []) {
    const score = matches(sub).reduce((sum, m) => sum + m.weight, 0);
    if (score > bestScore) {
      best = sub;
      bestScore = score;
    }
  }
  return best;
}

/** A (sub-)result's matched words: `{ location, weight }`, weighted by `balanced_score`. */
function matches(result) {
  if (Array.isArray(result?.weighted_locations) && result.weighted_locations.length > 0) {
    return result.weighted_locations.map((w) => ({ location: w.location, weight: Number(w.balanced_score) || 0 }));
  }
  return (Array.isArray(result?.locations) ? result.locations : []).map((location) => ({ location, weight: 1 }));
}

/** Where the `size` words of [start, end) that weigh most of `hits` begin (the earliest wins). */
function densestWindow(hits, start, end, size) {
  if (end - start <= size || hits.length === 0) return start;
  let best = start;
  let most = -Infinity;
  for (const { location } of hits) {
    const from = Math.min(Math.max(start, location - Math.floor(size / 4)), end - size);
    const weight = hits.reduce((sum, h) => sum + (h.location >= from && h.location < from + size ? h.weight : 0), 0);
    if (weight > most) {
      best = from;
      most = weight;
    }
  }
  return best;
}

/**
 * The text of a Pagefind result (`await result.data()`) that the reranker scores.
 * `'section'` (default): the page's title, the first `leadWords` words of the page, the heading
 * of the section whose matches weigh most (Pagefind's `sub_results`), and `sectionWords` words of
 * that section around its matches: what a visitor reads of a long page, at a fraction of its
 * tokens. `'page'`: the page's title and its whole content (cut at the reranker's `maxLength`).
 */
export function pagefindText(data, { passage = 'section', sectionWords = SECTION_WORDS, leadWords = LEAD_WORDS } = {}) {
  const title = typeof data?.meta?.title === 'string' ? data.meta.title : '';
  const content = typeof data?.content === 'string' ? data.content : '';
  if (passage === 'page') return [title, content].filter(Boolean).join('\n');
  const words = content.split(WORDS);
  const sub = bestSection(data);
  // A section runs from its heading to the next heading Pagefind made a section of.
  const start = sub?.anchor?.location ?? 0;
  const headings = (Array.isArray(data.anchors) ? data.anchors : [])
    .filter((a) => /^h[1-6]$/i.test(a.element ?? '') && a.location > start).map((a) => a.location);
  const end = Math.min(words.length, ...headings);
  const hits = matches(sub ?? data).filter((h) => h.location >= start && h.location < end);
  const from = densestWindow(hits, start, end, sectionWords);
  // The opening and the heading only where the window does not hold them already.
  const lead = from > leadWords ? words.slice(0, leadWords).join(' ') : '';
  const heading = from > start && sub?.title && sub.title !== title ? sub.title : '';
  const window = words.slice(from < leadWords ? 0 : from, Math.min(end, from + sectionWords)).join(' ');
  return [title, lead, heading, window].filter(Boolean).join('\n');
}

function checkPassage(passage, sectionWords, leadWords) {
  if (!PAGEFIND_PASSAGES.includes(passage)) {
    throw invalid(`passage must be one of ${PAGEFIND_PASSAGES.join(', ')}, got ${String(passage)}`);
  }
  if (!(Number.isInteger(sectionWords) && sectionWords >= 8)) {
    throw invalid(`sectionWords must be a whole number of at least 8, got ${String(sectionWords)}`);
  }
  if (!(Number.isInteger(leadWords) && leadWords >= 0)) {
    throw invalid(`leadWords must be a whole number (0: none), got ${String(leadWords)}`);
  }
}

/**
 * Pagefind: reranks the results of `pagefind.search(query)` (the response or its `results`).
 * Only the first `topK` results' `data()` is loaded (Pagefind loads it lazily); the text is the
 * matched section of each page (`passage: 'section'`, default, with `sectionWords` and
 * `leadWords`; see `pagefindText`), the whole page (`passage: 'page'`), or your
 * `getText(data, result)`. Returns `{ result, data, score }`
 * entries, best first (`data` and `score` undefined past `topK`), so pages render without a
 * second `data()` call.
 */
export async function rerankPagefind(reranker, query, search, options = {}) {
  const results = Array.isArray(search) ? search : search?.results;
  if (!Array.isArray(results)) throw invalid('pass what pagefind.search() returned, or its results');
  checkOptions(options ?? {}, ['getText', 'topK', 'passage', 'sectionWords', 'leadWords', ...PASSED_ON], 'rerankPagefind options');
  const {
    getText, topK = DEFAULT_TOP_K, passage = 'section', sectionWords = SECTION_WORDS, leadWords = LEAD_WORDS, ...rest
  } = options ?? {};
  checkTopK(topK);
  checkPassage(passage, sectionWords, leadWords);
  const text = getText ?? ((data) => pagefindText(data, { passage, sectionWords, leadWords }));
  const loaded = await Promise.all(results.slice(0, topK).map(async (result) => ({ result, data: await result.data() })));
  const entries = [...loaded, ...results.slice(loaded.length).map((result) => ({ result, data: undefined }))];
  const ranked = await rerankResults(reranker, query, entries, {
    ...rest, topK, withScores: true, getText: (e) => text(e.data, e.result),
  });
  return ranked.map(({ result: e, score }) => ({ result: e.result, data: e.data, score }));
}
