// web-reranker: the page side of `verify-worker.js`, which checks stored copies of model files
// off the thread that builds the model.
//
// NOTE: crypto.subtle.digest runs on the calling thread in Chromium (120 MB: 170-360 ms), and
// that thread builds the model at the same time; in a worker, on another core, the check costs
// the load nothing.

/**
 * Checks stored copies of model files in a worker, started by the first
 * `check({ kind, base, file, entry })`, which resolves to the mismatch (null: none). It rejects
 * where no worker can start or the worker cannot read the copy: the caller checks it then.
 * `close()` ends the worker.
 */
export function verifierWorker() {
  let worker = null;
  let failed = null;
  let next = 0;
  const pending = new Map();
  const fail = (reason) => {
    failed = reason;
    for (const { reject } of pending.values()) reject(reason);
    pending.clear();
  };
  const start = () => {
    try {
      if (typeof Worker !== 'function') throw new Error('this context cannot start workers');
      // NOTE: a literal `new URL(..., import.meta.url)` inside `new Worker` so that bundlers
      // emit the worker as its own module.
      worker = new Worker(new URL('./verify-worker.js', import.meta.url), { type: 'module' });
    } catch (cause) {
      fail(cause);
      return;
    }
    worker.addEventListener('message', ({ data }) => {
      const waiting = pending.get(data.id);
      pending.delete(data.id);
      if (data.error !== undefined) waiting?.reject(new Error(data.error));
      else waiting?.resolve(data.mismatch);
    });
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      fail(new Error(`the verify worker failed: ${event.message ?? 'it did not start'}`));
    });
  };
  return {
    check(message) {
      if (worker === null && failed === null) start();
      if (failed !== null) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, ...message });
      });
    },
    close() {
      worker?.terminate();
      fail(new Error('the verify worker was closed'));
    },
  };
}
