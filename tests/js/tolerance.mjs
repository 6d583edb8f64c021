// How close the package's logits must be to onnxruntime's, shared by the JS tests.

/** f32 products (f32 weights anywhere, int8 weights on WebGPU). */
export const TOLERANCE = 1e-4;

/**
 * For int8 weights multiplied in integers (`device.matmul === 'int8'`, the CPU): their inputs are
 * rounded to a 15-bit grid, which by onnxruntime's own measure moves this fixture's logits by up
 * to 3.9e-4 (tools/make_compact_reference.py); the f32 products stay within TOLERANCE. Two
 * engines' int8 scores differ by such a rounding too: Chromium runs attention's f32 products on
 * relaxed SIMD's fused multiply-add and Node 20 cannot, and a value a rounding apart can land on
 * another step of the grid (measured 2.0e-4 between the Pagefind UI page and Node).
 */
export const INTEGER_TOLERANCE = 1e-3;

/**
 * With `activations: 'i7'` the inputs are rounded to 7 bits instead, against onnxruntime with
 * the same rounding in the graph (compact.json's `ort_int8_i7_*`): a value a float rounding
 * error from half a step rounds differently in the two engines and moves by a whole 1/127 of
 * its row's range (tests/parity.rs, SEVEN_BIT_TOLERANCE). Such values are rare on a grid this
 * coarse: measured 2.9e-5 natively and in Chromium, against 0.16 for a wrong rounding (the i16
 * kernel's logits).
 */
export const SEVEN_BIT_TOLERANCE = 5e-3;

/** The tolerance for scores computed on `device` (a reranker's `device`). */
export const toleranceOn = (device) => {
  if (device?.matmul !== 'int8') return TOLERANCE;
  return device.activations === 'i7' ? SEVEN_BIT_TOLERANCE : INTEGER_TOLERANCE;
};
