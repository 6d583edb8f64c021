// A local stand-in for a model hub's HTTP API, serving committed fixture folders as hub
// repositories, so the default (download) build path is tested offline (docs/testing.md).
//
//   node tests/hub-server.mjs [--pins FILE] OWNER/NAME=DIR [...]     # prints its endpoint
//   import { startHub } from './hub-server.mjs'                      # in a test
//
// It answers what tools/hub-fetch.mjs asks a hub, the way huggingface.co does:
// * `GET /api/models/OWNER/NAME/revision/REV` → `{ id, sha, cardData, tags, siblings }` for `main`
//   or the commit itself (each repository has one commit, a hash of its files, unless `commit`
//   names one), 404 otherwise; with `?blobs=true` each sibling has the hub's own hash of its file:
//   `lfs: { sha256, size }` for the ONNX file (an LFS file on the hub), `blobId` (git's blob
//   sha1) for the rest;
// * `GET /OWNER/NAME/resolve/REV/PATH` → the file; the ONNX file is redirected (302) to a CDN
//   path, as the hub does with its large (LFS) files.
// A repository serves `config.json`, `tokenizer.json` and the folder's `model.onnx` as
// `onnx/model.onnx`, and lists `model.safetensors`. `hide` leaves files out (a repository without
// its ONNX file); `license` is its metadata's licence; `tamper` names files served with one byte
// changed while the listing keeps the true hash (a corrupted download). `--pins FILE`
// writes, before the endpoint is printed, the pins file (tools/model-pins.json's form) that names
// each repository's commit and the sha256 of the files served.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

/** Repository path → file in the fixture folder. */
const LAYOUT = { 'config.json': 'config.json', 'tokenizer.json': 'tokenizer.json', 'onnx/model.onnx': 'model.onnx' };

/** git's blob id of `bytes`: what the hub lists for a file kept in git rather than LFS. */
const gitBlob = (bytes) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * Serves `repos` (`{ 'owner/name': { dir, hide?: [paths], commit?, license?, tamper?: [paths] } }`)
 * on 127.0.0.1; resolves to
 * `{ endpoint, commits: { repo: sha }, requests: [paths], close() }`.
 */
export async function startHub(repos) {
  const served = {};
  const commits = {};
  const blobs = new Map();
  const listings = {};
  const metadata = {};
  for (const [repo, { dir, hide = [], commit: named, license = 'mit', tamper = [] }] of Object.entries(repos)) {
    const files = {};
    for (const [remote, local] of Object.entries(LAYOUT)) {
      if (!hide.includes(remote)) files[remote] = readFileSync(path.join(dir, local));
    }
    const commit = createHash('sha1');
    for (const [remote, bytes] of Object.entries(files)) commit.update(remote).update(bytes);
    commits[repo] = named ?? commit.digest('hex');
    listings[repo] = [
      ...Object.entries(files).map(([remote, bytes]) => (remote.endsWith('.onnx')
        ? { rfilename: remote, size: bytes.length, blobId: gitBlob(Buffer.from(`oid sha256:${sha256(bytes)}`)), lfs: { sha256: sha256(bytes), size: bytes.length, pointerSize: 134 } }
        : { rfilename: remote, size: bytes.length, blobId: gitBlob(bytes) })),
      { rfilename: 'model.safetensors', size: 0, blobId: gitBlob(Buffer.alloc(0)) },
    ];
    metadata[repo] = { cardData: { license }, tags: [`license:${license}`] };
    served[repo] = Object.fromEntries(Object.entries(files).map(([remote, bytes]) => {
      if (!tamper.includes(remote)) return [remote, bytes];
      const changed = Buffer.from(bytes);
      changed[changed.length - 1] ^= 1;
      return [remote, changed];
    }));
    for (const bytes of Object.values(served[repo])) blobs.set(sha256(bytes), bytes);
  }
  const requests = [];
  /** tools/model-pins.json's form for the served repositories. */
  const pins = Object.fromEntries(Object.entries(served).map(([repo, files]) => [repo, {
    revision: commits[repo],
    files: Object.fromEntries(Object.entries(files).map(([remote, bytes]) => [remote, sha256(bytes)])),
  }]));
  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://hub');
    requests.push(url.pathname);
    const send = (status, body, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      response.end(body);
    };
    let match = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/);
    if (match) {
      const [, repo, revision] = match;
      if (!served[repo]) return send(404, JSON.stringify({ error: 'Repository not found' }));
      if (revision !== 'main' && revision !== commits[repo]) {
        return send(404, JSON.stringify({ error: `Invalid rev id: ${revision}` }));
      }
      const siblings = url.searchParams.get('blobs') === 'true'
        ? listings[repo]
        : listings[repo].map(({ rfilename }) => ({ rfilename }));
      return send(200, JSON.stringify({ id: repo, sha: commits[repo], ...metadata[repo], siblings }));
    }
    match = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (match) {
      const [, repo, revision, file] = match;
      const bytes = served[repo]?.[file];
      if (!bytes || (revision !== 'main' && revision !== commits[repo])) {
        return send(404, 'Entry not found', 'text/plain');
      }
      if (file.endsWith('.onnx')) {
        response.writeHead(302, { location: `/cdn/${sha256(bytes)}` });
        return response.end();
      }
      return send(200, bytes, 'application/octet-stream');
    }
    match = url.pathname.match(/^\/cdn\/([0-9a-f]{64})$/);
    if (match && blobs.has(match[1])) return send(200, blobs.get(match[1]), 'application/octet-stream');
    return send(404, 'Not found', 'text/plain');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    commits,
    pins,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ options: { pins: { type: 'string' } }, allowPositionals: true });
  const repos = {};
  for (const arg of positionals) {
    const [repo, dir] = arg.split('=');
    if (!repo || !dir) {
      console.error('usage: node tests/hub-server.mjs [--pins FILE] OWNER/NAME=DIR [...]');
      process.exit(2);
    }
    repos[repo] = { dir };
  }
  const hub = await startHub(repos);
  if (values.pins) writeFileSync(values.pins, JSON.stringify(hub.pins, null, 2));
  console.log(hub.endpoint);
}
