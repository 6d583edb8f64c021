// A per-kernel time profile of the native WebGPU path (BENCHMARKS.md section 3): sums the
// per-launch durations cubecl's profiling logger writes (it waits for each kernel to finish) by
// kernel, and prints each kernel's launches, total time and share, most first.
//
//   CUBECL_DEBUG_LOG=/tmp/cubecl.log CUBECL_DEBUG_OPTION=profile \
//     target/release/examples/bench_native out.json 3 --device webgpu --only 16x128
//   node bench/gpu_profile.mjs /tmp/cubecl.log [--skip N]
//
// --skip N leaves out the first N launches (the warm-up call's, which include compiling).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({ options: { skip: { type: 'string', default: '0' } }, allowPositionals: true });
if (positionals.length !== 1) {
  console.error('usage: node bench/gpu_profile.mjs CUBECL_LOG [--skip N]');
  process.exit(2);
}
const unit = { ns: 1e-6, 'µs': 1e-3, us: 1e-3, ms: 1, s: 1000 };
const launches = [];
for (const line of (await readFile(positionals[0], 'utf8')).split('\n')) {
  // `| 1.298106ms | KernelScalarCmp | EqualOp_bb8a7277`
  const m = /^\| ([\d.]+)(ns|µs|us|ms|s) \| ([^|]+?)(?: \| ([^|]+))?$/.exec(line.trim());
  if (m) launches.push({ ms: Number(m[1]) * unit[m[2]], kernel: m[3].trim() });
}
const counted = launches.slice(Number(args.skip));
const byKernel = new Map();
for (const { ms, kernel } of counted) {
  const entry = byKernel.get(kernel) ?? { launches: 0, ms: 0 };
  entry.launches += 1;
  entry.ms += ms;
  byKernel.set(kernel, entry);
}
const total = counted.reduce((sum, l) => sum + l.ms, 0);
console.log(`${counted.length} launches, ${total.toFixed(1)} ms in all`);
console.log('| kernel | launches | ms | share |\n| --- | ---: | ---: | ---: |');
for (const [kernel, { launches: n, ms }] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`| ${kernel} | ${n} | ${ms.toFixed(1)} | ${((100 * ms) / total).toFixed(1)} % |`);
}
