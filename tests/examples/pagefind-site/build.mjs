// Builds the example static site into OUT: a few dozen multilingual pages (8 topics × 6
// languages of the demo's corpus, one passage a page), a search page, and a Pagefind index made
// at build time with Pagefind's Node API (npm `pagefind`). The search page reranks Pagefind's
// results in the browser with rerankPagefind (tests/js/site.test.mjs drives it).
//
//   node tests/examples/pagefind-site/build.mjs OUT [NODE_TOOLS]
import { mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../../..');

const escape = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Indexes every page under `out` with Pagefind's Node API (npm `pagefind` in `tools`) into
 * `out/pagefind/`, as a site's build does; returns how many pages it indexed.
 */
export async function indexSite(out, tools = process.env.NODE_TOOLS) {
  // NOTE: pagefind's exports have only an `import` condition, which require.resolve cannot use.
  const pagefind = await import(pathToFileURL(path.join(tools, 'node_modules/pagefind/lib/index.js')).href);
  const { index } = await pagefind.createIndex({});
  const { errors, page_count: indexed } = await index.addDirectory({ path: out });
  if (errors.length) throw new Error(`pagefind: ${errors.join('; ')}`);
  await index.writeFiles({ outputPath: path.join(out, 'pagefind') });
  await pagefind.close();
  return indexed;
}

export async function buildSite(out, tools = process.env.NODE_TOOLS) {
  const rows = (await readFile(path.join(root, 'www/data/passages.tsv'), 'utf8')).trimEnd().split('\n').slice(1)
    .map((line) => line.split('\t'));
  const topics = [...new Set(rows.map(([, topic]) => topic))].slice(0, 8);
  const langs = ['en', 'de', 'fr', 'es', 'ru', 'zh'];
  const pages = rows.filter(([lang, topic]) => topics.includes(topic) && langs.includes(lang));
  for (const [lang, topic, text] of pages) {
    const dir = path.join(out, topic, lang);
    await mkdir(dir, { recursive: true });
    // NOTE: no lang attribute: Pagefind would split the index by language and a page would then
    // search its own language only; one index lets a query find candidates in every language.
    await writeFile(path.join(dir, 'index.html'), `<!doctype html>
<html><head><meta charset="utf-8"><title>${escape(`${topic} (${lang})`)}</title></head>
<body><main data-pagefind-body><h1>${escape(`${topic} (${lang})`)}</h1><p>${escape(text)}</p></main></body></html>
`);
  }
  for (const file of ['search.html', 'search.js', 'ui.html', 'ghp.html']) await copyFile(path.join(here, file), path.join(out, file));
  const count = await indexSite(out, tools);
  // ghp.html loads Pagefind's UI from a file of its own, as a site whose build bundles it does
  // (Starlight): the drop-in cannot find the bundle from that script's name.
  await copyFile(path.join(out, 'pagefind/pagefind-ui.js'), path.join(out, 'search-ui.js'));
  return { pages: pages.length, indexed: count };
}

if (process.argv[1] && new URL(import.meta.url).pathname === path.resolve(process.argv[1])) {
  const out = path.resolve(process.argv[2] ?? 'site');
  console.log(await buildSite(out, process.argv[3] ?? process.env.NODE_TOOLS));
}
