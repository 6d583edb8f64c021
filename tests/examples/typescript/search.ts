// TypeScript: the package's types, as a site would use them (checked with `tsc --strict`). The
// lines marked as expected errors must stay errors: the types are not looser than the API.
import {
  createReranker, RerankerError, CODES, rerankResults, rerankPagefind,
  type RerankerLike, type RerankResult, type RerankerErrorCode, type DeviceInfo, type Precision,
  type RerankDocument, type RerankerProgressEvent,
} from 'web-reranker';

interface Page { url: string; title: string; body: string }

// The package's names leave the DOM's `Document` and `ProgressEvent` as they are.
export const title = (page: Document): string => page.title;
export const done = (event: ProgressEvent): boolean => event.loaded === event.total;

export async function search(query: string, pages: Page[], signal: AbortSignal): Promise<Page[]> {
  const onProgress = ({ status, file, loaded, total, progress }: RerankerProgressEvent) =>
    console.log(status, file ?? '', loaded, total, progress);
  const reranker: RerankerLike = await createReranker({
    device: 'auto', maxLength: 512, verify: true, cache: true, precision: 'int8', onProgress,
  });
  const plain: RerankDocument[] = ['a passage', { text: 'another', id: 7 }];
  const device: DeviceInfo = reranker.device;
  const precision: Precision = reranker.precision;
  console.log(device.backend, device.fallbackReason ?? '', precision);
  const docs = pages.map((p) => ({ text: `${p.title}\n${p.body}`, page: p }));
  const ranked: RerankResult<(typeof docs)[number]>[] = await reranker.rerank(query, docs, {
    topN: 10, returnDocuments: true, batchSize: 16, signal, maxChunksPerDoc: 4,
  });
  const scores: number[] = await reranker.predict(pages.map((p) => [query, p.body]));
  console.log(scores.length, ranked.map((r) => r.document?.page.url), (await reranker.rerank(query, plain)).length);
  const ordered: Page[] = await rerankResults(reranker, query, pages, { getText: (p) => p.body, topK: 20, signal });
  const scored = await rerankResults(reranker, query, pages, { getText: async (p) => p.body, withScores: true });
  const first: number | undefined = scored[0]?.score;
  const pagefind = await rerankPagefind(reranker, query, { results: [] }, { topK: 5 });
  console.log(first, pagefind.map((e) => e.data?.url));
  try {
    // @ts-expect-error: no such backend
    await createReranker({ device: 'tpu' });
    // @ts-expect-error: no such precision
    await createReranker({ precision: 'fp16' });
    // @ts-expect-error: topN is a number
    await reranker.rerank(query, docs, { topN: '3' });
    // @ts-expect-error: misspelt option
    await reranker.rerank(query, docs, { top_n: 3 });
  } catch (error) {
    if (error instanceof RerankerError) {
      const code: RerankerErrorCode = error.code;
      console.log(code, CODES.includes(code));
    }
  }
  reranker.dispose();
  return ordered;
}
