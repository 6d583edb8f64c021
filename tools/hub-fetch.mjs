// Downloads a model's source files from a model hub (the default `./build.sh`, online), checked
// against the pins in tools/model-pins.json:
//
//   node tools/hub-fetch.mjs --endpoint URL --repo OWNER/NAME [--revision REV] --pins FILE --out DIR
//
// * the revision is REV, else the commit the pins file names for the repository, else `main`;
// * a folder `DIR` already downloaded for this repository and revision (its `source.json` says
//   so) is kept as it is, without asking the hub;
// * the revision is resolved to its commit through the hub's API
//   (`GET {endpoint}/api/models/{repo}/revision/{revision}` → `{ sha }`), and every file is fetched
//   at that commit (`{endpoint}/{repo}/resolve/{commit}/{file}`), so one build reads one snapshot;
// * the revision's file list comes with the hub's own hash of each file (`?blobs=true`: the LFS
//   sha256 of a large file, the git blob id of a small one); a file the list lacks stops the build
//   before any download (a repository without `onnx/model.onnx` gets the commands that export one
//   from its checkpoint);
// * each file's sha256 is compared with its pin; a file without a pin is checked against the hub's
//   own hash instead, reported (with the line to add to the pins file), and the folder says it is
//   unpinned;
// * the licence is read from the repository's metadata (`cardData.license`, else a `license:` tag)
//   and recorded with where it came from;
// * the files land in `DIR` only when all of them arrived and matched: they are written to a
//   sibling `DIR.part-<pid>` first, which is removed on any failure, so no half-written model
//   folder is ever left. `DIR/source.json` records the endpoint, repo, revision, commit, licence
//   and each file's size and sha256; tools/package-manifests.mjs copies it into model.json.
//
// Exits with one line saying what failed: 1 where the hub could not be reached, 3 where it answered
// and something was wrong (an unknown revision, a missing file, a hash that does not match).
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

/** What the build needs from the hub repository, and where it goes in the model folder. */
const FILES = [
  { remote: 'config.json', local: 'config.json' },
  { remote: 'tokenizer.json', local: 'tokenizer.json' },
  { remote: 'onnx/model.onnx', local: 'model.onnx' },
];
const API_TIMEOUT_MS = 20_000;

const { values: args } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    repo: { type: 'string' },
    revision: { type: 'string' },
    pins: { type: 'string' },
    out: { type: 'string' },
  },
});
for (const name of ['endpoint', 'repo', 'pins', 'out']) {
  if (!args[name]) {
    console.error(`hub-fetch: --${name} is required`);
    process.exit(2);
  }
}

/** A reason to stop, reported in one line once the partial folder is gone. */
class Stop extends Error {}
/** Exit statuses: the hub could not be reached (build.sh then offers the offline ways), or it
 * answered and something was wrong (the line says what). */
const UNREACHABLE = 1;
const REFUSED = 3;
function fail(message, status = REFUSED) {
  throw Object.assign(new Stop(message), { status });
}

const endpoint = args.endpoint.replace(/\/+$/, '');
const pins = JSON.parse(await readFile(args.pins, 'utf8'))[args.repo] ?? { files: {} };
const out = path.resolve(args.out);
const revision = args.revision ?? pins.revision ?? 'main';
const part = `${out}.part-${process.pid}`;

async function get(url, what, timeout) {
  let response;
  try {
    response = await fetch(url, { redirect: 'follow', signal: timeout ? AbortSignal.timeout(timeout) : undefined });
  } catch (error) {
    fail(`cannot reach ${endpoint} for ${what}: ${error.cause?.code ?? error.cause?.message ?? error.message} (offline, or a wrong HF_ENDPOINT?)`, UNREACHABLE);
  }
  if (!response.ok) {
    const why = response.status === 404 ? 'not found' : `HTTP ${response.status}`;
    fail(`${what}: ${why} (${url})`);
  }
  return response;
}

/** The hub's own hash of each file at the revision, from the API's file list (`siblings`):
 * `{ path: { size, sha256 } }` for LFS files, `{ path: { size, gitBlob } }` for the rest. */
function hubHashes(info) {
  return Object.fromEntries((info.siblings ?? []).map((s) => [s.rfilename, s.lfs?.sha256
    ? { size: s.lfs.size ?? s.size, sha256: s.lfs.sha256 }
    : { size: s.size, gitBlob: s.blobId }]));
}

/** The repository's licence as its metadata states it, and which field said so. */
function licenceOf(info) {
  const card = info.cardData?.license;
  if (typeof card === 'string') return { id: card, from: 'the repository metadata (cardData.license)' };
  const tag = (info.tags ?? []).find((t) => t.startsWith('license:'));
  return tag ? { id: tag.slice('license:'.length), from: 'the repository tags (license:)' } : null;
}

/** One line, and the two commands, for a repository whose revision has no ONNX file. */
function noOnnx(commit, present) {
  const name = args.repo.split('/')[1];
  const weights = ['model.safetensors', 'pytorch_model.bin'].find((f) => present.includes(f)) ?? 'model.safetensors';
  return `${args.repo} at ${commit.slice(0, 12)} has no onnx/model.onnx (it has ${weights}). `
    + 'Export one from its checkpoint (Python: pip install -r tools/requirements-export.txt):\n'
    + `    hf download ${args.repo} --revision ${commit} --local-dir models/${name}-checkpoint config.json tokenizer.json ${weights}\n`
    + `    ./build.sh --checkpoint models/${name}-checkpoint`;
}

/** Downloads `file` at `commit`; `listed`: the hub's own hash of it (`hubHashes`), if any. */
async function download(file, commit, listed) {
  const url = `${endpoint}/${args.repo}/resolve/${commit}/${file.remote}`;
  const response = await get(url, `${args.repo}@${commit.slice(0, 12)}/${file.remote}`);
  const total = Number(response.headers.get('content-length')) || 0;
  const hash = createHash('sha256');
  // git's blob id, where the hub lists only that: sha1 of "blob <size>\0" and the bytes.
  const blob = listed?.gitBlob ? createHash('sha1').update(`blob ${listed.size}\0`) : null;
  let size = 0;
  let shown = 0;
  const count = new Transform({
    transform(chunk, _encoding, done) {
      hash.update(chunk);
      blob?.update(chunk);
      size += chunk.length;
      if (total > 64 << 20 && size - shown >= 32 << 20) {
        shown = size;
        console.error(`   ${file.remote}: ${(size / 1e6).toFixed(0)} of ${(total / 1e6).toFixed(0)} MB`);
      }
      done(null, chunk);
    },
  });
  const target = path.join(part, file.local);
  try {
    await pipeline(Readable.fromWeb(response.body), count, createWriteStream(target));
  } catch (error) {
    fail(`${file.remote}: the download broke off after ${size} bytes: ${error.message}`);
  }
  if (total && size !== total) fail(`${file.remote}: got ${size} bytes of ${total}`);
  return { size, sha256: hash.digest('hex'), ...(blob ? { gitBlob: blob.digest('hex') } : {}) };
}

/** Why `got` is not the file the hub lists (its sha256 or git blob id, and its size); null when
 * it is. */
function unlike(listed, got) {
  if (!listed) return 'the hub listed no hash for it';
  if (listed.size !== undefined && listed.size !== got.size) return `the hub lists ${listed.size} bytes, got ${got.size}`;
  if (listed.sha256 && listed.sha256 !== got.sha256) return `the hub lists sha256 ${listed.sha256}, got ${got.sha256}`;
  if (listed.gitBlob && listed.gitBlob !== got.gitBlob) return `the hub lists git blob ${listed.gitBlob}, got ${got.gitBlob}`;
  return null;
}

/** Whether `out` holds this repository at this revision already (named or resolved). */
async function downloaded() {
  const source = await readFile(path.join(out, 'source.json'), 'utf8').then(JSON.parse, () => null);
  if (source?.repo !== args.repo || (source.revision !== revision && source.commit !== revision)) return false;
  const present = await Promise.all(FILES.map((f) => access(path.join(out, f.local)).then(() => true, () => false)));
  return present.every(Boolean);
}

try {
  if (await downloaded()) process.exit(0);
  console.error(`==> downloading ${args.repo}@${revision} from ${endpoint} into ${out}`);
  const api = `${endpoint}/api/models/${args.repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const info = await (await get(api, `revision ${revision} of ${args.repo}`, API_TIMEOUT_MS)).json();
  const commit = info.sha;
  if (!/^[0-9a-f]{40}$/.test(commit ?? '')) fail(`${api} named no commit (sha): ${JSON.stringify(info).slice(0, 200)}`);
  if (pins.revision && pins.revision !== commit) {
    console.error(`hub-fetch: note: ${revision} is ${commit}, not the pinned ${pins.revision}`);
  }
  const hub = hubHashes(info);
  if (info.siblings) {
    const present = info.siblings.map((s) => s.rfilename);
    if (!present.includes('onnx/model.onnx')) fail(noOnnx(commit, present));
    const missing = FILES.map((f) => f.remote).filter((f) => !present.includes(f));
    if (missing.length) fail(`${args.repo} at ${commit.slice(0, 12)} has no ${missing.join(', ')}`);
  }
  await rm(part, { recursive: true, force: true });
  await mkdir(part, { recursive: true });
  const files = {};
  const unpinned = [];
  for (const file of FILES) {
    console.error(`   downloading ${file.remote}`);
    files[file.remote] = await download(file, commit, hub[file.remote]);
    const pin = pins.files?.[file.remote];
    if (pin && pin !== files[file.remote].sha256) {
      fail(`${file.remote} at ${commit} has sha256 ${files[file.remote].sha256}, but ${args.pins} pins ${pin}: the hub's file changed, or the download is not what was built before. Nothing was written to ${out}.`);
    }
    if (!pin) {
      const wrong = unlike(hub[file.remote], files[file.remote]);
      if (wrong) fail(`${file.remote} at ${commit} is not pinned and does not match the hub's own hash: ${wrong}. Nothing was written to ${out}.`);
      unpinned.push(file.remote);
    }
    delete files[file.remote].gitBlob;
  }
  const pinned = unpinned.length === 0 && pins.revision === commit;
  if (!pinned) {
    console.error(`hub-fetch: UNPINNED: ${args.repo} is not pinned in ${args.pins}; what was downloaded:`);
    console.error(JSON.stringify({ [args.repo]: { revision: commit, files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.sha256])) } }, null, 2));
    console.error(`hub-fetch: each matched the hub's own hash (${unpinned.join(', ')}); record them there to pin the build.`);
  }
  const licence = licenceOf(info);
  await writeFile(path.join(part, 'source.json'), `${JSON.stringify({
    endpoint, repo: args.repo, revision: revision, commit, pinned, licence, files,
  }, null, 2)}\n`);
  await rm(out, { recursive: true, force: true });
  await rename(part, out);
} catch (error) {
  await rm(part, { recursive: true, force: true });
  console.error(`hub-fetch: ${error instanceof Stop ? error.message : error.stack}`);
  process.exit(error instanceof Stop ? error.status : UNREACHABLE);
}
