// The other export forms users bring, in headless Chromium: a package built from each
// (`tests/fixtures/tiny-sdpa`: transformers 5's default attention, TorchScript export;
// `tests/fixtures/tiny-dynamo`: torch's dynamo exporter, opset 20, `Gelu` and `LayerNormalization`
// ops) scores the fixture's cases within tolerance of onnxruntime on that same file: on WebGPU
// (SwiftShader), and on the CPU with the f32 weights, the int8 weights in integers (the default)
// and 7-bit activations. The tests' own package (browser.test.mjs) is the hub's form,
// tiny-optimum. Each package was built with RERANKER_STRICT_FUSION=1 (build.sh test), so it holds
// every fusion; `device.matmul` shows the integer kernels on the CPU.
//
// NOTE: 7-bit rounding of a value that lies within float noise of a half step goes either way,
// and moves that pair's logit by a whole step's effect: onnxruntime itself, on the four forms of
// the same checkpoint (each fixture's compact.json, tools/make_compact_reference.py), gives pair
// 10 two values 1.1e-2 apart (tiny-webgpu and tiny-dynamo one, tiny-optimum and tiny-sdpa the
// other). So a 7-bit score is checked against the nearest of the forms' onnxruntime scores; every
// other path against its own form's.
//
//   RERANKER_FORM_PKGS=DIR node --test tests/js/forms.test.mjs   (DIR/tiny-sdpa, DIR/tiny-dynamo)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { serve } from '../serve.mjs';
import { withPage } from './chromium.mjs';
import { toleranceOn } from './tolerance.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const FORMS = ['tiny-sdpa', 'tiny-dynamo'];
/** Every form of the tiny checkpoint with onnxruntime's int8 references (compact.json). */
const REFERENCE_FORMS = ['tiny-webgpu', 'tiny-optimum', 'tiny-sdpa', 'tiny-dynamo'];
const json = async (file) => JSON.parse(await readFile(path.join(root, 'tests/fixtures', file), 'utf8'));

/** Loads the parity page on `device` and returns its result (single pairs, one padded batch). */
async function parity(origin, form, { device, precision, activations }) {
  return withPage({ webgpu: device === 'webgpu' }, async (page, errors) => {
    const query = new URLSearchParams({ device, form, ...(precision && { precision }), ...(activations && { activations }) });
    await page.goto(`${origin}/tests/browser/parity.html?${query}`);
    const result = await page.evaluate(() => window.__result);
    assert.deepEqual(errors, []);
    assert.equal(result.error, undefined, `${form} ${device}: ${result.error}`);
    return result;
  });
}

/**
 * The largest distance of the single-pair, batched and concurrent scores from the nearest of
 * `references` (each `{ single, batch }`, onnxruntime's logits one pair at a time and batched).
 */
function worstError(result, references) {
  const near = (got, i, kind) => Math.min(...references.map((r) => Math.abs(got - r[kind][i])));
  let worst = 0;
  result.single.forEach((got, i) => { worst = Math.max(worst, near(got, i, 'single')); });
  result.batched.forEach((got, i) => { worst = Math.max(worst, near(got, i, 'batch')); });
  result.overlapping.forEach((got, i) => { worst = Math.max(worst, near(got, i, 'single')); });
  return worst;
}

/** onnxruntime's logits on `form` for the load `c` describes (f32, int8, int8 with 7-bit inputs). */
async function references(form, c) {
  if (c.load.precision === 'f32') {
    const { cases } = await json(`${form}/reference.json`);
    return [{ single: cases.map((x) => x.ort_logit), batch: cases.map((x) => x.ort_batch_logit) }];
  }
  const key = c.activations === 'i7' ? 'ort_int8_i7' : 'ort_int8';
  const forms = c.activations === 'i7' ? REFERENCE_FORMS : [form];
  return Promise.all(forms.map(async (f) => {
    const { cases } = await json(`${f}/compact.json`);
    return { single: cases.map((x) => x[`${key}_logit`]), batch: cases.map((x) => x[`${key}_batch_logit`]) };
  }));
}

const CASES = [
  { label: 'WebGPU, f32 weights', load: { device: 'webgpu', precision: 'f32' }, backend: 'webgpu', matmul: 'f32' },
  { label: 'CPU, f32 weights', load: { device: 'cpu', precision: 'f32' }, backend: 'cpu', matmul: 'f32' },
  { label: 'CPU, int8 weights in integers (the default)', load: { device: 'cpu' }, backend: 'cpu', matmul: 'int8' },
  { label: 'CPU, 7-bit activations', load: { device: 'cpu', activations: 'i7' }, backend: 'cpu', matmul: 'int8', activations: 'i7' },
];

for (const form of FORMS) {
  test(`${form}: its package scores like onnxruntime on WebGPU and on each CPU path`, async () => {
    assert.ok(process.env.RERANKER_FORM_PKGS, 'set RERANKER_FORM_PKGS (./build.sh test does)');
    const pkg = path.join(process.env.RERANKER_FORM_PKGS, form);
    // The package really is this form's: its model card names the folder it was built from.
    const manifest = JSON.parse(await readFile(path.join(pkg, 'model/model.json'), 'utf8'));
    assert.equal(manifest.source.folder, form);
    const server = await serve({ root, pkg });
    try {
      for (const c of CASES) {
        const result = await parity(server.origin, form, c.load);
        assert.equal(result.device.backend, c.backend, JSON.stringify(result.device));
        assert.equal(result.device.matmul, c.matmul, JSON.stringify(result.device));
        if (c.activations) assert.equal(result.device.activations, c.activations, JSON.stringify(result.device));
        const refs = await references(form, c);
        const worst = worstError(result, refs);
        const own = worstError(result, refs.slice(REFERENCE_FORMS.indexOf(form), REFERENCE_FORMS.indexOf(form) + 1));
        console.log(`${form}, ${c.label}: max |logit - onnxruntime| = ${worst.toExponential(2)} over ${result.single.length} pairs and one padded batch`
          + (refs.length > 1 ? ` (the nearest form's; ${own.toExponential(2)} against ${form}'s own)` : ''));
        assert.ok(worst <= toleranceOn(result.device), `${form}, ${c.label}: ${worst}`);
      }
    } finally {
      await server.close();
    }
  });
}
