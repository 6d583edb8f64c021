// Times our linear-layer kernels against gemm's f32 kernel on the model's matrix shapes, in the
// same wasm module and the same Node process, alternating; best of N each. Prints the rate of
// each and the ratio to gemm (above 1: ours is faster). Then a block of attention with gemm's
// products and with ours, the row kernels' rates, and checks that each pair agrees.
//
//   node bench/kernels/run.mjs bench_kernels.wasm [RUNS]     (bench/run kernels)
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

// A block of attention (64 query rows, all 12 heads of 32) of a short and a long pair: its two
// products by gemm, as natively, and by our packed kernel, as in the package's wasm.
for (const seq of [96, 256, 512]) {
  const queries = Math.min(64, seq);
  k.setup_attention(seq, queries);
  const best = { gemm: Infinity, packed: Infinity };
  for (let i = 0; i < Number(runs); i++) {
    for (const [name, flag] of [['gemm', 0], ['packed', 1]]) {
      const start = performance.now();
      k.run_attention(flag);
      best[name] = Math.min(best[name], performance.now() - start);
    }
  }
  const flops = (4 * queries * seq * 384) / 1e6; // two products, 12 heads × 32
  const rate = (ms) => (flops / ms).toFixed(1);
  const difference = k.check_attention();
  console.log(`attention, ${queries} queries × ${seq} keys: gemm ${rate(best.gemm)} GFLOP/s; `
    + `packed ${rate(best.packed)} GFLOP/s (${(best.gemm / best.packed).toFixed(2)}×), `
    + `max |difference| ${difference.toExponential(2)}`);
  if (!(difference <= 1e-5)) throw new Error('the two kinds of attention products disagree');
}

// The row kernels, on 256 K values (1 MiB, in cache, refilled before each of 16 runs): softmax over
// attention rows of a short and a long pair, without padding and with one key in 10 masked
// (the mask bias of a padding position), and GELU.
const values = 1 << 18;
const rowKernel = (run, maskedEvery = 0) => {
  let best = Infinity;
  for (let i = 0; i < Number(runs); i++) {
    let ms = 0;
    for (let j = 0; j < 16; j++) {
      k.setup_rows(values, maskedEvery); // fresh values each time (softmax works in place)
      const start = performance.now();
      run();
      ms += performance.now() - start;
    }
    best = Math.min(best, ms / 16);
  }
  return `${(values / best / 1e6).toFixed(2)} G values/s`;
};
for (const rowLen of [96, 512]) {
  for (const [name, run] of [['simd128', k.run_softmax], ['lane loops', k.run_softmax_lanes]]) {
    console.log(`softmax (${name}), rows of ${rowLen}: ${rowKernel(() => run(rowLen))}; `
      + `one in 10 masked: ${rowKernel(() => run(rowLen), 10)}`);
  }
}
console.log(`GELU: ${rowKernel(() => k.run_gelu())}`);
// The simd128 softmax must agree with the lane loops it replaces (a rounding apart).
const softmaxDifference = k.check_softmax();
console.log(`softmax: simd128 vs lane loops, max |difference| ${softmaxDifference.toExponential(2)}`);
if (!(softmaxDifference <= 1e-6)) throw new Error('the simd128 softmax disagrees with the lane loops');
