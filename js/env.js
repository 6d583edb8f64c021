// web-reranker: where the package runs (a page, a worker, Node), and the few Node modules it
// loads there, never in a browser.

// NOTE: `here`, not `import.meta.url` at the call sites, where bundlers must not treat a URL as
// an asset (model/ is a folder served beside the package, not bundled).
export const here = import.meta.url;

/** Where the page is: relative URLs the caller gives are resolved against it. */
export const page = () => globalThis.location?.href ?? here;

export const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/**
 * A Node module by name. NOTE: the specifier is a variable so that bundlers leave these
 * Node-only imports alone.
 */
export const nodeModule = (name) => import(/* @vite-ignore */ /* webpackIgnore: true */ name);

/** Node's fs for `file:` URLs (fetch() has none there). */
export const readFile = async (url) => (await nodeModule('node:fs/promises')).readFile(url);
