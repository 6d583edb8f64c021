// web-reranker: which device `device: 'auto'` takes on a machine with a hardware WebGPU adapter,
// by measurement. The first load on an adapter times the same work on WebGPU and on the CPU (a
// short pair and a rerank-sized batch) and keeps the device that ran the batch faster; the
// verdict is stored per adapter, model, browser and package version, and later loads build only
// the device it names. `reranker.device.choice` reports it with its figures.

/** The Cache API store of the verdicts (apart from the model files' store, which is pruned). */
export const VERDICTS_STORE = 'web-reranker-device-choice-v1';

const TIMED_QUERY = 'Wie lange dauert der Versand nach Österreich?';
const TIMED_PASSAGES = [
  'Shipping to Austria usually takes three to five working days; express delivery arrives the next day.',
  'Unsere Filialen in Wien haben montags bis samstags von 9 bis 19 Uhr geöffnet.',
  'Les retours sont gratuits pendant trente jours, à condition que l’article soit dans son emballage d’origine.',
  'Der Versand nach Österreich dauert in der Regel drei bis fünf Werktage, Expresslieferungen kommen am nächsten Tag.',
  'El envío a Austria tarda normalmente entre tres y cinco días laborables.',
  'Gift cards can be redeemed online and in every store, and they never expire.',
  'Payment by invoice is available for orders up to 1,000 euros after a credit check.',
  'Spedizioni in Austria: consegna standard in 3–5 giorni lavorativi, espressa in 24 ore.',
];

/**
 * The work both devices are timed on, in this order, each in one call:
 * - `pair`: one short pair (32 tokens with the real tokenizer): a call's latency, where a GPU's
 *   dispatch and read-back cost shows;
 * - `batch`: a typical rerank, 16 passages of about 130 tokens each (125–140, six of the texts
 *   above in turn): what reranking a page of search results cut to sections runs, where a GPU's
 *   throughput shows. It decides.
 * NOTE: 8 pairs of 40 tokens timed only dispatch and read-back at idle clocks; 16 × 130 costs the
 * real model about a second on each device on a desktop, once per adapter and browser version.
 */
export const TIMED_WORK = Object.freeze([
  { name: 'pair', pairs: [[TIMED_QUERY, TIMED_PASSAGES[3]]] },
  {
    name: 'batch',
    pairs: Array.from({ length: 16 }, (_, k) => [TIMED_QUERY,
      Array.from({ length: 6 }, (__, j) => TIMED_PASSAGES[(k + j) % TIMED_PASSAGES.length]).join(' ')]),
  },
]);

/** The work whose time decides (`TIMED_WORK`'s batch). */
const DECIDING = 'batch';

/** Timed calls of each piece of work after the warm-up call (which compiles the GPU's pipelines); the fastest counts. */
const TIMED_RUNS = 2;

/**
 * The one adapter request of the package: wgpu (cubecl's default device in a browser) asks for
 * the high-performance adapter, so the probe, the verdict's key and the fallback check ask for
 * the same one (on a laptop with two GPUs, the one that will run).
 * NOTE: src/web/adapter.rs makes the same request.
 */
export const ADAPTER_REQUEST = Object.freeze({ powerPreference: 'high-performance' });

/**
 * The page's WebGPU adapter: `null` without one, else `{ fallback, name }`. `fallback`: a
 * software adapter, which `auto` never takes (so nothing is measured there); `name`: its
 * description, the verdict's key part. Asked once per load; modules.js reads it too.
 */
export async function adapterIdentity() {
  let adapter = null;
  try {
    adapter = await globalThis.navigator?.gpu?.requestAdapter({ ...ADAPTER_REQUEST });
  } catch {
    return null;
  }
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const fallback = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  const name = [info.vendor, info.architecture, info.device, info.description]
    .filter((part) => typeof part === 'string' && part !== '').join(' ') || 'unnamed adapter';
  return { fallback, name };
}

/**
 * The browser and its major version (`Chrome/156`), from the user agent: a browser update brings
 * another WebGPU implementation and often another driver path, so it is measured again.
 */
export function browserVersion(userAgent = globalThis.navigator?.userAgent ?? '') {
  // NOTE: in this order: Edge and Opera say Chrome too, Chrome says Safari too.
  for (const [name, token] of [['Edge', 'Edg'], ['Opera', 'OPR'], ['Firefox', 'Firefox'], ['Chrome', '(?:Headless)?Chrome'], ['Safari', 'Version']]) {
    const found = new RegExp(`\\b${token}/(\\d+)`).exec(userAgent);
    if (found !== null) return `${name}/${found[1]}`;
  }
  return 'unknown browser';
}

/**
 * The key of a verdict: the adapter, the model (its folder and precision), the browser's version
 * and the package's version.
 */
export const verdictKey = ({ adapter, model, browser = browserVersion(), version }) => `https://verdicts.web-reranker.invalid/${[adapter, model, browser, version].map(encodeURIComponent).join('/')}`;

/**
 * How long a verdict holds, by what it says. NOTE: a `webgpu` verdict is the stable case (a
 * hardware adapter beat the CPU on this browser version): a month. A `cpu` verdict may come from
 * a GPU that was busy at that moment (another tab, a game), so it is measured again after a
 * week; one from a failure (a lost device, a driver error) after a day, since the cause may
 * have been passing.
 */
export const VERDICT_DAYS = { webgpu: 30, cpu: 7, failure: 1 };
const DAY_MS = 24 * 60 * 60 * 1000;

/** Whether `verdict` (measured at `measuredAt`) still holds at `now`. */
export function verdictHolds(verdict, now = Date.now()) {
  const measured = Date.parse(verdict.measuredAt);
  const days = verdict.failure !== undefined ? VERDICT_DAYS.failure : VERDICT_DAYS[verdict.device];
  return Number.isFinite(measured) && measured <= now && now - measured < days * DAY_MS;
}

/** The stored verdict for `key`, or undefined (none, no storage, or not one this version reads). */
export async function storedVerdict(key) {
  let verdict = inMemory.get(key);
  try {
    const cache = await globalThis.caches?.open(VERDICTS_STORE);
    const hit = await cache?.match(key);
    if (hit !== undefined) verdict = await hit.json();
  } catch {
    // no Cache API, or storage off: the page's own copy, if any
  }
  return isVerdict(verdict) && verdictHolds(verdict) ? verdict : undefined;
}

/**
 * The verdicts measured in this page (or worker), for where the Cache API is missing or refuses
 * (a private window): the next load in the page still need not measure and build twice.
 */
const inMemory = new Map();

/**
 * Removes the stored verdicts: every one, or with `base` (a model folder's URL) those of that
 * folder. Never throws.
 */
export async function clearVerdicts(base) {
  const folder = base === undefined ? undefined : encodeURIComponent(`${base.href} `);
  for (const key of [...inMemory.keys()]) if (folder === undefined || key.includes(folder)) inMemory.delete(key);
  try {
    if (folder === undefined) {
      await globalThis.caches?.delete(VERDICTS_STORE);
      return;
    }
    const cache = await globalThis.caches?.open(VERDICTS_STORE);
    const keys = await cache?.keys() ?? [];
    await Promise.all(keys.filter((k) => k.url.includes(folder)).map((k) => cache.delete(k)));
  } catch {
    // no Cache API here: nothing was stored there
  }
}

/**
 * Keeps `verdict` under `key`: in the Cache API, and in this page's memory; says why it is kept
 * for this page only (a string) where the Cache API cannot have it.
 */
export async function storeVerdict(key, verdict) {
  inMemory.set(key, verdict);
  try {
    const cache = await globalThis.caches?.open(VERDICTS_STORE);
    if (cache === undefined) return 'this context has no Cache API: kept for this page only';
    await cache.put(key, new Response(JSON.stringify(verdict), { headers: { 'content-type': 'application/json' } }));
    return undefined;
  } catch (error) {
    return `${error?.name ?? 'Error'}: ${error?.message ?? error}: kept for this page only`;
  }
}

/** A measured verdict (both times), or a `cpu` one from a WebGPU failure (`failure`: why). */
const isVerdict = (v) => v !== null && typeof v === 'object' && (
  (v.device === 'cpu' && typeof v.failure === 'string')
  || ((v.device === 'webgpu' || v.device === 'cpu') && Number.isFinite(v.gpuMs) && Number.isFinite(v.cpuMs)));

/**
 * The device that ran the deciding work faster: WebGPU only where it beat the CPU. A tie goes to
 * the CPU, which needs no GPU memory and cannot be lost.
 */
export const fasterDevice = ({ gpuMs, cpuMs }) => (gpuMs < cpuMs ? 'webgpu' : 'cpu');

/**
 * Times `TIMED_WORK` on `inner`, after one warm-up call of each: `{ name: ms }`, the fastest of
 * `TIMED_RUNS` calls of each.
 */
export async function timeWork(inner) {
  const times = {};
  for (const { name, pairs } of TIMED_WORK) {
    await inner.predict(pairs, {}, undefined);
    let best = Infinity;
    for (let run = 0; run < TIMED_RUNS; run++) {
      const start = performance.now();
      await inner.predict(pairs, {}, undefined);
      best = Math.min(best, performance.now() - start);
    }
    times[name] = best;
  }
  return times;
}

/**
 * The verdict from both devices' times (`timeWork`'s): the device, the deciding work's times as
 * `gpuMs` and `cpuMs` with its pairs, and every piece of work's times in `work`.
 */
export function verdictOf(gpu, cpu, measuredAt = new Date().toISOString()) {
  const work = TIMED_WORK.map(({ name, pairs }) => ({ name, pairs: pairs.length, gpuMs: gpu[name], cpuMs: cpu[name] }));
  const deciding = work.find((w) => w.name === DECIDING);
  const times = { gpuMs: deciding.gpuMs, cpuMs: deciding.cpuMs };
  return { device: fasterDevice(times), ...times, pairs: deciding.pairs, work, measuredAt };
}

/** Why `auto` runs on the CPU under this verdict (`device.fallbackReason`). */
export const cpuReason = ({ gpuMs, cpuMs, pairs, failure }) => (failure !== undefined ? failure
  : `WebGPU ran the timed batch slower than the CPU on this adapter `
    + `(${gpuMs.toFixed(1)} ms against ${cpuMs.toFixed(1)} ms for ${pairs} pairs)`);
