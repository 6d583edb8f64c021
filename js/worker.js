// The module worker behind `createReranker()`: owns one `Reranker` and answers the page's
// messages `{ id, method, args }` with `{ id, value | error, device, trapped? }` (and
// `{ id, progress }` while loading). Calls may overlap; the Reranker queues them. `trapped`: the
// module trapped, and this worker cannot answer again (worker-client.js replaces it).
import { Reranker, hasTrapped } from './reranker.js';
import { loadedState } from './state.js';

let reranker;
/** The AbortController of each call in progress, by id: the page's `cancel` message aborts it. */
const calls = new Map();

const plain = (error) => ({ name: error?.name ?? 'Error', message: error?.message ?? String(error), code: error?.code });

self.addEventListener('message', async ({ data: { id, method, args } }) => {
  if (method === 'cancel') { calls.get(id)?.abort(); return; }
  const controller = new AbortController();
  calls.set(id, controller);
  // Options that are not an object go on as they are, for the reranker to reject.
  const withSignal = (options) => (options === undefined || options === null ? { signal: controller.signal }
    : typeof options === 'object' && !Array.isArray(options) ? { ...options, signal: controller.signal } : options);
  try {
    let value;
    if (method === 'load') {
      reranker = await Reranker.load({ ...args[0], signal: controller.signal, onProgress: (progress) => self.postMessage({ id, progress }) });
      value = loadedState(reranker);
    } else if (reranker === undefined) {
      throw new Error('the worker has no model yet');
    } else if (method === 'rerank') {
      const [query, documents, options] = args;
      value = await reranker.rerank(query, documents, withSignal(options));
    } else if (method === 'predict') {
      const [pairs, options] = args;
      value = await reranker.predict(pairs, withSignal(options));
    } else if (method === '__trap') {
      value = await reranker.__trap();
    } else {
      throw new Error(`unknown method ${method}`);
    }
    self.postMessage({ id, value, device: reranker.device });
  } catch (error) {
    self.postMessage({ id, error: plain(error), device: reranker?.device, ...(hasTrapped() ? { trapped: true } : {}) });
  } finally {
    calls.delete(id);
  }
});
