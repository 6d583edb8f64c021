// A documentation site of long, real pages for the Pagefind benchmarks: Git's own manual (the
// HTML pages Git's build makes with AsciiDoc, as Debian's `git-doc` package ships them; `bench/run`
// fetches it), plus a search page with Pagefind's UI and the drop-in, indexed by Pagefind's Node
// API as a site's build would. Git's pages are man pages: one long page per command, a heading
// with an id per section (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, ...), so Pagefind returns the
// matched section of each result (`sub_results`) as it does for any docs site.
//
//   node bench/docs_site.mjs HTML_DIR OUT [NODE_TOOLS]
//   node bench/docs_site.mjs --sample HTML_DIR     (a few generated long pages: smoke runs)
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { indexSite } from '../tests/examples/pagefind-site/build.mjs';

/** The search page: Pagefind's Default UI and the drop-in; options from the page's query. */
const SEARCH_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>Git documentation: search</title>
<link href="pagefind/pagefind-ui.css" rel="stylesheet">
<script src="pagefind/pagefind-ui.js"></script>
</head>
<body>
<main data-pagefind-ignore>
<h1>Search the Git documentation</h1>
<div id="search"></div>
</main>
<script type="module">
  import { rerankPagefindUI } from '/pkg/pagefind-ui.js';
  const params = new URLSearchParams(location.search);
  new PagefindUI({ element: '#search', showImages: false, pageSize: Number(params.get('pageSize') ?? 5) });
  try {
    window.__rerank = rerankPagefindUI({
      reranker: { device: params.get('device') ?? 'auto' },
      load: params.get('load') ?? 'search',
      topK: Number(params.get('topK') ?? 10),
      ...(params.has('passage') && { passage: params.get('passage') }),
    });
  } catch (error) {
    window.__rerankError = String(error);
  }
</script>
</body>
</html>
`;

/** Builds the site into `out` from the HTML pages in `htmlDir`; returns the counts. */
export async function buildDocsSite(htmlDir, out, tools = process.env.NODE_TOOLS) {
  const pages = (await readdir(htmlDir)).filter((name) => name.endsWith('.html'));
  if (pages.length === 0) throw new Error(`${htmlDir}: no .html pages`);
  await mkdir(path.join(out, 'docs'), { recursive: true });
  for (const name of pages) await copyFile(path.join(htmlDir, name), path.join(out, 'docs', name));
  await writeFile(path.join(out, 'search.html'), SEARCH_PAGE);
  return { pages: pages.length, indexed: await indexSite(out, tools) };
}

/**
 * A few long generated pages in the manual's shape, for smoke runs (bench/run --smoke) where
 * Git's manual is not fetched: one per labelled query of the first `count`, named as its page,
 * with the query's words in the middle of one of four sections.
 */
export async function writeSamplePages(dir, count = 4) {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const { queries } = JSON.parse(await readFile(path.join(here, 'data/git-docs-queries.json'), 'utf8'));
  const filler = (n, seed) => Array.from({ length: n }, (_, i) => `word${(i * 7 + seed) % 97}`).join(' ');
  await mkdir(dir, { recursive: true });
  for (const [i, { query, relevant }] of queries.slice(0, count).entries()) {
    const sections = ['Synopsis', 'Description', 'Options', 'Examples'].map((heading, s) => `<h2 id="_${heading.toLowerCase()}">${heading}</h2>`
      + `<p>${s === 2 ? `${filler(80, i)} ${query} ${filler(80, i + s)}` : filler(120, i + s)}</p>`).join('\n');
    await writeFile(path.join(dir, relevant[0]), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${relevant[0]}</title></head>
<body><h1>${relevant[0]}</h1><p>${filler(30, i)}</p>\n${sections}</body></html>\n`);
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === path.resolve(process.argv[1])) {
  if (process.argv[2] === '--sample') {
    await writeSamplePages(path.resolve(process.argv[3]));
    process.exit(0);
  }
  const [htmlDir, out, tools] = process.argv.slice(2);
  if (!htmlDir || !out) throw new Error('usage: node bench/docs_site.mjs HTML_DIR OUT [NODE_TOOLS]');
  console.log(await buildDocsSite(path.resolve(htmlDir), path.resolve(out), tools ?? process.env.NODE_TOOLS));
}
