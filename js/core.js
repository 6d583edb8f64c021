// web-reranker core: the in-thread `Reranker`. Wraps the wasm-bindgen module
// (`web_reranker.js` + `web_reranker_bg.wasm`, or the threaded `web_reranker_threads.js` +
// `web_reranker_threads_bg.wasm` with `threads-worker.js`) and fetches the model files.
// `index.js` is the package's entry point; `worker.js` runs this same class in a Web Worker.
import * as single from './web_reranker.js';
import { RerankerError, fromWasm, takeSignal, abortable, aborted } from './errors.js';
import { openStore, openCache, sizeMismatch, digestMismatch } from './store.js';

// NOTE: `here`, not `import.meta.url`, where bundlers must not treat a URL as an asset (model/ is
// a folder served beside the package, not bundled).
const here = import.meta.url;
/**
 * The modules started in this thread, shared by its loads: `'single'` (WebGPU and one CPU
 * thread) and `'threaded'` (the CPU on a thread pool), each a promise of
 * `{ glue, threads, threadsReason? }`.
 */
const modules = new Map();
/** The started modules' memories (the threaded one's is shared, and not among its exports). */
const memories = new Set();

/** Bytes of the WebAssembly memories (they only grow); 0 before the first load. For tests and monitoring. */
export const wasmMemoryBytes = () => [...memories].reduce((sum, memory) => sum + memory.buffer.byteLength, 0);

/** A `RerankerError` with `code`, and the error that caused it if any. */
export function rerankerError(code, message, cause) {
  return new RerankerError(code, message, cause === undefined ? undefined : { cause });
}

/**
 * Set once the wasm instance has trapped (a Rust abort: an allocation that failed past every
 * check, a bug). Its memory may be half-written, so no reranker of this module runs again.
 */
let trapped = null;

/** Where the page is: relative URLs the caller gives are resolved against it. */
export const page = () => globalThis.location?.href ?? here;

/** Node's fs for `file:` URLs (fetch() has none there); never loaded in a browser. */
// NOTE: the specifier is a variable so that bundlers leave this Node-only import alone.
const NODE_FS = 'node:fs/promises';
const readFile = async (url) => (await import(/* @vite-ignore */ /* webpackIgnore: true */ NODE_FS)).readFile(url);

/**
 * Bytes of a source: bytes as they are, or a URL (relative to `base`) fetched or read.
 * `onProgress({ file, loaded, total })` is called as the bytes arrive, ending with
 * `loaded === total`.
 */
async function bytesOf(source, base, file, onProgress) {
  const report = (loaded, total) => onProgress?.({ file, loaded, total });
  /** The bytes, once all are here: the last progress event says so. */
  const complete = (bytes) => { report(bytes.length, bytes.length); return bytes; };
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return complete(source instanceof Uint8Array ? source
      : source instanceof ArrayBuffer ? new Uint8Array(source)
        : new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  }
  const url = new URL(source ?? file, base);
  if (url.protocol === 'file:') return complete(new Uint8Array(await readFile(url)));
  let response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw rerankerError('MODEL_LOAD', `cannot fetch ${url}: ${cause.message}`, cause);
  }
  if (!response.ok) throw rerankerError('MODEL_LOAD', `cannot fetch ${url}: HTTP ${response.status}`);
  // NOTE: Content-Length is the size on the wire; a compressed response grows past it, so the
  // total reported is never below what has arrived, and the last event has loaded === total.
  const length = Number(response.headers.get('content-length')) || 0;
  if (!onProgress || !response.body) return complete(new Uint8Array(await response.arrayBuffer()));
  const chunks = [];
  let loaded = 0;
  report(0, length || undefined);
  for (const reader = response.body.getReader(); ;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded < length) report(loaded, length);
  }
  if (chunks.length === 1) return complete(chunks[0]);
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.length; }
  return complete(bytes);
}

/** Best effort: a full quota or a closed store must not fail a load that has its bytes. */
const ignoreFailure = (promise) => promise.catch(() => undefined);

/** Where a model folder's manifest is. */
const manifestUrl = (base) => new URL('model.json', base);

/**
 * The manifest (`model.json`) beside the model files, or null when the folder has none. With a
 * cache, the last manifest read is kept there and used when the network is unreachable.
 */
async function manifestOf(base, cache) {
  const url = manifestUrl(base);
  let text;
  try {
    if (url.protocol === 'file:') {
      text = new TextDecoder().decode(await readFile(url));
    } else {
      let response;
      try {
        response = await fetch(url);
      } catch (offline) {
        response = await cache?.match(url.href);
        if (response === undefined) throw offline;
      }
      if (response.status === 404) return null;
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
      if (cache) await ignoreFailure(cache.put(url.href, new Response(text)));
    }
  } catch (cause) {
    if (cause?.code === 'ENOENT') return null;
    throw rerankerError('MODEL_LOAD', `cannot read the model manifest ${url}: ${cause.message}`, cause);
  }
  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch (cause) {
    throw rerankerError('INTEGRITY', `the model manifest ${url} is not JSON: ${cause.message}`, cause);
  }
  if (manifest === null || typeof manifest.files !== 'object' || manifest.files === null) {
    throw rerankerError('INTEGRITY', `the model manifest ${url} has no \`files\``);
  }
  return manifest;
}

/**
 * Starts reading the stored copies of `files` named by the manifest's last copy (kept in the
 * cache): `Map(file → { sha256, stored })`, `stored` resolving to the store's reader with `bytes`,
 * the read already under way, or to undefined.
 */
async function readEarly(store, cache, base, files) {
  const early = new Map();
  const last = await ignoreFailure(cache?.match(manifestUrl(base).href).then((hit) => hit?.json()));
  for (const file of files) {
    const sha256 = last?.files?.[file]?.sha256;
    if (typeof sha256 !== 'string') continue;
    const stored = store.reader(file, sha256).then((reader) => {
      if (reader === undefined) return undefined;
      const bytes = reader.read(0, reader.size);
      bytes.catch(() => undefined); // an unused read's failure is nobody's
      return { ...reader, bytes };
    });
    early.set(file, { sha256, stored });
  }
  return early;
}

/** A reader of bytes in memory, for `digestMismatch`. */
const inMemory = (bytes) => async (start, end) => bytes.subarray(start, end);

/**
 * Checks stored copies of model files in a worker (`verify-worker.js`), started by the first
 * `check({ kind, base, file, entry })`, which resolves to the mismatch (null: none). It rejects
 * where no worker can start or the worker cannot read the copy: the caller checks it then.
 * `close()` ends the worker.
 */
function verifierWorker() {
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

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** The most threads the default starts, leaving the rest of a large machine to the page (only two cores were measured). */
const MAX_AUTO_THREADS = 8;
/** The most threads a load may ask for. */
const MAX_THREADS = 64;

/**
 * How many threads a load may use here: `{ threads, reason? }`, the reason saying why fewer than
 * asked (or than the cores, for the default).
 */
async function threadPlan(requested, wasm) {
  const cores = isNode
    ? (await import(/* @vite-ignore */ /* webpackIgnore: true */ NODE_OS)).availableParallelism()
    : globalThis.navigator?.hardwareConcurrency ?? 1;
  const wanted = requested ?? Math.min(cores, MAX_AUTO_THREADS);
  if (wanted <= 1) return { threads: 1 };
  const no = (reason) => ({ threads: 1, reason });
  if (wasm !== undefined) return no('the `wasm` option gives the single-threaded module');
  if (typeof SharedArrayBuffer === 'undefined' || globalThis.crossOriginIsolated === false) {
    return no('the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin '
      + 'and Cross-Origin-Embedder-Policy: require-corp)');
  }
  if (!isNode && typeof document === 'object') {
    return no("a page's main thread may not wait for other threads: createReranker() runs the model in a worker, where it may");
  }
  if (!isNode && typeof Worker !== 'function') return no('this context cannot start workers');
  return { threads: wanted };
}
const NODE_OS = 'node:os';
const NODE_WORKER_THREADS = 'node:worker_threads';

/** How long a pool worker may take to start before the load goes on without it. */
const WORKER_START_MS = 20000;

/**
 * Starts `count` pool workers on the threaded module; resolves to how many started. A worker
 * that fails (or takes too long) is left out: the pool's other threads do its share.
 */
async function startPoolWorkers(count, module, memory) {
  const NodeWorker = isNode ? (await import(/* @vite-ignore */ /* webpackIgnore: true */ NODE_WORKER_THREADS)).Worker : null;
  const one = () => new Promise((resolve) => {
    let worker;
    try {
      // NOTE: a literal `new URL(..., import.meta.url)` inside `new Worker` so that bundlers
      // emit the worker as its own module.
      worker = isNode ? new NodeWorker(new URL('./threads-worker.js', import.meta.url))
        : new Worker(new URL('./threads-worker.js', import.meta.url), { type: 'module' });
    } catch {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => resolve(false), WORKER_START_MS);
    const done = (ok) => { clearTimeout(timer); resolve(ok); };
    if (isNode) {
      worker.unref(); // a pool thread never ends; it must not keep the process alive
      worker.once('message', (message) => done(message?.ready === true));
      worker.once('error', () => done(false));
    } else {
      worker.addEventListener('message', ({ data }) => done(data?.ready === true), { once: true });
      worker.addEventListener('error', () => done(false), { once: true });
    }
    worker.postMessage({ module, memory });
  });
  const started = await Promise.all(Array.from({ length: count }, one));
  return started.filter(Boolean).length;
}

/**
 * Whether a load should take the threaded module: `{ threads, reason? }` (`threads` 1: the
 * single-threaded one). Only the CPU runs on threads, so with `device: 'auto'` a WebGPU adapter
 * sends the load to the single-threaded module, which has WebGPU.
 */
async function modulePlan(requested, wasm, device) {
  const plan = await threadPlan(requested, wasm);
  if (plan.threads <= 1 || device === 'cpu') return plan;
  if (device === 'webgpu') return { threads: 1 };
  let adapter = null;
  try {
    adapter = await globalThis.navigator?.gpu?.requestAdapter();
  } catch {
    // no usable WebGPU: the CPU it is
  }
  return adapter ? { threads: 1, reason: 'WebGPU is tried first, on the single-threaded module' } : plan;
}

/** Starts the module a plan names in this thread, or returns the one already started. */
function startModule(plan, wasm) {
  const kind = plan.threads > 1 ? 'threaded' : 'single';
  if (!modules.has(kind)) {
    const started = kind === 'threaded' ? startThreaded(plan.threads) : startSingle(wasm);
    started.catch(() => modules.delete(kind)); // a failed start may be retried
    modules.set(kind, started);
  }
  return modules.get(kind);
}

async function startSingle(wasm) {
  const url = wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm) ? null
    : wasm !== undefined ? new URL(wasm, page()) : new URL('./web_reranker_bg.wasm', import.meta.url);
  // A URL in a browser lets wasm-bindgen compile while downloading (instantiateStreaming).
  const module = url === null ? wasm : url.protocol === 'file:' ? await readFile(url) : url;
  const exports = await single.default({ module_or_path: module });
  memories.add(exports.memory);
  return { glue: single, threads: 1 };
}

/** Compiles a `.wasm` file (streaming where the server says it is wasm). */
async function compile(url) {
  if (url.protocol === 'file:') return WebAssembly.compile(await readFile(url));
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  return response.headers.get('content-type')?.startsWith('application/wasm')
    ? WebAssembly.compileStreaming(response)
    : WebAssembly.compile(await response.arrayBuffer());
}

async function startThreaded(threads) {
  let glue;
  let module;
  let exports;
  try {
    glue = await import('./web_reranker_threads.js');
    // NOTE: a literal `new URL(..., import.meta.url)` so that bundlers emit the .wasm file. The
    // module is compiled here, not by the glue, because every pool worker needs it too.
    module = await compile(new URL('./web_reranker_threads_bg.wasm', import.meta.url));
    exports = await glue.default({ module_or_path: module });
  } catch (cause) {
    // A package built without it (RERANKER_THREADS=0), or a host that does not serve it.
    const single = await startModule({ threads: 1 });
    return { ...single, threadsReason: `the threaded module did not load (${cause?.message ?? cause})` };
  }
  const { memory } = exports;
  memories.add(memory);
  // NOTE: the workers first, then the pool of those that started (web_threads.rs says why).
  const workers = threads - 1;
  const started = await startPoolWorkers(workers, module, memory);
  const threadsReason = started < workers ? `${workers - started} of ${workers} pool workers did not start` : undefined;
  try {
    glue.startThreadPool(1 + started);
  } catch (cause) {
    return { glue, threads: 1, threadsReason: `the thread pool did not start (${cause?.message ?? cause})` };
  }
  return { glue, threads: 1 + started, threadsReason };
}

const constructing = Symbol('Reranker');
export const LOAD_OPTIONS = ['baseUrl', 'weights', 'tokenizer', 'wasm', 'device', 'maxLength', 'onProgress', 'verify', 'cache', 'precision', 'threads', 'int8Activations'];

/**
 * The tokenizer in a model folder: `tokenizer.json` with its vocabulary in binary, written by
 * the build (a `tokenizer` option may give either form).
 */
export const TOKENIZER_FILE = 'tokenizer.bin';

/** The weights files a model folder holds, by `precision`. */
export const WEIGHTS_FILES = { int8: 'weights-int8.bpk', f32: 'weights-f32.bpk' };

/** Rejects a misspelt option rather than ignoring it. */
export function checkOptions(options, known, what) {
  if (options === null || typeof options !== 'object') {
    throw rerankerError('INVALID_INPUT', `${what} must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw rerankerError('INVALID_INPUT', `${what}: unknown field \`${key}\` (known: ${known.join(', ')})`);
    }
  }
}

/** A multilingual cross-encoder reranker running on WebGPU or the CPU (WebAssembly). */
export class Reranker {
  #inner;
  #device;
  #maxLength;
  #precision;
  /** Makes a fresh `WasmReranker` on a device: fetches (or reuses) the model's sources again. */
  #create;
  /** The reload to the CPU in progress after a device loss, shared by the calls that saw it. */
  #recovery = null;
  #loadTimings;
  /** `{ threads, threadsReason? }`: the CPU path's threads, shown in `device`. */
  #threads;

  constructor(token, inner, create, loadTimings, threads) {
    if (token !== constructing) {
      throw new TypeError('use `await Reranker.load(options)` to make a Reranker');
    }
    this.#inner = inner;
    this.#threads = threads;
    this.#device = inner.device;
    this.#maxLength = inner.maxLength;
    this.#precision = inner.precision;
    this.#create = create;
    this.#loadTimings = loadTimings;
  }

  /** Loads the model. See index.d.ts for the options. */
  static async load(options = {}) {
    checkOptions(options, LOAD_OPTIONS, 'load options');
    if (trapped !== null) throw trapped;
    const { verify: check = true, cache: caching = true, precision = 'int8' } = options;
    if (typeof check !== 'boolean') throw rerankerError('INVALID_INPUT', 'verify must be a boolean');
    if (typeof caching !== 'boolean') throw rerankerError('INVALID_INPUT', 'cache must be a boolean');
    if (typeof precision !== 'string' || !Object.hasOwn(WEIGHTS_FILES, precision)) {
      throw rerankerError('INVALID_INPUT', `precision must be 'int8' or 'f32', not ${JSON.stringify(precision) ?? String(precision)}`);
    }
    const { int8Activations = 'i16' } = options;
    if (int8Activations !== 'i16' && int8Activations !== 'i7') {
      throw rerankerError('INVALID_INPUT', `int8Activations must be 'i16' or 'i7', not ${JSON.stringify(int8Activations) ?? String(int8Activations)}`);
    }
    const { threads } = options;
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) {
      throw rerankerError('INVALID_INPUT', `threads must be an integer from 1 to ${MAX_THREADS}, not ${JSON.stringify(threads) ?? String(threads)}`);
    }
    const started = performance.now();
    // NOTE: the module compiles while the files are read; neither needs the other until the
    // model is built from the bytes.
    let wasmMs = 0;
    const wasm = modulePlan(threads, options.wasm, options.device).then((plan) => startModule(plan, options.wasm).then((module) => {
      wasmMs = performance.now() - started;
      return { ...module, threadsReason: module.threadsReason ?? plan.reason };
    })).catch((cause) => {
      throw rerankerError('MODEL_LOAD', `cannot load the WebAssembly module: ${cause.message}`, cause);
    });
    wasm.catch(() => undefined); // awaited before the model is built; a file error may come first
    const base = options.baseUrl !== undefined ? new URL(options.baseUrl, page()) : new URL('./model/', here);
    const weightsFile = WEIGHTS_FILES[precision];
    // Files read from the model folder under their own names are checked against its manifest
    // and, in a browser, stored under their sha256 (store.js).
    const fromFolder = (source) => source === undefined;
    const anyFromFolder = fromFolder(options.weights) || fromFolder(options.tokenizer);
    const storing = check && caching && anyFromFolder;
    const cache = storing ? await openCache() : null;
    const store = storing ? await openStore(base, cache) : null;
    // NOTE: a warm load reads its stored copies while the manifest is fetched, by the hashes in
    // the manifest's last copy; they are used only if the fresh manifest names the same files.
    const early = store === null ? new Map() : await readEarly(store, cache, base, [[options.weights, weightsFile], [options.tokenizer, TOKENIZER_FILE]]
      .filter(([source]) => fromFolder(source)).map(([, file]) => file));
    const manifest = check && anyFromFolder ? await manifestOf(base, cache) : null;
    for (const [source, file] of [[options.weights, weightsFile], [options.tokenizer, TOKENIZER_FILE]]) {
      if (manifest !== null && fromFolder(source) && manifest.files[file] === undefined) {
        throw rerankerError('INTEGRITY', `the model manifest does not list ${file}`);
      }
    }
    // `checks` collects the checks of stored copies, which run while the model is built from
    // them (the build is thrown away if one fails; `verifier` runs them in a worker), and the
    // writes of downloads to the store.
    const fetchChecked = async (source, file, onProgress, checks, verifier) => {
      if (manifest === null || !fromFolder(source)) return bytesOf(source, base, file, onProgress);
      const entry = manifest.files[file];
      const { sha256 } = entry;
      const speculative = early.get(file);
      early.delete(file); // read once: a rebuild (after a device loss) reads the store again
      const stored = speculative?.sha256 === sha256 ? await speculative.stored
        : store !== null && typeof sha256 === 'string' ? await store.reader(file, sha256) : undefined;
      if (stored !== undefined && sizeMismatch(stored.size, entry, file) === null) {
        const reading = stored.bytes ?? stored.read(0, stored.size);
        // NOTE: a copy is stored only after its download passed the check, so this one guards
        // against damage in the store; it need not hold up the build, only the load's end.
        // Where no worker can check it, this thread does, once it has the bytes.
        const checked = verifier.check({ kind: store.kind, base: base.href, file, entry })
          .catch(() => reading.then((bytes) => digestMismatch(inMemory(bytes), entry, file, 'whole')))
          .then(async (mismatch) => {
            if (mismatch === null) return;
            await store.drop(file, sha256); // dropped, so the next build downloads it
            throw rerankerError('INTEGRITY', mismatch);
          });
        checked.catch(() => undefined); // awaited once the model is built
        const bytes = await reading.catch(() => null);
        if (bytes !== null) {
          checks.push(checked);
          onProgress?.({ file, loaded: bytes.length, total: bytes.length });
          return bytes;
        }
      }
      if (stored !== undefined) await store.drop(file, sha256); // damaged or unreadable: fetched anew
      const bytes = await bytesOf(source, base, file, onProgress);
      const mismatch = sizeMismatch(bytes.length, entry, file) ?? await digestMismatch(inMemory(bytes), entry, file, 'both');
      if (mismatch !== null) throw rerankerError('INTEGRITY', mismatch);
      // NOTE: stored while the model is built from the bytes (the write never fails a load);
      // the load resolves once it is done, so the next load finds the copy.
      if (store !== null && typeof sha256 === 'string') checks.push(store.put(file, sha256, bytes));
      return bytes;
    };
    // NOTE: the sources, not the bytes, are kept: after a device loss the model is fetched again
    // (from the HTTP cache) rather than holding a second copy of the weights for the whole session.
    let filesMs = 0;
    let checkedMs = 0;
    const create = async (device, onProgress) => {
      // A stored copy that fails its check is dropped, and the model built again from a fresh
      // download: at most once per file.
      for (let attempt = 0; ; attempt++) {
        // NOTE: `filesMs` is set inside the promises the module awaits, not by a Promise.all
        // beside them, so it is recorded before the module can go on to build the model.
        let waiting = 2;
        const arrived = (bytes) => {
          if (--waiting === 0) filesMs = performance.now() - started;
          return bytes;
        };
        const checks = [];
        const verifier = verifierWorker();
        try {
          // NOTE: the module gets the files as promises: it probes the device and builds the
          // tokenizer while the (much larger) weights are still being read and checked.
          const weights = fetchChecked(options.weights, weightsFile, onProgress, checks, verifier).then(arrived);
          const tokenizer = fetchChecked(options.tokenizer, TOKENIZER_FILE, onProgress, checks, verifier).then(arrived);
          // The module awaits both, but stops at the first failure: the other must not be reported
          // as unhandled.
          for (const file of [weights, tokenizer]) file.catch(() => undefined);
          const { glue } = await wasm;
          let built; let error;
          try {
            built = await glue.WasmReranker.create(weights, tokenizer, { device, maxLength: options.maxLength, int8Activations });
          } catch (cause) {
            error = cause;
          }
          // A trapped instance cannot build again, whatever the files.
          if (error instanceof WebAssembly.RuntimeError) throw failure(error);
          // Every cached copy's check has started once both files are settled.
          await Promise.allSettled([weights, tokenizer]);
          const damaged = (await Promise.allSettled(checks)).find((check) => check.status === 'rejected');
          checkedMs = performance.now() - started;
          if (damaged !== undefined) {
            built?.free();
            if (attempt < 2) continue;
            throw damaged.reason;
          }
          if (error !== undefined) throw failure(error);
          return built;
        } finally {
          verifier.close();
        }
      }
    };
    const inner = await create(options.device, options.onProgress);
    const loadTimings = { wasmMs, filesMs, checkedMs, ...inner.loadTimings, totalMs: performance.now() - started };
    const module = await wasm;
    let { threadsReason } = module;
    if (threads !== undefined && threads !== module.threads && threadsReason === undefined) {
      threadsReason = `this thread's module was started with ${module.threads} by an earlier load`;
    }
    if (inner.device.backend === 'webgpu') threadsReason = undefined; // threads are the CPU's
    return new Reranker(constructing, inner, create, loadTimings, { threads: module.threads, threadsReason });
  }

  /** Where the load's time went, in milliseconds (see index.d.ts). */
  get loadTimings() {
    return { ...this.#loadTimings };
  }

  /** `{ backend: 'webgpu' | 'cpu', matmul: 'int8' | 'f32', adapter?: string, fallbackReason?: string }`; changes to the CPU after a device loss. */
  get device() {
    const { threads, threadsReason } = this.#threads;
    return { ...this.#device, threads, ...(threadsReason === undefined ? {} : { threadsReason }) };
  }

  /** How the loaded weights are stored: `'int8'` (compact, the default) or `'f32'`. */
  get precision() {
    return this.#precision;
  }

  /** The truncation length of a (query, document) pair, in tokens. */
  get maxLength() {
    return this.#maxLength;
  }

  /** Ranks documents against the query, best first. `options.signal` cancels it. */
  async rerank(query, documents, options) {
    const [signal, rest] = takeSignal(options);
    return abortable(this.#call((inner) => inner.rerank(query, documents, rest, signal), signal), signal);
  }

  /** Raw scores (logits) of `[query, passage]` pairs, in input order. `options.signal` cancels it. */
  async predict(pairs, options) {
    const [signal, rest] = takeSignal(options);
    return Array.from(await abortable(this.#call((inner) => inner.predict(pairs, rest, signal), signal), signal));
  }

  /** Frees the model's memory; later calls reject with `code: 'ABORTED'`. */
  dispose() {
    this.#inner?.free();
    this.#inner = null;
  }

  /** Runs a call; if the GPU device is lost under it, moves to the CPU and runs it again there. */
  async #call(run, signal) {
    for (;;) {
      const inner = this.#inner;
      if (inner === null) throw rerankerError('ABORTED', 'this reranker was disposed');
      if (trapped !== null) throw trapped;
      if (signal?.aborted) throw aborted(signal);
      try {
        return await run(inner);
      } catch (raw) {
        const error = failure(raw);
        if (error.code === 'ABORTED' && signal?.aborted) throw aborted(signal);
        const stale = inner !== this.#inner; // the reranker moved while this call ran
        if (error.code !== 'DEVICE_LOST' || (!stale && this.#device.backend !== 'webgpu')) throw error;
        await this.#recover(inner, error);
      }
    }
  }

  #recover(lost, error) {
    if (this.#inner !== lost) return undefined; // another call already moved this reranker
    this.#recovery ??= (async () => {
      let inner;
      try {
        inner = await this.#create('cpu');
      } catch (cause) {
        if (cause === trapped) throw cause;
        throw rerankerError('DEVICE_LOST', `${error.message}, and loading the model on the CPU failed: ${cause.message}`, cause);
      }
      if (this.#inner === null) { inner.free(); return; } // disposed meanwhile
      this.#inner = inner;
      this.#device = { ...inner.device, fallbackReason: `${error.message}; moved to the CPU` };
      lost.free();
    })().finally(() => { this.#recovery = null; });
    return this.#recovery;
  }
}

/** A `RerankerError` for what a wasm call threw; a trap also marks the instance unusable. */
function failure(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    trapped ??= rerankerError('INFERENCE', `the WebAssembly instance trapped (${error.message}) and cannot run again: `
      + 'reload the page, or make a new reranker with createReranker() (each one runs in a worker of its own)', error);
    return trapped;
  }
  return fromWasm(error);
}
