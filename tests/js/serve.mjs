// A tiny static server for the browser tests: `/pkg/*` from the built package, everything else
// from the repository. Cross-origin isolated (COOP/COEP), on 127.0.0.1 only.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.json': 'application/json', '.wasm': 'application/wasm', '.bpk': 'application/octet-stream',
  '.css': 'text/css', '.ts': 'text/plain',
};

export async function serve({ root, pkg }) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    requests.push(url.pathname);
    const base = url.pathname.startsWith('/pkg/') ? pkg : root;
    const rel = url.pathname.startsWith('/pkg/') ? url.pathname.slice(5) : url.pathname.slice(1);
    const file = path.resolve(base, decodeURIComponent(rel));
    if (!file.startsWith(path.resolve(base))) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { origin: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(r)) };
}
