// Cuts a model folder's large files into pieces, for hosts that refuse large files (git and so
// GitHub Pages: 100 MB; Cloudflare Pages: 25 MiB). tools/package-manifests.mjs runs it on every
// package's model folder; the tests run it with small pieces.
//
// A file larger than a piece becomes `FILE.000`, `FILE.001`, … (the whole file goes) and its
// manifest entry lists them: `{ size, sha256, pieces: [{ file, size, sha256 }, …] }`; js/files.js
// reads such a file a few pieces at a time, checks and stores each.
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

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
 * removed); returns the pieces `[{ file, size, sha256 }]`, or null when it stays whole.
 */
export async function cutIntoPieces(folder, file, largest) {
  const data = await readFile(path.join(folder, file));
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
