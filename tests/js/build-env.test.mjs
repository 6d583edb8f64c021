// The build driver's own helpers (tools/lib.sh), run in bash as build.sh runs them: the PATH
// without Python that the tests' package is built with, and the stage-time table of
// `./build.sh test`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `script` in bash after sourcing tools/lib.sh (with set -euo pipefail, as build.sh). */
function bash(script, env = {}) {
  const r = spawnSync('bash', ['-c', `set -euo pipefail; source "${root}/tools/lib.sh"; ${script}`], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function program(dir, name) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), '#!/bin/sh\necho ' + name + '\n', { mode: 0o755 });
}

test('path_without_python hides Python and still finds a program installed after it was made', (t) => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'reranker-path-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const withPython = path.join(work, 'pyenv-shims');
  const kept = path.join(work, 'cargo-bin');
  program(withPython, 'python3');
  program(withPython, 'python');
  program(withPython, 'pip-tool');
  program(kept, 'cargo-tool');
  const pathBefore = [withPython, kept, '/usr/bin', '/bin'].join(':');
  const made = bash(`PATH="${pathBefore}"; path_without_python "${work}/links"`);
  assert.equal(made.status, 0, made.stderr);
  const newPath = made.stdout.trim();
  const dirs = newPath.split(':');
  assert.ok(dirs.includes(kept), `a folder without Python stays on the PATH as it is: ${newPath}`);
  assert.ok(!dirs.includes(withPython), `a folder with Python is replaced: ${newPath}`);

  // A tool installed after the PATH was made (as the build installs wasm-bindgen-cli into
  // ~/.cargo/bin), into a folder that held no Python.
  program(kept, 'installed-later');
  const look = (name) => bash(`PATH="${newPath}" command -v ${name} || true`).stdout.trim();
  assert.equal(look('installed-later'), path.join(kept, 'installed-later'));
  assert.equal(look('cargo-tool'), path.join(kept, 'cargo-tool'));
  assert.equal(look('python3'), '', 'python3 is hidden');
  assert.equal(look('python'), '', 'python is hidden');
  // The other programs of a folder with Python are still there, through links.
  assert.match(look('pip-tool'), /links/);
  assert.equal(spawnSync(look('pip-tool'), { encoding: 'utf8' }).stdout.trim(), 'pip-tool');
  // Earlier folders win, as on the PATH they came from.
  program(path.join(work, 'first'), 'both');
  program(path.join(work, 'second'), 'both');
  const order = bash(`PATH="${work}/first:${withPython}:${work}/second:/usr/bin:/bin"; P="$(path_without_python "${work}/links2")"; PATH="$P" both`);
  assert.equal(order.stdout.trim(), 'both');
  assert.equal(bash(`PATH="${work}/first:${work}/second:/usr/bin:/bin"; PATH="$(path_without_python "${work}/l3")" command -v both`).stdout.trim(),
    path.join(work, 'first', 'both'));
});

test('stage logs each stage\'s seconds, stops on a failing step inside it, and the table names it', (t) => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'reranker-stage-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const log = path.join(work, 'stages');
  // A stage whose function fails half-way: set -e must stop there, not run its next step.
  const r = bash(`
    trap 'stage_table $SECONDS' EXIT
    steps() { echo one; false; echo two-must-not-run; }
    stage "first stage" true
    stage "second stage" steps
    echo after-must-not-run`, { RERANKER_STAGE_LOG: log });
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stdout, /must-not-run/);
  assert.equal(readFileSync(log, 'utf8'), 'first stage\t0\n');
  assert.match(r.stdout, /==> stage times\n {2}first stage +0:00\n {2}second stage +FAILED\n {2}total +0:00\n/);
  // Where the caller turned set -e off, the stage returns the failure instead of logging it.
  const off = bash(`stage "guarded" false || echo "returned $?"`, { RERANKER_STAGE_LOG: log });
  assert.equal(off.stdout.trim(), 'returned 1');
  assert.equal(readFileSync(log, 'utf8'), 'first stage\t0\n');
});
