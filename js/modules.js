// web-reranker: starting the wasm modules in this thread. The single-threaded module
// (`web_reranker.js`, WebGPU and the CPU on one thread) or the threaded one
// (`web_reranker_threads.js`, the CPU on a pool of `threads-worker.js` workers sharing its memory),
// chosen per load by what the platform allows; each is started once per thread and shared by
// its loads.
import * as single from './web_reranker.js';
import { isNode, nodeModule, page, readFile } from './env.js';

/**
 * The modules started in this thread: `'single'` and `'threaded'`, each a promise of
 * `{ glue, threads, threadsReason? }`.
 */
const modules = new Map();
/** The started modules' memories (the threaded one's is shared, and not among its exports). */
const memories = new Set();

/** Bytes of the WebAssembly memories (they only grow); 0 before the first load. For tests and monitoring. */
export const wasmMemoryBytes = () => [...memories].reduce((sum, memory) => sum + memory.buffer.byteLength, 0);

/** The most threads the default starts, leaving the rest of a large machine to the page (only two cores were measured). */
const MAX_AUTO_THREADS = 8;

/** How long a pool worker may take to start before the load goes on without it. */
const WORKER_START_MS = 20000;

/**
 * How many threads a load may use here: `{ threads, reason? }`, the reason saying why fewer than
 * asked (or than the cores, for the default).
 */
async function threadPlan(requested, wasm) {
  const cores = isNode
    ? (await nodeModule('node:os')).availableParallelism()
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

/**
 * Which module a load takes: `{ threads, reason? }` (`threads` 1: the single-threaded one). Only
 * the CPU runs on threads, so with `device: 'auto'` a hardware WebGPU adapter (`adapter`, as
 * device-choice.js's `adapterIdentity` describes it) sends the load to the single-threaded
 * module, which has WebGPU. A fallback (software) adapter does not: `auto` runs on the CPU there
 * (src/device.rs).
 */
async function modulePlan(requested, wasm, device, adapter) {
  const plan = await threadPlan(requested, wasm);
  if (plan.threads <= 1 || device === 'cpu') return plan;
  if (device === 'webgpu') return { threads: 1 };
  return adapter && !adapter.fallback ? { threads: 1, reason: 'WebGPU is tried first, on the single-threaded module' } : plan;
}

/**
 * The module a load of `{ threads, wasm, device, adapter }` runs on, started if it is not yet:
 * `{ glue, threads, threadsReason? }`. `adapter` (`null`: none) is read for `device: 'auto'`.
 */
export async function moduleFor({ threads, wasm, device, adapter }) {
  const plan = await modulePlan(threads, wasm, device, adapter);
  const module = await startModule(plan, wasm);
  return { ...module, threadsReason: module.threadsReason ?? plan.reason };
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
    const fallback = await startModule({ threads: 1 });
    return { ...fallback, threadsReason: `the threaded module did not load (${cause?.message ?? cause})` };
  }
  const { memory } = exports;
  memories.add(memory);
  // NOTE: the workers first, then the pool of those that started (src/web/threads.rs says why).
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

/**
 * Starts `count` pool workers on the threaded module; resolves to how many started. A worker
 * that fails (or takes too long) is left out: the pool's other threads do its share.
 */
async function startPoolWorkers(count, module, memory) {
  const NodeWorker = isNode ? (await nodeModule('node:worker_threads')).Worker : null;
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
