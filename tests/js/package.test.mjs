// The built package as a user receives it: `npm pack` holds the code only (≤ 8 MB, no model
// folder) with a complete package.json, README and licences; the model folder beside it names
// what it was built from (the tests' package comes from the local hub, tests/hub-server.mjs, at a
// pinned commit: ./build.sh test) and carries a model card.
//
//   RERANKER_PKG=/path/to/pkg node --test tests/js/package.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packSize } from '../../tools/sizes.mjs';

const pkg = process.env.RERANKER_PKG;
assert.ok(pkg, 'set RERANKER_PKG to the package folder (./build.sh test does)');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const MAX_PACK = 8_000_000;

test('npm pack holds the code, README and licences, and no model, in at most 8 MB', () => {
  const pack = packSize(pkg);
  console.log(`npm pack: ${(pack.size / 1e6).toFixed(2)} MB (unpacked ${(pack.unpackedSize / 1e6).toFixed(2)} MB, ${pack.files.length} files)`);
  assert.ok(pack.size <= MAX_PACK, `tarball ${pack.size} bytes > ${MAX_PACK}`);
  const names = pack.files.map((f) => f.path);
  for (const file of ['package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE', 'index.js', 'index.d.ts', 'worker.js',
    'web_reranker_bg.wasm', 'web_reranker_threads_bg.wasm']) {
    assert.ok(names.includes(file), `${file} is packed`);
  }
  assert.deepEqual(names.filter((n) => n.startsWith('model/') || n.endsWith('.bpk')), [], 'no model file is packed');
});

test('package.json: engines, repository, licence, sideEffects, and files and exports that exist', async () => {
  const manifest = JSON.parse(await readFile(path.join(pkg, 'package.json'), 'utf8'));
  const cargo = await readFile(path.join(root, 'Cargo.toml'), 'utf8');
  assert.equal(manifest.license, cargo.match(/^license = "([^"]+)"/m)[1]);
  assert.equal(manifest.version, cargo.match(/^version = "([^"]+)"/m)[1]);
  // The version `auto`'s stored device verdicts are keyed by (js/version.js).
  const { VERSION } = await import(path.join(pkg, 'version.js'));
  assert.equal(VERSION, manifest.version);
  assert.equal(manifest.repository.url, `git+${cargo.match(/^repository = "([^"]+)"/m)[1]}.git`);
  assert.match(manifest.engines.node, /^>=\d+/);
  assert.equal(manifest.sideEffects, false);
  for (const file of manifest.files) assert.ok(existsSync(path.join(pkg, file)), `files: ${file}`);
  const targets = Object.values(manifest.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
  for (const target of targets) assert.ok(existsSync(path.join(pkg, target)), `exports: ${target}`);
  const readme = await readFile(path.join(pkg, 'README.md'), 'utf8');
  assert.doesNotMatch(readme, /\]\((?!https?:|#)/, 'every link in the packed README is absolute');
});

test('model.json names the source repository, pinned commit and the hashes of the files served', async () => {
  const model = JSON.parse(await readFile(path.join(pkg, 'model/model.json'), 'utf8'));
  const fixture = path.join(root, 'tests/fixtures/tiny-optimum');
  const sha256 = async (file) => createHash('sha256').update(await readFile(path.join(fixture, file))).digest('hex');
  assert.equal(model.name, 'web-reranker-tests/tiny-optimum');
  assert.equal(model.source.repo, 'web-reranker-tests/tiny-optimum');
  assert.match(model.source.commit, /^[0-9a-f]{40}$/);
  assert.equal(model.source.pinned, true);
  assert.equal(model.source.files['onnx/model.onnx'].sha256, await sha256('model.onnx'));
  assert.equal(model.source.files['tokenizer.json'].sha256, await sha256('tokenizer.json'));
  assert.equal(model.source.files['config.json'].sha256, await sha256('config.json'));
  // The listed files are the folder's, with their real hashes.
  for (const [file, entry] of Object.entries(model.files)) {
    const bytes = await readFile(path.join(pkg, 'model', file));
    assert.equal(entry.size, bytes.length, file);
    assert.equal(entry.sha256, createHash('sha256').update(bytes).digest('hex'), file);
  }
  const card = await readFile(path.join(pkg, 'model/README.md'), 'utf8');
  // The licence the local hub's metadata gives (tests/hub-server.mjs), with its source named.
  assert.match(card, /^---\nlicense: mit\n/);
  assert.match(card, /licence: mit, as the repository metadata \(cardData\.license\) states it at that commit\./);
  assert.match(card, /Source: pinned: the commit and each file's sha256 matched/);
  assert.match(card, /base_model: web-reranker-tests\/tiny-optimum/);
  assert.match(card, /random weights/);
});

test('an unpinned source, and a card text that names another licence than the metadata, are both said in the card', async () => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'reranker-card-'));
  try {
    await mkdir(path.join(work, 'pkg/model'), { recursive: true });
    await mkdir(path.join(work, 'src'));
    await copyFile(path.join(root, 'tests/fixtures/tiny-hub/config.json'), path.join(work, 'src/config.json'));
    const source = { endpoint: 'http://hub', repo: 'cross-encoder/mmarco-mMiniLMv2-L12-H384-v1', revision: 'main', commit: 'a'.repeat(40), pinned: false,
      licence: { id: 'apache-2.0', from: 'the repository metadata (cardData.license)' }, files: {} };
    await writeFile(path.join(work, 'src/source.json'), JSON.stringify(source));
    execFileSync('node', [path.join(root, 'tools/package-manifests.mjs'), path.join(work, 'pkg'), path.join(work, 'src'), 'x']);
    const card = await readFile(path.join(work, 'pkg/model/README.md'), 'utf8');
    assert.match(card, /^---\nlicense: apache-2\.0\n/);
    assert.match(card, /licence: apache-2\.0, as the repository metadata \(cardData\.license\) states it at that commit; the source's own model card text says MIT\./);
    assert.match(card, /Source: \*\*not pinned\*\*/);
    const model = JSON.parse(await readFile(path.join(work, 'pkg/model/model.json'), 'utf8'));
    assert.equal(model.source.pinned, false);
    assert.deepEqual(model.source.licence, source.licence);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
