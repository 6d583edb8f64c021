// web-reranker: the JS entry point of the package. Wraps the wasm-bindgen module
// (`web_reranker.js` + `web_reranker_bg.wasm`) and fetches the model files.
import init, { WasmReranker } from './web_reranker.js';

const here = import.meta.url;
let wasmReady;

/** An error shaped like the ones the wasm module throws (`name` RerankerError, a `code`). */
function rerankerError(code, message, cause) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = 'RerankerError';
  error.code = code;
  return error;
}

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
  if (!response.ok) throw rerankerError('MODEL_LOAD', `cannot fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function initWasm(wasm) {
  wasmReady ??= (async () => {
    const module = await bytesOf(wasm, here, './web_reranker_bg.wasm');
    await init({ module_or_path: module });
  })();
  return wasmReady;
}

const constructing = Symbol('Reranker');

/** A multilingual cross-encoder reranker running on WebGPU or the CPU (WebAssembly). */
export class Reranker {
  #inner;
  #device;
  /** Makes a fresh `WasmReranker` on a device: fetches (or reuses) the model's sources again. */
  #create;
  /** The reload to the CPU in progress after a device loss, shared by the calls that saw it. */
  #recovery = null;

  constructor(token, inner, create) {
    if (token !== constructing) {
      throw new TypeError('use `await Reranker.load(options)` to make a Reranker');
    }
    this.#inner = inner;
    this.#device = inner.device;
    this.#create = create;
  }

  /** Loads the model. See index.d.ts for the options. */
  static async load(options = {}) {
    await initWasm(options.wasm);
    const base = options.baseUrl !== undefined ? new URL(options.baseUrl, globalThis.location?.href ?? here) : new URL('./model/', here);
    // NOTE: the sources, not the bytes, are kept: after a device loss the model is fetched again
    // (from the HTTP cache) rather than holding a second copy of the weights for the whole session.
    const create = async (device) => {
      const [weights, tokenizer] = await Promise.all([
        bytesOf(options.weights, base, 'weights.bpk'),
        bytesOf(options.tokenizer, base, 'tokenizer.json'),
      ]);
      return WasmReranker.create(weights, tokenizer, { device, maxLength: options.maxLength });
    };
    return new Reranker(constructing, await create(options.device), create);
  }

  /** `{ backend: 'webgpu' | 'cpu', fallbackReason?: string }`; changes to the CPU after a device loss. */
  get device() {
    return { ...this.#device };
  }

  /** The truncation length of a (query, document) pair, in tokens. */
  get maxLength() {
    return this.#inner.maxLength;
  }

  /** Ranks documents against the query, best first. */
  rerank(query, documents, options) {
    return this.#call((inner) => inner.rerank(query, documents, options));
  }

  /** Raw scores (logits) of `[query, passage]` pairs, in input order. */
  async predict(pairs, options) {
    return Array.from(await this.#call((inner) => inner.predict(pairs, options)));
  }

  /** Runs a call; if the GPU device is lost under it, moves to the CPU and runs it again there. */
  async #call(run) {
    for (;;) {
      const inner = this.#inner;
      try {
        return await run(inner);
      } catch (error) {
        const stale = inner !== this.#inner; // the reranker moved while this call ran
        if (error?.code !== 'DEVICE_LOST' || (!stale && this.#device.backend !== 'webgpu')) throw error;
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
        throw rerankerError('DEVICE_LOST', `${error.message}, and loading the model on the CPU failed: ${cause.message}`, cause);
      }
      this.#inner = inner;
      this.#device = { backend: 'cpu', fallbackReason: `${error.message}; moved to the CPU` };
      lost.free();
    })().finally(() => { this.#recovery = null; });
    return this.#recovery;
  }
}
