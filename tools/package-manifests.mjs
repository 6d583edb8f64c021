// Writes the package's two manifests once its files are in place (`./build.sh package` runs it):
//
//   node tools/package-manifests.mjs PKG_DIR MODEL_DIR NAME
//
// * PKG_DIR/package.json: the npm manifest, listing the files in PKG_DIR and its model/ folder;
// * PKG_DIR/model/model.json: the model folder's manifest, which js/ checks every file against:
//   `{ name, randomWeights, files: { file: { size, sha256, chunks: { size, sha256: [...] } } } }`.
//   Each 16 MiB piece has its own sha256 too: a stored copy is checked a piece at a time
//   (js/store.js).
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

const [pkg, modelDir, name] = process.argv.slice(2);
if (!pkg || !modelDir || !name) {
  console.error('usage: node tools/package-manifests.mjs PKG_DIR MODEL_DIR NAME');
  process.exit(2);
}

/** The model folder's files, in the order model.json lists them. */
const MODEL_FILES = ['weights-int8.bpk', 'weights-f32.bpk', 'tokenizer.bin'];
const CHUNK = 16 << 20;
const VERSION = '0.1.0';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;

const files = [];
for (const entry of (await readdir(pkg)).sort()) {
  if ((await stat(path.join(pkg, entry))).isFile()) files.push(entry);
}
await writeFile(path.join(pkg, 'package.json'), json({
  name: 'web-reranker',
  version: VERSION,
  description: 'Multilingual cross-encoder reranker for the browser: WebGPU or WebAssembly CPU',
  type: 'module',
  main: './index.js',
  types: './index.d.ts',
  exports: {
    '.': { types: './index.d.ts', default: './index.js' },
    './model/*': './model/*',
    './web_reranker_bg.wasm': './web_reranker_bg.wasm',
    './web_reranker_threads_bg.wasm': './web_reranker_threads_bg.wasm',
  },
  files: [...files, 'model/'],
  sideEffects: false,
  license: 'MIT OR Apache-2.0',
}));

async function describe(file) {
  const data = await readFile(path.join(pkg, 'model', file));
  const chunks = [];
  for (let at = 0; at < data.length; at += CHUNK) chunks.push(sha256(data.subarray(at, at + CHUNK)));
  return { size: data.length, sha256: sha256(data), chunks: { size: CHUNK, sha256: chunks } };
}

const config = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8'));
const described = {};
for (const file of MODEL_FILES) described[file] = await describe(file);
await writeFile(path.join(pkg, 'model', 'model.json'), json({
  name,
  // Test models (tests/fixtures) say so in their config.json: their scores mean nothing.
  randomWeights: Boolean(config.web_reranker?.random_weights),
  files: described,
}));
