// web-reranker: the state a reranker shows after its load, named once. `Reranker` (reranker.js)
// and `WorkerReranker` (worker-client.js) each have a getter per field, worker.js sends the
// settled ones after a load, and index.d.ts types them (`RerankerLike`); the package's tests
// check all four against these lists.

/** Every state getter of a reranker. */
export const STATE_FIELDS = Object.freeze(['device', 'maxLength', 'precision', 'loadTimings', 'storage']);

/** The fields a load settles, sent once by the worker (`device` comes with every answer). */
export const LOADED_FIELDS = Object.freeze(STATE_FIELDS.filter((field) => field !== 'device'));

/** `reranker`'s settled fields, as the worker sends them. */
export const loadedState = (reranker) => Object.fromEntries(LOADED_FIELDS.map((field) => [field, reranker[field]]));
