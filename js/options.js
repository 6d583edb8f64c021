// web-reranker: the load options, each checked once where it is read. JS reads `baseUrl`,
// `weights`, `tokenizer`, `wasm`, `onProgress`, `signal`, `verify`, `cache`, `keepOtherModels`,
// `precision` and `threads`;
// the wasm module reads `device`, `maxLength` and `activations` and checks them itself
// (src/web/options.rs), so they pass through here unread.
import { rerankerError } from './errors.js';

/**
 * The load options the wasm module reads: its `LoadOptions` struct (src/web/options.rs) declares
 * them, and a test checks that the two lists agree.
 */
export const MODULE_OPTIONS = ['device', 'maxLength', 'activations'];

/** Every load option `Reranker.load` takes (`createReranker` adds `worker`). */
export const LOAD_OPTIONS = ['baseUrl', 'weights', 'tokenizer', 'wasm', 'onProgress', 'signal', 'verify', 'cache', 'keepOtherModels', 'precision', 'threads', ...MODULE_OPTIONS];

/** The weights files a model folder holds, by `precision`. */
export const WEIGHTS_FILES = { int8: 'weights-int8.bpk', f32: 'weights-f32.bpk' };

/** The most threads a load may ask for. */
export const MAX_THREADS = 64;

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

const shown = (value) => JSON.stringify(value) ?? String(value);

/**
 * The load options JS reads, checked, with their defaults: `{ verify, cache, keepOtherModels,
 * precision, threads }` (`threads` undefined: the default plan).
 */
export function loadOptions(options) {
  checkOptions(options, LOAD_OPTIONS, 'load options');
  const { verify = true, cache = true, keepOtherModels = false, precision = 'int8', threads } = options;
  for (const [name, value] of Object.entries({ verify, cache, keepOtherModels })) {
    if (typeof value !== 'boolean') throw rerankerError('INVALID_INPUT', `${name} must be a boolean`);
  }
  if (typeof precision !== 'string' || !Object.hasOwn(WEIGHTS_FILES, precision)) {
    throw rerankerError('INVALID_INPUT', `precision must be 'int8' or 'f32', not ${shown(precision)}`);
  }
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) {
    throw rerankerError('INVALID_INPUT', `threads must be an integer from 1 to ${MAX_THREADS}, not ${shown(threads)}`);
  }
  return { verify, cache, keepOtherModels, precision, threads };
}

/** The options the wasm module reads, as given (it checks them). */
export const moduleOptions = (options) => Object.fromEntries(MODULE_OPTIONS
  .filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));
