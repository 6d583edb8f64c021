// A local stand-in for a model hub's HTTP API, serving committed fixture folders as hub
// repositories, so the default (download) build path is tested offline (docs/testing.md).
//
//   node tests/hub-server.mjs [--pins FILE] OWNER/NAME=DIR [...]     # prints its endpoint
//   import { startHub } from './hub-server.mjs'                      # in a test
//
// It answers what tools/hub-fetch.mjs asks a hub, the way huggingface.co does:
// * `GET /api/models/OWNER/NAME/revision/REV` → `{ id, sha }` for `main` or the commit itself
//   (each repository has one commit, a hash of its files), 404 otherwise;
// * `GET /OWNER/NAME/resolve/REV/PATH` → the file; the ONNX file is redirected (302) to a CDN
//   path, as the hub does with its large (LFS) files.
// A repository serves `config.json`, `tokenizer.json` and the folder's `model.onnx` as
// `onnx/model.onnx`. `hide` leaves files out (a repository without its ONNX file). `--pins FILE`
// writes, before the endpoint is printed, the pins file (tools/model-pins.json's form) that names
// each repository's commit and the sha256 of the files served.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

/** Repository path → file in the fixture folder. */
const LAYOUT = { 'config.json': 'config.json', 'tokenizer.json': 'tokenizer.json', 'onnx/model.onnx': 'model.onnx' };

/**
 * Serves `repos` (`{ 'owner/name': { dir, hide?: [paths] } }`) on 127.0.0.1; resolves to
 * `{ endpoint, commits: { repo: sha }, requests: [paths], close() }`.
 */
export async function startHub(repos) {
  const served = {};
  const commits = {};
  const blobs = new Map();
  for (const [repo, { dir, hide = [] }] of Object.entries(repos)) {
    const files = {};
    for (const [remote, local] of Object.entries(LAYOUT)) {
      if (!hide.includes(remote)) files[remote] = readFileSync(path.join(dir, local));
    }
    const commit = createHash('sha1');
    for (const [remote, bytes] of Object.entries(files)) commit.update(remote).update(bytes);
    commits[repo] = commit.digest('hex');
    served[repo] = files;
    for (const bytes of Object.values(files)) blobs.set(createHash('sha256').update(bytes).digest('hex'), bytes);
  }
  const requests = [];
  /** tools/model-pins.json's form for the served repositories. */
  const pins = Object.fromEntries(Object.entries(served).map(([repo, files]) => [repo, {
    revision: commits[repo],
    files: Object.fromEntries(Object.entries(files).map(([remote, bytes]) => [remote, createHash('sha256').update(bytes).digest('hex')])),
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
      return send(200, JSON.stringify({ id: repo, sha: commits[repo] }));
    }
    match = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (match) {
      const [, repo, revision, file] = match;
      const bytes = served[repo]?.[file];
      if (!bytes || (revision !== 'main' && revision !== commits[repo])) {
        return send(404, 'Entry not found', 'text/plain');
      }
      if (file.endsWith('.onnx')) {
        response.writeHead(302, { location: `/cdn/${createHash('sha256').update(bytes).digest('hex')}` });
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
