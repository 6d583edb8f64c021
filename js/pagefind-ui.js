// web-reranker for Pagefind's own UI (its Default UI, `pagefind-ui.js`, Pagefind 1.x), in one
// call on a page that already has it (Astro Starlight's search is this UI):
//
//   import { rerankPagefindUI } from 'web-reranker/pagefind-ui';
//   rerankPagefindUI({ reranker: { baseUrl: '/reranker/' } });
//
// Pagefind's keyword results show at once, as before. When the model is ready, the results the
// UI has shown (up to `topK`) are reranked in a worker and their list items move into the
// reranker's order in place: the same nodes, so focus and scroll position stay; the rest keep
// Pagefind's order. Typing again aborts a rerank under way and puts Pagefind's order back before
// the UI updates. The model loads on the first search (or when the page is idle, or at once:
// `load`), never under the browser's data saver unless `saveData: 'ignore'`. A status line says
// what happened. Any failure leaves Pagefind's order and says so there.
//
// NOTE: this file imports nothing until the model is wanted: before the first search a visitor
// downloads only this file; the package (index.js, the worker, the .wasm) comes with the model.

const LOADS = ['search', 'idle', 'now'];
// NOTE: adapters.js's PAGEFIND_PASSAGES; not imported, since this file imports nothing until the
// model is wanted (a test checks that the two agree).
const PASSAGES = ['section', 'page'];

/**
 * The status line's texts, English; `translations` replaces any of them. `[COUNT]`: how many were
 * reranked; `[DEVICE]`: `device_webgpu` or `device_cpu`; `[ERROR]`: what went wrong.
 */
export const STATUS_TEXT = Object.freeze({
  data_saver: 'Results in keyword order (data saver is on: the reranking model is not loaded).',
  load_failed: 'Results in keyword order (the reranker did not load: [ERROR]).',
  reranking: 'Reranking…',
  reranked: 'Top [COUNT] reranked by relevance (on [DEVICE]).',
  rerank_failed: 'Results in keyword order (reranking failed: [ERROR]).',
  device_webgpu: 'WebGPU',
  device_cpu: 'the CPU',
});
/** How long the result list must be still before it is read (Pagefind renders in steps). */
const SETTLE_MS = 80;
/**
 * How many times a shown list that is not (yet) Pagefind's results is read again before the
 * rerank fails. NOTE: each result loads its page's data before the UI shows its link, and a long
 * page's data can take longer than SETTLE_MS, so the list may still hold a few of the last
 * query's links when it first looks still: 25 × SETTLE_MS is two seconds.
 */
const MISMATCH_RETRIES = 25;
const STATUS_CLASS = 'web-reranker-status';

/**
 * Reranks Pagefind UI's results on this page. Options (each checked here):
 * - `element`: where Pagefind's UI is (an Element or a selector; default: the whole page).
 * - `reranker`: `createReranker` options (`baseUrl`, `device`, …).
 * - `topK`: how many of the shown results to rerank (default 10; Pagefind shows 5 at first).
 * - `passage`: what of each result is scored: `'section'` (default: the matched section, as
 *   `rerankPagefind`) or `'page'` (the whole page).
 * - `load`: `'search'` (default: on the first search), `'idle'` (when the page is idle) or `'now'`.
 * - `saveData`: `'respect'` (default: no model under `navigator.connection.saveData`) or `'ignore'`.
 * - `status`: `true` (default: a line under the search box), an Element to write into, or `false`.
 * - `bundlePath`: Pagefind's bundle URL (default: the `pagefind.js` the page's UI loaded, else
 *   beside `pagefind-ui.js`, else `/pagefind/`).
 * - `translations`: the status line's texts (Pagefind UI's `translations` shape: keys of
 *   `STATUS_TEXT`, `[COUNT]`, `[DEVICE]` and `[ERROR]` filled in); the missing ones stay English.
 * Returns `{ ready, state, last, destroy() }`: `ready` resolves with the reranker (or `null` when
 * none is loaded), `last` is the last reranking (`{ query, order: [{ url, score? }] }`).
 */
export function rerankPagefindUI(options = {}) {
  return new PagefindUIReranker(checkOptions(options));
}

function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw new TypeError('rerankPagefindUI: options must be an object');
  const known = ['element', 'reranker', 'topK', 'passage', 'load', 'saveData', 'status', 'bundlePath', 'translations'];
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) throw new TypeError(`rerankPagefindUI: unknown option ${unknown[0]} (known: ${known.join(', ')})`);
  const { element, reranker = {}, topK = 10, passage = 'section', load = 'search', saveData = 'respect', status = true, bundlePath, translations = {} } = options;
  if (translations === null || typeof translations !== 'object') throw new TypeError('rerankPagefindUI: translations must be an object of texts');
  for (const [key, text] of Object.entries(translations)) {
    if (!(key in STATUS_TEXT)) throw new TypeError(`rerankPagefindUI: unknown translation ${key} (known: ${Object.keys(STATUS_TEXT).join(', ')})`);
    if (typeof text !== 'string') throw new TypeError(`rerankPagefindUI: translation ${key} must be a string`);
  }
  if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`rerankPagefindUI: topK must be a positive integer, not ${topK}`);
  if (!PASSAGES.includes(passage)) throw new RangeError(`rerankPagefindUI: passage must be one of ${PASSAGES.join(', ')}, not ${passage}`);
  if (!LOADS.includes(load)) throw new RangeError(`rerankPagefindUI: load must be one of ${LOADS.join(', ')}, not ${load}`);
  if (!['respect', 'ignore'].includes(saveData)) throw new RangeError(`rerankPagefindUI: saveData must be 'respect' or 'ignore', not ${saveData}`);
  if (reranker === null || typeof reranker !== 'object') throw new TypeError('rerankPagefindUI: reranker must be an object of createReranker options');
  if (!(status === true || status === false || status instanceof Element)) throw new TypeError('rerankPagefindUI: status must be true, false or an Element');
  if (element !== undefined && typeof element !== 'string' && !(element instanceof Element)) throw new TypeError('rerankPagefindUI: element must be a selector or an Element');
  return { element, reranker, topK, passage, load, saveData, status, bundlePath, text: { ...STATUS_TEXT, ...translations } };
}

/** What a reranking of a shown list is of: the query and the pages shown (in any order). */
const signature = ({ query, urls }) => `${query}\n${[...urls].sort().join('\n')}`;

/** A status text with its placeholders filled in. */
const fill = (text, values) => text.replace(/\[(COUNT|DEVICE|ERROR)\]/g, (_, key) => String(values[key.toLowerCase()] ?? ''));

/**
 * A result's page, to match what Pagefind returned with the links its UI shows: the path without
 * a trailing slash, `index.html` or `.html`. NOTE: sites show other links than Pagefind's URLs
 * (Starlight with `trailingSlash: 'never'`, a `processResult` that drops the slash).
 */
export function pageKey(href, base = globalThis.location?.href) {
  const path = decodeURI(new URL(href, base).pathname).replace(/\/index\.html$/, '/').replace(/\.html$/, '').replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

/**
 * The shown item of each of Pagefind's result URLs: by its page's key, else by the one shown key
 * that ends with it (a site under a base path whose UI prefixes the URLs Pagefind returns).
 */
export function matchShown(shownKeys, urls) {
  const exact = new Map(shownKeys.map((key, i) => [key, i]));
  return urls.map((url) => {
    if (url === undefined) return undefined;
    const key = pageKey(url);
    if (exact.has(key)) return exact.get(key);
    // NOTE: a key starts with `/`, so a suffix match ends at a path segment's start.
    const ends = shownKeys.flatMap((shown, i) => (key !== '/' && shown.endsWith(key) ? [i] : []));
    return ends.length === 1 ? ends[0] : undefined;
  });
}

/**
 * Where Pagefind's bundle is: the folder of the `pagefind.js` this page has loaded (Pagefind UI
 * loads it on the first search, from whatever `bundlePath` the site gave it, so a site under a
 * base path that bundles the UI, as Starlight does, is found), else as Pagefind UI would guess it.
 */
function loadedBundle() {
  const loaded = globalThis.performance?.getEntriesByType?.('resource')
    ?.map((entry) => entry.name).filter((name) => /\/pagefind\.js(?:[?#]|$)/.test(name)).at(-1);
  return loaded === undefined ? defaultBundle() : new URL('./', loaded).href;
}

/** Where Pagefind UI guesses its bundle: beside its own script, else `/pagefind/`. */
function defaultBundle() {
  const script = [...document.querySelectorAll('script[src]')].find((s) => /(?:^|\/)(?:pagefind-)?ui\.js(?:[?#]|$)/.test(s.src));
  return script ? new URL('./', script.src).href : new URL('/pagefind/', location.href).href;
}

class PagefindUIReranker {
  #options;
  #reranker = null;
  #observer = null;
  #settle = 0;
  #running = null;
  /** The list items in Pagefind's order, and the signature of what was reranked. */
  #original = null;
  #done = '';
  #mismatches = 0;
  /** The ranking under way or done for one query and count (`#rankingFor`). */
  #prepared = null;
  #resolveReady;
  #statusLine = null;
  state = 'waiting';
  last = null;

  constructor(options) {
    this.#options = options;
    this.ready = new Promise((resolve) => { this.#resolveReady = resolve; });
    document.addEventListener('input', this.#onInput, true);
    this.#observer = new MutationObserver(() => this.#schedule());
    this.#observer.observe(document.body, { childList: true, subtree: true });
    if (options.load === 'now') this.#start();
    else if (options.load === 'idle') (globalThis.requestIdleCallback ?? ((f) => setTimeout(f, 1)))(() => this.#start());
  }

  /** Stops watching the page and frees the model; the list keeps its current order. */
  destroy() {
    document.removeEventListener('input', this.#onInput, true);
    this.#observer?.disconnect();
    this.#running?.abort();
    this.#reranker?.then((r) => r?.dispose?.());
    this.#statusLine?.remove();
    this.state = 'destroyed';
  }

  /** Pagefind UI's root, if it has rendered. */
  #root() {
    const { element } = this.#options;
    const scope = element === undefined ? document : typeof element === 'string' ? document.querySelector(element) : element;
    if (!scope) return null;
    return scope.matches?.('.pagefind-ui') ? scope : scope.querySelector('.pagefind-ui');
  }

  #say(text) {
    const { status } = this.#options;
    if (status === false) return;
    if (status instanceof Element) {
      status.textContent = text;
      return;
    }
    const root = this.#root();
    if (!root) return;
    if (!this.#statusLine || !this.#statusLine.isConnected) {
      this.#statusLine = document.createElement('p');
      this.#statusLine.className = STATUS_CLASS;
      this.#statusLine.setAttribute('role', 'status');
      this.#statusLine.style.cssText = 'margin:0.25em 0;font-size:0.8em;opacity:0.75';
    }
    // Under the search box, above the results (Pagefind's drawer), once there is one.
    const drawer = root.querySelector('.pagefind-ui__drawer');
    if (drawer && this.#statusLine.nextElementSibling !== drawer) drawer.before(this.#statusLine);
    else if (!drawer && !this.#statusLine.isConnected) root.after(this.#statusLine);
    this.#statusLine.textContent = text;
  }

  /** Loads the reranker once (unless the data saver says no); resolves with it or null. */
  #start() {
    if (this.#reranker) return this.#reranker;
    const saving = globalThis.navigator?.connection?.saveData === true;
    if (saving && this.#options.saveData === 'respect') {
      this.state = 'off';
      this.#say(this.#options.text.data_saver);
      this.#reranker = Promise.resolve(null);
    } else {
      this.state = 'loading';
      this.#reranker = import('./index.js')
        .then(({ createReranker }) => createReranker(this.#options.reranker))
        .then((reranker) => {
          this.state = 'ready';
          this.#schedule();
          return reranker;
        }, (error) => {
          this.state = 'failed';
          this.#say(fill(this.#options.text.load_failed, { error: error.message }));
          return null;
        });
    }
    this.#reranker.then((r) => this.#resolveReady(r));
    return this.#reranker;
  }

  #onInput = (event) => {
    const root = this.#root();
    if (!root || !(event.target instanceof HTMLInputElement) || !root.contains(event.target)) return;
    // A new query: stop the rerank under way and give the list back to Pagefind in its order, so
    // the UI's own update finds its nodes where it left them.
    this.#running?.abort();
    this.#running = null;
    this.#mismatches = 0;
    this.#restore();
    if (this.#options.load === 'search') this.#start();
  };

  #restore() {
    const original = this.#original;
    this.#original = null;
    this.#done = '';
    if (!original || !original.list.isConnected) return;
    const items = original.items.filter((li) => li.parentNode === original.list);
    this.#move(original.list, items);
  }

  /** Moves `items` to the front of `list` in this order, keeping focus and scroll. */
  #move(list, items) {
    const active = document.activeElement;
    const { scrollX, scrollY } = window;
    const rest = [...list.children].filter((li) => !items.includes(li));
    for (const li of [...items, ...rest]) list.append(li);
    if (active instanceof HTMLElement && list.contains(active) && document.activeElement !== active) active.focus({ preventScroll: true });
    if (window.scrollX !== scrollX || window.scrollY !== scrollY) window.scrollTo(scrollX, scrollY);
  }

  #schedule() {
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => this.#rerank(), SETTLE_MS);
  }

  /** The query and the shown results, once Pagefind has rendered them. */
  #shown() {
    const root = this.#root();
    const input = root?.querySelector('.pagefind-ui__search-input');
    const list = root?.querySelector('.pagefind-ui__results');
    const query = input?.value.trim() ?? '';
    if (!list || !query) return null;
    const items = [...list.children].filter((li) => li.matches('.pagefind-ui__result'));
    const links = items.map((li) => li.querySelector('.pagefind-ui__result-link'));
    if (items.length === 0 || links.some((a) => !a)) return null; // still loading
    return { query, list, items, urls: links.map((a) => pageKey(a.getAttribute('href'))) };
  }

  /**
   * The reranked results of a query (Pagefind's search, then the model), once per query and count.
   * NOTE: kept, so that a list Pagefind UI is still filling in (or that still shows the last
   * query's results) costs another look at the list, not another rerank: on long pages the UI
   * takes longer to render its results than the model takes to rank them.
   */
  #rankingFor(reranker, query, count) {
    const key = `${query}\n${count}`;
    if (this.#prepared?.key === key && !this.#prepared.control.signal.aborted) return this.#prepared;
    this.#prepared?.control.abort();
    const control = new AbortController();
    const ranked = (async () => {
      const bundle = new URL(this.#options.bundlePath ?? loadedBundle(), location.href).href;
      const [{ rerankPagefind }, pagefind] = await Promise.all([
        import('./index.js'), import(new URL('pagefind.js', bundle).href),
      ]);
      const search = await pagefind.search(query);
      control.signal.throwIfAborted();
      return rerankPagefind(reranker, query, search.results.slice(0, count), {
        topK: count, passage: this.#options.passage, signal: control.signal,
      });
    })();
    ranked.catch(() => undefined); // awaited by #rerank; a ranking given up on fails unseen
    this.#prepared = { key, control, ranked };
    return this.#prepared;
  }

  async #rerank() {
    const shown = this.#shown();
    if (!shown || this.#running) return;
    if (signature(shown) === this.#done) return;
    if (!this.#reranker && this.#options.load === 'search') this.#start();
    const reranker = await this.#reranker;
    if (!reranker) return;
    const count = Math.min(this.#options.topK, shown.items.length);
    const { control, ranked: ranking } = this.#rankingFor(reranker, shown.query, count);
    this.#running = control;
    this.state = 'reranking';
    this.#say(this.#options.text.reranking);
    try {
      const ranked = await ranking;
      if (control.signal.aborted) return;
      // The list as Pagefind UI shows it now, in its order (our own moves undone first).
      if (this.#original && this.#original.list === shown.list) this.#restore();
      const current = this.#shown();
      if (!current || current.query !== shown.query) return this.#schedule();
      const shownAt = matchShown(current.urls, ranked.map(({ data }) => (data ? data.meta?.url ?? data.url : undefined)));
      const order = ranked.map(({ result, score }, i) => ({ url: current.urls[shownAt[i]], id: result.id, score }));
      const moved = shownAt.slice(0, count).map((at) => current.items[at]);
      if (moved.some((li) => !li)) {
        // Look again once the list is still, a few times.
        if (++this.#mismatches <= MISMATCH_RETRIES) return this.#schedule();
        throw new Error('the shown results are not the ones Pagefind returned');
      }
      this.#mismatches = 0;
      this.#original = { list: current.list, items: current.items };
      this.#move(current.list, moved);
      this.#done = signature(current);
      this.last = { query: current.query, order };
      this.state = 'reranked';
      const { text } = this.#options;
      this.#say(fill(text.reranked, { count, device: reranker.device?.backend === 'webgpu' ? text.device_webgpu : text.device_cpu }));
    } catch (error) {
      if (control.signal.aborted || error?.code === 'ABORTED') return;
      this.state = 'failed';
      this.#restore();
      this.#say(fill(this.#options.text.rerank_failed, { error: error.message }));
    } finally {
      if (this.#running === control) this.#running = null;
    }
    // Pagefind may have rendered more (or another query) meanwhile.
    this.#schedule();
  }
}
