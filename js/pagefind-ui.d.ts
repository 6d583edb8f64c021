import type { CreateOptions, RerankerLike } from './index.js';

/** Options of {@link rerankPagefindUI}. */
export interface PagefindUIRerankOptions {
  /** Where Pagefind's UI is: an Element or a selector (default: the whole page). */
  element?: string | Element;
  /** `createReranker` options: `baseUrl` (the model folder), `device`, … */
  reranker?: CreateOptions;
  /** How many of the shown results to rerank (default 10; Pagefind's UI shows 5 at first). */
  topK?: number;
  /** What of each result is scored: its matched section (default) or the whole page (`rerankPagefind`'s `passage`). */
  passage?: 'section' | 'page';
  /** When to load the model: on the first search (default), when the page is idle, or now. */
  load?: 'search' | 'idle' | 'now';
  /** `'respect'` (default): no model under the browser's data saver; `'ignore'`: load anyway. */
  saveData?: 'respect' | 'ignore';
  /** `true` (default): a status line under the search box; an Element to write into; `false`. */
  status?: boolean | Element;
  /**
   * Pagefind's bundle URL (default: the folder of the `pagefind.js` the page's UI loaded, so a
   * site under a base path is found; else where `pagefind-ui.js` came from, else `/pagefind/`).
   */
  bundlePath?: string;
  /**
   * The status line's texts, as Pagefind UI's `translations` (the missing ones stay English).
   * `[COUNT]`, `[DEVICE]` and `[ERROR]` are filled in.
   */
  translations?: Partial<Record<'data_saver' | 'load_failed' | 'reranking' | 'reranked' | 'rerank_failed' | 'device_webgpu' | 'device_cpu', string>>;
}

/** The drop-in's state, for a page that wants to show or test it. */
export interface PagefindUIReranker {
  /** Resolves with the reranker once loaded, or `null` when none is (data saver, a failure). */
  readonly ready: Promise<RerankerLike | null>;
  /** `'waiting' | 'loading' | 'ready' | 'reranking' | 'reranked' | 'off' | 'failed' | 'destroyed'`. */
  readonly state: string;
  /** The last reranking: the query, and the shown results' pages (paths without a trailing slash) in their new order. */
  readonly last: { query: string; order: { url?: string; id: string; score?: number }[] } | null;
  /** Stops watching the page and frees the model; the list keeps its current order. */
  destroy(): void;
}

/**
 * Reranks Pagefind's Default UI results on this page (Pagefind 1.x; Astro Starlight's search):
 * keyword results show at once, then the shown top `topK` move into the reranker's order.
 */
export function rerankPagefindUI(options?: PagefindUIRerankOptions): PagefindUIReranker;
