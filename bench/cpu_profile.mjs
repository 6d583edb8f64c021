// Where our wasm CPU path's time goes, in Chromium (BENCHMARKS.md section 1): a sampling profile
// (the DevTools protocol's Profiler) of one `predict` of a benchmark set after a warm-up call,
// on one thread in the page (bench/browser's page), as self time per function, most first.
//
//   node bench/cpu_profile.mjs --pkg PKG [--form int8|int8-i7|f32] [--set snippets|mixed]
//                              [--top N] [--names WASM] [--out FILE.cpuprofile]
//
// Functions are named only where the module keeps its name section, which wasm-opt drops (and
// the tests' unoptimised package too). `--names WASM` takes the cargo build's own module (for
// `./build.sh package`: $CACHE/target-wasm/wasm32-unknown-unknown/release/web_reranker.wasm,
// the same code before wasm-bindgen and wasm-opt) and profiles a copy of PKG whose module
// wasm-bindgen makes from it. `wasm-function[0]` of a 7-bit profile is the relaxed-SIMD side
// module's `sums` (src/kernels/relaxed_simd.wat), which has no names.
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';

const { values: args } = parseArgs({
  options: {
    pkg: { type: 'string' }, form: { type: 'string', default: 'int8' }, set: { type: 'string', default: 'snippets' },
    top: { type: 'string', default: '15' }, names: { type: 'string' }, out: { type: 'string' },
  },
});
if (!args.pkg || !['int8', 'int8-i7', 'f32'].includes(args.form) || !['snippets', 'mixed'].includes(args.set)) {
  console.error('usage: node bench/cpu_profile.mjs --pkg PKG [--form int8|int8-i7|f32] [--set snippets|mixed] [--top N] [--names WASM]');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** A copy of the package (its model folder linked) whose main module wasm-bindgen makes from `wasm`. */
async function namedCopy(pkg, wasm) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cpu-profile-'));
  await cp(pkg, dir, { recursive: true, filter: (from) => path.relative(pkg, from) !== 'model' });
  await symlink(path.resolve(pkg, 'model'), path.join(dir, 'model'));
  const cli = execFileSync('bash', ['-c', `source "${root}/tools/lib.sh"; wasm_bindgen_cli`], { encoding: 'utf8' }).trim();
  execFileSync(cli, ['--target', 'web', '--out-dir', dir, '--out-name', 'web_reranker', path.resolve(wasm)], { stdio: 'inherit' });
  return dir;
}

const pkg = args.names ? await namedCopy(path.resolve(args.pkg), args.names) : path.resolve(args.pkg);
const server = await serve({
  root: path.join(root, 'bench/browser'),
  revalidate: true,
  pkg,
  mounts: { '/data/': path.join(root, 'tests/data') },
});
try {
  await withPage({}, async (page, errors) => {
    page.setDefaultTimeout(0);
    await page.goto(`${server.origin}/?threads=1`);
    await page.waitForFunction(() => window.benchReady === true);
    const call = ({ form, set }) => window.profiled.reranker.predict(window.profiled.sets[set].map((p) => [window.profiled.query, p]));
    await page.evaluate(async ({ form, set }) => {
      const { reranker } = await bench.loadOurs(form);
      const { query, sets } = await bench.inputs();
      window.profiled = { reranker, query, sets };
    }, args);
    await page.evaluate(call, args); // the warm-up: compiling and first allocations stay out
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
    const started = Date.now();
    await page.evaluate(call, args);
    const ms = Date.now() - started;
    const { profile } = await cdp.send('Profiler.stop');
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const name = nodes.get(id).callFrame.functionName || '(anonymous)';
      self.set(name, (self.get(name) ?? 0) + profile.timeDeltas[i]);
      total += profile.timeDeltas[i];
    });
    console.log(`${args.form}, ${args.set}, one thread: predict ${ms} ms, ${(total / 1000).toFixed(0)} ms sampled`);
    console.log('| function (self time) | ms | share |\n| --- | ---: | ---: |');
    for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) {
      // Rust's symbols carry a crate hash in brackets (16 hex digits or so): left out.
      const short = name.replace(/\[[0-9a-f]{8,}\]/g, '').slice(0, 120);
      console.log(`| ${short} | ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)} % |`);
    }
    if (args.out) await writeFile(args.out, JSON.stringify(profile));
  });
} finally {
  await server.close();
  if (args.names) await rm(pkg, { recursive: true, force: true });
}
