// Writes the example's docs pages from the demo's multilingual passages (www/data/passages.tsv):
// one page a topic in each locale (English at the root, German, French), before `astro build`.
//
//   node build.mjs [PASSAGES_TSV]
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const tsv = process.argv[2] ?? path.resolve(here, '../../../www/data/passages.tsv');
const rows = (await readFile(tsv, 'utf8')).trimEnd().split('\n').slice(1).map((line) => line.split('\t'));
const topics = [...new Set(rows.map(([, topic]) => topic))].slice(0, 8);
const docs = path.join(here, 'src/content/docs');
await rm(docs, { recursive: true, force: true });
const titles = { en: 'About', de: 'Über', fr: 'À propos de' };
let pages = 0;
for (const [lang, folder] of [['en', ''], ['de', 'de'], ['fr', 'fr']]) {
  await mkdir(path.join(docs, folder), { recursive: true });
  const mine = rows.filter(([l, topic]) => l === lang && topics.includes(topic));
  for (const [, topic, text] of mine) {
    const title = `${titles[lang]} ${topic}`;
    await writeFile(path.join(docs, folder, `${topic}.md`), `---\ntitle: ${JSON.stringify(title)}\n---\n\n${text}\n`);
    pages++;
  }
  await writeFile(path.join(docs, folder, 'index.md'), `---\ntitle: ${JSON.stringify(lang === 'en' ? 'Field notes' : lang === 'de' ? 'Notizen' : 'Notes')}\n---\n\n${mine.map(([, topic]) => `- [${topic}](${folder ? `/${folder}` : ''}/${topic}/)`).join('\n')}\n`);
}
console.log(JSON.stringify({ pages }));
