// web-reranker: the load options, in one table (`LOAD_OPTION_TABLE`) from which the known names,
// the defaults and the checks come. Every value is checked here, before anything is fetched:
// those the wasm module reads (`reader: 'module'`: `device`, `maxLength`, `activations`) too,
// although the module checks them again. The package's tests check the table against the Rust
// struct (src/web/options.rs) and against index.d.ts.
import { rerankerError, isAbortSignal } from './errors.js';

/** The most threads a load may ask for. */
export const MAX_THREADS = 64;

/** The fewest tokens a pair may be cut to: `<s> </s></s> </s>` (the module's PAIR_SPECIAL_TOKENS). */
export const MIN_MAX_LENGTH = 4;

/** The weights files a model folder holds, by `precision`. */
export const WEIGHTS_FILES = { int8: 'weights-int8.bpk', f32: 'weights-f32.bpk' };

const isSource = (v) => typeof v === 'string' || v instanceof URL || v instanceof ArrayBuffer || ArrayBuffer.isView(v);

/** The kinds of value an option takes: a test and how a message names it. */
const KINDS = {
  boolean: [(v) => typeof v === 'boolean', 'a boolean'],
  url: [(v) => typeof v === 'string' || v instanceof URL, 'a string or URL'],
  source: [isSource, 'a URL (string or URL) or bytes (ArrayBuffer or a typed array)'],
  function: [(v) => typeof v === 'function', 'a function'],
  signal: [isAbortSignal, 'an AbortSignal'],
  string: [(v) => typeof v === 'string', 'a string'],
  integer: [Number.isInteger, 'an integer'],
};

/**
 * Every option `Reranker.load` takes: who reads it (`js`, or the wasm `module`), its kind, the
 * values or range it allows, and its default (`undefined`: decided at load, see index.d.ts).
 */
export const LOAD_OPTION_TABLE = Object.freeze({
  baseUrl: { reader: 'js', kind: 'url' },
  precision: { reader: 'js', kind: 'string', values: Object.keys(WEIGHTS_FILES), default: 'int8' },
  weights: { reader: 'js', kind: 'source' },
  tokenizer: { reader: 'js', kind: 'source' },
  wasm: { reader: 'js', kind: 'source' },
  threads: { reader: 'js', kind: 'integer', min: 1, max: MAX_THREADS },
  onProgress: { reader: 'js', kind: 'function' },
  signal: { reader: 'js', kind: 'signal' },
  verify: { reader: 'js', kind: 'boolean', default: true },
  cache: { reader: 'js', kind: 'boolean', default: true },
  keepOtherModels: { reader: 'js', kind: 'boolean', default: false },
  // NOTE: the model's own limit (512 for XLM-R) is the module's check: it is in the model.
  maxLength: { reader: 'module', kind: 'integer', min: MIN_MAX_LENGTH },
  activations: { reader: 'module', kind: 'string', values: ['i16', 'i7'], default: 'i16' },
  device: { reader: 'module', kind: 'string', values: ['auto', 'webgpu', 'cpu'], default: 'auto' },
});

/** What `createReranker` takes besides the load options. */
export const CREATE_OPTION_TABLE = Object.freeze({
  worker: { reader: 'js', kind: 'boolean' },
});

/** Every load option's name. */
export const LOAD_OPTIONS = Object.keys(LOAD_OPTION_TABLE);

/** The load options the wasm module reads (its `LoadOptions` struct declares them). */
export const MODULE_OPTIONS = LOAD_OPTIONS.filter((name) => LOAD_OPTION_TABLE[name].reader === 'module');

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

const shown = (value) => (typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value));
const quoted = (values) => values.map((v) => `'${v}'`).join(', ').replace(/, ([^,]*)$/, ' or $1');

/** Checks one option's value against its row of the table (`undefined`: not given, fine). */
function checkValue(name, spec, value) {
  if (value === undefined) return;
  const [test, kind] = KINDS[spec.kind];
  let expected;
  if (spec.values !== undefined) {
    if (spec.values.includes(value)) return;
    expected = quoted(spec.values);
  } else if (spec.kind === 'integer') {
    if (test(value) && value >= spec.min && value <= (spec.max ?? Infinity)) return;
    expected = spec.max === undefined ? `an integer of at least ${spec.min}` : `an integer from ${spec.min} to ${spec.max}`;
  } else {
    if (test(value)) return;
    expected = kind;
  }
  throw rerankerError('INVALID_INPUT', `${name} must be ${expected}, not ${shown(value)}`);
}

/**
 * Checks every option of `options` (names and values) against `table`; returns the options with
 * the table's defaults filled in. `what` names the object in messages.
 */
export function checkedOptions(options, table, what) {
  checkOptions(options, Object.keys(table), what);
  const out = {};
  for (const [name, spec] of Object.entries(table)) {
    checkValue(name, spec, options[name]);
    out[name] = options[name] ?? spec.default;
  }
  return out;
}

/** The load options, checked, with their defaults (`threads` undefined: the default plan). */
export const loadOptions = (options) => checkedOptions(options, LOAD_OPTION_TABLE, 'load options');

/** `createReranker`'s options, checked: the load options and `worker`. */
export const createOptions = (options) =>
  checkedOptions(options, { ...LOAD_OPTION_TABLE, ...CREATE_OPTION_TABLE }, 'load options');

/** The options the wasm module reads, as given (it checks them again). */
export const moduleOptions = (options) => Object.fromEntries(MODULE_OPTIONS
  .filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));
