// Benchmark 2 and 3 of BENCHMARKS.md, in headless Chromium on this machine:
//  * throughput: our wasm CPU path against Transformers.js (onnxruntime-web, wasm, one thread as
//    ours) on the same full-shape model and the same (query, passage) pairs, in one page session:
//    our int8 against its q8, our f32 against its fp32;
//  * cold start: time to the first result in a fresh profile (empty cache) and after a reload
//    (warm cache), with our load's breakdown;
//  * WebGPU on SwiftShader: first call and later calls, 1 and 8 pairs, ours against
//    Transformers.js q8 and fp32 on WebGPU.
//
//   node bench/browser.mjs --pkg PKG --tjs-model DIR [--runs N] [--out results.json]
//                                  [--only throughput|cold|webgpu] [--case ours:int8 ...]
//                                  [--threads N] [--file-cap MiB]
//
// PKG is our package built for the full-shape model; DIR its Transformers.js folder
// (tools/make_transformersjs_model.py). `bench/run browser` makes both and runs this.
// `--case` (repeatable) keeps only those cases: `ours:int8` / `ours:f32` for throughput (with
// the Transformers.js dtype it is compared to; `ours:int8-i7` is int8 with `activations:
// 'i7'`, also measured against our f32), `ours:int8`, `tjs:q8`, ... for the cold start and
// WebGPU (`tjs:fp32` there too).
// `--file-cap MiB` serves the package as a host with a per-file cap does (files over it: 413).
// `--threads N` (default 1) gives both libraries N threads for throughput and cold start: ours
// through createReranker (a worker; the page is cross-origin isolated), onnxruntime-web's
// `numThreads`.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';

const { values: args } = parseArgs({
  options: {
    pkg: { type: 'string' }, 'tjs-model': { type: 'string' }, runs: { type: 'string', default: '3' },
    out: { type: 'string' }, 'node-tools': { type: 'string', default: path.join(process.env.HOME, '.cache/reranker/node-tools') },
    only: { type: 'string' }, case: { type: 'string', multiple: true }, threads: { type: 'string', default: '1' },
    'file-cap': { type: 'string' },
  },
});
if (!args.pkg || !args['tjs-model']) throw new Error('usage: bench_browser.mjs --pkg PKG --tjs-model DIR [--runs N] [--out FILE]');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const modules = path.join(args['node-tools'], 'node_modules');
const runs = Number(args.runs);
const server = await serve({
  root: path.join(root, 'bench/browser'),
  revalidate: true,
  pkg: path.resolve(args.pkg),
  // --file-cap MiB: the package's files larger than that are refused (413), as Cloudflare Pages
  // refuses files over 25 MiB.
  fileCap: args['file-cap'] === undefined ? {} : { '/pkg/': Number(args['file-cap']) * 1024 * 1024 },
  mounts: {
    '/tjs/': path.join(modules, '@huggingface/transformers/dist'),
    '/ort/': path.join(modules, 'onnxruntime-web/dist'),
    '/models/fullshape/': path.resolve(args['tjs-model']),
    '/data/': path.join(root, 'tests/data'),
  },
});
const report = { date: new Date().toISOString(), runs, threads: Number(args.threads), chromium: null, throughput: [], coldStart: [] };
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const open = async (page) => {
  await page.goto(`${server.origin}/?threads=${Number(args.threads)}`);
  await page.waitForFunction(() => window.benchReady === true);
  report.chromium ??= await page.evaluate(() => navigator.userAgent);
};

try {
  if (args.only === undefined || args.only === 'throughput') {
    await withPage({}, async (page, errors) => {
      page.setDefaultTimeout(0);
      await open(page);
      for (const set of ['snippets', 'mixed']) {
        const pairs = [
          ['int8', 'q8'],
          ['int8-i7', 'q8'],
          ['f32', 'fp32'],
        ].filter(([ours]) => args.case === undefined || args.case.includes(`ours:${ours}`));
        for (const [ours, theirs] of pairs) {
          const result = await page.evaluate(async ({ set, ours, theirs, runs }) => {
            const { query, sets } = await bench.inputs();
            const passages = sets[set];
            const out = { set, passages: passages.length };
            const mine = await bench.loadOurs(ours);
            const timedOurs = await bench.timed(() => mine.reranker.predict(passages.map((p) => [query, p])), runs);
            out.ours = { precision: ours, loadMs: mine.ms, ms: timedOurs.ms, loadTimings: mine.loadTimings };
            mine.reranker.dispose();
            const theirsLoaded = await bench.loadTjs(theirs);
            out.theirs = { dtype: theirs, loadMs: theirsLoaded.ms };
            for (const batching of ['one call', 'sorted batches of 16']) {
              const t = await bench.timed(() => bench.tjsLogits(theirsLoaded, query, passages, batching), runs);
              out.theirs[batching] = t.ms;
              const diff = Math.max(...t.result.logits.map((l, i) => Math.abs(l - timedOurs.result[i])));
              out.theirs[`${batching}: max |Δlogit| vs ours`] = diff;
              if (t.result.tokens !== null) out.tokens = t.result.tokens;
            }
            await theirsLoaded.model.dispose();
            if (ours === 'int8-i7') {
              // Its precision, and Transformers.js q8's, against our f32 products on the f32 weights.
              const exact = await bench.loadOurs('f32');
              const f32 = await exact.reranker.predict(passages.map((p) => [query, p]));
              exact.reranker.dispose();
              const away = (logits) => Math.max(...logits.map((l, i) => Math.abs(l - f32[i])));
              out.vsF32 = { ours: away(timedOurs.result) };
              const q8 = await bench.loadTjs(theirs);
              out.vsF32.theirs = away((await bench.tjsLogits(q8, query, passages, 'one call')).logits);
              await q8.model.dispose();
            }
            return out;
          }, { set, ours, theirs, runs });
          const ourMs = median(result.ours.ms);
          const line = [`${set} (${result.passages} passages, ${result.tokens} tokens): ours ${ours} ${ourMs.toFixed(0)} ms`];
          for (const batching of ['one call', 'sorted batches of 16']) {
            const theirMs = median(result.theirs[batching]);
            line.push(`Transformers.js ${theirs} (${batching}) ${theirMs.toFixed(0)} ms → ours ${(theirMs / ourMs).toFixed(2)}× its throughput`
              + ` (max |Δlogit| ${result.theirs[`${batching}: max |Δlogit| vs ours`].toExponential(1)})`);
          }
          if (result.vsF32) {
            line.push(`max |Δlogit| from our f32 products on the f32 weights: ours ${ours} ${result.vsF32.ours.toExponential(1)}, `
              + `Transformers.js ${theirs} ${result.vsF32.theirs.toExponential(1)}`);
          }
          console.log(line.join('\n    '));
          report.throughput.push(result);
        }
      }
      if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    });
  }
  if (args.only === undefined || args.only === 'webgpu') {
    const cases = [['ours'], ['tjs', 'q8'], ['tjs', 'fp32']]
      .filter(([lib, dtype]) => args.case === undefined || args.case.includes(lib === 'ours' ? 'ours:int8' : `tjs:${dtype}`));
    for (const [lib, dtype] of cases) {
      await withPage({ webgpu: true }, async (page, errors) => {
        page.setDefaultTimeout(0);
        await open(page);
        const r = await page.evaluate(([lib, dtype]) => bench.webgpu(lib, 2, dtype).catch((e) => ({ lib, error: String(e) })), [lib, dtype]);
        console.log(`WebGPU (SwiftShader), ${lib === 'ours' ? 'ours int8' : `Transformers.js ${dtype}`}: `
          + JSON.stringify(r, (k, v) => typeof v === 'number' ? Math.round(v) : v));
        report.webgpu = [...(report.webgpu ?? []), { ...r, pageErrors: errors }];
      });
    }
  }
  if (args.only === undefined || args.only === 'cold') {
    const cases = [['ours', 'int8'], ['ours', 'int8-i7'], ['tjs', 'q8'], ['ours', 'f32'], ['tjs', 'fp32']]
      .filter(([lib, precision]) => args.case === undefined || args.case.includes(`${lib}:${precision}`));
    for (const [lib, precision] of cases) {
      await withPage({}, async (page, errors) => {
        page.setDefaultTimeout(0);
        const visits = [];
        for (const visit of ['empty cache', 'warm cache']) {
          await open(page);
          const r = await page.evaluate(({ lib, precision }) => bench.firstResult(lib, precision), { lib, precision });
          visits.push({ visit, ...r, logits: undefined });
          console.log(`cold start, ${lib === 'ours' ? 'ours' : 'Transformers.js'} ${precision}, ${visit}: first result at ${r.totalMs.toFixed(0)} ms `
            + `(load ${r.loadMs.toFixed(0)} ms, first rerank of 10 ${r.firstMs.toFixed(0)} ms, the same again ${r.secondMs.toFixed(0)} ms) ${JSON.stringify(r.detail, (k, v) => typeof v === 'number' ? Math.round(v) : v)}`);
        }
        if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
        report.coldStart.push({ lib, precision, visits });
      });
    }
  }
} finally {
  await server.close();
}
if (args.out) await writeFile(args.out, JSON.stringify(report, null, 2));
