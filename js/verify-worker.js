// web-reranker: checks stored copies of model files against the manifest, off the thread that
// builds the model. The loader (files.js, through verifier.js) starts it once a load finds a stored copy and sends
// `{ id, kind, base, file, entry }`; it reads the copy from the store itself and answers
// `{ id, mismatch }` (null: it matches) or `{ id, error }` when it cannot read it (the loader then
// checks the copy itself).
//
// NOTE: crypto.subtle.digest runs on the calling thread in Chromium (120 MB: 170-360 ms), and
// the thread that builds the model is busy at the same time: here, on another core, the check
// costs the load nothing.
import { openStore, openCache, digestMismatch } from './store.js';

const stores = new Map();

self.addEventListener('message', async ({ data: { id, kind, base, file, entry } }) => {
  try {
    if (!stores.has(base)) stores.set(base, openCache().then((cache) => openStore(base, cache, kind)));
    const store = await stores.get(base);
    const copy = store === null || store.kind !== kind ? undefined : await store.reader(file, entry.sha256);
    if (copy === undefined) throw new Error(`no stored copy of ${file} in ${kind}`);
    self.postMessage({ id, mismatch: await digestMismatch(copy.read, entry, file, 'chunks') });
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
});
