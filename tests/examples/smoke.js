// The smoke check the example pages share: load the package's reranker, rank a few passages,
// show them (as text), and report to window.__result for the browser test.
const DOCS = [
  'The Zugspitze is 2,962 m high.',
  'Mount Everest, at 8,849 metres, is the highest mountain above sea level.',
  'Der Eiffelturm ist rund 330 Meter hoch.',
  'エベレストの山頂に初めて到達したのは1953年です。',
  { text: 'Honey never spoils.', id: 'honey' },
];

export async function smoke(createReranker, options) {
  const list = document.getElementById('results');
  try {
    const reranker = await createReranker(options);
    const ranked = await reranker.rerank('How high is Mount Everest?', DOCS, { returnDocuments: true });
    for (const r of ranked) {
      const li = document.createElement('li');
      li.textContent = `${r.score.toFixed(3)} ${typeof r.document === 'string' ? r.document : r.document.text}`;
      list.append(li);
    }
    document.getElementById('backend').textContent = reranker.device.backend;
    window.__result = {
      device: reranker.device,
      scores: ranked.map((r) => r.score),
      sameObject: ranked.find((r) => r.index === 4).document === DOCS[4],
      rendered: list.children.length,
    };
  } catch (e) {
    window.__result = { error: `${e.name}: ${e.message}`, code: e.code };
  }
}
