// The Pagefind UI drop-in on a static site, as a visitor meets it (BENCHMARKS.md, section 8):
// what the page downloads before the first search, and the time from the first keystroke to the
// reranked list with a cold model cache (a first visit) and a warm one (the next visit, same
// browser profile). The example site (tests/examples/pagefind-site, its ui.html page) is served
// from 127.0.0.1 with the package at /pkg/, so the network is not the bottleneck.
//
//   node bench/pagefind_ui.mjs --pkg PKG [--runs 3] [--query de]
//
// Needs PLAYWRIGHT_CORE and NODE_TOOLS (Pagefind) as ./build.sh test sets them.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';
import { buildSite } from '../tests/examples/pagefind-site/build.mjs';

const { values: args } = parseArgs({ options: { pkg: { type: 'string' }, runs: { type: 'string', default: '3' }, query: { type: 'string', default: 'de' } } });
if (!args.pkg) {
  console.error('usage: node bench/pagefind_ui.mjs --pkg PKG [--runs N] [--query Q]');
  process.exit(2);
}

/** Types `query`, returns ms from the keystroke to the reranked list. */
async function keystrokeToReranked(page, query) {
  await page.waitForSelector('.pagefind-ui__search-input');
  await page.evaluate(() => {
    window.__t0 = undefined;
    document.addEventListener('input', () => { window.__t0 ??= performance.now(); }, { capture: true, once: true });
  });
  await page.fill('.pagefind-ui__search-input', query);
  await page.waitForFunction(() => window.__rerank?.state === 'reranked' || window.__rerank?.state === 'failed', null, { timeout: 600_000, polling: 'raf' });
  return page.evaluate(() => (window.__rerank.state === 'reranked' ? performance.now() - window.__t0 : NaN));
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'reranker-bench-pagefind-'));
const server = await serve({ root: dir, pkg: path.resolve(args.pkg) });
try {
  await buildSite(dir);
  const rows = [];
  for (let run = 0; run < Number(args.runs); run++) {
    await withPage({ webgpu: false }, async (page) => {
      const bytes = [];
      let searching = false;
      page.context().on('requestfinished', async (request) => {
        const sizes = await request.sizes().catch(() => null);
        bytes.push({ path: new URL(request.url()).pathname, size: sizes ? sizes.responseBodySize : 0, before: !searching });
      });
      await page.goto(`${server.origin}/ui.html?device=auto`);
      await page.waitForSelector('.pagefind-ui__search-input');
      await page.waitForTimeout(300);
      searching = true;
      const cold = await keystrokeToReranked(page, args.query);
      const before = bytes.filter((b) => b.before);
      const pkgBefore = before.filter((b) => b.path.startsWith('/pkg/'));
      // The next visit: same profile (the model in the browser's store, the code in its cache).
      await page.goto(`${server.origin}/ui.html?device=auto`);
      const warm = await keystrokeToReranked(page, args.query);
      const device = await page.evaluate(async () => (await window.__rerank.ready)?.device?.backend);
      rows.push({ cold, warm, device, before: before.reduce((s, b) => s + b.size, 0), pkgBefore: pkgBefore.reduce((s, b) => s + b.size, 0), pkgFiles: pkgBefore.map((b) => b.path) });
    });
  }
  const range = (key) => `${Math.min(...rows.map((r) => r[key])).toFixed(0)}–${Math.max(...rows.map((r) => r[key])).toFixed(0)}`;
  console.log(`package: ${args.pkg}; query "${args.query}"; ${rows.length} runs; device ${rows[0].device}`);
  console.log(`before the first search: ${rows[0].before} bytes in all (the page, Pagefind's UI), of which the package: ${rows[0].pkgBefore} bytes (${rows[0].pkgFiles.join(', ')})`);
  console.log(`first keystroke to reranked list, cold (first visit): ${range('cold')} ms`);
  console.log(`first keystroke to reranked list, warm (next visit):  ${range('warm')} ms`);
  console.log(JSON.stringify(rows));
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
