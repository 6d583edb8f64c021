// Times the int8 product three ways in headless Chromium, in one wasm module, alternating; best
// of N each: the package's i16 kernel, relaxed SIMD's i8 dot on 7-bit inputs (one dot per 16
// multiply-adds), and on 14-bit inputs split in two 7-bit halves (two dots). Prints the rates,
// the ratios to the i16 kernel (above 1: faster) and each one's error relative to the exact
// product's largest value, then how the engine computes the relaxed dot (see src/lib.rs, probe).
//
//   PLAYWRIGHT_CORE=… node scripts/bench_relaxed_simd/run.mjs bench_relaxed_simd.wasm [RUNS]
//   (./build.sh bench-relaxed-simd)
import { readFile } from 'node:fs/promises';
import { withPage } from '../../tests/js/chromium.mjs';

const [file, runs = '10'] = process.argv.slice(2);
const bytes = (await readFile(file)).toString('base64');
const lines = await withPage({}, async (page) => {
  const out = await page.evaluate(async ([base64, runs]) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    if (!WebAssembly.validate(bytes)) return ['this browser has no relaxed SIMD'];
    const { instance } = await WebAssembly.instantiate(bytes, {});
    const k = instance.exports;
    const probe = k.probe();
    const engine = { 129540: 'u8 × i8 unsaturated (x86 VNNI)', 131068: 'pairs saturated to i16 (x86 pmaddubsw)', [-508]: 'signed × signed (Arm sdot)' }[probe] ?? 'unknown';
    const lines = [`${navigator.userAgent.match(/Chrom\S+/)?.[0]}, best of ${runs}; relaxed dot: ${probe}, ${engine}`];
    // rows × inputs × outputs: 16 pairs × 128 tokens through the FFN (up, down) and the
    // attention's input projection, and a short call (4 × 128) through the output projection.
    for (const [rows, inputs, outputs] of [[2048, 384, 1536], [2048, 1536, 384], [2048, 384, 1152], [512, 384, 384]]) {
      k.setup(rows, inputs, outputs);
      const best = [Infinity, Infinity, Infinity];
      const error = [0, 0, 0];
      for (let i = 0; i < runs; i++) {
        for (const kind of [0, 1, 2]) {
          const start = performance.now();
          error[kind] = k.run(kind, 1);
          best[kind] = Math.min(best[kind], performance.now() - start);
        }
      }
      const ops = (2 * rows * inputs * outputs) / 1e6;
      const show = (kind) => `${(ops / best[kind]).toFixed(1)} GOP/s (${(best[0] / best[kind]).toFixed(2)}×), error ${error[kind].toExponential(1)}`;
      lines.push(`${rows} × ${inputs} × ${outputs}: i16 ${show(0)}; relaxed, 7-bit inputs ${show(1)}; relaxed, 14-bit inputs in two dots ${show(2)}`);
    }
    return lines;
  }, [bytes, Number(runs)]);
  return out;
});
for (const line of lines) console.log(line);
