// Counts the WebGPU work a page does (BENCHMARKS.md section 3; browser case (r)): each call of
// GPUComputePassEncoder.dispatchWorkgroups(Indirect), GPUQueue.submit and writeBuffer,
// GPUDevice.createBuffer and createComputePipeline(Async), by wrapping the prototypes' methods.
// wgpu's wasm bindings call them through the prototype, so the package's work is counted too.
// Install it before the work to count; `snapshot()` then `since(snapshot)` gives a span's counts.
const counts = { dispatches: 0, submits: 0, buffers: 0, writes: 0, pipelines: 0 };
/** Dispatches per kernel (its WGSL entry point's name), for `since(…, { kernels: true })`. */
const perKernel = new Map();
const kernelOf = new WeakMap();
let current = null;
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
  // Each pipeline named by its shader's compute entry point (the kernel's name in cubecl's WGSL).
  const createModule = GPUDevice.prototype.createShaderModule;
  GPUDevice.prototype.createShaderModule = function named(descriptor) {
    const module = createModule.call(this, descriptor);
    const entry = /@compute[^]*?fn\s+(\w+)/.exec(descriptor?.code ?? '');
    kernelOf.set(module, entry?.[1] ?? 'unnamed');
    return module;
  };
  for (const name of ['createComputePipeline', 'createComputePipelineAsync']) {
    const create = GPUDevice.prototype[name];
    GPUDevice.prototype[name] = function named(descriptor) {
      const kernel = kernelOf.get(descriptor?.compute?.module) ?? 'unnamed';
      const made = create.call(this, descriptor);
      if (made instanceof Promise) return made.then((pipeline) => { kernelOf.set(pipeline, kernel); return pipeline; });
      kernelOf.set(made, kernel);
      return made;
    };
  }
  const setPipeline = GPUComputePassEncoder.prototype.setPipeline;
  GPUComputePassEncoder.prototype.setPipeline = function tracked(pipeline) {
    current = kernelOf.get(pipeline) ?? 'unnamed';
    return setPipeline.call(this, pipeline);
  };
  for (const name of ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect']) {
    const dispatch = GPUComputePassEncoder.prototype[name];
    GPUComputePassEncoder.prototype[name] = function counted(...args) {
      counts.dispatches += 1;
      perKernel.set(current, (perKernel.get(current) ?? 0) + 1);
      return dispatch.apply(this, args);
    };
  }
  wrap(GPUQueue.prototype, 'submit', 'submits');
  wrap(GPUQueue.prototype, 'writeBuffer', 'writes');
  wrap(GPUDevice.prototype, 'createBuffer', 'buffers');
  wrap(GPUDevice.prototype, 'createComputePipeline', 'pipelines');
  wrap(GPUDevice.prototype, 'createComputePipelineAsync', 'pipelines');
  installed = true;
  return true;
}

export const snapshot = () => ({ ...counts, perKernel: new Map(perKernel) });

/** The counts since `before`; with `kernels`, also `byKernel`: dispatches per kernel, most first. */
export function since(before, { kernels = false } = {}) {
  const span = Object.fromEntries(Object.keys(counts).map((k) => [k, counts[k] - before[k]]));
  if (!kernels) return span;
  const byKernel = [...perKernel].map(([kernel, n]) => [kernel, n - (before.perKernel.get(kernel) ?? 0)])
    .filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return { ...span, byKernel: Object.fromEntries(byKernel) };
}
