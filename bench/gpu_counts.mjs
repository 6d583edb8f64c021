// The WebGPU work of one forward pass of a package's model in Chromium (BENCHMARKS.md section 3):
// compute dispatches, queue submits, buffer writes, new buffers and pipelines, at 1 pair of about
// 32 tokens and 16 pairs of about 128, each after a warm-up call of its shape. The counts do not
// depend on the GPU (SwiftShader here), only on the model and the package.
//
//   node bench/gpu_counts.mjs --pkg PKG [--shapes 1x32,16x128]   (PLAYWRIGHT_CORE as ./build.sh test sets it)
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';

const { values: args } = parseArgs({ options: { pkg: { type: 'string' }, shapes: { type: 'string', default: '1x32,16x128' } } });
if (!args.pkg) {
  console.error('usage: node bench/gpu_counts.mjs --pkg PKG');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const server = await serve({ root, pkg: path.resolve(args.pkg) });
try {
  await withPage({ webgpu: true }, async (page) => {
    await page.goto(`${server.origin}/tests/browser/gpu-counts.html?shapes=${args.shapes}`);
    const result = await page.evaluate(() => window.__result);
    if (result.error) throw new Error(result.error);
    console.log(`package ${args.pkg}; adapter ${result.device.adapter}`);
    for (const shape of args.shapes.split(',')) console.log(`${shape}: ${JSON.stringify(result[shape])}`);
  });
} finally {
  await server.close();
}
