// The default build's download (tools/hub-fetch.mjs through `./build.sh model`) against a local
// model hub (tests/hub-server.mjs) serving the hub-form fixture: a pinned download lands whole
// and names its commit and hashes; an unpinned one says so and is checked against the hub's own
// hashes; the default path asks for the pinned revision of the real model and compares every
// pinned hash; a wrong sha256, a repository without an ONNX file (with the commands to export
// one), an unknown revision and an unreachable hub each stop with a clear message and leave no
// model folder behind. (`./build.sh test` also builds the tests' package through this path.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startHub } from '../hub-server.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const fixture = path.join(root, 'tests/fixtures/tiny-hub');
const REPO = 'tests/tiny-hub';
const NO_ONNX = 'tests/no-onnx';
const TAMPERED = 'tests/tampered';
const TAMPERED_ONNX = 'tests/tampered-onnx';
/** The default model and its pins (tools/model-pins.json). */
const DEFAULT_REPO = 'cross-encoder/mmarco-mMiniLMv2-L12-H384-v1';
const realPins = JSON.parse(await readFile(path.join(root, 'tools/model-pins.json'), 'utf8'))[DEFAULT_REPO];
let hub;
let work;

const sha256 = async (file) => createHash('sha256').update(await readFile(path.join(fixture, file))).digest('hex');

before(async () => {
  hub = await startHub({
    [REPO]: { dir: fixture, license: 'apache-2.0' },
    [NO_ONNX]: { dir: fixture, hide: ['onnx/model.onnx'] },
    [TAMPERED]: { dir: fixture, tamper: ['config.json'] },
    [TAMPERED_ONNX]: { dir: fixture, tamper: ['onnx/model.onnx'] },
    // The real model's repository at its pinned commit, serving the fixture's bytes.
    [DEFAULT_REPO]: { dir: fixture, commit: realPins.revision },
  });
  work = await mkdtemp(path.join(os.tmpdir(), 'reranker-hub-'));
  await writeFile(path.join(work, 'none.json'), '{}');
});
after(async () => {
  await hub?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The pins file for `repo`: the fixture's own hashes, with `override` on top. */
async function pins(name, repo, override = {}) {
  const file = path.join(work, `${name}.json`);
  const files = {
    'config.json': await sha256('config.json'),
    'tokenizer.json': await sha256('tokenizer.json'),
    'onnx/model.onnx': await sha256('model.onnx'),
    ...override,
  };
  await writeFile(file, JSON.stringify({ [repo]: { revision: hub.commits[REPO], files } }));
  return file;
}

/** `./build.sh model` with `env`: `{ status, stdout, stderr }`. NOTE: not spawnSync: the hub
 * answers from this process's event loop. */
function buildModel(env) {
  return new Promise((resolve) => {
    const child = spawn(path.join(root, 'build.sh'), ['model'], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** `./build.sh model` for `repo` into a fresh models folder; returns its result and folder. */
async function fetchModel({ repo = REPO, endpoint = hub.endpoint, pinsFile, revision } = {}) {
  const models = await mkdtemp(path.join(work, 'models-'));
  const env = { ...process.env, HF_ENDPOINT: endpoint, MODEL_REPO: repo, MODELS_DIR: models, MODEL_PINS: pinsFile ?? path.join(work, 'none.json') };
  if (revision) env.MODEL_REVISION = revision;
  else delete env.MODEL_REVISION;
  return { ...(await buildModel(env)), models };
}

test('a pinned download lands whole, from the pinned commit, with its hashes recorded', async () => {
  const pinsFile = await pins('good', REPO);
  const run = await fetchModel({ pinsFile });
  assert.equal(run.status, 0, run.stderr);
  const dir = run.stdout.trim();
  assert.equal(dir, path.join(run.models, 'tiny-hub'));
  assert.deepEqual((await readdir(run.models)), ['tiny-hub'], 'no partial folder beside it');
  for (const file of ['config.json', 'tokenizer.json', 'model.onnx']) {
    assert.deepEqual(await readFile(path.join(dir, file)), await readFile(path.join(fixture, file)), file);
  }
  const source = JSON.parse(await readFile(path.join(dir, 'source.json'), 'utf8'));
  assert.equal(source.repo, REPO);
  assert.equal(source.commit, hub.commits[REPO], 'the revision the pins name');
  assert.equal(source.pinned, true);
  assert.deepEqual(source.licence, { id: 'apache-2.0', from: 'the repository metadata (cardData.license)' });
  assert.equal(source.files['onnx/model.onnx'].sha256, await sha256('model.onnx'));
  assert.ok(hub.requests.includes(`/${REPO}/resolve/${hub.commits[REPO]}/onnx/model.onnx`), 'files are read at the commit');
  assert.ok(hub.requests.some((p) => p.startsWith('/cdn/')), 'the ONNX file followed the redirect');
  assert.doesNotMatch(run.stderr, /UNPINNED/);

  // A second build reads the folder again, without asking the hub.
  const asked = hub.requests.length;
  const again = await buildModel({ ...process.env, HF_ENDPOINT: hub.endpoint, MODEL_REPO: REPO, MODELS_DIR: run.models, MODEL_PINS: pinsFile });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout.trim(), dir);
  assert.equal(hub.requests.length, asked);
});

test('an unpinned download works, prints the hashes to pin and records that it is unpinned', async () => {
  const run = await fetchModel();
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /UNPINNED/);
  assert.ok(run.stderr.includes(await sha256('model.onnx')), 'the hash to pin is printed');
  const source = JSON.parse(await readFile(path.join(run.stdout.trim(), 'source.json'), 'utf8'));
  assert.equal(source.pinned, false);
  assert.equal(source.revision, 'main');
  assert.equal(source.commit, hub.commits[REPO]);
  assert.match(run.stderr, /each matched the hub's own hash \(config\.json, tokenizer\.json, onnx\/model\.onnx\)/);
});

test("an unpinned file that differs from the hub's own hash stops the build (git blob and LFS sha256)", async () => {
  await failsCleanly(await fetchModel({ repo: TAMPERED }),
    /config\.json at [0-9a-f]{40} is not pinned and does not match the hub's own hash: the hub lists git blob [0-9a-f]{40}, got [0-9a-f]{40}/);
  await failsCleanly(await fetchModel({ repo: TAMPERED_ONNX }),
    /onnx\/model\.onnx at [0-9a-f]{40} is not pinned and does not match the hub's own hash: the hub lists sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
});

test('the default build asks for the pinned revision of the real model and compares each pinned hash', async () => {
  const models = await mkdtemp(path.join(work, 'models-'));
  const env = { ...process.env, HF_ENDPOINT: hub.endpoint, MODELS_DIR: models };
  for (const name of ['MODEL_REPO', 'MODEL_REVISION', 'MODEL_PINS']) delete env[name];
  const run = await buildModel(env);
  assert.ok(hub.requests.includes(`/api/models/${DEFAULT_REPO}/revision/${realPins.revision}`), 'asks for the pinned commit');
  await failsCleanly({ ...run, models }, new RegExp(`config\\.json at ${realPins.revision} has sha256 ${await sha256('config.json')}, but .*tools/model-pins\\.json pins ${realPins.files['config.json']}`));
  // Each later file's pin is compared too: with the earlier ones matching the fixture, the next
  // one stops the build.
  const files = { 'config.json': 'config.json', 'tokenizer.json': 'tokenizer.json', 'onnx/model.onnx': 'model.onnx' };
  const matched = {};
  for (const [remote, local] of Object.entries(files).slice(1)) {
    const previous = Object.keys(files)[Object.keys(files).indexOf(remote) - 1];
    matched[previous] = await sha256(files[previous]);
    const pinsFile = path.join(work, `real-${local}.json`);
    await writeFile(pinsFile, JSON.stringify({ [DEFAULT_REPO]: { ...realPins, files: { ...realPins.files, ...matched } } }));
    const next = await fetchModel({ repo: DEFAULT_REPO, pinsFile });
    await failsCleanly(next, new RegExp(`${remote.replace(/[./]/g, '\\$&')} at ${realPins.revision} has sha256 ${await sha256(local)}, but .* pins ${realPins.files[remote]}`));
  }
});

/** A failed download: a non-zero exit, `message` in stderr, and nothing in the models folder;
 * `offline`: build.sh offers the ways to build without the hub (an unreachable hub). */
async function failsCleanly(run, message, { offline = false } = {}) {
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, message);
  assert.match(run.stderr, offline ? /build\.sh: cannot download/ : /build\.sh: the model download stopped \(the line above\)/);
  assert.deepEqual(await readdir(run.models), [], 'no half-written model folder');
}

test('a wrong sha256 stops the build and leaves no model folder', async () => {
  const pinsFile = await pins('wrong', REPO, { 'onnx/model.onnx': '0'.repeat(64) });
  await failsCleanly(await fetchModel({ pinsFile }), /onnx\/model\.onnx at [0-9a-f]{40} has sha256 [0-9a-f]{64}, but .* pins 0{64}/);
});

test('a repository without an ONNX file stops before any download, with the commands to export one', async () => {
  const asked = hub.requests.length;
  const run = await fetchModel({ repo: NO_ONNX });
  await failsCleanly(run, new RegExp(`tests/no-onnx at [0-9a-f]{12} has no onnx/model\\.onnx \\(it has model\\.safetensors\\)`));
  assert.match(run.stderr, new RegExp(`hf download tests/no-onnx --revision ${hub.commits[NO_ONNX]} --local-dir models/no-onnx-checkpoint config\\.json tokenizer\\.json model\\.safetensors`));
  assert.match(run.stderr, /\.\/build\.sh --checkpoint models\/no-onnx-checkpoint/);
  assert.deepEqual(hub.requests.slice(asked).filter((p) => p.includes('/resolve/')), [], 'nothing downloaded');
});

test('an unknown revision stops the build', async () => {
  await failsCleanly(await fetchModel({ revision: 'f'.repeat(40) }), /revision f{40} of tests\/tiny-hub: not found/);
});

test('an unreachable hub stops the build with what to do instead', async () => {
  // A port that was free a moment ago: nothing answers there.
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address();
      probe.close(() => resolve(p));
    });
  });
  const run = await fetchModel({ endpoint: `http://127.0.0.1:${port}` });
  await failsCleanly(run, /cannot reach http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/, { offline: true });
  assert.match(run.stderr, /--model DIR/);
});
