// The WebGPU work of one forward pass of a package's model in Chromium (BENCHMARKS.md section 3):
// compute dispatches, queue submits, buffer writes, new buffers and pipelines, at 1 pair of about
// 32 tokens and 16 pairs of about 128, each after a warm-up call of its shape. The counts do not
// depend on the GPU (SwiftShader here), only on the model and the package.
//
//   node bench/gpu_counts.mjs --pkg PKG [--shapes 1x32,16x128] [--kernels] [--tjs-model DIR --node-tools DIR]
//
// --kernels: also the dispatches per kernel (the WGSL entry point of its pipeline).
//
// With --tjs-model (tools/make_transformersjs_model.py's folder of the same weights) the same
// counts for Transformers.js 4.3.2 on WebGPU, q8 and fp32, in the same run. PLAYWRIGHT_CORE as
// ./build.sh test sets it.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';

const { values: args } = parseArgs({
  options: {
    pkg: { type: 'string' }, shapes: { type: 'string', default: '1x32,16x128' }, kernels: { type: 'boolean', default: false }, 'tjs-model': { type: 'string' },
    'node-tools': { type: 'string', default: path.join(process.env.HOME, '.cache/reranker/node-tools') },
  },
});
if (!args.pkg) {
  console.error('usage: node bench/gpu_counts.mjs --pkg PKG');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const modules = path.join(args['node-tools'], 'node_modules');
const mounts = args['tjs-model'] ? {
  '/tjs/': path.join(modules, '@huggingface/transformers/dist'),
  '/ort/': path.join(modules, 'onnxruntime-web/dist'),
  '/models/fullshape/': path.resolve(args['tjs-model']),
} : {};
const server = await serve({ root, pkg: path.resolve(args.pkg), mounts });
const libs = [['ours', ''], ...(args['tjs-model'] ? [['tjs q8', '&lib=tjs&dtype=q8'], ['tjs fp32', '&lib=tjs&dtype=fp32']] : [])];
try {
  for (const [name, query] of libs) {
    await withPage({ webgpu: true }, async (page) => {
      await page.goto(`${server.origin}/tests/browser/gpu-counts.html?shapes=${args.shapes}${args.kernels ? '&kernels' : ''}${query}`);
      const result = await page.evaluate(() => window.__result);
      if (result.error) throw new Error(`${name}: ${result.error}`);
      const missing = args.shapes.split(',').filter((shape) => result[shape] === undefined);
      if (missing.length) throw new Error(`${name}: no counts for ${missing.join(', ')} (the page knows 1x32 and 16x128)`);
      for (const shape of [...args.shapes.split(','), 'new width']) {
        if (result[shape] !== undefined) console.log(`${name} ${shape}: ${JSON.stringify(result[shape])}`);
      }
    });
  }
  console.log(`package ${args.pkg}${args['tjs-model'] ? `; Transformers.js model ${args['tjs-model']}` : ''}`);
} finally {
  await server.close();
}
