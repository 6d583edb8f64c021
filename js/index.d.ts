/** Where to get a file: bytes, or a URL (absolute, or relative to `baseUrl`). */
export type Source = string | URL | ArrayBuffer | ArrayBufferView;

export interface LoadOptions {
  /** Folder holding the weights, `tokenizer.bin` and `model.json` (default: the package's `model/`). */
  baseUrl?: string | URL;
  /**
   * Which weights to load from `baseUrl`: `'int8'` (default, `weights-int8.bpk`: int8 word
   * embeddings and linear layers, about a quarter of the size) or `'f32'` (`weights-f32.bpk`:
   * the exported model's exact numbers, in a model folder built with `RERANKER_F32=1`; without
   * them this is a `MODEL_LOAD` error). Either way the model computes in f32.
   */
  precision?: Precision;
  /** The weights file, overriding `precision` (its own header says which precision it holds). */
  weights?: Source;
  /**
   * The tokenizer: a `tokenizer.json`, or the compact `tokenizer.bin` the build writes (same ids,
   * about a third of the size); default `tokenizer.bin` under `baseUrl`.
   */
  tokenizer?: Source;
  /**
   * The `.wasm` module (default: the package's `web_reranker_bg.wasm`, or its threaded
   * `web_reranker_threads_bg.wasm`, see `threads`). Given, it is the single-threaded module.
   */
  wasm?: Source;
  /**
   * How many threads the CPU path spreads its matrix products and attention over, 1 to 64.
   * Default: the cores (`navigator.hardwareConcurrency`, in Node `os.availableParallelism()`), at
   * most 8, where threads can run: in Node, and in a browser on a cross-origin isolated page
   * (`Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
   * require-corp`) inside a worker (`createReranker()` runs one), since a page's main thread
   * may not wait for others. Elsewhere one thread, with the reason in `device.threadsReason`.
   * More than one loads the threaded module and starts that many workers less one (the loading
   * thread is one); `1` loads the single-threaded module. Scores are the same whatever the count.
   * The first load in a thread (or worker) decides for every later one there.
   */
  threads?: number;
  /**
   * How the int8 linear layers round each row of activations when they multiply in integers (the
   * CPU path with int8 weights): `'i16'` (default) to 14–15 bits, logits within about 1e-3 of f32
   * products; or `'i7'` to 7 bits, for WebAssembly relaxed SIMD's int8 dot (16 multiply-adds an
   * instruction): faster where the browser has relaxed SIMD (Chromium 114 and later), logits
   * about 1e-2 away, as coarse as Transformers.js's `q8` models. Where relaxed SIMD is missing,
   * `'i16'` runs, with the reason in `device.activationsReason`. See docs/api.md,
   * "Faster, coarser int8".
   */
  activations?: 'i16' | 'i7';
  /**
   * `'auto'` (default): the faster of WebGPU and the CPU on this machine. On a usable hardware
   * adapter the first load times both and stores the verdict (`device.choice`); later loads follow
   * it. Without one, the CPU, with the reason in `device.fallbackReason`. A fallback (software)
   * adapter such as SwiftShader is not taken: it is slower than the CPU path. `'webgpu'` (any
   * adapter) and `'cpu'` force a device.
   */
  device?: 'auto' | 'webgpu' | 'cpu';
  /** Truncation length of a (query, document) pair in tokens, 4 to 512 (default 512). */
  maxLength?: number;
  /** Called as the model files arrive, one stream over every file (see `RerankerProgressEvent`). */
  onProgress?: (event: RerankerProgressEvent) => void;
  /**
   * Cancels the load (a visitor who left the search box, a metered connection): it rejects with
   * `code: 'ABORTED'` as soon as the signal fires, the downloads stop, and nothing more is stored.
   */
  signal?: AbortSignal;
  /**
   * Check files read from the model folder against its `model.json` (size and sha256) before
   * use; a mismatch rejects with `code: 'INTEGRITY'` (default true; a folder without
   * `model.json` loads unchecked).
   */
  verify?: boolean;
  /**
   * Keep the checked model files in the browser under their sha256 (default true, browsers):
   * in the origin private file system where the browser can write it, else in the Cache API
   * (`web-reranker-models-v1` in both). A second load reads them from there without downloading,
   * and works offline (the manifest is read from the network when it can be, else from its
   * copy in the Cache API). A stored copy is checked again on every load, in a worker beside
   * the model's build. Needs `verify`. After a load whose files all checked, stored files its
   * manifest does not name (other versions, other models) are removed, unless `keepOtherModels`.
   * Call `navigator.storage.persist()` to ask the browser not to evict them under pressure.
   */
  cache?: boolean;
  /** Keep the stored files of other model folders and versions (default false): for sites that switch models. */
  keepOtherModels?: boolean;
}

/** Where a load kept the model files. */
export interface StorageInfo {
  /** The store: the origin private file system, the Cache API, or none (Node, `cache: false`, storage disabled). */
  store: 'opfs' | 'cache' | 'none';
  /** False when a download could not be written (a full quota): the model loaded, but the next load downloads it again. */
  stored: boolean;
  /** Why a file was not stored. */
  reason?: string;
}

/** How weights are stored: compact int8 (with f32 scales) or f32. */
export type Precision = 'int8' | 'f32';

/**
 * One event of a load's progress: a single stream over every file the load needs.
 * `'download'`: bytes arriving from the network (or read from disk in Node); `'cached'`: a file
 * read from the browser's store, or bytes you passed; `'verify'`: a downloaded file's sha256
 * being checked; `'ready'`: the last event, `progress` 1.
 */
export interface RerankerProgressEvent {
  status: 'download' | 'cached' | 'verify' | 'ready';
  /** The file the event is about: `'weights-int8.bpk'`, `'weights-f32.bpk'` or `'tokenizer.bin'`; absent on `'ready'`. */
  file?: string;
  /** Bytes of every file so far. */
  loaded: number;
  /** Bytes of every file the load needs, as far as known (the manifest gives them upfront). */
  total: number;
  /** From 0 to 1, never going back. */
  progress: number;
}

export interface CreateOptions extends LoadOptions {
  /**
   * Run the model in a module Web Worker (default: `true` where `Worker` exists, i.e. browsers;
   * Node runs it in this thread). Relative URLs are resolved against the page before they go
   * to the worker; bytes you pass are copied to it.
   */
  worker?: boolean;
}

export interface DeviceInfo {
  backend: 'webgpu' | 'cpu';
  /**
   * How the linear layers multiply: `'int8'` in integers (the int8 weights on the CPU: about
   * twice as fast in WebAssembly, logits within about 1e-3 of the f32 products on the same
   * weights), or `'f32'` (f32 weights, and WebGPU).
   */
  matmul: 'int8' | 'f32';
  /** With `matmul: 'int8'`: how the activations are rounded (see `LoadOptions.activations`). */
  activations?: 'i16' | 'i7';
  /** Why `activations: 'i7'` was asked for and `'i16'` runs (no relaxed SIMD here). */
  activationsReason?: string;
  /** On WebGPU, the adapter as the browser describes it (`GPUAdapterInfo`), e.g. "google swiftshader (WebGPU)". */
  adapter?: string;
  /** Why WebGPU was not used, when `device: 'auto'` fell back to the CPU. */
  fallbackReason?: string;
  /** `createReranker` only: how often the worker was replaced after its module trapped or it died. */
  restarts?: number;
  /** Why the worker was last replaced. */
  restartReason?: string;
  /** The threads the CPU path uses (the loading thread included); see `LoadOptions.threads`. */
  threads: number;
  /** Why fewer threads run than were asked for (or than the default would start). */
  threadsReason?: string;
  /**
   * `device: 'auto'` on a hardware WebGPU adapter: the measured verdict it followed. The first
   * load on an adapter times the same work on WebGPU and on the CPU (one short pair, then a
   * rerank-sized batch of 16 passages of about 130 tokens, each after a warm-up call) and keeps
   * the device that ran the batch faster; the verdict is stored (Cache API) per adapter, model,
   * browser and package version, and later loads build only that device. Absent when a device
   * was named, or where `auto` had no hardware adapter to weigh.
   */
  choice?: DeviceChoice;
}

/** One piece of the work `auto` timed on both devices (`DeviceChoice.work`). */
export interface TimedWork {
  /** `'pair'` (one short pair: a call's latency) or `'batch'` (16 pairs of about 130 tokens: a typical rerank). */
  name: 'pair' | 'batch';
  /** Pairs in the call. */
  pairs: number;
  /** The fastest of two timed calls on WebGPU, in milliseconds. */
  gpuMs: number;
  /** The same on the CPU (the module the CPU runs on here, threads included). */
  cpuMs: number;
}

/** The measurement behind `device: 'auto'` (`DeviceInfo.choice`). */
export interface DeviceChoice {
  /** The device that ran the batch faster, or `'cpu'` where WebGPU failed while it was timed. */
  device: 'webgpu' | 'cpu';
  /** The batch's time on WebGPU (the deciding work), in milliseconds (absent after a failure). */
  gpuMs?: number;
  /** The batch's time on the CPU (absent after a failure). */
  cpuMs?: number;
  /** Pairs in the batch (absent after a failure). */
  pairs?: number;
  /** Every piece of work timed, the batch included (absent after a failure). */
  work?: TimedWork[];
  /** Why WebGPU is not used on this adapter: it failed while it was timed (lost, or an error). */
  failure?: string;
  /** When it was measured (ISO 8601). */
  measuredAt: string;
  /** Whether this load read it from storage (`false`: measured by this load). */
  stored: boolean;
  /** Why a verdict measured by this load could not be stored. */
  storedReason?: string;
}

/** A document: a string, or an object with a `text` field (returned unchanged). */
export type RerankDocument = string | { text: string; [key: string]: unknown };

export interface RerankOptions {
  /** Keep the best `topN` results (a whole number ≥ 1; default: all). */
  topN?: number;
  /** Put each input document in its result as `document` (default false). */
  returnDocuments?: boolean;
  /** Pairs per model call (default 32; long pairs may run in smaller batches, never larger than 256). */
  batchSize?: number;
  /** Cancels the call: it rejects with `code: 'ABORTED'` at once and stops before its next batch. */
  signal?: AbortSignal;
  /**
   * Long documents: score each as the best of up to this many consecutive windows that fit
   * `maxLength` with the query, instead of truncating it (Cohere's `max_chunks_per_doc`). Off by
   * default. See docs/api.md, "Long documents".
   */
  maxChunksPerDoc?: number;
}

export interface RerankResult<D extends RerankDocument = RerankDocument> {
  /** Position of the document in the input array. */
  index: number;
  /** The model's raw logit: higher is more relevant. */
  score: number;
  /** `sigmoid(score)`, in (0, 1). */
  probability: number;
  /** The input document, when `returnDocuments` is set. */
  document?: D;
}

export interface PredictOptions {
  /** Pairs per model call (default 32; long pairs may run in smaller batches, never larger than 256). */
  batchSize?: number;
  /** Cancels the call: it rejects with `code: 'ABORTED'` at once and stops before its next batch. */
  signal?: AbortSignal;
}

/**
 * `INVALID_INPUT`: a bad argument or option. `MODEL_LOAD`: a model file or the `.wasm` missing,
 * unreadable or not a usable model. `INTEGRITY`: a model file differs from its `model.json`
 * entry (size or sha256), or the manifest is broken. `DEVICE`: the requested backend is
 * unusable. `DEVICE_LOST`: the GPU was lost (or reported an error) and reloading on the CPU
 * failed too. `ABORTED`: the call's signal fired, or the reranker was disposed. `OUT_OF_MEMORY`:
 * memory for a batch could not be had. `INFERENCE`: the backend failed, the worker died, or the
 * WebAssembly instance trapped.
 */
export type RerankerErrorCode =
  | 'INVALID_INPUT' | 'MODEL_LOAD' | 'INTEGRITY' | 'DEVICE' | 'DEVICE_LOST' | 'ABORTED' | 'OUT_OF_MEMORY' | 'INFERENCE';

/** Every code a `RerankerError` can carry. */
export declare const CODES: readonly RerankerErrorCode[];

/** Every error the package throws (rejects with): `name` is `'RerankerError'`, `code` says what kind. */
export declare class RerankerError extends Error {
  constructor(code: RerankerErrorCode, message: string, options?: { cause?: unknown });
  readonly name: 'RerankerError';
  readonly code: RerankerErrorCode;
}

/**
 * Where a load's time went, in milliseconds, measured where the model runs (the worker, for
 * `createReranker`). A cold start is mostly `filesMs` (download, or the browser's store on a
 * later visit) and `weightsMs`. Steps overlap: the module compiles while the files are read, and the
 * device probe and the tokenizer run while the weights are still arriving; only the weights are
 * read into the model after everything else, so
 * `max(wasmMs, filesMs) + weightsMs <= totalMs`, while the sum of all steps may exceed it.
 */
export interface LoadTimings {
  /** From the load's start until the WebAssembly module is compiled and started (about 0 when this thread already had it). */
  wasmMs: number;
  /**
   * From the load's start until the weights and the tokenizer are here (network or the browser's
   * store). A download's sha256 is checked before it counts as here; a stored copy's while the
   * model is built from it (`checkedMs`), in a worker where one can start.
   */
  filesMs: number;
  /**
   * From the load's start until every file's sha256 is checked, and every download stored (the
   * write runs while the model is built). A stored copy that fails is
   * dropped and downloaded again, and the model built again from it, before the load resolves.
   */
  checkedMs: number;
  /** Choosing the device: probing WebGPU's adapter (`device: 'auto'` or `'webgpu'`). */
  deviceMs: number;
  /** Building the tokenizer from `tokenizer.bin`. */
  tokenizerMs: number;
  /** Reading the weights into the model (dequantizing int8, uploading to the GPU). */
  weightsMs: number;
  /** The whole load. */
  totalMs: number;
}

/** What both `Reranker` and the worker-backed reranker of `createReranker` offer. */
export interface RerankerLike {
  /** The backend in use; after a WebGPU device loss it becomes `cpu` with the reason. */
  readonly device: DeviceInfo;
  /** The truncation length of a pair, in tokens. */
  readonly maxLength: number;
  /** How the loaded weights are stored. */
  readonly precision: Precision;
  /** Where the load's time went. */
  readonly loadTimings: LoadTimings;
  /** Where the model files were kept. */
  readonly storage: StorageInfo;
  /** Ranks documents against the query, best first. */
  rerank<D extends RerankDocument>(query: string, documents: D[], options?: RerankOptions): Promise<RerankResult<D>[]>;
  /** Raw scores (logits) of `[query, passage]` pairs, in input order (sentence-transformers `predict`). */
  predict(pairs: [string, string][], options?: PredictOptions): Promise<number[]>;
  /** Frees the model (terminates the worker); later calls reject with `code: 'ABORTED'`. */
  dispose(): void;
}

/**
 * A reranker in a module Web Worker (browsers) so inference never blocks the page, or in this
 * thread (Node, or `worker: false`).
 */
export declare function createReranker(options?: CreateOptions): Promise<RerankerLike>;

/** Removes the model files the package stored in this origin and `auto`'s device verdicts, or with `baseUrl` only that model folder's. */
export declare function clearCache(options?: { baseUrl?: string | URL }): Promise<void>;

/** The reranker in this thread. `createReranker` is the usual way in a page. */
export declare class Reranker implements RerankerLike {
  private constructor();
  static load(options?: LoadOptions): Promise<Reranker>;
  /** Removes the model files the package stored in this origin and `auto`'s device verdicts, or with `baseUrl` only that model folder's. */
  static clearCache(options?: { baseUrl?: string | URL }): Promise<void>;
  readonly device: DeviceInfo;
  readonly maxLength: number;
  /** How the loaded weights are stored. */
  readonly precision: Precision;
  readonly loadTimings: LoadTimings;
  readonly storage: StorageInfo;
  rerank<D extends RerankDocument>(query: string, documents: D[], options?: RerankOptions): Promise<RerankResult<D>[]>;
  predict(pairs: [string, string][], options?: PredictOptions): Promise<number[]>;
  dispose(): void;
}

/** How many of the first results the adapters rerank unless `topK` says otherwise (30). */
export declare const DEFAULT_TOP_K: number;

/** Options of the search adapters: what to rerank, and what `rerank` takes. */
export interface AdapterOptions {
  /** Rerank the first `topK` results (default 30); the rest follow in their original order. */
  topK?: number;
  batchSize?: number;
  signal?: AbortSignal;
  /** Score long pages as their best window (see `RerankOptions.maxChunksPerDoc`). */
  maxChunksPerDoc?: number;
}

export interface RerankResultsOptions<R> extends AdapterOptions {
  /** The text of a result (may be async). */
  getText: (result: R) => string | Promise<string>;
  /** Return `{ result, score }` entries instead of the results alone. */
  withScores?: boolean;
}

/** A result with its reranker score (`undefined` past `topK`). */
export interface Scored<R> {
  result: R;
  score: number | undefined;
}

/**
 * Reranks the first `topK` of a search library's results and puts them first; the rest keep
 * their order. The result objects are yours, unchanged.
 */
export declare function rerankResults<R>(reranker: RerankerLike, query: string, results: R[],
  options: RerankResultsOptions<R> & { withScores: true }): Promise<Scored<R>[]>;
export declare function rerankResults<R>(reranker: RerankerLike, query: string, results: R[],
  options: RerankResultsOptions<R>): Promise<R[]>;

/** MiniSearch `search()` results, reranked; text from stored `fields` (default `['title', 'text']`). */
export declare function rerankMiniSearch<R extends { id: unknown }>(reranker: RerankerLike, query: string, results: R[],
  options?: AdapterOptions & { fields?: string[]; getText?: (result: R) => string | Promise<string> }): Promise<R[]>;

/** An Orama `search()` result with its `hits` reranked (the same hit objects). */
export declare function rerankOrama<S extends { hits: { document: Record<string, unknown> }[] }>(reranker: RerankerLike,
  query: string, searchResult: S,
  options?: AdapterOptions & { fields?: string[]; getText?: (hit: S['hits'][number]) => string | Promise<string> }): Promise<S>;

/** An Orama plugin (`create({ schema, plugins: [oramaReranker(reranker)] })`): every full-text search comes back reranked. */
export declare function oramaReranker(reranker: RerankerLike,
  options?: AdapterOptions & { fields?: string[] }): { name: string; afterSearch: (...args: unknown[]) => Promise<void> };

/** A Pagefind search result (`pagefind.search(q).results[i]`). */
export interface PagefindResult {
  id: string;
  data(): Promise<PagefindData>;
  [key: string]: unknown;
}
export interface PagefindData {
  url: string;
  content: string;
  meta: { title?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** What of a Pagefind result is scored: `'section'` (default) or `'page'`. */
export type PagefindPassage = 'section' | 'page';
export declare const PAGEFIND_PASSAGES: readonly PagefindPassage[];
/** Words of the matched section scored around its matches (32). */
export declare const SECTION_WORDS: number;
/** Words of the page's opening scored with a section (16). */
export declare const LEAD_WORDS: number;

export interface PagefindTextOptions {
  /** `'section'` (default): the title, the page's opening, the matched section's heading and words around its matches; `'page'`: the title and the whole content. */
  passage?: PagefindPassage;
  /** Words of the matched section (default `SECTION_WORDS`, at least 8). */
  sectionWords?: number;
  /** Words of the page's opening (default `LEAD_WORDS`; 0: none). */
  leadWords?: number;
}

/** The text of a Pagefind result (`await result.data()`) that `rerankPagefind` scores. */
export declare function pagefindText(data: PagefindData, options?: PagefindTextOptions): string;

/**
 * Pagefind results reranked: `data()` is loaded for the first `topK` only; the text is each
 * page's matched section (`passage: 'section'`, default), the whole page (`'page'`), or your
 * `getText(data, result)`. Entries past `topK` have no `data`/`score`.
 */
export declare function rerankPagefind(reranker: RerankerLike, query: string,
  search: { results: PagefindResult[] } | PagefindResult[],
  options?: AdapterOptions & PagefindTextOptions & { getText?: (data: PagefindData, result: PagefindResult) => string }):
  Promise<{ result: PagefindResult; data?: PagefindData; score?: number }[]>;
