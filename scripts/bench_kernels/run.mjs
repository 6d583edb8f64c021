// Times our linear-layer kernels against gemm's f32 kernel on the model's matrix shapes, in the
// same wasm module and the same Node process, alternating; best of N each. Prints the rate of
// each and the ratio to gemm (above 1: ours is faster).
//
//   node scripts/bench_kernels/run.mjs bench_kernels.wasm [RUNS]     (./build.sh bench-kernels)
import { readFile } from 'node:fs/promises';

const [file, runs = '10'] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(await readFile(file), {});
const k = instance.exports;
// rows × inputs × outputs: 16 pairs × 128 tokens through the FFN (up, down) and a projection,
// and a short call (4 × 128) through a projection.
const shapes = [[2048, 384, 1536], [2048, 1536, 384], [2048, 384, 384], [512, 384, 384]];
console.log(`Node ${process.version}, best of ${runs}`);
for (const [rows, inputs, outputs] of shapes) {
  k.setup(rows, inputs, outputs);
  const best = { int8: Infinity, f32: Infinity, gemm: Infinity };
  for (let i = 0; i < Number(runs); i++) {
    for (const [name, run] of [['int8', k.run_int8], ['f32', k.run_f32], ['gemm', k.run_gemm]]) {
      const start = performance.now();
      run();
      best[name] = Math.min(best[name], performance.now() - start);
    }
  }
  const ops = (2 * rows * inputs * outputs) / 1e6;
  const rate = (ms) => (ops / ms).toFixed(1);
  console.log(`${rows} × ${inputs} × ${outputs}: gemm f32 ${rate(best.gemm)} GFLOP/s; ours f32 ${rate(best.f32)} GFLOP/s `
    + `(${(best.gemm / best.f32).toFixed(2)}×); ours int8 ${rate(best.int8)} GOP/s (${(best.gemm / best.int8).toFixed(2)}×)`);
}
