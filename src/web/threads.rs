//! The wasm thread pool of the threaded module (built with `+atomics` and the `threads`
//! feature, loaded on cross-origin isolated pages and in Node).
//!
//! The JS loader first starts workers (Web Workers, or Node worker threads) on the same module
//! and memory (`js/threads-worker.js`); each calls [`run_pool_thread`], which waits for a pool
//! thread to run. Once they are all waiting, it calls [`start_thread_pool`] with their number
//! plus one: that makes rayon's global pool, with the loading thread as one of its threads, and
//! hands one thread to each waiting worker, which runs it until the module goes away.
//!
//! NOTE: the order matters. rayon's `build_global` returns only once every pool thread has
//! started, so the pool is made only of workers already known to be waiting: a worker that
//! never starts is left out of it rather than blocking the load for ever. The loading thread
//! is a pool thread (`use_current_thread`), so it works on a kernel's parts too, and it must be
//! one that may block (`Atomics.wait`): a worker or Node, not a page's main thread; the loader
//! sees to that.

use std::sync::{Condvar, Mutex, MutexGuard};

use wasm_bindgen::prelude::*;

use crate::error::Error;

/// The pool threads no worker has taken yet, and the signal that one was added.
static QUEUED: Mutex<Vec<rayon::ThreadBuilder>> = Mutex::new(Vec::new());
static ADDED: Condvar = Condvar::new();

fn queued() -> MutexGuard<'static, Vec<rayon::ThreadBuilder>> {
    QUEUED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes the kernels' pool of `threads` threads: the calling one, and `threads - 1` workers
/// already waiting in [`run_pool_thread`]. Returns once they have all started. Fails once a
/// pool exists, or once something has already used rayon (its default pool is then the
/// calling thread alone).
#[wasm_bindgen(js_name = startThreadPool)]
pub fn start_thread_pool(threads: usize) -> Result<(), JsValue> {
    if threads == 0 {
        return Err(Error::InvalidArgument("threads must be at least 1".into()).into());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .spawn_handler(|thread| {
            queued().push(thread);
            ADDED.notify_one();
            Ok(())
        })
        .build_global()
        .map_err(|e| Error::InvalidArgument(format!("cannot start the thread pool: {e}")).into())
}

/// Waits for a pool thread (from [`start_thread_pool`]) and runs it on the calling worker, which
/// it keeps until the pool shuts down (never, in practice).
#[wasm_bindgen(js_name = runPoolThread)]
pub fn run_pool_thread() {
    let mut waiting = queued();
    let thread = loop {
        if let Some(thread) = waiting.pop() {
            break thread;
        }
        waiting = ADDED
            .wait(waiting)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    };
    drop(waiting);
    thread.run();
}
