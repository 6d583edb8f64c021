// Node: the package works in Node too (the model runs in this thread, on the CPU).
//   npm install web-reranker && node rerank.mjs      (with the model folder in ./model/)
import { createReranker } from 'web-reranker';

const reranker = await createReranker({ baseUrl: new URL('./model/', import.meta.url) });
const documents = [
  'The Zugspitze is 2,962 m high.',
  'Mount Everest, at 8,849 metres, is the highest mountain above sea level.',
  'Der Eiffelturm ist rund 330 Meter hoch.',
];
const ranked = await reranker.rerank('How high is Mount Everest?', documents, { topN: 2, returnDocuments: true });
const scores = await reranker.predict(documents.map((d) => ['How high is Mount Everest?', d]));
console.log(JSON.stringify({ device: reranker.device, ranked, scores }));
