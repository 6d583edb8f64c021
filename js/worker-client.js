// web-reranker: the page side of the worker protocol. `WorkerReranker` has `Reranker`'s surface
// and runs the model in a module Web Worker (`worker.js`), so inference never blocks the page:
// it sends `{ id, method, args }` (and `{ id, method: 'cancel' }` when a call's signal fires)
// and settles each call from the worker's `{ id, value | error, device }` (`{ id, progress }`
// while loading).
import { RerankerError, CODES, rerankerError, takeSignal, aborted } from './errors.js';
import { page } from './env.js';

const constructing = Symbol('WorkerReranker');

/** The fields of a load option that name a place: made absolute before they go to a worker. */
const URL_OPTIONS = ['baseUrl', 'weights', 'tokenizer', 'wasm'];

/**
 * A reranker whose model runs in a module Web Worker, so inference never blocks the page. Same
 * surface as `Reranker`; made by `createReranker`.
 */
export class WorkerReranker {
  #worker;
  #pending = new Map();
  #nextId = 0;
  #device;
  #maxLength;
  #precision;
  #loadTimings;
  #storage;
  #dead = null;

  constructor(token, worker) {
    if (token !== constructing) throw new TypeError('use `await createReranker(options)`');
    this.#worker = worker;
    worker.addEventListener('message', ({ data }) => this.#receive(data));
    // A worker that fails outside a call (a trap in an event handler, out of memory) is gone:
    // every pending and later call rejects rather than waiting for ever.
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      this.#fail(rerankerError('INFERENCE', `the reranker's worker failed: ${event.message ?? 'unknown error'}`));
    });
  }

  /** `options`: load options, already checked by `createReranker`. */
  static async start(options) {
    const [signal, { onProgress, ...rest }] = takeSignal(options);
    for (const key of URL_OPTIONS) {
      if (typeof rest[key] === 'string' || rest[key] instanceof URL) rest[key] = new URL(rest[key], page()).href;
    }
    // NOTE: this exact form (`new Worker(new URL(literal, import.meta.url), { type: 'module' })`)
    // is what bundlers recognise and emit as a worker chunk.
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const reranker = new WorkerReranker(constructing, worker);
    try {
      const { maxLength, precision, loadTimings, storage } = await reranker.#send('load', [rest], { onProgress, signal });
      reranker.#loadTimings = loadTimings;
      reranker.#storage = storage;
      reranker.#maxLength = maxLength;
      reranker.#precision = precision;
    } catch (error) {
      reranker.dispose();
      throw error;
    }
    return reranker;
  }

  get device() { return { ...this.#device }; }

  get maxLength() { return this.#maxLength; }

  get precision() { return this.#precision; }
  /** Where the load's time went in the worker, in milliseconds. */
  get loadTimings() { return { ...this.#loadTimings }; }

  /** Where the model files were kept (see `Reranker.storage`). */
  get storage() { return { ...this.#storage }; }

  async rerank(query, documents, options) {
    const [signal, rest] = takeSignal(options);
    // Only the texts cross to the worker; the caller's documents are put back here, unchanged.
    const texts = Array.isArray(documents)
      ? documents.map((d) => (typeof d === 'string' ? d : d !== null && typeof d === 'object' ? { text: d.text } : null))
      : documents;
    const ranked = await this.#send('rerank', [query, texts, rest], { signal });
    for (const r of ranked) if ('document' in r) r.document = documents[r.index];
    return ranked;
  }

  async predict(pairs, options) {
    const [signal, rest] = takeSignal(options);
    return this.#send('predict', [pairs, rest], { signal });
  }

  /** Stops the worker; pending and later calls reject with `code: 'ABORTED'`. */
  dispose() {
    this.#worker.terminate();
    this.#fail(rerankerError('ABORTED', 'this reranker was disposed'));
  }

  /**
   * Sends a call to the worker. `signal` rejects it at once with `ABORTED` and tells the worker,
   * which stops it before its next batch.
   */
  #send(method, args, { onProgress, signal } = {}) {
    if (this.#dead) return Promise.reject(this.#dead);
    if (signal?.aborted) return Promise.reject(aborted(signal));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.#worker.postMessage({ id, method, args });
      } catch (cause) {
        // e.g. a function or symbol where text was expected: it cannot be copied to the worker.
        reject(rerankerError('INVALID_INPUT', `${method}: the arguments cannot be sent to the worker (${cause.message})`, cause));
        return;
      }
      const onAbort = () => {
        this.#pending.delete(id);
        this.#worker.postMessage({ id, method: 'cancel' });
        reject(aborted(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (then) => (value) => { signal?.removeEventListener('abort', onAbort); then(value); };
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject), onProgress });
    });
  }

  #receive({ id, progress, value, error, device }) {
    const call = this.#pending.get(id);
    if (call === undefined) return;
    if (progress !== undefined) { call.onProgress?.(progress); return; }
    this.#pending.delete(id);
    if (device !== undefined) this.#device = device;
    if (error === undefined) { call.resolve(value); return; }
    call.reject(CODES.includes(error.code) ? new RerankerError(error.code, error.message)
      : rerankerError('INFERENCE', `the reranker's worker failed: ${error.message}`));
  }

  #fail(error) {
    this.#dead ??= error;
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
  }
}

