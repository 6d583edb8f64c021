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
  code: 'INVALID_INPUT' | 'MODEL_LOAD' | 'INFERENCE' | 'DEVICE' | 'DEVICE_LOST';
}

export declare class Reranker {
  private constructor();
  static load(options?: LoadOptions): Promise<Reranker>;
  readonly device: DeviceInfo;
  readonly maxLength: number;
  rerank<D extends Document>(query: string, documents: D[], options?: RerankOptions): Promise<RerankResult<D>[]>;
  predict(pairs: [string, string][], options?: PredictOptions): Promise<number[]>;
}
