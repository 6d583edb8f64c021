// web-reranker errors: every failure the package reports is a `RerankerError` with a stable
// `code`. The wasm module throws plain `Error`s named `RerankerError` (src/web/mod.rs); `fromWasm`
// is the one place they, and anything else a call can throw, become this class.

/** The codes a `RerankerError` can carry (documented in index.d.ts and the README). */
export const CODES = Object.freeze([
  'INVALID_INPUT', 'MODEL_LOAD', 'INTEGRITY', 'INFERENCE', 'DEVICE', 'DEVICE_LOST', 'ABORTED', 'OUT_OF_MEMORY',
]);

/** A failure of the reranker: `code` says what kind (see `CODES`). */
export class RerankerError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'RerankerError';
    this.code = code;
  }
}

/** A `RerankerError` with `code`, and the error that caused it if any. */
export function rerankerError(code, message, cause) {
  return new RerankerError(code, message, cause === undefined ? undefined : { cause });
}

/** A `RerankerError` for whatever a call threw. */
export function fromWasm(error) {
  if (error instanceof RerankerError) return error;
  if (error?.name === 'RerankerError' && CODES.includes(error.code)) {
    const typed = new RerankerError(error.code, error.message, error.cause === undefined ? undefined : { cause: error.cause });
    if (typeof error.stack === 'string') typed.stack = error.stack.replace(/^Error/, 'RerankerError');
    return typed;
  }
  if (error instanceof RangeError && /memory|allocation|Array buffer/i.test(error.message)) {
    return new RerankerError('OUT_OF_MEMORY', `out of memory: ${error.message}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new RerankerError('INFERENCE', `the reranker failed unexpectedly: ${message}`, { cause: error });
}

/** The rejection of a call whose `AbortSignal` fired. */
export const aborted = (signal) => new RerankerError('ABORTED', 'the call was aborted', { cause: signal?.reason });

/** Whether `value` is an `AbortSignal` (or quacks like one: a worker's, a polyfill's). */
export const isAbortSignal = (value) => typeof value?.aborted === 'boolean' && typeof value.addEventListener === 'function';

/**
 * Splits `signal` out of a call's options: `[signal, otherOptions]`. A `signal` that is not an
 * `AbortSignal` is an `INVALID_INPUT`.
 */
export function takeSignal(options) {
  if (options === null || typeof options !== 'object' || !('signal' in options)) return [undefined, options];
  const { signal, ...rest } = options;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new RerankerError('INVALID_INPUT', 'signal must be an AbortSignal');
  }
  return [signal, rest];
}

/** `promise`, or a rejection with `ABORTED` as soon as `signal` fires, whichever comes first. */
export function abortable(promise, signal) {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {}); // it rejects too (ABORTED): that rejection is this one
    return Promise.reject(aborted(signal));
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
