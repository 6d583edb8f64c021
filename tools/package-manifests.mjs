// Writes the package's manifests once its files are in place (`./build.sh package` runs it):
//
//   node tools/package-manifests.mjs PKG_DIR MODEL_DIR NAME
//
// * PKG_DIR/package.json: the npm manifest. The package is the code only (wasm modules, JS,
//   types, README, licences): `files` leaves the model folder out, so `npm pack` stays small.
//   Version, licence and repository come from Cargo.toml.
// * PKG_DIR/model/model.json: the model folder's manifest, which js/ checks every file against:
//   `{ name, randomWeights, source, files: { file: { size, sha256, chunks: { size, sha256: [...] } } } }`.
//   Each 16 MiB chunk has its own sha256 too: a stored copy is checked a chunk at a time
//   (js/store.js). A file larger than RERANKER_PIECE_MIB (default 20) is cut into files of
//   that size (tools/pieces.mjs), and its entry lists them instead of chunks:
//   `{ size, sha256, pieces: [{ file, size, sha256 }, ...] }`. `source` says what the folder was
//   built from: the hub repository, revision, commit and source files' sha256
//   (MODEL_DIR/source.json, written by tools/hub-fetch.mjs), or for a local folder the sha256 of
//   its files.
// * PKG_DIR/model/README.md: a model card, so the folder can be uploaded to a model hub as it is.
import { createHash } from 'node:crypto';
import { access, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cutIntoPieces, pieceBytes, wholeEntry } from './pieces.mjs';

const [pkg, modelDir, name] = process.argv.slice(2);
if (!pkg || !modelDir || !name) {
  console.error('usage: node tools/package-manifests.mjs PKG_DIR MODEL_DIR NAME');
  process.exit(2);
}
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The model folder's files, in the order model.json lists them (f32 only when built). */
const MODEL_FILES = ['weights-int8.bpk', 'weights-f32.bpk', 'tokenizer.bin'];
/** Where a source repository's model card text names another licence than its metadata (which
 * hub-fetch records): the card says both, each with its source. NOTE: the metadata is read at
 * download time; the card text is not downloaded, so this is a note kept by hand. */
const CARD_TEXT_LICENCES = { 'cross-encoder/mmarco-mMiniLMv2-L12-H384-v1': 'MIT' };

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;
const exists = (file) => access(file).then(() => true, () => false);

/** `key = "value"` from Cargo.toml's [package] table. */
const cargo = await readFile(path.join(root, 'Cargo.toml'), 'utf8');
const cargoField = (key) => {
  const table = cargo.slice(cargo.indexOf('[package]'), cargo.indexOf('\n[', cargo.indexOf('[package]') + 1));
  const found = table.match(new RegExp(`^${key} = "([^"]*)"`, 'm'));
  if (!found) throw new Error(`Cargo.toml's [package] has no ${key}`);
  return found[1];
};
const repository = cargoField('repository');

// The package's README is the repository's, its relative links made absolute.
const readme = (await readFile(path.join(root, 'README.md'), 'utf8'))
  .replace(/\]\((?!https?:|#|mailto:)([^)]+)\)/g, (_, link) => `](${repository}/blob/main/${link.replace(/^\.\//, '')})`);
await writeFile(path.join(pkg, 'README.md'), readme);

const files = [];
for (const entry of (await readdir(pkg)).sort()) {
  if ((await stat(path.join(pkg, entry))).isFile() && entry !== 'package.json') files.push(entry);
}
await writeFile(path.join(pkg, 'package.json'), json({
  name: 'web-reranker',
  version: cargoField('version'),
  description: 'Multilingual cross-encoder reranker for the browser: WebGPU or WebAssembly CPU',
  type: 'module',
  main: './index.js',
  types: './index.d.ts',
  exports: {
    '.': { types: './index.d.ts', default: './index.js' },
    // The Pagefind UI drop-in (static sites): imports the rest only when the model is wanted.
    './pagefind-ui': { types: './pagefind-ui.d.ts', default: './pagefind-ui.js' },
    './web_reranker_bg.wasm': './web_reranker_bg.wasm',
    './web_reranker_threads_bg.wasm': './web_reranker_threads_bg.wasm',
  },
  // NOTE: the model folder (model/) is not part of the npm package: a site serves it, or a
  // model hub / CDN hosts it (docs/hosting.md), and `baseUrl` points at it.
  files,
  sideEffects: false,
  engines: { node: '>=20' },
  repository: { type: 'git', url: `git+${repository}.git` },
  homepage: `${repository}#readme`,
  license: cargoField('license'),
}));

async function describe(file, largest) {
  const data = await readFile(path.join(pkg, 'model', file));
  const pieces = await cutIntoPieces(path.join(pkg, 'model'), file, largest, data);
  return pieces === null ? wholeEntry(data) : { size: data.length, sha256: sha256(data), pieces };
}

/** What the model folder was built from. */
async function source() {
  const hub = path.join(modelDir, 'source.json');
  if (await exists(hub)) {
    const { endpoint, repo, revision, commit, pinned, licence = null, files: hashes } = JSON.parse(await readFile(hub, 'utf8'));
    return { repo, revision, commit, endpoint, pinned, licence, files: hashes };
  }
  const hashes = {};
  for (const file of ['model.onnx', 'tokenizer.json', 'config.json']) {
    const data = await readFile(path.join(modelDir, file));
    hashes[file] = { size: data.length, sha256: sha256(data) };
  }
  return { folder: path.basename(modelDir), files: hashes };
}

const config = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8'));
const described = {};
const largest = pieceBytes();
for (const file of MODEL_FILES) {
  if (await exists(path.join(pkg, 'model', file))) described[file] = await describe(file, largest);
}
const from = await source();
const modelName = from.repo ?? name;
// Test models (tests/fixtures) say so in their config.json: their scores mean nothing.
const randomWeights = Boolean(config.web_reranker?.random_weights);
await writeFile(path.join(pkg, 'model', 'model.json'), json({ name: modelName, randomWeights, source: from, files: described }));

const license = from.licence?.id ?? 'other';
const cardText = CARD_TEXT_LICENCES[from.repo];
const licenceNote = from.licence
  ? `${from.licence.id}, as ${from.licence.from} states it at that commit${cardText && cardText.toLowerCase() !== from.licence.id ? `; the source's own model card text says ${cardText}` : ''}`
  : 'not recorded (see the source model)';
const pinNote = from.repo === undefined
  ? 'built from a local folder: its files\' hashes are in `model.json`.'
  : from.pinned
    ? 'pinned: the commit and each file\'s sha256 matched `tools/model-pins.json`.'
    : '**not pinned**: the files matched the hub\'s own hashes at that commit, but no pin in `tools/model-pins.json` vouches for them.';
const origin = from.repo
  ? `[${from.repo}](https://huggingface.co/${from.repo}) at commit \`${from.commit}\``
  : `the local model folder \`${from.folder}\``;
const weights = Object.keys(described).filter((f) => f.startsWith('weights-'));
await writeFile(path.join(pkg, 'model', 'README.md'), `---
license: ${license}
library_name: web-reranker
pipeline_tag: text-ranking
${from.repo ? `base_model: ${from.repo}\n` : ''}tags:
- cross-encoder
- reranker
- webgpu
- wasm
---

# ${modelName} for web-reranker

${randomWeights ? '**A test model with random weights: its scores mean nothing.**\n\n' : ''}The model files of ${origin}, converted for
[web-reranker](${repository}), a cross-encoder reranker that runs in the browser (WebGPU or
WebAssembly). The scores are the original model's logits (sentence-transformers'
\`CrossEncoder.predict\`).

| file | what |
| --- | --- |
${weights.map((f) => `| \`${f}\`${described[f].pieces ? ` (in ${described[f].pieces.length} pieces, \`${f}.000\`…)` : ''} | the weights (${f.includes('int8') ? 'linear layers and word embeddings in int8, the rest f32' : 'f32, as exported'}) |`).join('\n')}
| \`tokenizer.bin\` | the tokenizer (\`tokenizer.json\` with its vocabulary in binary) |
| \`model.json\` | every file's size and sha256, and the source's repository, commit and hashes |

Use: \`createReranker({ baseUrl: '<where this folder is served>/' })\`; see the
[hosting guide](${repository}/blob/main/docs/hosting.md).

Source: ${pinNote}

Credits and licence: all credit for the model goes to its authors${from.repo ? ` (${from.repo})` : ''}; these files are a
format conversion and keep the original model's licence: ${licenceNote}.
`);
