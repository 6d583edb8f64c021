// web-reranker: one thread of the threaded module's pool. The loader (modules.js) starts it as a Web
// Worker, or a Node worker thread, and sends it the compiled module and the shared memory; it
// instantiates the module on them, says so, then runs one of the pool's threads for good.
import { initSync, runPoolThread } from './web_reranker_threads.js';

// NOTE: the specifier is a variable so that bundlers leave this Node-only import alone.
const NODE_WORKER_THREADS = 'node:worker_threads';
const web = typeof self === 'object' && typeof self.postMessage === 'function';
const port = web ? self : (await import(/* @vite-ignore */ /* webpackIgnore: true */ NODE_WORKER_THREADS)).parentPort;

const onMessage = ({ module, memory }) => {
  try {
    initSync({ module, memory });
  } catch (error) {
    port.postMessage({ error: String(error?.message ?? error) });
    return;
  }
  port.postMessage({ ready: true });
  runPoolThread(); // blocks: waits for a pool thread, then runs it for good
};

if (web) self.addEventListener('message', (event) => onMessage(event.data), { once: true });
else port.once('message', onMessage);
