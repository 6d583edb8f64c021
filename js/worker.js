// The module worker behind `createReranker()`: owns one `Reranker` and answers the page's
// messages `{ id, method, args }` with `{ id, value | error, device }` (and `{ id, progress }`
// while loading). Calls may overlap; the Reranker queues them.
import { Reranker } from './core.js';

let reranker;

const plain = (error) => ({ name: error?.name ?? 'Error', message: error?.message ?? String(error), code: error?.code });

self.addEventListener('message', async ({ data: { id, method, args } }) => {
  try {
    let value;
    if (method === 'load') {
      reranker = await Reranker.load({ ...args[0], onProgress: (progress) => self.postMessage({ id, progress }) });
      value = { maxLength: reranker.maxLength };
    } else if (reranker === undefined) {
      throw new Error('the worker has no model yet');
    } else if (method === 'rerank') {
      value = await reranker.rerank(...args);
    } else if (method === 'predict') {
      value = await reranker.predict(...args);
    } else {
      throw new Error(`unknown method ${method}`);
    }
    self.postMessage({ id, value, device: reranker.device });
  } catch (error) {
    self.postMessage({ id, error: plain(error), device: reranker?.device });
  }
});
