// Cuts a model folder's large files into pieces, for hosts that refuse large files (git and so
// GitHub Pages: 100 MB; Cloudflare Pages: 25 MiB). tools/package-manifests.mjs runs it on every
// package's model folder; the tests run it with small pieces. As a command it puts a folder's
// pieces back together (for a host without a cap, or to compare the two):
//
//   node tools/pieces.mjs join MODEL_DIR
//
// A file larger than a piece becomes `FILE.000`, `FILE.001`, … (the whole file goes) and its
// manifest entry lists them: `{ size, sha256, pieces: [{ file, size, sha256 }, …] }`; js/files.js
// reads such a file a few pieces at a time, checks and stores each.
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The default largest piece: 20 MiB, under Cloudflare Pages' 25 MiB per file. */
export const PIECE_MIB = 20;

/**
 * The largest piece in bytes from `RERANKER_PIECE_MIB` (a positive number of MiB; 0: never cut),
 * default {@link PIECE_MIB}.
 */
export function pieceBytes(env = process.env) {
  const text = env.RERANKER_PIECE_MIB ?? String(PIECE_MIB);
  const mib = Number(text);
  if (text.trim() === '' || !Number.isFinite(mib) || mib < 0) {
    throw new Error(`RERANKER_PIECE_MIB must be a number of MiB (0: one file each), not ${JSON.stringify(text)}`);
  }
  return mib === 0 ? Infinity : Math.max(1, Math.floor(mib * 1024 * 1024));
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * Cuts `folder/file` into pieces of at most `largest` bytes when it is larger (the whole file is
 * removed); returns the pieces `[{ file, size, sha256 }]`, or null when it stays whole. `data`:
 * the file's bytes where the caller has read them already.
 */
export async function cutIntoPieces(folder, file, largest, data = undefined) {
  data ??= await readFile(path.join(folder, file));
  if (data.length <= largest) return null;
  const pieces = [];
  for (let at = 0, i = 0; at < data.length; at += largest, i++) {
    const piece = data.subarray(at, Math.min(data.length, at + largest));
    const name = `${file}.${String(i).padStart(3, '0')}`;
    await writeFile(path.join(folder, name), piece);
    pieces.push({ file: name, size: piece.length, sha256: sha256(piece) });
  }
  await rm(path.join(folder, file));
  return pieces;
}

/** The manifest's 16 MiB chunk hashes of a whole file (js/store.js checks stored copies by them). */
export const CHUNK = 16 << 20;

/** The manifest entry of a whole file: size, sha256 and its chunks' sha256. */
export function wholeEntry(data) {
  const chunks = [];
  for (let at = 0; at < data.length; at += CHUNK) chunks.push(sha256(data.subarray(at, at + CHUNK)));
  return { size: data.length, sha256: sha256(data), chunks: { size: CHUNK, sha256: chunks } };
}

/** Puts every file of `folder`'s manifest that is in pieces back into one file. */
export async function joinPieces(folder) {
  const manifestPath = path.join(folder, 'model.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  for (const [file, entry] of Object.entries(manifest.files)) {
    if (!Array.isArray(entry.pieces)) continue;
    const data = Buffer.concat(await Promise.all(entry.pieces.map((p) => readFile(path.join(folder, p.file)))));
    if (sha256(data) !== entry.sha256) throw new Error(`${file}: the pieces do not make the sha256 the manifest says`);
    await writeFile(path.join(folder, file), data);
    await Promise.all(entry.pieces.map((p) => rm(path.join(folder, p.file))));
    manifest.files[file] = wholeEntry(data);
  }
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [command, folder] = process.argv.slice(2);
  if (command !== 'join' || !folder) {
    console.error('usage: node tools/pieces.mjs join MODEL_DIR');
    process.exit(2);
  }
  await joinPieces(folder);
}
