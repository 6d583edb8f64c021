// A small multilingual Starlight docs site (English root, German and French locales) whose
// built-in search (Pagefind's UI) is reranked by web-reranker's drop-in: the Search component is
// Starlight's own plus one call (src/components/Search.astro). Set up as a GitHub Pages project
// site is: under a base path, with links without a trailing slash.
import { defineConfig } from 'astro/config';
import starlight from '@astrojs/starlight';

export default defineConfig({
  // The package's worker uses top-level await: Vite must build workers as ES modules.
  vite: { worker: { format: 'es' } },
  site: 'https://example.org',
  base: '/docs',
  trailingSlash: 'never',
  integrations: [
    starlight({
      title: 'Field notes',
      defaultLocale: 'root',
      locales: {
        root: { label: 'English', lang: 'en' },
        de: { label: 'Deutsch', lang: 'de' },
        fr: { label: 'Français', lang: 'fr' },
      },
      components: { Search: './src/components/Search.astro' },
    }),
  ],
});
