// web-reranker model-file store and integrity checks, shared by the loader (files.js) and the
// worker that checks stored copies (verify-worker.js).
//
// Checked model files are kept in the browser under their sha256: in the origin private file
// system (OPFS) where the browser can write it, else in the Cache API. A stored copy is read back
// on the next load and checked again against the manifest, a piece at a time.

/** The Cache API store (and, with OPFS, the folder there) for model files. */
export const STORE_NAME = 'web-reranker-models-v1';

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * What is wrong with a file's size (`null`: nothing) against its manifest entry `{ size }`.
 */
export function sizeMismatch(length, entry, file) {
  return length === entry.size ? null : `${file} is ${length} bytes, the manifest says ${entry.size} (truncated or replaced)`;
}

/**
 * What is wrong with the `pieces` of a manifest entry (`null`: nothing): each piece
 * `{ file, size, sha256 }` a plain file name of the same folder, together exactly `size` bytes.
 */
export function piecesMismatch(entry, file) {
  const { pieces } = entry;
  if (!Array.isArray(pieces) || pieces.length === 0) return `the manifest's pieces of ${file} are not a list of files`;
  let total = 0;
  for (const piece of pieces) {
    const named = typeof piece?.file === 'string' && /^[\w.-]+$/.test(piece.file) && !piece.file.startsWith('.');
    if (!named || !Number.isInteger(piece.size) || piece.size <= 0 || typeof piece.sha256 !== 'string') {
      return `the manifest's pieces of ${file} name ${JSON.stringify(piece)}, not { file, size, sha256 } in this folder`;
    }
    total += piece.size;
  }
  return total === entry.size ? null : `the manifest's pieces of ${file} add up to ${total} bytes, not its ${entry.size}`;
}

/**
 * The files a manifest's entries are stored as (`[{ file, sha256 }]`): each file, or each of its
 * pieces where it has them.
 */
export const storedFiles = (manifest) => Object.entries(manifest?.files ?? {}).flatMap(([file, entry]) => (
  Array.isArray(entry?.pieces) ? entry.pieces.filter((p) => typeof p?.file === 'string' && typeof p?.sha256 === 'string')
    .map(({ file: piece, sha256 }) => ({ file: piece, sha256 }))
    : typeof entry?.sha256 === 'string' ? [{ file, sha256: entry.sha256 }] : []));

/** sha256 in hex with WebCrypto, or undefined where this context has none (insecure origins). */
export const subtleSha256 = globalThis.crypto?.subtle === undefined ? undefined
  : async (bytes) => hex(await globalThis.crypto.subtle.digest('SHA-256', bytes));

/**
 * What is wrong with a file's content against its manifest entry (`null`: nothing). `read(start,
 * end)` gives its bytes in that range; `sha256(bytes)` hashes them to hex (WebCrypto by default;
 * the loader passes the wasm module's hash where WebCrypto is missing). `how`:
 *
 * - `'whole'`: the file against `sha256`;
 * - `'chunks'`: with `chunks: { size, sha256: [...] }`, each piece of `chunks.size` bytes against
 *   its own sha256, a piece at a time, so a copy is checked without being held whole (without
 *   `chunks`, as `'whole'`);
 * - `'both'`: both, for a download (a stored copy has passed both, and needs one).
 */
export async function digestMismatch(read, entry, file, how, hash = subtleSha256) {
  // NOTE: crypto.subtle exists only in secure contexts (https, localhost); a manifest is never
  // reduced to sizes: without a hash this throws, and the caller finds one.
  if (hash === undefined) throw new Error('this context has no sha256 (crypto.subtle needs a secure origin)');
  const { size, sha256, chunks } = entry;
  const sha = async (start, end) => hash(await read(start, end));
  if (how !== 'chunks' || chunks === undefined) {
    const digest = await sha(0, size);
    if (digest !== sha256) return `${file} has sha256 ${digest}, the manifest says ${sha256} (corrupt or replaced)`;
  }
  if (how === 'whole' || chunks === undefined) return null;
  const step = chunks.size;
  if (!(Number.isInteger(step) && step > 0 && Array.isArray(chunks.sha256) && chunks.sha256.length === Math.ceil(size / step))) {
    return `the manifest's chunks for ${file} do not cover its ${size} bytes`;
  }
  for (const [i, want] of chunks.sha256.entries()) {
    const start = i * step;
    const end = Math.min(size, start + step);
    const digest = await sha(start, end);
    if (digest !== want) {
      return `${file} has sha256 ${digest} at bytes ${start}..${end}, the manifest says ${want} (corrupt or replaced)`;
    }
  }
  return null;
}

/** Reads a range of a `Blob` (an OPFS `File` or a cached response's body) as bytes. */
const blobReader = (blob) => ({
  size: blob.size,
  read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()),
});

/** The name of a stored file, in OPFS and in the stores' keep lists. */
const entryName = (file, sha256) => `${sha256}-${file}`;

/** The entry names of `keep` (`[{ file, sha256 }]`), for `prune`. */
const keptNames = (keep) => new Set(keep.map(({ file, sha256 }) => entryName(file, sha256)));

/** Where a model folder's manifest is. */
export const manifestUrl = (base) => new URL('model.json', base);

/** The last manifest of the model folder `base` kept in the Cache API `cache`, or undefined. */
export const lastManifest = (cache, base) => cache?.match(manifestUrl(base).href)
  .then((hit) => hit?.json()).catch(() => undefined);

/** Whether this context can write files to the origin private file system. */
const hasOpfs = () => typeof globalThis.navigator?.storage?.getDirectory === 'function'
  && typeof globalThis.FileSystemFileHandle === 'function'
  && typeof globalThis.FileSystemFileHandle.prototype.createWritable === 'function';

/**
 * The store for checked model files, or null where there is none (Node; storage disabled, as in
 * an opaque origin or some private modes: downloads still work). `cache` is the Cache API's
 * store ([`openCache`]) or null; `kind` picks one (the verify worker opens the loader's); by
 * default OPFS where the browser can write it, else the Cache API. `base` is the model folder's
 * URL (the Cache API's keys are URLs). Entries are named by file and sha256:
 *
 * - `reader(file, sha256)` → `{ size, read(start, end) }`, or undefined when not stored;
 * - `put(file, sha256, bytes)` → undefined, or why the copy could not be written (a full quota);
 * - `drop(file, sha256)`; `prune(keep)`: removes every stored file but those of `keep`
 *   (`[{ file, sha256 }]`), whichever model folder stored them.
 *
 * None of them throws: storing is best effort.
 */
export async function openStore(base, cache, kind = hasOpfs() ? 'opfs' : 'cache') {
  if (kind !== 'opfs') return cache === null ? null : cacheStore(cache, base);
  // NOTE: OPFS reads the weights about 3× as fast as the Cache API in Chromium here (120 MB:
  // 70-110 ms against 260-390 ms), which is most of a warm load's file time.
  const folder = await opfsFolder();
  if (folder === null) return cache === null ? null : cacheStore(cache, base);
  return {
    kind,
    async reader(file, sha256) {
      try {
        return blobReader(await (await folder.getFileHandle(entryName(file, sha256))).getFile());
      } catch {
        return undefined; // not stored (NotFoundError), or unreadable
      }
    },
    async put(file, sha256, bytes) {
      let writable;
      try {
        // NOTE: a writable writes to a side file and replaces the entry on close(), so a
        // reader never sees half a file.
        writable = await (await folder.getFileHandle(entryName(file, sha256), { create: true })).createWritable();
        await writable.write(bytes);
        await writable.close();
      } catch (error) {
        await writable?.abort().catch(() => undefined); // a full quota: the entry is left out
        await this.drop(file, sha256);
        return failure(error);
      }
      return undefined;
    },
    async drop(file, sha256) {
      // NOTE: right after a failed write, the aborted writable can still hold the file's lock in
      // the browser for a moment (NoModificationAllowedError): the removal is retried briefly, so
      // no empty entry is left behind.
      for (let attempt = 0; ; attempt++) {
        const error = await folder.removeEntry(entryName(file, sha256)).then(() => null, (e) => e);
        if (error === null || error.name === 'NotFoundError' || attempt === 5) return;
        await new Promise((resolve) => setTimeout(resolve, 10 << attempt));
      }
    },
    async prune(keep) {
      const names = [];
      for await (const entry of folder.keys()) names.push(entry);
      const kept = keptNames(keep);
      await Promise.all(names.filter((entry) => !kept.has(entry))
        .map((entry) => folder.removeEntry(entry).catch(() => undefined)));
    },
  };
}

/** Why a write failed, for `Reranker.storage.reason`. */
const failure = (error) => `${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`;

/** The store's folder in the origin private file system, or null where it cannot be had. */
async function opfsFolder() {
  try {
    return await (await navigator.storage.getDirectory()).getDirectoryHandle(STORE_NAME, { create: true });
  } catch {
    return null;
  }
}

/** The Cache API's store (also where the manifest's last copy is kept), or null without one. */
export async function openCache() {
  try {
    return globalThis.caches === undefined ? null : await globalThis.caches.open(STORE_NAME);
  } catch {
    return null; // storage disabled (an opaque origin, a private mode): downloads still work
  }
}

const cacheKey = (base, file, sha256) => new URL(`${file}?sha256=${sha256}`, base).href;

function cacheStore(cache, base) {
  return {
    kind: 'cache',
    async reader(file, sha256) {
      try {
        const hit = await cache.match(cacheKey(base, file, sha256));
        return hit === undefined ? undefined : blobReader(await hit.blob());
      } catch {
        return undefined;
      }
    },
    async put(file, sha256, bytes) {
      try {
        await cache.put(cacheKey(base, file, sha256), new Response(bytes));
        return undefined;
      } catch (error) {
        return failure(error);
      }
    },
    async drop(file, sha256) {
      await cache.delete(cacheKey(base, file, sha256)).catch(() => undefined);
    },
    async prune(keep) {
      const kept = keptNames(keep);
      const stored = await cache.keys().catch(() => []);
      await Promise.all(stored.map((request) => new URL(request.url)).filter((url) => {
        const sha256 = url.searchParams.get('sha256');
        return sha256 !== null && !kept.has(entryName(url.pathname.split('/').pop(), sha256));
      }).map((url) => cache.delete(url.href).catch(() => undefined)));
    },
  };
}

/**
 * Removes what the package stored in this origin: every model file and manifest copy, or with
 * `base` (a model folder's URL) only that folder's. Never throws.
 */
export async function clearStored(base) {
  const cache = await openCache();
  if (base === undefined) {
    await globalThis.caches?.delete(STORE_NAME).catch(() => undefined);
    try {
      await (await navigator.storage.getDirectory()).removeEntry(STORE_NAME, { recursive: true });
    } catch {
      // no OPFS, or nothing stored there
    }
    return;
  }
  // The folder's files in OPFS are named by the hashes its last manifest gave them.
  const manifest = await lastManifest(cache, base);
  const folder = hasOpfs() ? await opfsFolder() : null;
  for (const { file, sha256 } of storedFiles(manifest)) {
    await folder?.removeEntry(entryName(file, sha256)).catch(() => undefined);
  }
  const keys = await cache?.keys().catch(() => []) ?? [];
  await Promise.all(keys.filter((request) => request.url.startsWith(base.href))
    .map((request) => cache.delete(request).catch(() => undefined)));
}
