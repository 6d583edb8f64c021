// The tokenizer's load time in WebAssembly (Node runs the same module a browser runs): the
// package's tokenizer.bin (version 2, byte order stored) against the same file as version 1
// (byte order sorted at load), and tokenizer.json when given. Each load is a full
// `Reranker.load` on the CPU; the figure is its `loadTimings.tokenizerMs`.
//
//   node bench/tokenizer_load.mjs PKG [RUNS] [tokenizer.json]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, runsArg = '5', json] = process.argv.slice(2);
if (!pkg) throw new Error('usage: bench_tokenizer_load.mjs PKG [RUNS] [tokenizer.json]');
const { Reranker } = await import(pathToFileURL(path.resolve(pkg, 'index.js')).href);
const v2 = new Uint8Array(await readFile(path.resolve(pkg, 'model/tokenizer.bin')));
if (new TextDecoder().decode(v2.subarray(0, 8)) !== 'WRTOKEN2') throw new Error('not a version 2 tokenizer.bin');
// Version 1 is version 2 without its trailing byte order (u32 count, then count u32 ids).
const view = new DataView(v2.buffer, v2.byteOffset, v2.byteLength);
let orderStart = v2.length - 4;
while (orderStart + 4 + 4 * view.getUint32(orderStart, true) !== v2.length) orderStart -= 4;
const v1 = new Uint8Array(orderStart);
v1.set(v2.subarray(0, orderStart));
v1.set(new TextEncoder().encode('WRTOKEN1'));
const weights = await readFile(path.resolve(pkg, 'model/weights-int8.bpk'));
const files = [['tokenizer.bin (v2, order stored)', v2], ['tokenizer.bin as v1 (sorted at load)', v1]];
if (json) files.push(['tokenizer.json', await readFile(json)]);
const runs = Number(runsArg);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (let i = 0; i <= runs; i++) {
  for (const [name, tokenizer] of files) {
    const reranker = await Reranker.load({ device: 'cpu', weights, tokenizer });
    if (i > 0) (results[name] ??= []).push(reranker.loadTimings.tokenizerMs); // the first round warms up
    reranker.dispose();
  }
}
for (const [name, ms] of Object.entries(results)) {
  console.log(`${name}: median ${median(ms).toFixed(0)} ms of ${ms.map((m) => m.toFixed(0)).join(', ')}`);
}
