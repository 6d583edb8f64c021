// A model folder cut into pieces (tools/pieces.mjs), as hosts with a per-file cap need it: it
// loads in Node and in Chromium from a server that refuses any larger file, with the scores of
// the whole file; an interrupted load resumes from the pieces it stored and fetches only the
// rest; a manifest whose pieces do not make the file, or a damaged piece, is refused.
//
//   RERANKER_PKG=/path/to/pkg node --test tests/js/pieces.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../serve.mjs';
import { withPage } from './chromium.mjs';
import { cutIntoPieces, joinPieces, pieceBytes, PIECE_MIB } from '../../tools/pieces.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const pkgDir = process.env.RERANKER_PKG;
assert.ok(pkgDir, 'set RERANKER_PKG to the package folder (./build.sh test does)');
const { Reranker } = await import(pathToFileURL(path.join(pkgDir, 'index.js')).href);

/** The tiny model's pieces: 64 KiB, so each of its files is cut into several. */
const PIECE = 65536;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const reference = JSON.parse(await readFile(path.join(root, 'tests/fixtures/tiny-optimum/reference.json'), 'utf8'));
const pairs = reference.cases.map((c) => [c.query, c.passage]);

/** A copy of the package's model folder with every file cut into `PIECE`-byte pieces. */
async function piecesFolder() {
  const dir = await mkdtemp(path.join(tmpdir(), 'reranker-pieces-'));
  await cp(path.join(pkgDir, 'model'), dir, { recursive: true });
  const manifest = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  for (const [file, entry] of Object.entries(manifest.files)) {
    const pieces = await cutIntoPieces(dir, file, PIECE);
    assert.ok(pieces !== null, `${file} is larger than a piece`);
    manifest.files[file] = { size: entry.size, sha256: entry.sha256, pieces };
  }
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(manifest));
  return { dir, manifest };
}

let pieces;
before(async () => { pieces = await piecesFolder(); });
after(async () => { if (pieces) await rm(pieces.dir, { recursive: true, force: true }); });

test('cutIntoPieces: pieces of at most the size asked, in order, that make the file; a small file stays whole', async () => {
  const whole = await readFile(path.join(pkgDir, 'model/weights-int8.bpk'));
  const entry = pieces.manifest.files['weights-int8.bpk'];
  assert.equal(entry.pieces.length, Math.ceil(whole.length / PIECE));
  const parts = [];
  for (const [i, piece] of entry.pieces.entries()) {
    assert.equal(piece.file, `weights-int8.bpk.${String(i).padStart(3, '0')}`);
    const bytes = await readFile(path.join(pieces.dir, piece.file));
    assert.ok(bytes.length <= PIECE && bytes.length === piece.size);
    assert.equal(sha256(bytes), piece.sha256);
    parts.push(bytes);
  }
  assert.ok(Buffer.concat(parts).equals(whole), 'the pieces put together are the file');
  assert.ok(!(await readdir(pieces.dir)).includes('weights-int8.bpk'), 'the whole file is gone');
  const small = await mkdtemp(path.join(tmpdir(), 'reranker-small-'));
  await writeFile(path.join(small, 'a.bin'), new Uint8Array(10));
  assert.equal(await cutIntoPieces(small, 'a.bin', 10), null);
  assert.deepEqual(await readdir(small), ['a.bin']);
  await rm(small, { recursive: true });
});

test('joinPieces puts a folder back as the build writes it without pieces, and it loads', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'reranker-joined-'));
  await cp(pieces.dir, dir, { recursive: true });
  await joinPieces(dir);
  const original = JSON.parse(await readFile(path.join(pkgDir, 'model/model.json'), 'utf8'));
  const joined = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  assert.deepEqual(joined.files, original.files);
  for (const file of Object.keys(original.files)) {
    assert.ok((await readFile(path.join(dir, file))).equals(await readFile(path.join(pkgDir, 'model', file))), file);
  }
  assert.ok(!(await readdir(dir)).some((f) => /\.\d{3}$/.test(f)), 'no piece is left');
  const loaded = await Reranker.load({ device: 'cpu', baseUrl: pathToFileURL(`${dir}/`).href });
  assert.equal((await loaded.predict(pairs.slice(0, 2))).length, 2);
  loaded.dispose();
  await rm(dir, { recursive: true });
});

test('RERANKER_PIECE_MIB sets the largest piece: 20 MiB by default, 0 for whole files, a clear error otherwise', () => {
  assert.equal(pieceBytes({}), PIECE_MIB * 1024 * 1024);
  assert.equal(PIECE_MIB * 1024 * 1024 < 25 * 1024 * 1024, true, "under Cloudflare Pages' 25 MiB");
  assert.equal(pieceBytes({ RERANKER_PIECE_MIB: '5' }), 5 << 20);
  assert.equal(pieceBytes({ RERANKER_PIECE_MIB: '0' }), Infinity);
  for (const bad of ['', 'twenty', '-1']) {
    assert.throws(() => pieceBytes({ RERANKER_PIECE_MIB: bad }), /RERANKER_PIECE_MIB must be a number of MiB/);
  }
});

test('in Node, a folder in pieces scores exactly as the whole files do, with one progress stream', async () => {
  const whole = await Reranker.load({ device: 'cpu' });
  const events = [];
  const cut = await Reranker.load({ device: 'cpu', baseUrl: pathToFileURL(`${pieces.dir}/`).href, onProgress: (e) => events.push(e) });
  assert.deepEqual(await cut.predict(pairs), await whole.predict(pairs));
  const files = new Set(events.filter((e) => e.file !== undefined).map((e) => e.file));
  assert.deepEqual([...files].sort(), ['tokenizer.bin', 'weights-int8.bpk'], 'progress names the files, not their pieces');
  for (const [i, e] of events.entries()) {
    assert.ok(e.loaded <= e.total && (i === 0 || e.loaded >= events[i - 1].loaded), JSON.stringify(e));
  }
  const size = pieces.manifest.files['weights-int8.bpk'].size + pieces.manifest.files['tokenizer.bin'].size;
  assert.deepEqual(events.at(-1), { status: 'ready', loaded: size, total: size, progress: 1 });
  whole.dispose();
  cut.dispose();
});

test('pieces that do not make the file, a piece outside the folder, or a damaged piece: INTEGRITY, naming it', async () => {
  const cases = [
    ['sizes', (m) => { m.files['weights-int8.bpk'].pieces.pop(); }, /pieces of weights-int8\.bpk add up to \d+ bytes, not its \d+/],
    ['outside', (m) => { m.files['weights-int8.bpk'].pieces[0].file = '../model.json'; }, /not \{ file, size, sha256 \} in this folder/],
    ['damaged', (m) => { m.files['tokenizer.bin'].pieces[1].sha256 = '0'.repeat(64); }, /tokenizer\.bin\.001 has sha256 [0-9a-f]{64}, the manifest says 0{64}/],
  ];
  for (const [label, change, message] of cases) {
    const manifest = structuredClone(pieces.manifest);
    change(manifest);
    const dir = await mkdtemp(path.join(tmpdir(), `reranker-pieces-${label}-`));
    await cp(pieces.dir, dir, { recursive: true });
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(manifest));
    await assert.rejects(Reranker.load({ device: 'cpu', baseUrl: pathToFileURL(`${dir}/`).href }),
      (e) => e.code === 'INTEGRITY' && message.test(e.message), label);
    await rm(dir, { recursive: true });
  }
});

test('in Chromium, from a host that refuses files over a piece: the whole file is refused, the pieces load; an interrupted load resumes', async () => {
  let failing = true;
  const requests = [];
  const server = await serve({
    root, pkg: pkgDir, fileCap: { '/pieces/': PIECE, '/whole/': PIECE },
    mounts: { '/pieces/': pieces.dir, '/whole/': path.join(pkgDir, 'model') },
    // The third piece of the weights fails until the test lets it through.
    fail: (pathname) => {
      requests.push(pathname);
      return failing && pathname === '/pieces/weights-int8.bpk.002' ? 503 : undefined;
    },
  });
  try {
    await withPage({}, async (page) => {
      await page.goto(`${server.origin}/tests/browser/cache.html`);
      await page.waitForFunction(() => window.__api !== undefined);
      // NOTE: before any load stores the whole files, which a later load would read instead.
      const whole = await page.evaluate(() => window.__api.load({ baseUrl: '/whole/' }));
      assert.equal(whole.code, 'MODEL_LOAD', 'the host refuses the single weights file');
      assert.match(whole.error, /HTTP 413/);
      const uncapped = await page.evaluate(() => window.__api.load());
      assert.equal(uncapped.error, undefined, uncapped.error);

      const interrupted = await page.evaluate(() => window.__api.load({ baseUrl: '/pieces/' }));
      assert.equal(interrupted.code, 'MODEL_LOAD', JSON.stringify(interrupted));
      assert.match(interrupted.error, /weights-int8\.bpk\.002: HTTP 503/);
      // Pieces that arrived before the failure are kept (their writes finish after it).
      let stored = [];
      for (let i = 0; i < 50 && !stored.some((s) => s.includes('weights-int8.bpk.0')); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        stored = await page.evaluate(() => window.__api.stored());
      }
      const storedWeights = stored.filter((s) => /weights-int8\.bpk\.\d{3}$/.test(s)).map((s) => s.slice(-3));
      assert.ok(storedWeights.length >= 1 && !storedWeights.includes('002'), `stored: ${stored}`);

      failing = false;
      requests.length = 0;
      const resumed = await page.evaluate(() => window.__api.load({ baseUrl: '/pieces/' }));
      assert.equal(resumed.error, undefined, resumed.error);
      assert.equal(resumed.score, uncapped.score, 'the same score as from the whole file');
      const fetched = requests.filter((p) => p.startsWith('/pieces/weights-int8.bpk.')).map((p) => p.slice(-3));
      const all = pieces.manifest.files['weights-int8.bpk'].pieces.map((p) => p.file.slice(-3));
      assert.deepEqual([...fetched, ...storedWeights].sort(), all, `fetched ${fetched} after storing ${storedWeights}`);
      const again = await page.evaluate(() => window.__api.stored());
      assert.ok(all.every((n) => again.some((s) => s.endsWith(`weights-int8.bpk.${n}`))), `every piece stored: ${again}`);
    });
  } finally {
    await server.close();
  }
});
