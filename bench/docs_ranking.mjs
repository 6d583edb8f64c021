// The candidates of the sections-vs-pages comparison (BENCHMARKS.md section 8): for each labelled
// query of QUERIES (bench/data/git-docs-queries.json), Pagefind's top 10 on the documentation site
// (bench/docs_site.mjs) in Chromium, and the text the Pagefind adapter scores for each result
// under each choice: the whole page, or the matched section with several lengths of the page's
// opening and of the section's window (the adapter's own `pagefindText`, js/adapters.js).
// bench/docs_ranking.py scores them.
//
//   node bench/docs_ranking.mjs --site SITE --queries QUERIES --out CANDIDATES.json
//
// Needs PLAYWRIGHT_CORE as ./build.sh test sets it.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '../tests/serve.mjs';
import { withPage } from '../tests/js/chromium.mjs';

const { values: args } = parseArgs({ options: { site: { type: 'string' }, queries: { type: 'string' }, out: { type: 'string' } } });
if (!args.site || !args.queries || !args.out) {
  console.error('usage: node bench/docs_ranking.mjs --site SITE --queries QUERIES --out CANDIDATES.json');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
/** The choices compared: the adapter's options for each. */
const CHOICES = {
  page: { passage: 'page' },
  'section (the default: 16 words of the opening, 32 of the section)': { passage: 'section' },
  'section, no opening': { passage: 'section', leadWords: 0 },
  'section, 12 + 24 words': { passage: 'section', leadWords: 12, sectionWords: 24 },
  'section, 24 + 64 words': { passage: 'section', leadWords: 24, sectionWords: 64 },
};
const { queries } = JSON.parse(await readFile(args.queries, 'utf8'));
const server = await serve({ root: path.resolve(args.site), mounts: { '/js/': path.join(root, 'js') } });
try {
  await withPage({}, async (page) => {
    await page.goto(`${server.origin}/pagefind/pagefind-ui.css`);
    const candidates = await page.evaluate(async ({ queries, choices }) => {
      const pagefind = await import('/pagefind/pagefind.js');
      const { pagefindText } = await import('/js/adapters.js');
      const out = [];
      for (const { query, relevant } of queries) {
        const search = await pagefind.search(query);
        const data = await Promise.all(search.results.slice(0, 10).map((r) => r.data()));
        out.push({
          query,
          relevant,
          found: search.results.length,
          results: data.map((d) => ({
            page: d.url.split('/').pop(),
            texts: Object.fromEntries(Object.entries(choices).map(([name, options]) => [name, pagefindText(d, options)])),
          })),
        });
      }
      return out;
    }, { queries, choices: CHOICES });
    await writeFile(args.out, JSON.stringify({ choices: Object.keys(CHOICES), candidates }, null, 1));
    console.log(`${candidates.length} queries, Pagefind's top ${Math.max(...candidates.map((c) => c.results.length))} each: ${args.out}`);
  });
} finally {
  await server.close();
}
