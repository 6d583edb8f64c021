// web-reranker: a load's progress as one stream. Each file reports its bytes as they arrive (or
// as they are read from the store); `onProgress` gets them summed over every file the load
// needs, `{ status, file?, loaded, total, progress }`, with `progress` going from 0 to 1 and
// never back.

/** What a progress event says is happening. */
export const PROGRESS_STATUSES = Object.freeze(['download', 'cached', 'verify', 'ready']);

/**
 * The progress of one load of `files` (names), `sizes(file)` their expected sizes where known
 * (the manifest's, or the bytes the caller gave). Returns `report(file)`, a function
 * `(status, loaded, total?)` for that file's events, and `ready()`, the last event. Without
 * `onProgress` both do nothing.
 */
export function progressOf(onProgress, files, sizes) {
  const state = new Map(files.map((file) => [file, { loaded: 0, total: sizes(file) }]));
  let shown = 0;
  const emit = (status, file) => {
    let loaded = 0;
    let total = 0;
    let known = true;
    for (const entry of state.values()) {
      loaded += entry.loaded;
      total += entry.total ?? entry.loaded;
      known &&= entry.total !== undefined;
    }
    // NOTE: while a file's size is unknown (a server without Content-Length, no manifest), the
    // sum can only grow: the stream stays short of 1 until the load is ready.
    const fraction = total > 0 ? loaded / total : 0;
    shown = Math.max(shown, known || status === 'ready' ? fraction : Math.min(fraction, 0.99));
    onProgress({ status, ...(file === undefined ? {} : { file }), loaded, total, progress: shown });
  };
  return {
    report: (file) => (onProgress === undefined ? undefined : (status, loaded, total) => {
      const entry = state.get(file);
      entry.loaded = Math.max(entry.loaded, loaded);
      if (total !== undefined) entry.total = Math.max(total, entry.loaded);
      emit(status, file);
    }),
    ready() {
      if (onProgress === undefined) return;
      for (const entry of state.values()) entry.total = entry.loaded;
      shown = 1;
      emit('ready');
    },
  };
}
