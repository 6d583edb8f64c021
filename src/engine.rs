//! The reranker core: tokenize → batch → model → scores. Knows nothing of JavaScript.
//!
//! Every result is read back with `into_data_async`, the only readback that works on WebGPU in a
//! browser; on the CPU backend the future is ready at once.

use std::borrow::Cow;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use burn::prelude::{Device, Int, Tensor};
use burn::tensor::{DType, ExecutionError, TensorData};

use crate::batch::{BatchSplit, PaddedBatch, bucketed_width, plan_batches};
use crate::device::{Backend, SelectedDevice};
use crate::error::{Error, Result};
use crate::kernels::{Activations, LinearKernels};
use crate::model::{ACTIVATION_BUDGET, CrossEncoderModel};
use crate::tokenize::{DEFAULT_MAX_LENGTH, PairTokenizer, TokenizerMode};
use crate::weights::{self, Precision, WeightBytes, WordEmbeddings};

/// sentence-transformers' default `batch_size` for `predict`.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Pairs tokenized at a time. Batches are planned within such a window, so no batch holds more.
///
/// NOTE: tokenizing window by window keeps memory flat however many documents a call passes
/// (10,000 documents cost what 256 do, plus their scores).
pub const WINDOW: usize = 256;

/// What the CPU may hold per batch, as a multiple of its largest activation: the scores, their
/// softmax and the tensors around them are alive together.
const LIVE_ACTIVATIONS: u64 = 4;

/// Options fixed when a reranker is made.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Truncation length of a pair, special tokens included (4 ..= the model's 512).
    pub max_length: usize,
    /// How the tokenizer file is interpreted.
    pub tokenizer_mode: TokenizerMode,
    /// A monotonic clock in milliseconds; when set, the load records [`LoadTimings`].
    ///
    /// NOTE: a function, not `std::time::Instant`: wasm32-unknown-unknown has no clock of its
    /// own, so the wasm binding passes the host's `performance.now`.
    pub clock: Option<fn() -> f64>,
    /// How length-sorted pairs are cut into batches; `None` takes the backend's default
    /// ([`BatchSplit::LeastPadding`] on the CPU, [`BatchSplit::Fill`] on WebGPU).
    pub batch_split: Option<BatchSplit>,
    /// Pads each batch's width up to a multiple of this (at most the longest sequence); `None`
    /// takes the backend's default ([`WEBGPU_WIDTH_MULTIPLE`] on WebGPU, 1 on the CPU, where a
    /// padded token costs as much as a real one).
    pub width_multiple: Option<usize>,
    /// Which kernels the linear layers run on the CPU: by default ours where this build has
    /// SIMD versions of them (wasm: int8 weights multiplied in integers, f32 weights packed),
    /// burn's (gemm) elsewhere.
    pub linear_kernels: LinearKernels,
    /// How the int8 linear layers round their activations when they multiply in integers
    /// (default [`Activations::I16`]). [`Activations::I7`] is fast only where a
    /// relaxed-SIMD kernel is installed (the wasm module installs one); elsewhere it runs plain
    /// loops, for the same numbers.
    pub activations: Activations,
}

/// The width multiple WebGPU batches are padded to by default (see
/// [`crate::batch::bucketed_width`]).
///
/// NOTE: why 8: our kernels (src/kernels/gpu.rs) take the shapes as arguments, so a width not
/// seen before compiles no pipeline of ours (browser case (r), BENCHMARKS.md section 3), and a
/// larger multiple only pads work (64 padded up to 45 % of a short batch). A multiple of 8 keeps
/// burn's element-wise ops on the ids and mask on 4-wide vectors.
pub const WEBGPU_WIDTH_MULTIPLE: usize = 8;

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_length: DEFAULT_MAX_LENGTH,
            tokenizer_mode: TokenizerMode::SentenceTransformers,
            clock: None,
            batch_split: None,
            width_multiple: None,
            linear_kernels: LinearKernels::Auto,
            activations: Activations::I16,
        }
    }
}

/// Where a load's time went, in milliseconds (see [`LoadOptions::clock`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadTimings {
    /// Building the tokenizer from its file.
    pub tokenizer_ms: f64,
    /// Reading the weights file into the model (dequantizing int8, uploading to the device).
    pub weights_ms: f64,
}

/// The score of one pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// The model's raw logit: the relevance score (sentence-transformers with `Identity`).
    pub logit: f32,
    /// `sigmoid(logit)`, a value in (0, 1) for display or thresholds.
    pub probability: f32,
}

impl Score {
    fn from_logit(logit: f32) -> Self {
        Self {
            logit,
            probability: 1.0 / (1.0 + (-logit).exp()),
        }
    }
}

/// One document of a ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Position of the document in the input list.
    pub index: usize,
    /// Its score.
    pub score: Score,
}

/// Options of one `rerank` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RerankOptions {
    /// Keep only the best `top_n` (all when `None`); must be at least 1.
    pub top_n: Option<usize>,
    /// Pairs per model call; must be at least 1.
    pub batch_size: usize,
    /// Score a long document as the best of up to this many windows that each fit `max_length`
    /// with the query ([`PairTokenizer::encode_chunks`]), instead of truncating it. Off (`None`)
    /// by default, as in sentence-transformers.
    pub max_chunks_per_doc: Option<usize>,
}

impl Default for RerankOptions {
    fn default() -> Self {
        Self {
            top_n: None,
            batch_size: DEFAULT_BATCH_SIZE,
            max_chunks_per_doc: None,
        }
    }
}

/// What the caller of a long call can do while it runs.
pub trait CallControl {
    /// Asked before each window and each batch: the call stops with [`Error::Aborted`] once this
    /// is true.
    fn cancelled(&self) -> bool;

    /// Awaited between batches. NOTE: on the CPU backend nothing else in a call ever waits, so
    /// without this a browser (or a worker) could not even deliver the abort that should stop it.
    fn between_batches(&self) -> Pin<Box<dyn Future<Output = ()> + '_>>;
}

/// A call that runs to the end without pausing.
pub struct Uncontrolled;

impl CallControl for Uncontrolled {
    fn cancelled(&self) -> bool {
        false
    }

    fn between_batches(&self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// The (query, passage) pairs of a call, read a window at a time.
///
/// NOTE: texts are fetched as the engine reaches them, so a caller's 10,000 documents are never
/// all copied (into the wasm heap, say) at once.
pub trait Pairs {
    /// How many pairs there are.
    fn count(&self) -> usize;
    /// Pair `index` (below `count()`), or why it is not a pair of texts.
    fn pair(&self, index: usize) -> Result<(Cow<'_, str>, Cow<'_, str>)>;
}

impl Pairs for [(&str, &str)] {
    fn count(&self) -> usize {
        self.len()
    }

    fn pair(&self, index: usize) -> Result<(Cow<'_, str>, Cow<'_, str>)> {
        let (query, passage) = self[index];
        Ok((Cow::Borrowed(query), Cow::Borrowed(passage)))
    }
}

/// The documents of a `rerank` call, read a window at a time (see [`Pairs`]).
pub trait Documents {
    /// How many documents there are.
    fn count(&self) -> usize;
    /// The text of document `index` (below `count()`), or why it has none.
    fn text(&self, index: usize) -> Result<Cow<'_, str>>;
}

impl Documents for [&str] {
    fn count(&self) -> usize {
        self.len()
    }

    fn text(&self, index: usize) -> Result<Cow<'_, str>> {
        Ok(Cow::Borrowed(self[index]))
    }
}

/// Each document paired with one query.
struct Against<'a, D: Documents + ?Sized> {
    query: &'a str,
    documents: &'a D,
}

impl<D: Documents + ?Sized> Pairs for Against<'_, D> {
    fn count(&self) -> usize {
        self.documents.count()
    }

    fn pair(&self, index: usize) -> Result<(Cow<'_, str>, Cow<'_, str>)> {
        Ok((Cow::Borrowed(self.query), self.documents.text(index)?))
    }
}

/// A loaded cross-encoder with its tokenizer, on one device.
pub struct Reranker<M: CrossEncoderModel> {
    model: M,
    /// The word-embedding table, on the CPU: only the rows of a batch go to the device.
    word_embeddings: WordEmbeddings,
    precision: Precision,
    /// Linear layers running our CPU kernels, and of those the ones computing in integers.
    packed_layers: usize,
    integer_layers: usize,
    /// How those round their activations (the load option).
    activations: Activations,
    tokenizer: PairTokenizer,
    device: SelectedDevice,
    load_timings: Option<LoadTimings>,
    batch_split: BatchSplit,
    width_multiple: usize,
}

impl<M: CrossEncoderModel> std::fmt::Debug for Reranker<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reranker")
            .field("model", &M::INFO.name)
            .field("precision", &self.precision.name())
            .field("tokenizer", &self.tokenizer)
            .field("backend", &self.device.backend)
            .finish()
    }
}

impl<M: CrossEncoderModel> Reranker<M> {
    /// Builds a reranker from the bytes of its weights (`weights-f32.bpk` or `weights-int8.bpk`,
    /// see [`crate::weights`]) and `tokenizer.json`.
    pub fn new(
        weights: impl Into<WeightBytes>,
        tokenizer_json: &[u8],
        device: SelectedDevice,
        options: LoadOptions,
    ) -> Result<Self> {
        let now = || options.clock.map_or(0.0, |clock| clock());
        let started = now();
        let tokenizer = PairTokenizer::from_bytes(tokenizer_json, options.tokenizer_mode)?;
        let tokenizer_ms = now() - started;
        let mut reranker = Self::with_tokenizer(weights, tokenizer, device, options)?;
        if let Some(timings) = &mut reranker.load_timings {
            timings.tokenizer_ms = tokenizer_ms;
        }
        Ok(reranker)
    }

    /// [`Reranker::new`] with the tokenizer already built (with `options.tokenizer_mode`), for a
    /// caller that builds it while the weights are still arriving. Its load timings have
    /// `tokenizer_ms` 0.
    pub fn with_tokenizer(
        weights: impl Into<WeightBytes>,
        mut tokenizer: PairTokenizer,
        device: SelectedDevice,
        options: LoadOptions,
    ) -> Result<Self> {
        if let (Backend::WebGpu, Some(reason)) = (device.backend, M::INFO.webgpu_blocker) {
            return Err(Error::Device(format!(
                "model {} cannot run on WebGPU: {reason}. Re-export it with \
                 tools/export_onnx.py (int32, opset 18), or use the CPU backend",
                M::INFO.name
            )));
        }
        let width_multiple = match (options.width_multiple, device.backend) {
            (Some(0), _) => {
                return Err(Error::InvalidOption {
                    name: "width_multiple",
                    expected: "at least 1",
                    value: "0".into(),
                });
            }
            (Some(multiple), _) => multiple,
            (None, Backend::WebGpu) => WEBGPU_WIDTH_MULTIPLE,
            (None, Backend::Cpu) => 1,
        };
        let now = || options.clock.map_or(0.0, |clock| clock());
        if tokenizer.vocab_size() as u64 > M::INFO.vocab_size {
            return Err(Error::Tokenizer(format!(
                "the tokenizer has {} ids but model {} has only {} embeddings: they do not belong together",
                tokenizer.vocab_size(),
                M::INFO.name,
                M::INFO.vocab_size
            )));
        }
        tokenizer.set_max_length(options.max_length, M::INFO.max_sequence_length())?;
        let started = now();
        let loaded = weights::load::<M>(
            weights.into(),
            &device.device,
            options.linear_kernels,
            options.activations,
        )?;
        let load_timings = options.clock.map(|_| LoadTimings {
            tokenizer_ms: 0.0,
            weights_ms: now() - started,
        });
        // NOTE: on WebGPU the per-batch cost outweighs padded work: on an H200 the mixed set took
        // 130 ms in full batches and 217 ms in least-padding ones (burn's ops then; not measured
        // on a GPU with our kernels, BENCHMARKS.md section 4).
        let batch_split = options.batch_split.unwrap_or(match device.backend {
            Backend::Cpu => BatchSplit::LeastPadding,
            Backend::WebGpu => BatchSplit::Fill,
        });
        Ok(Self {
            model: loaded.model,
            word_embeddings: loaded.word_embeddings,
            precision: loaded.precision,
            packed_layers: loaded.packed_layers,
            integer_layers: loaded.integer_layers,
            activations: options.activations,
            tokenizer,
            device,
            load_timings,
            batch_split,
            width_multiple,
        })
    }

    /// Where the load's time went, when it was given a clock.
    pub fn load_timings(&self) -> Option<LoadTimings> {
        self.load_timings
    }

    /// The tokenizer in use.
    pub fn tokenizer(&self) -> &PairTokenizer {
        &self.tokenizer
    }

    /// How the loaded weights were stored (f32, or compact int8).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// How many linear layers run our CPU kernels (see [`LoadOptions::linear_kernels`]); 0 on
    /// WebGPU.
    pub fn packed_linear_layers(&self) -> usize {
        self.packed_layers
    }

    /// How many linear layers multiply int8 weights in integers; 0 with f32 weights or on WebGPU.
    pub fn integer_linear_layers(&self) -> usize {
        self.integer_layers
    }

    /// How the integer linear layers round their activations; `None` when none multiply in
    /// integers.
    pub fn activations(&self) -> Option<Activations> {
        (self.integer_layers > 0).then_some(self.activations)
    }

    /// The device the model runs on, and why it was chosen.
    pub fn device(&self) -> &SelectedDevice {
        &self.device
    }

    /// Scores (query, passage) pairs in input order, like sentence-transformers' `predict`.
    pub async fn predict(&self, pairs: &[(&str, &str)], batch_size: usize) -> Result<Vec<Score>> {
        self.predict_until(pairs, batch_size, &Uncontrolled).await
    }

    /// [`Reranker::predict`] over any [`Pairs`], under a [`CallControl`]: it may pause between
    /// batches and stop with [`Error::Aborted`].
    pub async fn predict_until(
        &self,
        pairs: &(impl Pairs + ?Sized),
        batch_size: usize,
        control: &dyn CallControl,
    ) -> Result<Vec<Score>> {
        check_batch_size(batch_size)?;
        self.by_windows(pairs.count(), control, async |window: Range<usize>| {
            let encoded = window
                .map(|i| {
                    let (query, passage) = pairs.pair(i)?;
                    Ok(self.tokenizer.encode_pair(&query, &passage)?.ids)
                })
                .collect::<Result<Vec<_>>>()?;
            self.score_until(&encoded, batch_size, control).await
        })
        .await
    }

    /// Scores `0..count` a [`WINDOW`] at a time with `score_window`, asking `control` before each
    /// window; the scores come back in order.
    async fn by_windows(
        &self,
        count: usize,
        control: &dyn CallControl,
        mut score_window: impl AsyncFnMut(Range<usize>) -> Result<Vec<f32>>,
    ) -> Result<Vec<Score>> {
        let mut scores = Vec::with_capacity(count);
        for start in (0..count).step_by(WINDOW) {
            if control.cancelled() {
                return Err(Error::Aborted);
            }
            let logits = score_window(start..count.min(start + WINDOW)).await?;
            scores.extend(logits.into_iter().map(Score::from_logit));
        }
        Ok(scores)
    }

    /// Ranks `documents` against `query`, best first, like sentence-transformers' `rank`.
    ///
    /// An empty `documents` list ranks to an empty list; an empty query is an error.
    pub async fn rerank(
        &self,
        query: &str,
        documents: &[&str],
        options: RerankOptions,
    ) -> Result<Vec<Ranked>> {
        self.rerank_until(query, documents, options, &Uncontrolled)
            .await
    }

    /// [`Reranker::rerank`] over any [`Documents`], under a [`CallControl`].
    pub async fn rerank_until(
        &self,
        query: &str,
        documents: &(impl Documents + ?Sized),
        options: RerankOptions,
        control: &dyn CallControl,
    ) -> Result<Vec<Ranked>> {
        if query.trim().is_empty() {
            return Err(Error::EmptyQuery);
        }
        if options.top_n == Some(0) {
            return Err(Error::InvalidOption {
                name: "top_n",
                expected: "at least 1",
                value: "0".into(),
            });
        }
        let scores = match options.max_chunks_per_doc {
            None => {
                let pairs = Against { query, documents };
                self.predict_until(&pairs, options.batch_size, control)
                    .await?
            }
            Some(max_chunks) => {
                self.best_chunks(query, documents, max_chunks, options.batch_size, control)
                    .await?
            }
        };
        let mut ranked: Vec<Ranked> = scores
            .into_iter()
            .enumerate()
            .map(|(index, score)| Ranked { index, score })
            .collect();
        // Stable sort: equal scores keep input order.
        ranked.sort_by(|a, b| b.score.logit.total_cmp(&a.score.logit));
        if let Some(n) = options.top_n {
            ranked.truncate(n);
        }
        Ok(ranked)
    }

    /// Each document's best chunk score (see [`RerankOptions::max_chunks_per_doc`]), a window of
    /// documents at a time.
    async fn best_chunks(
        &self,
        query: &str,
        documents: &(impl Documents + ?Sized),
        max_chunks: usize,
        batch_size: usize,
        control: &dyn CallControl,
    ) -> Result<Vec<Score>> {
        check_batch_size(batch_size)?;
        self.by_windows(documents.count(), control, async |window: Range<usize>| {
            let (start, len) = (window.start, window.len());
            let mut chunks = Vec::new();
            let mut owner = Vec::new();
            for index in window {
                let text = documents.text(index)?;
                for chunk in self.tokenizer.encode_chunks(query, &text, max_chunks)? {
                    chunks.push(chunk.ids);
                    owner.push(index - start);
                }
            }
            let logits = self.score_until(&chunks, batch_size, control).await?;
            let mut best = vec![f32::NEG_INFINITY; len];
            for (doc, logit) in owner.into_iter().zip(logits) {
                best[doc] = best[doc].max(logit);
            }
            Ok(best)
        })
        .await
    }

    /// The logit of each chunk of one (query, document) pair, in document order: what a
    /// chunked [`Reranker::rerank`] takes the maximum of.
    pub async fn chunk_scores(
        &self,
        query: &str,
        document: &str,
        max_chunks: usize,
    ) -> Result<Vec<f32>> {
        let chunks: Vec<Vec<u32>> = self
            .tokenizer
            .encode_chunks(query, document, max_chunks)?
            .into_iter()
            .map(|c| c.ids)
            .collect();
        self.score_ids(&chunks, DEFAULT_BATCH_SIZE).await
    }

    /// Runs the model on already-tokenized pairs; logits come back in input order.
    pub async fn score_ids(&self, encoded: &[Vec<u32>], batch_size: usize) -> Result<Vec<f32>> {
        self.score_until(encoded, batch_size, &Uncontrolled).await
    }

    async fn score_until(
        &self,
        encoded: &[Vec<u32>],
        batch_size: usize,
        control: &dyn CallControl,
    ) -> Result<Vec<f32>> {
        check_batch_size(batch_size)?;
        let vocab = M::INFO.vocab_size;
        let limit = M::INFO.max_sequence_length();
        for (i, ids) in encoded.iter().enumerate() {
            if ids.is_empty() || ids.len() > limit {
                return Err(Error::InvalidOption {
                    name: "token ids",
                    expected: "1 to max_length ids per pair",
                    value: format!("{} ids in pair {i}", ids.len()),
                });
            }
            if let Some(bad) = ids.iter().find(|&&id| u64::from(id) >= vocab) {
                return Err(Error::InvalidOption {
                    name: "token ids",
                    expected: "ids below the model's vocabulary size",
                    value: format!("id {bad} in pair {i}"),
                });
            }
        }
        let lengths: Vec<usize> = encoded.iter().map(Vec::len).collect();
        let mut logits = vec![0.0f32; encoded.len()];
        for (n, indices) in self
            .batch_plan(&lengths, batch_size)
            .into_iter()
            .enumerate()
        {
            if n > 0 {
                control.between_batches().await;
            }
            if control.cancelled() {
                return Err(Error::Aborted);
            }
            let rows: Vec<&[u32]> = indices.iter().map(|&i| encoded[i].as_slice()).collect();
            let batch = PaddedBatch::with_width_multiple(
                &rows,
                self.tokenizer.pad_id(),
                self.width_multiple,
                M::INFO.max_sequence_length(),
            );
            let values = self.run_batch(batch).await?;
            for (&i, value) in indices.iter().zip(values) {
                logits[i] = value;
            }
        }
        Ok(logits)
    }

    /// The batches pairs of these token lengths run in (indices into `lengths`): sorted by
    /// length, at most `batch_size` rows, fewer for long pairs (the activation budget, at the
    /// padded width), cut as [`LoadOptions::batch_split`] says.
    pub fn batch_plan(&self, lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
        // NOTE: the budget is checked at the width the batch is padded to, not its longest row.
        let limit = M::INFO.max_sequence_length();
        let rows_for_width = |width| {
            let padded = bucketed_width(width, self.width_multiple, limit);
            (ACTIVATION_BUDGET / M::INFO.largest_activation_per_row(padded).max(1)) as usize
        };
        plan_batches(lengths, batch_size, rows_for_width, self.batch_split)
    }

    async fn run_batch(&self, batch: PaddedBatch) -> Result<Vec<f32>> {
        self.check_faults()?;
        if self.device.backend == Backend::Cpu {
            let live = LIVE_ACTIVATIONS
                * batch.rows as u64
                * M::INFO.largest_activation_per_row(batch.width);
            ensure_memory(live, || {
                format!("a batch of {} pairs of {} tokens", batch.rows, batch.width)
            })?;
        }
        let device: &Device = &self.device.device;
        let shape = [batch.rows, batch.width];
        let mut rows = Vec::new();
        let token_ids: Vec<u32> = batch.input_ids.iter().map(|&id| id as u32).collect();
        self.word_embeddings.gather(&token_ids, &mut rows)?;
        let width = self.word_embeddings.width();
        let word_embeddings = Tensor::<3>::from_data(
            TensorData::new(rows, [batch.rows, batch.width, width]),
            device,
        );
        // NOTE: ids and mask are created as int32 on every backend: WGSL has no 64-bit integers.
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(batch.input_ids, shape),
            (device, DType::I32),
        );
        let mask = Tensor::<2, Int>::from_data(
            TensorData::new(batch.attention_mask, shape),
            (device, DType::I32),
        );
        let logits = self.model.logits(ids, mask, word_embeddings);
        let dims = logits.dims();
        if dims != [batch.rows, 1] {
            return Err(Error::Inference(format!(
                "the model returned logits of shape {dims:?}, expected [{}, 1]",
                batch.rows
            )));
        }
        let data = match logits.into_data_async().await {
            Ok(data) => data,
            Err(e) => return Err(self.readback_failure(e).await),
        };
        // NOTE: an error the device reported while this batch ran may mean its outputs were
        // never written; the check happens after the readback because WebGPU reports it late.
        self.check_faults()?;
        Ok(data.iter::<f32>().collect())
    }

    /// Fails once the device has reported an error of its own: its results are not trusted.
    fn check_faults(&self) -> Result<()> {
        match self.device.faults.first() {
            Some(fault) => Err(Error::DeviceLost(format!(
                "it reported an error ({fault}), so its results can no longer be trusted"
            ))),
            None => Ok(()),
        }
    }

    /// Says whether a failed readback means the device is gone ([`Error::DeviceLost`]) or only
    /// this call failed ([`Error::Inference`]).
    async fn readback_failure(&self, error: ExecutionError) -> Error {
        let failure = self.classify_readback_failure(error).await;
        if let Error::DeviceLost(reason) = &failure {
            // NOTE: remembered on the device, which later rerankers would share
            // (`device::select` hands the opened device out again); they then refuse it.
            self.device.faults.record(reason.clone());
        }
        failure
    }

    async fn classify_readback_failure(&self, error: ExecutionError) -> Error {
        if error.is_device_poisoned() {
            return Error::DeviceLost(innermost_cause(&error));
        }
        if self.device.backend == Backend::WebGpu {
            // NOTE: wgpu learns of a lost device through a callback that can arrive after the
            // readback it broke has already failed: on a destroyed device (headless Chromium) the
            // readback, and a probe after it, failed with a plain map error before cubecl marked
            // the device poisoned. So a device that cannot read back one number counts as lost.
            let probe = Tensor::<1>::zeros([1], &self.device.device);
            if let Err(probe) = probe.into_data_async().await {
                return Error::DeviceLost(format!(
                    "a readback failed ({}) and so did a one-number probe ({})",
                    innermost_cause(&error),
                    innermost_cause(&probe)
                ));
            }
        }
        Error::Inference(format!(
            "reading logits back failed: {}",
            innermost_cause(&error)
        ))
    }
}

/// The last "Caused by:" of a backend error, without the backtrace burn appends.
fn innermost_cause(error: &ExecutionError) -> String {
    let reason = error.reason();
    let reason = reason.split("\nBacktrace:").next().unwrap_or(reason);
    let cause = reason.rsplit("Caused by:").next().unwrap_or(reason);
    cause.trim().to_string()
}

/// Makes sure `bytes` can be allocated now, so that running out of memory is an
/// [`Error::OutOfMemory`] rather than an abort (which in wasm kills the instance).
///
/// NOTE: the probe is given back at once; the allocator keeps the memory it grew for the batch.
fn ensure_memory(bytes: u64, what: impl FnOnce() -> String) -> Result<()> {
    let failed = |bytes| Error::OutOfMemory {
        what: what(),
        bytes,
    };
    let Ok(size) = usize::try_from(bytes) else {
        return Err(failed(usize::MAX));
    };
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(size).map_err(|_| failed(size))
}

fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::InvalidOption {
            name: "batch_size",
            expected: "at least 1",
            value: "0".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_that_cannot_exist_is_an_error_not_an_abort() {
        assert_eq!(ensure_memory(1 << 20, || "a small batch".into()), Ok(()));
        let huge = ensure_memory(u64::MAX / 2, || "an absurd batch".into());
        assert!(
            matches!(&huge, Err(Error::OutOfMemory { what, .. }) if what == "an absurd batch"),
            "{huge:?}"
        );
        assert_eq!(huge.unwrap_err().code(), "OUT_OF_MEMORY");
    }

    #[test]
    fn innermost_cause_drops_the_wrappers_and_the_backtrace() {
        let error = ExecutionError::generic(
            "An error happened during execution\nCaused by:\n  the staging buffer could not be mapped",
        );
        assert_eq!(
            innermost_cause(&error),
            "the staging buffer could not be mapped"
        );
        let plain = ExecutionError::device_poisoned("Destroyed: device destroyed");
        assert_eq!(innermost_cause(&plain), "Destroyed: device destroyed");
    }
}
