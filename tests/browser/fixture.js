// The tiny fixture's reference cases, each with what onnxruntime scores it for weights of
// `precision`: `expected` (one pair at a time) and `expectedBatch` (all in one padded batch).
// f32: reference.json (the f32 model); int8, the default: compact.json (the same int8
// quantization applied to the ONNX in numpy, tools/make_compact_reference.py); with
// `activations` 'i7', the same with each int8 layer's input rounded to 7 bits in the graph too.
//
// `form`: the fixture folder the package was built from. The tests' package is built from the
// fixture in the hub's real form (tiny-optimum, through the default download path), the form
// packages (tests/js/forms.test.mjs) from tiny-sdpa and tiny-dynamo; the f32 references are that
// folder's; the int8 ones (compact.json) were computed on the WebGPU-form export of the same
// checkpoint (every form's onnxruntime logits agree within 3.5e-6).
export async function fixture(precision = 'int8', activations = undefined, form = 'tiny-optimum') {
  const json = async (file) => (await fetch(`/tests/fixtures/${file}`)).json();
  const reference = await json(`${form}/reference.json`);
  const compact = precision === 'f32' ? null : await json('tiny-webgpu/compact.json');
  for (const [i, c] of reference.cases.entries()) {
    const int8 = activations === 'i7' ? 'ort_int8_i7' : 'ort_int8';
    c.expected = compact === null ? c.ort_logit : compact.cases[i][`${int8}_logit`];
    c.expectedBatch = compact === null ? c.ort_batch_logit : compact.cases[i][`${int8}_batch_logit`];
  }
  return reference;
}
