// web-reranker core: the in-thread `Reranker`. Wraps the wasm-bindgen module
// (`web_reranker.js` + `web_reranker_bg.wasm`) and fetches the model files. `index.js` is the
// package's entry point; `worker.js` runs this same class in a Web Worker.
import init, { WasmReranker } from './web_reranker.js';

// NOTE: `here`, not `import.meta.url`, where bundlers must not treat a URL as an asset (model/ is
// a folder served beside the package, not bundled).
const here = import.meta.url;
let wasmReady;

/** An error shaped like the ones the wasm module throws (`name` RerankerError, a `code`). */
export function rerankerError(code, message, cause) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = 'RerankerError';
  error.code = code;
  return error;
}

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

function initWasm(wasm) {
  wasmReady ??= (async () => {
    // NOTE: a literal `new URL(..., import.meta.url)` so that bundlers emit the .wasm file.
    const url = wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm) ? null
      : wasm !== undefined ? new URL(wasm, page()) : new URL('./web_reranker_bg.wasm', import.meta.url);
    // A URL in a browser lets wasm-bindgen compile while downloading (instantiateStreaming).
    const module = url === null ? wasm : url.protocol === 'file:' ? await readFile(url) : url;
    await init({ module_or_path: module });
  })();
  wasmReady.catch(() => { wasmReady = undefined; }); // a failed start may be retried
  return wasmReady;
}

const constructing = Symbol('Reranker');
export const LOAD_OPTIONS = ['baseUrl', 'weights', 'tokenizer', 'wasm', 'device', 'maxLength', 'onProgress'];

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
    this.#maxLength = inner.maxLength;
    this.#create = create;
  }

  /** Loads the model. See index.d.ts for the options. */
  static async load(options = {}) {
    checkOptions(options, LOAD_OPTIONS, 'load options');
    await initWasm(options.wasm);
    const base = options.baseUrl !== undefined ? new URL(options.baseUrl, page()) : new URL('./model/', here);
    // NOTE: the sources, not the bytes, are kept: after a device loss the model is fetched again
    // (from the HTTP cache) rather than holding a second copy of the weights for the whole session.
    const create = async (device, onProgress) => {
      const [weights, tokenizer] = await Promise.all([
        bytesOf(options.weights, base, 'weights.bpk', onProgress),
        bytesOf(options.tokenizer, base, 'tokenizer.json', onProgress),
      ]);
      return WasmReranker.create(weights, tokenizer, { device, maxLength: options.maxLength });
    };
    return new Reranker(constructing, await create(options.device, options.onProgress), create);
  }

  /** `{ backend: 'webgpu' | 'cpu', fallbackReason?: string }`; changes to the CPU after a device loss. */
  get device() {
    return { ...this.#device };
  }

  /** The truncation length of a (query, document) pair, in tokens. */
  get maxLength() {
    return this.#maxLength;
  }

  /** Ranks documents against the query, best first. */
  rerank(query, documents, options) {
    return this.#call((inner) => inner.rerank(query, documents, options));
  }

  /** Raw scores (logits) of `[query, passage]` pairs, in input order. */
  async predict(pairs, options) {
    return Array.from(await this.#call((inner) => inner.predict(pairs, options)));
  }

  /** Frees the model's memory; later calls reject with `code: 'ABORTED'`. */
  dispose() {
    this.#inner?.free();
    this.#inner = null;
  }

  /** Runs a call; if the GPU device is lost under it, moves to the CPU and runs it again there. */
  async #call(run) {
    for (;;) {
      const inner = this.#inner;
      if (inner === null) throw rerankerError('ABORTED', 'this reranker was disposed');
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
      if (this.#inner === null) { inner.free(); return; } // disposed meanwhile
      this.#inner = inner;
      this.#device = { backend: 'cpu', fallbackReason: `${error.message}; moved to the CPU` };
      lost.free();
    })().finally(() => { this.#recovery = null; });
    return this.#recovery;
  }
}

