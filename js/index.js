// web-reranker: the package's entry point. `Reranker` runs the model in this thread;
// `createReranker()` runs it in a module Web Worker (browsers) so inference never blocks the page.
import { Reranker } from './reranker.js';
import { RerankerError, CODES } from './errors.js';
import { createOptions } from './options.js';
import { WorkerReranker } from './worker-client.js';

export { Reranker, RerankerError, CODES };

/** Removes the model files the package stored in this origin, or with `baseUrl` that folder's. */
export const clearCache = (options) => Reranker.clearCache(options);
export {
  rerankResults, rerankMiniSearch, rerankOrama, oramaReranker, rerankPagefind, pagefindText, DEFAULT_TOP_K, PAGEFIND_PASSAGES,
  SECTION_WORDS, LEAD_WORDS,
} from './adapters.js';

/**
 * Makes a reranker that runs in a module Web Worker where the platform has one (browsers), and in
 * this thread otherwise (Node) or with `worker: false`. Both have the same surface.
 */
export async function createReranker(options = {}) {
  // NOTE: every value checked here, before a worker starts or a byte is fetched.
  createOptions(options);
  const { worker = typeof Worker !== 'undefined', ...rest } = options;
  return worker ? WorkerReranker.start(rest) : Reranker.load(rest);
}
