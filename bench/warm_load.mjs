// A warm load in Chromium for two or more builds of the package side by side (say, before and
// after a change): each round opens a fresh browser profile per package, loads the model once
// (downloading it into the store), then loads it again from the store in the same page, and
// prints the second load's time (ms, `performance.now()` around `Reranker.load`) with its
// `loadTimings`. Prints the median of each package at the end. The packages must be built for
// the same model.
//
//   PLAYWRIGHT_CORE=… node bench/warm_load.mjs [--rounds N] PKG_A PKG_B [...]
import path from 'node:path';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';

const args = process.argv.slice(2);
let rounds = 5;
if (args[0] === '--rounds') {
  rounds = Number(args[1]);
  args.splice(0, 2);
}
if (args.length < 1) throw new Error('usage: warm_load.mjs [--rounds N] PKG [PKG ...]');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** The page: an empty one on the package's origin. */
const times = new Map(args.map((pkg) => [pkg, []]));
for (let round = 1; round <= rounds; round++) {
  for (const pkg of args) {
    const server = await serve({ root, pkg: path.resolve(pkg) });
    try {
      await withPage({}, async (page) => {
        await page.goto(`${server.origin}/tests/browser/fixture.js`);
        const result = await page.evaluate(async () => {
          const { Reranker } = await import('/pkg/index.js');
          (await Reranker.load({ device: 'cpu' })).dispose();
          const started = performance.now();
          const reranker = await Reranker.load({ device: 'cpu' });
          const ms = performance.now() - started;
          const { loadTimings } = reranker;
          reranker.dispose();
          return { ms, loadTimings };
        });
        times.get(pkg).push(result.ms);
        console.log(`round ${round}, ${pkg}: warm load ${result.ms.toFixed(0)} ms ${JSON.stringify(result.loadTimings)}`);
      });
    } finally {
      await server.close();
    }
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
for (const [pkg, values] of times) console.log(`${pkg}: median warm load ${median(values).toFixed(0)} ms over ${values.length}`);
