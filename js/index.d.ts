/** Where to get a file: bytes, or a URL (absolute, or relative to `baseUrl`). */
export type Source = string | URL | ArrayBuffer | ArrayBufferView;

export interface LoadOptions {
  /** Folder holding `weights.bpk` and `tokenizer.json` (default: the package's `model/`). */
  baseUrl?: string | URL;
  /** The weights file (default `weights.bpk` under `baseUrl`). */
  weights?: Source;
  /** The `tokenizer.json` (default `tokenizer.json` under `baseUrl`). */
  tokenizer?: Source;
  /** The `.wasm` module (default: the package's `web_reranker_bg.wasm`). */
  wasm?: Source;
  /** `'auto'` (default): WebGPU when a usable adapter exists, else the CPU, with the reason in `device.fallbackReason`. */
  device?: 'auto' | 'webgpu' | 'cpu';
  /** Truncation length of a (query, document) pair in tokens, 4 to 512 (default 512). */
  maxLength?: number;
  /** Called as the model files download: per file, `loaded` only grows, the last event has `loaded === total`. */
  onProgress?: (event: ProgressEvent) => void;
}

export interface ProgressEvent {
  /** `'weights.bpk'` or `'tokenizer.json'`. */
  file: string;
  /** Bytes received so far. */
  loaded: number;
  /** Bytes expected, when the server says (always set on the last event). */
  total?: number;
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
  /** Why WebGPU was not used, when `device: 'auto'` fell back to the CPU. */
  fallbackReason?: string;
}

/** A document: a string, or an object with a `text` field (returned unchanged). */
export type Document = string | { text: string; [key: string]: unknown };

export interface RerankOptions {
  /** Keep the best `topN` results (a whole number ≥ 1; default: all). */
  topN?: number;
  /** Put each input document in its result as `document` (default false). */
  returnDocuments?: boolean;
  /** Pairs per model call (default 32). */
  batchSize?: number;
}

export interface RerankResult<D extends Document = Document> {
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
  /** Pairs per model call (default 32). */
  batchSize?: number;
}

/** Every error the package throws: `name` is `'RerankerError'`, `code` says what kind. */
export interface RerankerError extends Error {
  name: 'RerankerError';
  /**
   * `INVALID_INPUT`: a bad argument or option. `MODEL_LOAD`: a model file missing, unreadable or
   * corrupt. `INFERENCE`: the backend failed (or the worker died). `DEVICE`: the requested backend
   * is unusable. `DEVICE_LOST`: the GPU was lost and reloading on the CPU failed too. `ABORTED`:
   * the reranker was disposed.
   */
  code: 'INVALID_INPUT' | 'MODEL_LOAD' | 'INFERENCE' | 'DEVICE' | 'DEVICE_LOST' | 'ABORTED';
}

/** What both `Reranker` and the worker-backed reranker of `createReranker` offer. */
export interface RerankerLike {
  /** The backend in use; after a WebGPU device loss it becomes `cpu` with the reason. */
  readonly device: DeviceInfo;
  /** The truncation length of a pair, in tokens. */
  readonly maxLength: number;
  /** Ranks documents against the query, best first. */
  rerank<D extends Document>(query: string, documents: D[], options?: RerankOptions): Promise<RerankResult<D>[]>;
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

/** The reranker in this thread. `createReranker` is the usual way in a page. */
export declare class Reranker implements RerankerLike {
  private constructor();
  static load(options?: LoadOptions): Promise<Reranker>;
  readonly device: DeviceInfo;
  readonly maxLength: number;
  rerank<D extends Document>(query: string, documents: D[], options?: RerankOptions): Promise<RerankResult<D>[]>;
  predict(pairs: [string, string][], options?: PredictOptions): Promise<number[]>;
  dispose(): void;
}
