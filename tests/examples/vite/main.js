// A Vite app using the package as the README's quick start does: `npm install` of the package,
// the model folder copied to public/reranker/ (the package has no model; a bundler does not
// bundle one), `baseUrl: '/reranker/'`. Vite emits the .wasm and the worker from the package's
// `new URL(..., import.meta.url)` references.
import { createReranker } from 'web-reranker';
import { smoke } from '../smoke.js';

smoke(createReranker, { device: 'cpu', baseUrl: '/reranker/' });
