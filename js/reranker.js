// web-reranker: the in-thread `Reranker`. It loads the model (module start-up in modules.js,
// files in files.js) and runs calls on the wasm module's `WasmReranker` one at a time; when the
// GPU device is lost under a call it moves to the CPU and runs the call again there. `index.js`
// exports it; `worker.js` runs this same class in a Web Worker.
import { rerankerError, fromWasm, takeSignal, abortable, aborted } from './errors.js';
import { here, page } from './env.js';
import { moduleFor } from './modules.js';
import { clearStored } from './store.js';
import { openModelFiles, TOKENIZER_FILE } from './files.js';
import { loadOptions, moduleOptions, WEIGHTS_FILES } from './options.js';
import { verifierWorker } from './verifier.js';
import { progressOf } from './progress.js';
import {
  adapterIdentity, verdictKey, storedVerdict, storeVerdict, clearVerdicts, timeWork, verdictOf, cpuReason,
} from './device-choice.js';
import { VERSION } from './version.js';

/**
 * Set once the wasm instance has trapped (a Rust abort: an allocation that failed past every
 * check, a bug). Its memory may be half-written, so no reranker of this module runs again.
 */
let trapped = null;

const constructing = Symbol('Reranker');

/** Whether this thread's module has trapped (the worker then asks to be replaced). */
export const hasTrapped = () => trapped !== null;

/** How often a load builds the model again after a stored copy failed its check. */
const REBUILDS = 2;

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
  #storage;

  constructor(token, inner, create, loadTimings, threads, storage, chosen = undefined) {
    if (token !== constructing) {
      throw new TypeError('use `await Reranker.load(options)` to make a Reranker');
    }
    this.#inner = inner;
    this.#threads = threads;
    this.#device = { ...inner.device, ...chosen };
    this.#maxLength = inner.maxLength;
    this.#precision = inner.precision;
    this.#create = create;
    this.#loadTimings = loadTimings;
    this.#storage = storage;
  }

  /**
   * Loads the model. See index.d.ts for the options. `signal` rejects the load with `ABORTED`
   * as soon as it fires; the downloads stop and nothing more is stored.
   */
  static async load(options = {}) {
    const parsed = loadOptions(options);
    const [signal] = takeSignal({ signal: options.signal });
    if (trapped !== null) throw trapped;
    if (signal?.aborted) throw aborted(signal);
    const loading = Reranker.#load(options, parsed, signal);
    if (signal === undefined) return loading;
    // A load that ends after the abort frees what it built.
    loading.then((reranker) => { if (signal.aborted) reranker.dispose(); }, () => undefined);
    return abortable(loading, signal);
  }

  static async #load(options, { verify, cache, precision, threads, keepOtherModels }, signal) {
    const started = performance.now();
    const timings = { wasmMs: 0, filesMs: 0, checkedMs: 0 };
    const base = options.baseUrl !== undefined ? new URL(options.baseUrl, page()) : new URL('./model/', here);
    // `auto` on a hardware adapter: the device this adapter's verdict names, if one is stored
    // (device-choice.js); without one, WebGPU first, then both are timed below.
    const auto = options.device === undefined || options.device === 'auto';
    const adapter = auto ? await adapterIdentity() : null;
    const key = adapter !== null && !adapter.fallback ? verdictKey({
      adapter: adapter.name, model: `${options.weights === undefined ? base.href : 'given weights'} ${precision}`, version: VERSION,
    }) : undefined;
    const stored = key === undefined ? undefined : await storedVerdict(key);
    // NOTE: a stored 'webgpu' verdict leaves `auto` as it is (it takes this adapter, and still
    // falls back to the CPU if the device cannot be had today).
    const device = stored?.device === 'cpu' ? 'cpu' : options.device;
    // NOTE: the module compiles while the files are read; neither needs the other until the
    // model is built from the bytes.
    const startModule = (forDevice) => moduleFor({ threads, wasm: options.wasm, device: forDevice, adapter }).then((module) => {
      timings.wasmMs ||= performance.now() - started;
      return module;
    }, (cause) => {
      throw rerankerError('MODEL_LOAD', `cannot load the WebAssembly module: ${cause.message}`, cause);
    });
    const wasm = startModule(device);
    wasm.catch(() => undefined); // awaited before the model is built; a file error may come first
    const weightsFile = WEIGHTS_FILES[precision];
    // The module's sha256 for insecure origins, which have no WebCrypto.
    const moduleSha256 = async (bytes) => (await wasm).glue.sha256Hex(bytes);
    const sources = new Map([[weightsFile, options.weights], [TOKENIZER_FILE, options.tokenizer]]);
    const files = await openModelFiles({ base, verify, cache, signal, moduleSha256, sources });
    const settings = moduleOptions(options);
    // NOTE: the sources, not the bytes, are kept: after a device loss the model is fetched again
    // (from the HTTP cache or the store) rather than holding a second copy of the weights for the
    // whole session.
    const create = (onDevice = device, onProgress = undefined, module = wasm) => build({
      wasm: module, modelFiles: files, files: [...sources.keys()], settings: onDevice === undefined ? settings : { ...settings, device: onDevice }, onProgress, started, timings,
    });
    let inner = await create(device, options.onProgress);
    let module = await wasm;
    let choice = stored === undefined ? undefined : { ...stored, stored: true };
    if (key !== undefined && stored === undefined && inner.device.backend === 'webgpu') {
      ({ inner, module, choice } = await Reranker.#measure(inner, module, () => {
        const cpuModule = startModule('cpu');
        return create('cpu', undefined, cpuModule).then(async (built) => ({ inner: built, module: await cpuModule }));
      }, key));
    }
    // NOTE: only once every file has checked: a load that failed keeps what the last good one had.
    if (!keepOtherModels && !signal?.aborted) await files.prune();
    const loadTimings = { ...timings, ...inner.loadTimings, totalMs: performance.now() - started };
    let { threadsReason } = module;
    if (threads !== undefined && threads !== module.threads && threadsReason === undefined) {
      threadsReason = `this thread's module was started with ${module.threads} by an earlier load`;
    }
    if (inner.device.backend === 'webgpu') threadsReason = undefined; // threads are the CPU's
    const chosen = choice === undefined ? undefined : {
      choice, ...(choice.device === 'cpu' && inner.device.backend === 'cpu' ? { fallbackReason: cpuReason(choice) } : {}),
    };
    return new Reranker(constructing, inner, create, loadTimings, { threads: module.threads, threadsReason }, { ...files.storage }, chosen);
  }

  /**
   * Times the same work (device-choice.js, `TIMED_WORK`) on `gpu` (built on WebGPU) and on the CPU
   * (`buildCpu`), keeps the device that ran the batch faster and frees the other, and stores the
   * verdict under `key`: `{ inner, module, choice }`. A failure on the CPU's side keeps WebGPU,
   * unmeasured; one on WebGPU's, the CPU.
   */
  static async #measure(gpu, gpuModule, buildCpu, key) {
    let gpuTimes;
    try {
      gpuTimes = await timeWork(gpu);
    } catch (raw) {
      return Reranker.#afterGpuFailure(gpu, raw, buildCpu, key);
    }
    let cpu;
    let cpuTimes;
    try {
      cpu = await buildCpu();
      cpuTimes = await timeWork(cpu.inner);
    } catch (cause) {
      cpu?.inner.free();
      if (cause instanceof WebAssembly.RuntimeError) throw failure(cause);
      return { inner: gpu, module: gpuModule, choice: undefined };
    }
    const verdict = verdictOf(gpuTimes, cpuTimes);
    const storedReason = await storeVerdict(key, verdict);
    const choice = measuredChoice(verdict, storedReason);
    if (verdict.device === 'webgpu') {
      cpu.inner.free();
      return { inner: gpu, module: gpuModule, choice };
    }
    gpu.free();
    return { inner: cpu.inner, module: cpu.module, choice };
  }

  /**
   * WebGPU failed while `auto` timed it (a lost device, a shader or buffer the driver refused):
   * the load goes on on the CPU, and a `cpu` verdict that says why is stored, so later loads on
   * this adapter go to the CPU without trying the GPU again (until `clearCache`). A trap leaves
   * this instance unusable: the verdict is stored and the trap rethrown, so the next load (a new
   * worker, a reload) runs on the CPU.
   */
  static async #afterGpuFailure(gpu, raw, buildCpu, key) {
    const error = failure(raw);
    const verdict = { device: 'cpu', failure: `WebGPU failed on this adapter while it was timed (${error.message})`, measuredAt: new Date().toISOString() };
    const storedReason = await storeVerdict(key, verdict);
    if (raw instanceof WebAssembly.RuntimeError) throw error;
    try {
      gpu.free();
    } catch {
      // what a lost device held may be gone already
    }
    const cpu = await buildCpu();
    return { inner: cpu.inner, module: cpu.module, choice: measuredChoice(verdict, storedReason) };
  }

  /**
   * Removes the model files the package stored in this origin (OPFS, the Cache API) and `auto`'s
   * device verdicts, or with `baseUrl` only that model folder's. See index.d.ts.
   */
  static async clearCache({ baseUrl } = {}) {
    const base = baseUrl === undefined ? undefined : new URL(baseUrl, page());
    await Promise.all([clearStored(base), clearVerdicts(base)]);
  }

  /** Where the model files were kept: `{ store: 'opfs' | 'cache' | 'none', stored, reason? }`. */
  get storage() {
    return { ...this.#storage };
  }

  /** Where the load's time went, in milliseconds (see index.d.ts). */
  get loadTimings() {
    return { ...this.#loadTimings };
  }

  /** See index.d.ts (`DeviceInfo`); changes to the CPU after a device loss. */
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

  /** Test builds only (`--features test-hooks`): traps the module, as a bug would. */
  async __trap() {
    return this.#call((inner) => inner.__trap());
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

/**
 * Builds a `WasmReranker` from the model's files (`read`, from files.js) on the module `wasm`
 * starts. A stored copy that fails its check is dropped and the model built again from a fresh
 * download, at most `REBUILDS` times. Records `filesMs` and `checkedMs` in `timings`.
 */
async function build({ wasm, modelFiles, files, settings, onProgress, started, timings }) {
  // NOTE: one stream for every attempt, so a rebuild never moves it back.
  const progress = progressOf(onProgress, files, modelFiles.size);
  for (let attempt = 0; ; attempt++) {
    // NOTE: `filesMs` is set inside the promises the module awaits, not by a Promise.all
    // beside them, so it is recorded before the module can go on to build the model.
    let waiting = files.length;
    const arrived = (bytes) => {
      if (--waiting === 0) timings.filesMs = performance.now() - started;
      return bytes;
    };
    const checks = [];
    const verifier = verifierWorker();
    try {
      // NOTE: the module gets the files as promises: it probes the device and builds the
      // tokenizer while the (much larger) weights are still being read and checked.
      const [weights, tokenizer] = files.map((file) => modelFiles.read(file, progress.report(file), checks, verifier).then(arrived));
      // The module awaits both, but stops at the first failure: the other must not be reported
      // as unhandled.
      for (const file of [weights, tokenizer]) file.catch(() => undefined);
      const { glue } = await wasm;
      let built; let error;
      try {
        built = await glue.WasmReranker.create(weights, tokenizer, settings);
      } catch (cause) {
        error = cause;
      }
      // A trapped instance cannot build again, whatever the files.
      if (error instanceof WebAssembly.RuntimeError) throw failure(error);
      // Every cached copy's check has started once both files are settled.
      await Promise.allSettled([weights, tokenizer]);
      const damaged = (await Promise.allSettled(checks)).find((check) => check.status === 'rejected');
      timings.checkedMs = performance.now() - started;
      if (damaged !== undefined) {
        built?.free();
        if (attempt < REBUILDS) continue;
        throw damaged.reason;
      }
      if (error !== undefined) throw failure(error);
      progress.ready();
      return built;
    } finally {
      verifier.close();
    }
  }
}

/** `device.choice` for a verdict this load measured, with why it could not be stored, if so. */
const measuredChoice = (verdict, storedReason) => ({ ...verdict, stored: false, ...(storedReason === undefined ? {} : { storedReason }) });

/** A `RerankerError` for what a wasm call threw; a trap also marks the instance unusable. */
function failure(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    trapped ??= rerankerError('INFERENCE', `the WebAssembly instance trapped (${error.message}) and cannot run again: `
      + 'reload the page, or make a new reranker with createReranker() (each one runs in a worker of its own)', error);
    return trapped;
  }
  return fromWasm(error);
}
