// A Vite app using the package as an npm dependency. The model files are served from public/model/
// (copied there from the package: bundlers do not bundle a model), the .wasm and the worker are
// emitted by Vite from the package's `new URL(..., import.meta.url)` references.
import { createReranker } from 'web-reranker';
import { smoke } from '../smoke.js';

smoke(createReranker, { device: 'cpu', baseUrl: '/model/' });
