// web-reranker: the JS entry point of the package. Wraps the wasm-bindgen module
// (`web_reranker.js` + `web_reranker_bg.wasm`) and fetches the model files.
import init, { WasmReranker } from './web_reranker.js';

const here = import.meta.url;
let wasmReady;

/** Bytes of a source: bytes as they are, or a URL (relative to `base`) fetched or read. */
async function bytesOf(source, base, fallbackName) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  const url = new URL(source ?? fallbackName, base);
  if (url.protocol === 'file:') {
    // Node: fetch() has no file: URLs.
    const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) {
    const error = new Error(`cannot fetch ${url}: HTTP ${response.status}`);
    error.name = 'RerankerError';
    error.code = 'MODEL_LOAD';
    throw error;
  }
  return new Uint8Array(await response.arrayBuffer());
}

function initWasm(wasm) {
  wasmReady ??= (async () => {
    const module = await bytesOf(wasm, here, './web_reranker_bg.wasm');
    await init({ module_or_path: module });
  })();
  return wasmReady;
}

/** A multilingual cross-encoder reranker running on WebGPU or the CPU (WebAssembly). */
export class Reranker {
  #inner;

  constructor(inner) {
    if (!(inner instanceof WasmReranker)) {
      throw new TypeError('use `await Reranker.load(options)` to make a Reranker');
    }
    this.#inner = inner;
  }

  /** Loads the model. See index.d.ts for the options. */
  static async load(options = {}) {
    await initWasm(options.wasm);
    const base = options.baseUrl !== undefined ? new URL(options.baseUrl, globalThis.location?.href ?? here) : new URL('./model/', here);
    const [weights, tokenizer] = await Promise.all([
      bytesOf(options.weights, base, 'weights.bpk'),
      bytesOf(options.tokenizer, base, 'tokenizer.json'),
    ]);
    const inner = await WasmReranker.create(weights, tokenizer, {
      device: options.device,
      maxLength: options.maxLength,
    });
    return new Reranker(inner);
  }

  /** `{ backend: 'webgpu' | 'cpu', fallbackReason?: string }`. */
  get device() {
    return this.#inner.device;
  }

  /** The truncation length of a (query, document) pair, in tokens. */
  get maxLength() {
    return this.#inner.maxLength;
  }

  /** Ranks documents against the query, best first. */
  rerank(query, documents, options) {
    return this.#inner.rerank(query, documents, options);
  }

  /** Raw scores (logits) of `[query, passage]` pairs, in input order. */
  async predict(pairs, options) {
    return Array.from(await this.#inner.predict(pairs, options));
  }
}
