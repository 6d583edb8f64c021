// web-reranker: the model's files for a load. Each is read from the caller's bytes or URL, or
// from the model folder, where it is checked against the folder's manifest (`model.json`) and,
// in a browser, kept in the store (store.js) under its sha256 and read back from there. A file
// the build cut into pieces (`pieces` in its manifest entry) is read a few pieces at a time, each
// checked and stored on its own, so an interrupted load resumes from the pieces it has.
import { rerankerError, aborted } from './errors.js';
import { readFile } from './env.js';
import {
  openStore, openCache, sizeMismatch, digestMismatch, subtleSha256, manifestUrl, lastManifest, storedFiles, piecesMismatch,
} from './store.js';

/**
 * How many pieces of one file are fetched at once.
 * NOTE: measured in BENCHMARKS.md (cold load of the full-shape model's 119 MB in 20 MiB pieces
 * against the single file).
 */
export const PIECES_AT_ONCE = 3;

/**
 * The tokenizer in a model folder: `tokenizer.json` with its vocabulary in binary, written by
 * the build (a `tokenizer` option may give either form).
 */
export const TOKENIZER_FILE = 'tokenizer.bin';

/** Best effort: a full quota or a closed store must not fail a load that has its bytes. */
const ignoreFailure = (promise) => promise.catch(() => undefined);

/** A reader of bytes in memory, for `digestMismatch`. */
const inMemory = (bytes) => async (start, end) => bytes.subarray(start, end);

/** The bytes a caller gave (an `ArrayBuffer` or a view), or undefined for a URL. */
const givenBytes = (source) => (source instanceof Uint8Array ? source
  : source instanceof ArrayBuffer ? new Uint8Array(source)
    : ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : undefined);

/**
 * Bytes of a source: bytes as they are, or a URL (relative to `base`) fetched or read.
 * `report(status, loaded, total?)` (progress.js) is told as the bytes arrive, ending with
 * `loaded === total`.
 */
async function bytesOf(source, base, file, report, signal) {
  /** The bytes, once all are here: the last progress event says so. */
  const complete = (bytes, status = 'download') => { report?.(status, bytes.length, bytes.length); return bytes; };
  const given = givenBytes(source);
  if (given !== undefined) return complete(given, 'cached');
  const url = new URL(source ?? file, base);
  if (url.protocol === 'file:') return complete(new Uint8Array(await readFile(url)));
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (cause) {
    if (signal?.aborted) throw aborted(signal);
    throw rerankerError('MODEL_LOAD', `cannot fetch ${url}: ${cause.message}`, cause);
  }
  if (!response.ok) throw rerankerError('MODEL_LOAD', `cannot fetch ${url}: HTTP ${response.status}`);
  // NOTE: Content-Length is the size on the wire; a compressed response grows past it, so the
  // total reported is never below what has arrived, and the last event has loaded === total.
  const length = Number(response.headers.get('content-length')) || 0;
  if (!report || !response.body) return complete(new Uint8Array(await response.arrayBuffer()));
  const chunks = [];
  let loaded = 0;
  report('download', 0, length || undefined);
  for (const reader = response.body.getReader(); ;) {
    let done; let value;
    try {
      ({ done, value } = await reader.read());
    } catch (cause) {
      if (signal?.aborted) throw aborted(signal);
      throw rerankerError('MODEL_LOAD', `cannot fetch ${url}: ${cause.message}`, cause);
    }
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded < length) report('download', loaded, length);
  }
  if (chunks.length === 1) return complete(chunks[0]);
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.length; }
  return complete(bytes);
}

/**
 * The manifest (`model.json`) beside the model files, or null when the folder has none. With a
 * cache, the last manifest read is kept there and used when the network is unreachable.
 */
async function manifestOf(base, cache, signal) {
  const url = manifestUrl(base);
  let text;
  try {
    if (url.protocol === 'file:') {
      text = new TextDecoder().decode(await readFile(url));
    } else {
      let response;
      try {
        response = await fetch(url, { signal });
      } catch (offline) {
        if (signal?.aborted) throw aborted(signal);
        response = await cache?.match(url.href);
        if (response === undefined) throw offline;
      }
      if (response.status === 404) return null;
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
      if (cache) await ignoreFailure(cache.put(url.href, new Response(text)));
    }
  } catch (cause) {
    if (cause?.code === 'ENOENT') return null;
    if (cause?.code === 'ABORTED') throw cause;
    throw rerankerError('MODEL_LOAD', `cannot read the model manifest ${url}: ${cause.message}`, cause);
  }
  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch (cause) {
    throw rerankerError('INTEGRITY', `the model manifest ${url} is not JSON: ${cause.message}`, cause);
  }
  if (manifest === null || typeof manifest.files !== 'object' || manifest.files === null) {
    throw rerankerError('INTEGRITY', `the model manifest ${url} has no \`files\``);
  }
  return manifest;
}

/**
 * Starts reading the stored copies of `files` named by the manifest's last copy (kept in the
 * cache): `Map(file → { sha256, stored })`, `stored` resolving to the store's reader with `bytes`,
 * the read already under way, or to undefined.
 */
async function readEarly(store, cache, base, files) {
  const early = new Map();
  const last = await lastManifest(cache, base);
  const listed = storedFiles({ files: Object.fromEntries(files.map((f) => [f, last?.files?.[f]])) });
  for (const { file, sha256 } of listed) {
    const stored = store.reader(file, sha256).then((reader) => {
      if (reader === undefined) return undefined;
      const bytes = reader.read(0, reader.size);
      bytes.catch(() => undefined); // an unused read's failure is nobody's
      return { ...reader, bytes };
    });
    early.set(file, { sha256, stored });
  }
  return early;
}

/**
 * Opens the model's files for a load: `sources` maps each file name to the caller's source
 * (bytes or a URL) or undefined (the file in the model folder `base`). `verify` checks folder
 * files against the manifest; `cache` keeps them in the browser's store; `signal` aborts the
 * downloads (they then reject with `ABORTED`, and nothing more is stored); `moduleSha256(bytes)`
 * hashes where WebCrypto is missing. Returns:
 *
 * - `read(file, report, checks, verifier)`, which resolves to the file's bytes (`report`:
 *   progress.js's reporter for the file, or undefined). `checks`
 *   collects what the load must await before it answers: the checks of stored copies, which run
 *   while the model is built from them (in `verifier`'s worker), and the writes of downloads to
 *   the store;
 * - `storage`: `{ store: 'opfs' | 'cache' | 'none', stored, reason? }`, `stored` false once a
 *   download could not be written (a full quota: the load goes on without it);
 * - `size(file)`: the file's size, where the manifest or the caller's bytes say it;
 * - `prune()`: removes the stored files the manifest does not name (other versions, other
 *   models), once the load's files have all checked.
 */
export async function openModelFiles({ base, sources, verify, cache: caching, signal, moduleSha256 }) {
  // NOTE: WebCrypto where the origin is secure, else the wasm module's sha256 (src/web/mod.rs):
  // the manifest's hashes are always checked.
  const sha256Of = subtleSha256 ?? moduleSha256;
  const fromFolder = (file) => sources.get(file) === undefined;
  const folderFiles = [...sources.keys()].filter(fromFolder);
  const storing = verify && caching && folderFiles.length > 0;
  const cache = storing ? await openCache() : null;
  const store = storing ? await openStore(base, cache) : null;
  // NOTE: a warm load reads its stored copies while the manifest is fetched, by the hashes in
  // the manifest's last copy; they are used only if the fresh manifest names the same files.
  const early = store === null ? new Map() : await readEarly(store, cache, base, folderFiles);
  const manifest = verify && folderFiles.length > 0 ? await manifestOf(base, cache, signal) : null;
  for (const file of folderFiles) {
    if (manifest !== null && manifest.files[file] === undefined) {
      // NOTE: a model folder holds the f32 weights only when built with RERANKER_F32=1.
      if (/^weights-.*\.bpk$/.test(file)) {
        const listed = Object.keys(manifest.files).filter((f) => f.startsWith('weights-')).join(', ');
        throw rerankerError('MODEL_LOAD', `the model folder ${base.href} has no ${file} (it has ${listed || 'no weights'}): `
          + `choose the precision of weights it has, or rebuild it with RERANKER_F32=1 ./build.sh for 'f32'`);
      }
      throw rerankerError('INTEGRITY', `the model manifest does not list ${file}`);
    }
    const entry = manifest?.files[file];
    const wrong = entry?.pieces === undefined ? null : piecesMismatch(entry, file);
    if (wrong !== null) throw rerankerError('INTEGRITY', wrong);
  }

  const storage = { store: store?.kind ?? 'none', stored: store !== null };

  /** A stored copy of `file`, its read under way, or undefined. */
  const storedCopy = async (file, sha256) => {
    const speculative = early.get(file);
    early.delete(file); // read once: a rebuild (after a device loss) reads the store again
    if (speculative?.sha256 === sha256) return speculative.stored;
    return store !== null && typeof sha256 === 'string' ? store.reader(file, sha256) : undefined;
  };

  async function read(file, report, checks, verifier) {
    if (manifest === null || !fromFolder(file)) return bytesOf(sources.get(file), base, file, report, signal);
    const entry = manifest.files[file];
    return entry.pieces === undefined
      ? readListed(file, entry, report, checks, verifier)
      : readPieces(file, entry, report, checks, verifier);
  }

  /**
   * A file of the manifest (a whole file or one piece of one): its stored copy, checked by the
   * verifier while the model is built, or a download checked against `entry` and then stored.
   */
  async function readListed(file, entry, report, checks, verifier) {
    const { sha256 } = entry;
    const stored = await storedCopy(file, sha256);
    if (stored !== undefined && sizeMismatch(stored.size, entry, file) === null) {
      const reading = stored.bytes ?? stored.read(0, stored.size);
      // NOTE: a copy is stored only after its download passed the check, so this one guards
      // against damage in the store; it need not hold up the build, only the load's end.
      // Where no worker can check it, this thread does, once it has the bytes.
      const checked = verifier.check({ kind: store.kind, base: base.href, file, entry })
        .catch(() => reading.then((bytes) => digestMismatch(inMemory(bytes), entry, file, 'whole', sha256Of)))
        .then(async (mismatch) => {
          if (mismatch === null) return;
          await store.drop(file, sha256); // dropped, so the next build downloads it
          throw rerankerError('INTEGRITY', mismatch);
        });
      checked.catch(() => undefined); // awaited once the model is built
      const bytes = await reading.catch(() => null);
      if (bytes !== null) {
        checks.push(checked);
        report?.('cached', bytes.length, bytes.length);
        return bytes;
      }
    }
    if (stored !== undefined) await store.drop(file, sha256); // damaged or unreadable: fetched anew
    const bytes = await bytesOf(undefined, base, file, report, signal);
    report?.('verify', bytes.length, bytes.length);
    const mismatch = sizeMismatch(bytes.length, entry, file) ?? await digestMismatch(inMemory(bytes), entry, file, 'both', sha256Of);
    if (mismatch !== null) throw rerankerError('INTEGRITY', mismatch);
    // An aborted load stores nothing.
    if (signal?.aborted) throw aborted(signal);
    // NOTE: stored while the model is built from the bytes (the write never fails a load);
    // the load resolves once it is done, so the next load finds the copy.
    if (store !== null && typeof sha256 === 'string') {
      checks.push(store.put(file, sha256, bytes).then((reason) => {
        if (reason !== undefined) Object.assign(storage, { stored: false, reason: `${file} was not stored (${reason})` });
      }));
    }
    return bytes;
  }

  /**
   * A file in pieces: up to `PIECES_AT_ONCE` at a time, each read as a file of its own
   * (`readListed`: its stored copy, or a checked download that is then stored), put together in
   * order. `report` sees the pieces' bytes summed. After a piece fails no other starts; those
   * under way finish and are stored, so the next load fetches only what is missing.
   */
  async function readPieces(file, entry, report, checks, verifier) {
    const bytes = new Uint8Array(entry.size);
    const offsets = [];
    entry.pieces.reduce((at, piece) => { offsets.push(at); return at + piece.size; }, 0);
    const loaded = entry.pieces.map(() => 0);
    const sum = (status) => report?.(status, loaded.reduce((a, b) => a + b, 0), entry.size);
    let next = 0;
    const worker = async () => {
      while (next < entry.pieces.length) {
        const i = next++;
        const piece = entry.pieces[i];
        const part = await readListed(piece.file, piece, report && ((status, done) => {
          loaded[i] = Math.min(done, piece.size);
          sum(status === 'verify' ? 'download' : status);
        }), checks, verifier).catch((error) => { next = entry.pieces.length; throw error; });
        bytes.set(part, offsets[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PIECES_AT_ONCE, entry.pieces.length) }, worker));
    sum('verify');
    return bytes;
  }

  async function prune() {
    if (store === null || manifest === null) return;
    await store.prune(storedFiles(manifest));
  }

  const size = (file) => (fromFolder(file) ? manifest?.files[file]?.size : givenBytes(sources.get(file))?.length);

  return { read, size, storage, prune };
}
