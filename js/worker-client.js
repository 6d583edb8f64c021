// web-reranker: the page side of the worker protocol. `WorkerReranker` has `Reranker`'s surface
// and runs the model in a module Web Worker (`worker.js`), so inference never blocks the page:
// it sends `{ id, method, args }` (and `{ id, method: 'cancel' }` when a call's signal fires)
// and settles each call from the worker's `{ id, value | error, device, trapped? }`
// (`{ id, progress }` while loading). A worker whose module trapped, or that died, is replaced by
// a fresh one loaded with the same options; the calls it still owed run there.
import { RerankerError, CODES, rerankerError, takeSignal, aborted } from './errors.js';
import { page } from './env.js';

const constructing = Symbol('WorkerReranker');

/**
 * Starts the module worker (`worker.js`). A page may not start a worker from another origin's
 * script (the package served from a CDN): there it starts a same-origin `blob:` worker that
 * imports `worker.js` from the package's origin, which must then send CORS headers. Throws a
 * `MODEL_LOAD` error where neither starts.
 */
function startWorker() {
  try {
    // NOTE: this exact form (`new Worker(new URL(literal, import.meta.url), { type: 'module' })`)
    // is what bundlers recognise and emit as a worker chunk.
    return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  } catch (direct) {
    try {
      const script = `import ${JSON.stringify(new URL('./worker.js', import.meta.url).href)};`;
      const blob = URL.createObjectURL(new Blob([script], { type: 'text/javascript' }));
      return new Worker(blob, { type: 'module' });
    } catch (cause) {
      throw rerankerError('MODEL_LOAD', `cannot start the reranker's worker: ${direct.message}; nor from a blob: ${cause.message}`, cause);
    }
  }
}

/** The fields of a load option that name a place: made absolute before they go to a worker. */
const URL_OPTIONS = ['baseUrl', 'weights', 'tokenizer', 'wasm'];

/**
 * A reranker whose model runs in a module Web Worker, so inference never blocks the page. Same
 * surface as `Reranker`; made by `createReranker`.
 */
export class WorkerReranker {
  #worker = null;
  /** The calls the worker owes an answer: id → `{ method, args, resolve, reject, onProgress }`. */
  #pending = new Map();
  #nextId = 0;
  /** The load options, to load a fresh worker with. */
  #options;
  #device;
  /** What the load settled (state.js's LOADED_FIELDS); undefined until the first load answers. */
  #loaded;
  #dead = null;
  /** The start of a fresh worker in progress; calls wait for it. */
  #healing = null;
  #restarts = 0;
  #restartReason;

  constructor(token, options) {
    if (token !== constructing) throw new TypeError('use `await createReranker(options)`');
    this.#options = options;
  }

  /** `options`: load options, already checked by `createReranker`. */
  static async start(options) {
    const [signal, { onProgress, ...rest }] = takeSignal(options);
    for (const key of URL_OPTIONS) {
      if (typeof rest[key] === 'string' || rest[key] instanceof URL) rest[key] = new URL(rest[key], page()).href;
    }
    const reranker = new WorkerReranker(constructing, rest);
    try {
      await reranker.#open({ onProgress, signal });
    } catch (error) {
      reranker.dispose();
      throw error;
    }
    return reranker;
  }

  /** Starts a worker and loads the model in it. */
  async #open({ onProgress, signal } = {}) {
    const worker = startWorker();
    this.#worker = worker;
    worker.addEventListener('message', ({ data }) => { if (this.#worker === worker) this.#receive(data); });
    // A worker that fails outside a call (a trap in an event handler, out of memory) is gone.
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      if (this.#worker !== worker) return;
      if (this.#loaded === undefined) {
        // Its script did not run (not served, or refused): a load error, not a bug.
        worker.terminate();
        this.#fail(rerankerError('MODEL_LOAD', `the reranker's worker did not start: ${event.message ?? 'its script failed to load'}`));
      } else {
        this.#broken(`the reranker's worker failed: ${event.message ?? 'unknown error'}`);
      }
    });
    this.#loaded = await this.#send('load', [this.#options], { onProgress, signal, now: true });
  }

  get device() {
    const restarted = this.#restarts === 0 ? {} : { restarts: this.#restarts, restartReason: this.#restartReason };
    return { ...this.#device, ...restarted };
  }

  get maxLength() { return this.#loaded?.maxLength; }

  get precision() { return this.#loaded?.precision; }
  /** Where the load's time went in the worker, in milliseconds. */
  get loadTimings() { return { ...this.#loaded?.loadTimings }; }

  /** Where the model files were kept (see `Reranker.storage`). */
  get storage() { return { ...this.#loaded?.storage }; }

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

  /** Test builds only (`--features test-hooks`): traps the worker's module, as a bug would. */
  __trap() {
    return this.#send('__trap', []);
  }

  /** Stops the worker; pending and later calls reject with `code: 'ABORTED'`. */
  dispose() {
    this.#worker?.terminate();
    this.#fail(rerankerError('ABORTED', 'this reranker was disposed'));
  }

  /**
   * Sends a call to the worker (once a fresh one has loaded, while one is starting; `now`: at
   * once). `signal` rejects it at once with `ABORTED` and tells the worker, which stops it before
   * its next batch.
   */
  #send(method, args, { onProgress, signal, now = false } = {}) {
    if (this.#dead) return Promise.reject(this.#dead);
    if (signal?.aborted) return Promise.reject(aborted(signal));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#pending.delete(id);
        this.#worker.postMessage({ id, method: 'cancel' });
        reject(aborted(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (then) => (value) => { signal?.removeEventListener('abort', onAbort); then(value); };
      this.#pending.set(id, { method, args, resolve: settle(resolve), reject: settle(reject), onProgress });
      if (now || this.#healing === null) this.#post(id);
    });
  }

  /** Posts pending call `id` to the worker. */
  #post(id) {
    const call = this.#pending.get(id);
    if (call === undefined) return;
    try {
      this.#worker.postMessage({ id, method: call.method, args: call.args });
    } catch (cause) {
      // e.g. a function or symbol where text was expected: it cannot be copied to the worker.
      this.#pending.delete(id);
      call.reject(rerankerError('INVALID_INPUT', `${call.method}: the arguments cannot be sent to the worker (${cause.message})`, cause));
    }
  }

  #receive({ id, progress, value, error, device, trapped }) {
    const call = this.#pending.get(id);
    if (call === undefined) return;
    if (progress !== undefined) { call.onProgress?.(progress); return; }
    this.#pending.delete(id);
    if (device !== undefined) this.#device = device;
    if (error === undefined) { call.resolve(value); return; }
    call.reject(CODES.includes(error.code) ? new RerankerError(error.code, error.message)
      : rerankerError('INFERENCE', `the reranker's worker failed: ${error.message}`));
    if (trapped) this.#broken(error.message);
  }

  /**
   * The worker cannot answer again: a fresh one is loaded with the same options and every call
   * the old one still owed is sent to it. Before the first load has answered, the load fails.
   */
  #broken(reason) {
    if (this.#dead) return;
    this.#worker.terminate();
    // Not while loading: a model that cannot load in one worker will not in the next.
    if (this.#loaded === undefined || this.#healing !== null) {
      this.#fail(rerankerError('INFERENCE', reason));
      return;
    }
    this.#restarts += 1;
    this.#restartReason = reason;
    this.#healing = this.#open().then(() => {
      this.#healing = null;
      // The calls the old worker owed and those made since, in the order they were made.
      for (const id of [...this.#pending.keys()]) this.#post(id);
    }, (error) => {
      this.#healing = null;
      this.#fail(rerankerError('INFERENCE', `${reason}, and a fresh worker did not load: ${error.message}`, error));
    });
  }

  #fail(error) {
    this.#dead ??= error;
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
  }
}
