// Nothing rots unseen: every repository path the docs and module headers name exists, every
// Python script compiles and its imports resolve, every shell script parses.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .trim().split('\n').filter((f) => existsSync(path.join(root, f)));
const topLevel = new Set(tracked.map((f) => f.split('/')[0]));

/**
 * The repository paths written in backticks in `text`: a token whose first segment is one of the
 * repository's top-level entries (`src/…`, `build.sh`, `tools/…`), without placeholders
 * (`*`, `<…>`, `{…}`, `…`, `$VAR`). A trailing `:line` or `#anchor` is dropped.
 */
export function backtickedPaths(text) {
  const paths = [];
  for (const [, inner] of text.matchAll(/`([^`\n]+)`/g)) {
    const token = inner.trim().split(/\s+/)[0].replace(/[:#].*$/, '').replace(/[),.;]+$/, '').replace(/^\.\//, '');
    if (!token || /[*<>{}…$~]|\.\.\./.test(token)) continue;
    if (!topLevel.has(token.split('/')[0])) continue;
    if (!token.includes('/') && !/\.[a-z]+$/.test(token)) continue; // a bare word such as `build`
    paths.push(token);
  }
  return paths;
}

/** The lines of a source file that document it: `//!` in Rust, the leading comment elsewhere. */
function header(file, text) {
  const lines = text.split('\n');
  if (file.endsWith('.rs')) return lines.filter((l) => /^\s*\/\/!/.test(l)).join('\n');
  const out = [];
  for (const line of lines) {
    if (/^\s*(#|\/\/|\/\*|\*)/.test(line) || (out.length === 0 && line.trim() === '')) out.push(line);
    else break;
  }
  return out.join('\n');
}

test('every repository path in backticks in README, docs/, BENCHMARKS and module headers exists', () => {
  const docs = tracked.filter((f) => /^(README\.md|BENCHMARKS\.md|docs\/.+\.md)$/.test(f));
  const sources = tracked.filter((f) => /\.(rs|mjs|js|sh|py)$/.test(f) || ['bench/run', '.ci/run'].includes(f))
    .filter((f) => !f.startsWith('tests/fixtures/') && !f.startsWith('www/vendor/'));
  const missing = [];
  let checked = 0;
  for (const file of [...docs, ...sources]) {
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const p of backtickedPaths(docs.includes(file) ? text : header(file, text))) {
      checked += 1;
      if (!existsSync(path.join(root, p))) missing.push(`${file}: \`${p}\``);
    }
  }
  console.log(`${checked} paths checked in ${docs.length} docs and ${sources.length} source headers`);
  assert.ok(checked > 100, `only ${checked} paths found: the scan is broken`);
  assert.deepEqual(missing, [], `paths that do not exist:\n${missing.join('\n')}`);
});

test('the path scan finds a broken path (the check can fail)', () => {
  assert.deepEqual(backtickedPaths('see `tools/no-such-file.mjs:12` and `src/lib.rs`, not `~/.cache/x` or `pkg/*.wasm`'),
    ['tools/no-such-file.mjs', 'src/lib.rs']);
});

test('every Python script under tools/ and bench/ compiles and its imports resolve', () => {
  const scripts = tracked.filter((f) => /^(tools|bench)\/.*\.py$/.test(f));
  assert.ok(scripts.length >= 10, `${scripts.length} scripts`);
  const r = spawnSync('python3', ['tools/check_scripts.py', ...scripts], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // …and the check fails on an import that resolves nowhere.
  const bad = spawnSync('python3', ['tools/check_scripts.py', 'tests/data/unresolved_import.py'], { cwd: root, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /import bench_batches: not the standard library/);
});

test('every shell script parses', () => {
  const scripts = tracked.filter((f) => /\.sh$/.test(f) || ['bench/run', '.ci/run'].includes(f));
  assert.ok(scripts.length >= 5);
  for (const s of scripts) {
    const r = spawnSync('bash', ['-n', s], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `${s}: ${r.stderr}`);
  }
});
