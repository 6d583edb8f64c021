// The JS/Rust contract, written once and checked everywhere it is restated: the load options
// (js/options.js's table) against the wasm module's `LoadOptions` struct and its accepted values,
// and against index.d.ts (names, value sets, defaults in the docs); the error codes (Rust's
// `error::CODES`, js/errors.js, index.d.ts); the state fields (js/state.js, both reranker classes,
// the worker's reply, index.d.ts). index.d.ts is read with the TypeScript compiler. And every
// option value is checked before anything is fetched.
//
//   RERANKER_PKG=/path/to/pkg NODE_TOOLS=~/.cache/reranker/node-tools node --test tests/js/contract.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const pkgDir = process.env.RERANKER_PKG;
assert.ok(pkgDir, 'set RERANKER_PKG to the package folder (./build.sh test does)');
assert.ok(process.env.NODE_TOOLS, 'set NODE_TOOLS to the folder with typescript (./build.sh test does)');
const ts = createRequire(path.join(process.env.NODE_TOOLS, 'package.json'))('typescript');
const pkg = (file) => import(pathToFileURL(path.join(pkgDir, file)).href);
const { LOAD_OPTION_TABLE, CREATE_OPTION_TABLE, MODULE_OPTIONS } = await pkg('options.js');
const { STATE_FIELDS, LOADED_FIELDS } = await pkg('state.js');
const { CODES } = await pkg('errors.js');
const { Reranker, createReranker } = await pkg('index.js');
const { WorkerReranker } = await pkg('worker-client.js');

// The single-threaded module's exports.
const glue = await pkg('web_reranker.js');
await glue.default({ module_or_path: await readFile(path.join(pkgDir, 'web_reranker_bg.wasm')) });

// index.d.ts, as TypeScript reads it.
const dts = path.join(pkgDir, 'index.d.ts');
const program = ts.createProgram([dts], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'] });
const checker = program.getTypeChecker();
const exported = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(dts))).map((s) => [s.name, s]));
const declared = (name) => {
  assert.ok(exported.has(name), `index.d.ts exports ${name}`);
  return checker.getDeclaredTypeOfSymbol(exported.get(name));
};
/** The string literals of a union type (after dropping undefined), or null if it is not one. */
function literals(type) {
  const t = checker.getNonNullableType(type);
  const parts = t.isUnion() ? t.types : [t];
  return parts.every((p) => p.isStringLiteral()) ? parts.map((p) => p.value).sort() : null;
}
const members = (type) => checker.getPropertiesOfType(type);
const typeOf = (symbol) => checker.getTypeOfSymbol(symbol);
const docOf = (symbol) => ts.displayPartsToString(symbol.getDocumentationComment(checker));
/** The non-method, non-static properties a type or class declares. */
const fields = (type) => members(type)
  .filter((s) => s.declarations.every((d) => ts.isPropertySignature(d) || ts.isPropertyDeclaration(d)))
  .map((s) => s.name).sort();

const sorted = (list) => [...list].sort();

test('the load options: one table, the same names in the Rust struct and in index.d.ts', () => {
  assert.deepEqual(sorted(glue.loadOptionNames()), sorted(MODULE_OPTIONS), 'the module reads the table\'s module options');
  assert.deepEqual(sorted(members(declared('LoadOptions')).map((s) => s.name)), sorted(Object.keys(LOAD_OPTION_TABLE)));
  const createOwn = members(declared('CreateOptions')).map((s) => s.name).filter((n) => !(n in LOAD_OPTION_TABLE));
  assert.deepEqual(sorted(createOwn), sorted(Object.keys(CREATE_OPTION_TABLE)));
});

test('the load options\' values: the table\'s sets are the module\'s and the types\', its defaults are the docs\'', () => {
  const moduleValues = glue.loadOptionValues();
  const typed = new Map(members(declared('LoadOptions')).map((s) => [s.name, s]));
  let sets = 0;
  for (const [name, spec] of Object.entries(LOAD_OPTION_TABLE)) {
    const symbol = typed.get(name);
    if (spec.values !== undefined) {
      sets += 1;
      assert.deepEqual(literals(typeOf(symbol)), sorted(spec.values), `${name}: index.d.ts's type`);
      if (spec.reader === 'module') assert.deepEqual(moduleValues[name], spec.values, `${name}: the module's values, default first`);
      assert.equal(spec.values[0] === spec.default || spec.reader === 'js', true, `${name}: the default comes first`);
    }
    if (spec.kind === 'boolean') assert.equal(checker.typeToString(checker.getNonNullableType(typeOf(symbol))), 'boolean', name);
    if (spec.kind === 'integer') assert.equal(checker.typeToString(checker.getNonNullableType(typeOf(symbol))), 'number', name);
    if (spec.default !== undefined) {
      const doc = docOf(symbol);
      const said = typeof spec.default === 'string' ? new RegExp(`'${spec.default}'\`? \\(default`) : new RegExp(`default ${spec.default}\\b`);
      assert.match(doc, said, `${name}: index.d.ts says its default is ${JSON.stringify(spec.default)}`);
    }
  }
  assert.equal(sets, 3, 'device, activations and precision have value sets');
  assert.deepEqual(Object.keys(moduleValues).sort(), MODULE_OPTIONS.filter((n) => LOAD_OPTION_TABLE[n].values).sort());
});

test('the error codes: Rust\'s, js/errors.js\'s and index.d.ts\'s are one list', () => {
  assert.deepEqual([...glue.errorCodes()], [...CODES]);
  assert.deepEqual(literals(declared('RerankerErrorCode')), sorted(CODES));
});

test('the state fields: state.js names them; both rerankers, the worker\'s reply and index.d.ts have those', async () => {
  const getters = (cls) => Object.entries(Object.getOwnPropertyDescriptors(cls.prototype))
    .filter(([, d]) => d.get !== undefined).map(([name]) => name).sort();
  assert.deepEqual(getters(Reranker), sorted(STATE_FIELDS));
  assert.deepEqual(getters(WorkerReranker), sorted(STATE_FIELDS));
  assert.deepEqual(fields(declared('RerankerLike')), sorted(STATE_FIELDS));
  assert.deepEqual(fields(declared('Reranker')), sorted(STATE_FIELDS));
  // worker.js sends loadedState(reranker): every settled field, with the value the getter gives.
  const { loadedState } = await pkg('state.js');
  const reranker = await Reranker.load({ device: 'cpu' });
  try {
    const sent = loadedState(reranker);
    assert.deepEqual(Object.keys(sent).sort(), sorted(LOADED_FIELDS));
    for (const field of LOADED_FIELDS) assert.deepEqual(sent[field], reranker[field], field);
  } finally {
    reranker.dispose();
  }
});

test('every option value is checked before anything is fetched', async (t) => {
  const requests = [];
  const server = createServer((req, res) => { requests.push(req.url); res.writeHead(404).end(); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  const where = { baseUrl: `${base}/model/`, wasm: `${base}/web_reranker_bg.wasm` };
  const bad = {
    device: ['wasm', 'GPU', null, 1], maxLength: [3, 0, 1.5, '64', null], activations: ['i8', 'I7', null],
    precision: ['fp16', null], threads: [0, 65, 2.5], verify: ['yes'], cache: [1], keepOtherModels: ['no'],
    weights: [42, {}], tokenizer: [true], wasm: [null], baseUrl: [7], onProgress: ['log'], signal: [{}],
  };
  assert.deepEqual(Object.keys(bad).sort(), sorted([...Object.keys(LOAD_OPTION_TABLE)]), 'a bad value for every option');
  for (const [name, values] of Object.entries(bad)) {
    for (const value of values) {
      for (const [how, load] of [['Reranker.load', Reranker.load], ['createReranker', (o) => createReranker({ ...o, worker: false })]]) {
        await assert.rejects(load({ ...where, [name]: value }),
          (e) => e.code === 'INVALID_INPUT' && e.message.startsWith(`${name} must be`), `${how} ${name}: ${String(value)}`);
      }
    }
  }
  await assert.rejects(createReranker({ ...where, worker: 'yes' }), (e) => e.code === 'INVALID_INPUT' && /^worker must be a boolean/.test(e.message));
  assert.deepEqual(requests, [], 'no request reached the server');
  // The server is reachable: a good load does ask it (and fails on its 404s).
  await assert.rejects(Reranker.load({ ...where, device: 'cpu' }));
  assert.ok(requests.length > 0);
});

test('the Pagefind passages: the adapter\'s list, the drop-in\'s (which imports nothing up front) and the types\' are one', async () => {
  const { PAGEFIND_PASSAGES } = await pkg('index.js');
  const source = await readFile(path.join(pkgDir, 'pagefind-ui.js'), 'utf8');
  const dropIn = JSON.parse(/const PASSAGES = (\[[^\]]*\]);/.exec(source)[1].replaceAll("'", '"'));
  assert.deepEqual(dropIn, [...PAGEFIND_PASSAGES]);
  const union = declared('PagefindPassage');
  assert.deepEqual(union.types.map((t) => t.value).sort(), [...PAGEFIND_PASSAGES].sort());
});
