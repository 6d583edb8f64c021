// The first calls of a fresh WebAssembly instance, for two or more builds of the package side by
// side (say, before and after a change): each round starts one fresh Node process per package, in
// turn, which loads the int8 weights on the CPU and reranks the same 10 short passages three
// times in a row. Prints each package's times per round (ms) and the median first call of each.
//
//   node bench/first_call.mjs [--rounds N] PKG_A PKG_B [...]
//
// (In a process of its own, the script's child mode: `--child PKG`.)
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
if (args[0] === '--child') {
  const pkg = args[1];
  const { Reranker } = await import(pathToFileURL(path.resolve(pkg, 'index.js')).href);
  // NOTE: the model folder by URL, as a page loads it: its weights may be in pieces.
  const reranker = await Reranker.load({ device: 'cpu', baseUrl: pathToFileURL(path.resolve(pkg, 'model') + '/').href });
  const words = 'the quick brown fox jumps over a lazy dog while reading ancient maps of distant islands'.split(' ');
  const passage = (n, s) => Array.from({ length: n }, (_, i) => words[(i * 7 + s) % words.length]).join(' ');
  const docs = Array.from({ length: 10 }, (_, i) => passage(40 + 5 * i, i));
  const times = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    await reranker.rerank('where do foxes live', docs);
    times.push(Math.round(performance.now() - start));
  }
  console.log(JSON.stringify(times));
} else {
  let rounds = 3;
  if (args[0] === '--rounds') {
    rounds = Number(args[1]);
    args.splice(0, 2);
  }
  if (args.length < 1) throw new Error('usage: bench_first_call.mjs [--rounds N] PKG [PKG ...]');
  const firsts = new Map(args.map((pkg) => [pkg, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const pkg of args) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', pkg]);
      const times = JSON.parse(out.toString());
      firsts.get(pkg).push(times[0]);
      console.log(`round ${round}, ${pkg}: first ${times[0]} ms, then ${times.slice(1).join(', ')} ms`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [pkg, xs] of firsts) console.log(`${pkg}: median first call ${median(xs)} ms`);
}
