// The tokenizer's load time in WebAssembly (Node runs the same module a browser runs): the
// package's tokenizer.bin against the model's tokenizer.json, when given (the same tokenizer:
// tokenizer.bin is its compact form, crates/formats/src/tokenizer_bin.rs). Each load is a full
// `Reranker.load` on the CPU; the figure is its `loadTimings.tokenizerMs`.
//
//   node bench/tokenizer_load.mjs PKG [RUNS] [tokenizer.json]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, runsArg = '5', json] = process.argv.slice(2);
if (!pkg) throw new Error('usage: node bench/tokenizer_load.mjs PKG [RUNS] [tokenizer.json]');
const { Reranker } = await import(pathToFileURL(path.resolve(pkg, 'index.js')).href);
// NOTE: the weights from the model folder by URL, as a page loads them: they may be in pieces.
const baseUrl = pathToFileURL(path.resolve(pkg, 'model') + '/').href;
const files = [['tokenizer.bin', await readFile(path.resolve(pkg, 'model/tokenizer.bin'))]];
if (json) files.push(['tokenizer.json', await readFile(json)]);
const runs = Number(runsArg);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (let i = 0; i <= runs; i++) {
  for (const [name, tokenizer] of files) {
    const reranker = await Reranker.load({ device: 'cpu', baseUrl, tokenizer });
    if (i > 0) (results[name] ??= []).push(reranker.loadTimings.tokenizerMs); // the first round warms up
    reranker.dispose();
  }
}
for (const [name, ms] of Object.entries(results)) {
  console.log(`${name}: median ${median(ms).toFixed(0)} ms of ${ms.map((m) => m.toFixed(0)).join(', ')}`);
}
