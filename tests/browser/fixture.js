// The tiny fixture's reference cases, each with what onnxruntime scores it for weights of
// `precision`: `expected` (one pair at a time) and `expectedBatch` (all in one padded batch).
// f32: reference.json (the f32 model); int8, the default: compact.json (the same int8
// quantization applied to the ONNX in numpy, scripts/make_compact_reference.py).
export async function fixture(precision = 'int8') {
  const json = async (file) => (await fetch(`/tests/fixtures/tiny-webgpu/${file}`)).json();
  const reference = await json('reference.json');
  const compact = precision === 'f32' ? null : await json('compact.json');
  for (const [i, c] of reference.cases.entries()) {
    c.expected = compact === null ? c.ort_logit : compact.cases[i].ort_int8_logit;
    c.expectedBatch = compact === null ? c.ort_batch_logit : compact.cases[i].ort_int8_batch_logit;
  }
  return reference;
}
