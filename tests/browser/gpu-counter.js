// Counts the WebGPU work a page does (BENCHMARKS.md section 3; browser case (r)): each call of
// GPUComputePassEncoder.dispatchWorkgroups(Indirect), GPUQueue.submit and writeBuffer,
// GPUDevice.createBuffer and createComputePipeline(Async), by wrapping the prototypes' methods.
// wgpu's wasm bindings call them through the prototype, so the package's work is counted too.
// Install it before the work to count; `snapshot()` then `since(snapshot)` gives a span's counts.
const counts = { dispatches: 0, submits: 0, buffers: 0, writes: 0, pipelines: 0 };
let installed = false;

export function install() {
  if (installed || typeof GPUComputePassEncoder === 'undefined') return installed;
  const wrap = (proto, name, key) => {
    const original = proto[name];
    if (typeof original !== 'function') return;
    proto[name] = function counted(...args) {
      counts[key] += 1;
      return original.apply(this, args);
    };
  };
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', 'dispatches');
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroupsIndirect', 'dispatches');
  wrap(GPUQueue.prototype, 'submit', 'submits');
  wrap(GPUQueue.prototype, 'writeBuffer', 'writes');
  wrap(GPUDevice.prototype, 'createBuffer', 'buffers');
  wrap(GPUDevice.prototype, 'createComputePipeline', 'pipelines');
  wrap(GPUDevice.prototype, 'createComputePipelineAsync', 'pipelines');
  installed = true;
  return true;
}

export const snapshot = () => ({ ...counts });
export const since = (before) => Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v - before[k]]));
