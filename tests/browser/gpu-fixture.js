// Test helper for the WebGPU failure pages: keeps every GPUDevice the page's adapters hand out,
// so a test can act on the device the reranker's wgpu made (destroy it, make it report an
// error), and starts a reranker on WebGPU with the tiny fixture's reference scores.
// NOTE: the page cannot otherwise reach the device wgpu made; this module patches
// requestDevice when imported, before the package creates its device.
import { Reranker } from '/pkg/index.js';
import { fixture } from '/tests/browser/fixture.js';

export const devices = [];
const requestDevice = GPUAdapter.prototype.requestDevice;
GPUAdapter.prototype.requestDevice = async function keepDevice(...args) {
  const device = await requestDevice.apply(this, args);
  devices.push(device);
  return device;
};

export const log = (line) => { document.getElementById('log').textContent += line + '\n'; };

/** A reranker on WebGPU that has answered once: `{ reference, reranker, before, pairs, first }`. */
export async function warmOnWebGpu() {
  const reference = await fixture();
  const reranker = await Reranker.load({ device: 'webgpu' });
  const before = reranker.device;
  const pairs = reference.cases.map((c) => [c.query, c.passage]);
  const first = await reranker.predict(pairs.slice(0, 2));
  log(`warm on ${JSON.stringify(before)}; ${devices.length} device(s) made`);
  return { reference, reranker, before, pairs, first };
}
