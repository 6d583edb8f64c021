// How close the package's logits must be to onnxruntime's, shared by the JS tests.

/** f32 products (f32 weights anywhere, int8 weights on WebGPU). */
export const TOLERANCE = 1e-4;

/**
 * For int8 weights multiplied in integers (`device.matmul === 'int8'`, the CPU): their inputs are
 * rounded to a 15-bit grid, which by onnxruntime's own measure moves this fixture's logits by up
 * to 3.9e-4 (scripts/make_compact_reference.py); the f32 products stay within TOLERANCE.
 */
export const INTEGER_TOLERANCE = 1e-3;

/** The tolerance for scores computed on `device` (a reranker's `device`). */
export const toleranceOn = (device) => (device?.matmul === 'int8' ? INTEGER_TOLERANCE : TOLERANCE);
