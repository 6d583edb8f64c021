// The package on a page whose Content-Security-Policy allows scripts from its own origin and
// WebAssembly compilation, nothing more: in-page Reranker and the worker of createReranker both
// load and score. CSP violations are collected. Reports to window.__result.
import { Reranker, createReranker } from '/pkg/index.js';
import { fixture } from '/tests/browser/fixture.js';

const violations = [];
document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
window.__result = (async () => {
  const reference = await fixture();
  const pairs = reference.cases.slice(0, 4).map((c) => [c.query, c.passage]);
  const inPage = await Reranker.load({ device: 'cpu' });
  const page = await inPage.predict(pairs);
  const inWorker = await createReranker({ device: 'cpu' });
  const worker = await inWorker.predict(pairs);
  inWorker.dispose();
  document.getElementById('log').textContent = 'done';
  return { page, worker, violations, expected: reference.cases.slice(0, 4).map((c) => c.expected) };
})().catch((e) => ({ error: `${e.name}: ${e.message}`, code: e.code, violations }));
