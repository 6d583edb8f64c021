// A tiny static server for the demo and the browser tests: everything from `root`, and `/pkg/*`
// from a built package when `pkg` is given (more folders with `mounts`: { '/prefix/': dir }).
// Cross-origin isolated (COOP/COEP), on 127.0.0.1 only. Nothing is cached (`no-store`) unless
// `revalidate` is set: then every file has an ETag and `no-cache`, as static hosts serve them
// (Netlify, Cloudflare Pages), so the browser keeps it and asks again with If-None-Match (304).
// `throttle: { '/prefix/': bytesPerSecond }` sends those files slowly, 16 KiB at a time.
// `precompressed`: where `FILE.br` exists and the request accepts brotli, that file is sent with
// `Content-Encoding: br`, as hosts serving pre-compressed files do (docs/hosting.md).
// `fileCap: { '/prefix/': bytes }` refuses (413) any larger file there, as hosts with a per-file
// cap do (Cloudflare Pages: 25 MiB); `isolated: false` leaves COOP/COEP out, as GitHub Pages does; `fail(pathname)` may
// answer a request with an error status of its own (a flaky network, for resumed loads).
// `headersFile`: a `_headers` file applied as Cloudflare Pages applies it (`headersRules`).
//
//   node tests/serve.mjs ROOT [PORT]      (./build.sh serve runs it on www/)
import http from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.json': 'application/json', '.wasm': 'application/wasm', '.bpk': 'application/octet-stream',
  '.css': 'text/css', '.ts': 'text/plain', '.tsv': 'text/tab-separated-values; charset=utf-8',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8',
};

/**
 * A `_headers` file as Cloudflare Pages reads it: blocks of a path pattern (`*` matches any
 * characters, `:name` one segment) and indented `Name: value` lines; every rule that matches a
 * path applies, in order, a header set twice is joined with a comma, and `! Name` removes what an
 * earlier rule set. Returns `path => headers`.
 */
export function headersRules(text) {
  const rules = [];
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    if (!/^\s/.test(line)) {
      const pattern = line.trim().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/:\w+/g, '[^/]+');
      rules.push({ match: new RegExp(`^${pattern}$`), lines: [] });
    } else if (rules.length > 0) {
      rules.at(-1).lines.push(line.trim());
    }
  }
  return (pathname) => {
    const out = {};
    for (const { match, lines } of rules.filter((r) => r.match.test(pathname))) {
      for (const line of lines) {
        const detach = /^!\s*(\S+)$/.exec(line);
        if (detach) {
          delete out[detach[1].toLowerCase()];
          continue;
        }
        const [, name, value] = /^([^:]+):\s*(.*)$/.exec(line) ?? [];
        if (!name) continue;
        const key = name.trim().toLowerCase();
        out[key] = key in out ? `${out[key]}, ${value}` : value;
      }
    }
    return out;
  };
}

export async function serve({ root, pkg, mounts = {}, port = 0, headers = {}, revalidate = false, throttle = {}, precompressed = false,
  fileCap = {}, isolated = true, fail = () => undefined, headersFile }) {
  // NOTE: read once, as a host reads it at deploy time.
  const fileHeaders = headersFile === undefined ? () => ({}) : headersRules(await readFile(headersFile, 'utf8'));
  const requests = [];
  const folders = Object.entries({ ...mounts, ...(pkg === undefined ? {} : { '/pkg/': pkg }) });
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    requests.push(url.pathname);
    const [prefix, base] = folders.find(([p]) => url.pathname.startsWith(p)) ?? ['/', root];
    let rel = url.pathname.slice(prefix.length);
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(base, decodeURIComponent(rel));
    if (file !== path.resolve(base) && !file.startsWith(path.resolve(base) + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    const failure = fail(url.pathname);
    if (failure !== undefined) {
      res.writeHead(failure).end();
      return;
    }
    try {
      const { size, mtimeMs } = await stat(file);
      const cap = Object.entries(fileCap).find(([p]) => url.pathname.startsWith(p))?.[1];
      if (cap !== undefined && size > cap) {
        res.writeHead(413).end();
        return;
      }
      const etag = `"${size.toString(16)}-${Math.trunc(mtimeMs).toString(16)}"`;
      const common = {
        ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}),
        ...(revalidate ? { 'cache-control': 'no-cache', etag } : { 'cache-control': 'no-store' }),
        ...headers,
        ...fileHeaders(url.pathname),
      };
      if (revalidate && req.headers['if-none-match'] === etag) {
        res.writeHead(304, common).end();
        return;
      }
      const brotli = precompressed && /\bbr\b/.test(req.headers['accept-encoding'] ?? '')
        && await stat(`${file}.br`).then(() => true, () => false);
      const body = await readFile(brotli ? `${file}.br` : file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-length': body.length, ...(brotli ? { 'content-encoding': 'br', vary: 'accept-encoding' } : {}), ...common });
      const rate = Object.entries(throttle).find(([p]) => url.pathname.startsWith(p))?.[1];
      if (rate === undefined) {
        res.end(body);
        return;
      }
      const step = 16384;
      for (let at = 0; at < body.length && !res.destroyed; at += step) {
        res.write(body.subarray(at, at + step));
        await new Promise((resolve) => setTimeout(resolve, (1000 * step) / rate));
      }
      res.end();
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = server.address().port;
  return { origin: `http://127.0.0.1:${bound}`, requests, close: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] && new URL(import.meta.url).pathname === path.resolve(process.argv[1])) {
  const root = path.resolve(process.argv[2] ?? '.');
  const { origin } = await serve({ root, port: Number(process.argv[3] ?? 8080) });
  console.log(`serving ${root} on ${origin}/ (Ctrl-C stops)`);
}
