//! Reading a weights file (`weights-f32.bpk` or `weights-int8.bpk`, both written by the importer (crates/import)).
//!
//! Both are burnpack containers. The compact one stores large matrices as int8 tensors, each
//! with an f32 `<name>.scale` tensor and a `quantized.<name>` metadata entry saying whether the
//! scales run along rows or columns (see [`crate::quant`]). Loading splits a file in two:
//!
//! * the transformer's tensors, dequantized to f32 one at a time and applied to the module; or,
//!   for the linear layers when they run our CPU kernels ([`crate::kernels::LinearKernels`]), their weights
//!   packed for [`crate::kernels::int8_matmul`] (int8, never made f32) or
//!   [`crate::kernels::f32_matmul`] and handed to the layers;
//! * the word-embedding table, which stays on the CPU as it was stored (int8 + scales, or f32)
//!   and is read row by row for the tokens of each batch ([`WordEmbeddings::gather`]).
//!
//! Every inconsistency (a wrong dtype, a scale count that does not match, a missing or extra
//! tensor) is an [`Error::Weights`], never a panic: the bytes come from the network.

use std::collections::{BTreeMap, HashMap};

use burn::prelude::Device;
use burn::tensor::Bytes;
use burn_store::ModuleSnapshot;
use burn_store::burn_pack::{DType, Reader, Tensor as PackTensor};

use crate::error::{Error, Result};
use crate::kernels::f32_matmul::PackedF32;
use crate::kernels::int8_i7_matmul::PackedInt8I7;
use crate::kernels::int8_matmul::PackedInt8;
use crate::kernels::{Activations, LinearKernels, PackedWeights};
use crate::model::CrossEncoderModel;
use crate::quant::{self, PRECISION_KEY, QUANTIZED_PREFIX, ScaleAxis, scale_name};
pub use crate::quant::{Precision, WORD_EMBEDDINGS};

/// The word-embedding table, kept on the CPU in its stored form.
pub struct WordEmbeddings {
    rows: usize,
    width: usize,
    storage: Storage,
}

enum Storage {
    /// Little-endian f32 bytes (a view into the loaded file).
    F32(Bytes),
    /// int8 values (a view into the loaded file) and one scale per row.
    Int8 { values: Bytes, scales: Vec<f32> },
}

impl std::fmt::Debug for WordEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordEmbeddings")
            .field("rows", &self.rows)
            .field("width", &self.width)
            .field("precision", &self.precision().name())
            .finish()
    }
}

impl WordEmbeddings {
    /// Rows (the vocabulary size).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Width of a row (the hidden size).
    pub fn width(&self) -> usize {
        self.width
    }

    /// How the table is stored.
    pub fn precision(&self) -> Precision {
        match self.storage {
            Storage::F32(_) => Precision::F32,
            Storage::Int8 { .. } => Precision::Int8,
        }
    }

    /// Appends the f32 rows of `ids` to `out`, in order (`ids.len() × width` values).
    pub fn gather(&self, ids: &[u32], out: &mut Vec<f32>) -> Result<()> {
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= self.rows) {
            return Err(Error::InvalidOption {
                name: "token ids",
                expected: "ids below the model's vocabulary size",
                value: format!("id {bad}"),
            });
        }
        out.reserve(ids.len() * self.width);
        let width = self.width;
        for &id in ids {
            let start = id as usize * width;
            match &self.storage {
                Storage::F32(bytes) => {
                    out.extend(quant::f32_le(&bytes[start * 4..(start + width) * 4]));
                }
                Storage::Int8 { values, scales } => {
                    let scale = scales[id as usize];
                    out.extend(
                        values[start..start + width]
                            .iter()
                            .map(|&q| quant::dequantize_one(q as i8, scale)),
                    );
                }
            }
        }
        Ok(())
    }
}

/// A loaded model: the module on its device and the table on the CPU.
pub struct Loaded<M> {
    /// The transformer, its parameters set.
    pub model: M,
    /// The word-embedding table.
    pub word_embeddings: WordEmbeddings,
    /// How the file stored its weights.
    pub precision: Precision,
    /// Linear layers running our CPU kernels ([`crate::kernels::LinearKernels`]).
    pub packed_layers: usize,
    /// Of those, the ones multiplying int8 weights in integers.
    pub integer_layers: usize,
}

/// The bytes of a weights file, in memory aligned as burn's tensors want it (16 bytes).
///
/// NOTE: burn's `Bytes::from_bytes_vec` copies a `Vec<u8>` into a new allocation to align it
/// (it goes by the vector's declared alignment, 1), so a caller that fills a buffer anyway (the
/// wasm module, from a JS `Uint8Array`) fills an aligned one with [`WeightBytes::filled`]: the
/// weights are then copied once on their way in, not twice.
pub struct WeightBytes(Bytes);

impl WeightBytes {
    /// `len` bytes written by `fill` into an aligned buffer (zeroed first).
    pub fn filled(len: usize, fill: impl FnOnce(&mut [u8])) -> Self {
        let mut words = vec![0u128; len.div_ceil(16)];
        // SAFETY: u8 has alignment 1 and every bit pattern is a valid u128 and a valid u8; the
        // byte view covers exactly the vector's elements.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 16)
        };
        fill(&mut bytes[..len]);
        let shared = Bytes::from_elems(words).shared();
        // A shared allocation always has a window of its own range.
        Self(
            shared
                .view(0, len)
                .expect("a window within a shared allocation"),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
}

impl From<Vec<u8>> for WeightBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Bytes::from_bytes_vec(bytes))
    }
}

/// Loads a weights file written by the importer (crates/import) for model `M`. The bytes are moved, not copied; the
/// table keeps a view into them.
pub fn load<M: CrossEncoderModel>(
    bytes: WeightBytes,
    device: &Device,
    linear_kernels: LinearKernels,
    activations: Activations,
) -> Result<Loaded<M>> {
    let name = M::INFO.name;
    let bad = |why: String| Error::Weights(format!("not a usable weights file for {name}: {why}"));
    if bytes.is_empty() {
        return Err(Error::Weights("the weights file is empty".into()));
    }
    let reader = Reader::from_bytes(bytes.0).map_err(|e| bad(e.to_string()))?;
    let metadata = reader.metadata().clone();
    let stated = metadata.get(PRECISION_KEY).map(String::as_str);
    let Some(precision) = stated.and_then(Precision::from_name) else {
        return Err(bad(format!(
            "it says it holds {} weights; expected a weights-f32.bpk or weights-int8.bpk \
             written by this version's build",
            stated.unwrap_or("unknown")
        )));
    };
    let mut tensors: BTreeMap<String, PackTensor> = reader
        .into_tensors()
        .map_err(|e| bad(e.to_string()))?
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let axes: HashMap<&str, ScaleAxis> = metadata
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(QUANTIZED_PREFIX)?, value)))
        .map(|(tensor, axis)| {
            ScaleAxis::from_name(axis)
                .map(|axis| (tensor, axis))
                .ok_or_else(|| bad(format!("unknown scale axis {axis:?} for {tensor}")))
        })
        .collect::<Result<_>>()?;

    let table = tensors
        .remove(WORD_EMBEDDINGS)
        .ok_or_else(|| bad("it has no word-embedding table".into()))?;
    let word_embeddings = read_table(table, &mut tensors, axes.get(WORD_EMBEDDINGS).copied())
        .map_err(|why| bad(format!("{WORD_EMBEDDINGS}: {why}")))?;
    if word_embeddings.rows as u64 != M::INFO.vocab_size
        || word_embeddings.width as u64 != M::INFO.hidden_size
    {
        return Err(bad(format!(
            "its word-embedding table is {}×{}, the model's is {}×{}",
            word_embeddings.rows,
            word_embeddings.width,
            M::INFO.vocab_size,
            M::INFO.hidden_size
        )));
    }

    let mut model = M::empty(device);
    // The weights of these layers are packed for our kernels instead of applied to the module.
    let packed_layers: Vec<&'static str> = if linear_kernels.packed_on(device) {
        model
            .linear_layers()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    } else {
        Vec::new()
    };
    let mut packed: HashMap<&'static str, PackedWeights> = HashMap::new();
    let mut module_tensors = Vec::with_capacity(tensors.len());
    let names: Vec<String> = tensors.keys().cloned().collect();
    for tensor_name in names {
        let Some(tensor) = tensors.remove(&tensor_name) else {
            continue; // a scale already taken by its matrix
        };
        let axis = axes.get(tensor_name.as_str()).copied();
        let layer = tensor_name
            .strip_suffix(".weight")
            .and_then(|layer| packed_layers.iter().find(|&&l| l == layer));
        if let Some(&layer) = layer {
            let weights = match (tensor.dtype, axis) {
                (DType::I8, Some(ScaleAxis::Columns)) => {
                    pack_int8(&tensor, &mut tensors, activations)
                }
                (DType::F32, None) => pack_f32(&tensor),
                _ => Err(format!(
                    "a linear weight stored as {:?} with scales along {:?}",
                    tensor.dtype,
                    axis.map(ScaleAxis::name)
                )),
            }
            .map_err(|why| bad(format!("{tensor_name}: {why}")))?;
            packed.insert(layer, weights);
            continue;
        }
        let tensor = to_f32(tensor, &mut tensors, axis)
            .map_err(|why| bad(format!("{tensor_name}: {why}")))?;
        module_tensors.push(tensor);
    }

    let mut result = model.apply(module_tensors, None, None, false);
    // A packed layer's f32 weight is missing on purpose: it is never made.
    result.missing.retain(|(path, _)| {
        !path
            .strip_suffix(".weight")
            .is_some_and(|layer| packed.contains_key(layer))
    });
    let packed_layers = packed.len();
    let integer_layers = packed
        .values()
        .filter(|w| matches!(w, PackedWeights::Int8(_) | PackedWeights::Int8I7(_)))
        .count();
    for (name, layer) in model.linear_layers() {
        if let Some(weights) = packed.remove(name) {
            layer
                .use_packed(weights)
                .map_err(|why| bad(format!("{name}.weight: {why}")))?;
        }
    }
    if !result.is_success() || !result.unused.is_empty() || !result.missing.is_empty() {
        return Err(Error::Weights(format!(
            "weights do not match model {name}: {} missing, {} unexpected, {} errors{}",
            result.missing.len(),
            result.unused.len(),
            result.errors.len(),
            result
                .errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .or_else(|| result
                    .missing
                    .first()
                    .map(|m| format!(" (first missing: {m:?})")))
                .or_else(|| result
                    .unused
                    .first()
                    .map(|u| format!(" (first unexpected: {u})")))
                .unwrap_or_default()
        )));
    }
    Ok(Loaded {
        model,
        word_embeddings,
        precision,
        packed_layers,
        integer_layers,
    })
}

/// The `[rows, columns]` of a matrix, or why it is not one.
fn matrix(tensor: &PackTensor) -> std::result::Result<(usize, usize), String> {
    match tensor.shape.to_vec().as_slice() {
        &[rows, columns] if rows > 0 && columns > 0 => Ok((rows, columns)),
        other => Err(format!("expected a matrix, found shape {other:?}")),
    }
}

/// The checked parts of an int8 matrix: its shape, its values and its scales (the `.scale`
/// tensor, taken out of `rest`).
struct Int8Matrix {
    rows: usize,
    columns: usize,
    values: Bytes,
    scales: Vec<f32>,
}

fn int8_matrix(
    tensor: &PackTensor,
    rest: &mut BTreeMap<String, PackTensor>,
    axis: ScaleAxis,
) -> std::result::Result<Int8Matrix, String> {
    let (rows, columns) = matrix(tensor)?;
    let scale = rest
        .remove(&scale_name(&tensor.name))
        .ok_or("it is int8 but has no scales")?;
    let want = axis.scale_count(rows, columns);
    if scale.dtype != DType::F32 || scale.shape.to_vec() != [want] {
        return Err(format!(
            "its scales are {:?} {:?}, expected f32 [{want}]",
            scale.dtype,
            scale.shape.to_vec()
        ));
    }
    let bytes = scale.to_bytes().map_err(|e| e.to_string())?;
    let scales: Vec<f32> = quant::f32_le(&bytes).collect();
    if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return Err("a scale is negative or not finite".into());
    }
    Ok(Int8Matrix {
        rows,
        columns,
        values: checked_bytes(tensor, rows * columns)?,
        scales,
    })
}

fn read_table(
    table: PackTensor,
    rest: &mut BTreeMap<String, PackTensor>,
    axis: Option<ScaleAxis>,
) -> std::result::Result<WordEmbeddings, String> {
    let (rows, width) = matrix(&table)?;
    let storage = match (table.dtype, axis) {
        (DType::F32, None) => Storage::F32(checked_bytes(&table, rows * width * 4)?),
        (DType::I8, Some(ScaleAxis::Rows)) => {
            let Int8Matrix { values, scales, .. } = int8_matrix(&table, rest, ScaleAxis::Rows)?;
            Storage::Int8 { values, scales }
        }
        (dtype, axis) => {
            return Err(format!(
                "stored as {dtype:?} with scales along {:?}; expected f32, or int8 per row",
                axis.map(ScaleAxis::name)
            ));
        }
    };
    Ok(WordEmbeddings {
        rows,
        width,
        storage,
    })
}

fn checked_bytes(tensor: &PackTensor, len: usize) -> std::result::Result<Bytes, String> {
    let bytes = tensor.to_bytes().map_err(|e| e.to_string())?;
    if bytes.len() != len {
        return Err(format!("holds {} bytes, expected {len}", bytes.len()));
    }
    Ok(bytes)
}

/// An int8 linear weight (scales per output column) packed for the integer kernel that rounds
/// activations as `activations` says.
fn pack_int8(
    tensor: &PackTensor,
    rest: &mut BTreeMap<String, PackTensor>,
    activations: Activations,
) -> std::result::Result<PackedWeights, String> {
    let Int8Matrix {
        rows,
        columns,
        values,
        scales,
    } = int8_matrix(tensor, rest, ScaleAxis::Columns)?;
    let values = bytemuck_i8(&values);
    Ok(match activations {
        Activations::I16 => PackedWeights::Int8(PackedInt8::new(values, &scales, rows, columns)),
        Activations::I7 => PackedWeights::Int8I7(PackedInt8I7::new(values, &scales, rows, columns)),
    })
}

/// An f32 linear weight packed for our f32 kernel.
fn pack_f32(tensor: &PackTensor) -> std::result::Result<PackedWeights, String> {
    let (rows, columns) = matrix(tensor)?;
    let bytes = checked_bytes(tensor, rows * columns * 4)?;
    let values: Vec<f32> = quant::f32_le(&bytes).collect();
    Ok(PackedWeights::F32(PackedF32::new(&values, rows, columns)))
}

/// A tensor as it is stored, or a quantized one dequantized to f32 with its scales.
fn to_f32(
    tensor: PackTensor,
    rest: &mut BTreeMap<String, PackTensor>,
    axis: Option<ScaleAxis>,
) -> std::result::Result<PackTensor, String> {
    match (tensor.dtype, axis) {
        // Not quantized: f32 weights, and the model's integer constants, go to the module as
        // they are; `apply` checks their dtype and shape against the module's.
        (_, None) => Ok(tensor),
        (DType::I8, Some(axis)) => {
            let Int8Matrix {
                rows,
                columns,
                values,
                scales,
            } = int8_matrix(&tensor, rest, axis)?;
            let quantized: &[i8] = bytemuck_i8(&values);
            let mut out = vec![0.0f32; rows * columns];
            quant::dequantize_into(quantized, &scales, columns, axis, &mut out);
            Ok(PackTensor::new(
                tensor.name,
                DType::F32,
                vec![rows, columns],
                tensor.param_id,
                Bytes::from_elems(out),
            ))
        }
        (dtype, Some(axis)) => Err(format!(
            "stored as {dtype:?} but listed as quantized along {}",
            axis.name()
        )),
    }
}

/// Reinterprets bytes as i8 (same size and alignment).
fn bytemuck_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have the same size and alignment, and every bit pattern is valid.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

#[cfg(test)]
mod tests {
    use super::WeightBytes;

    #[test]
    fn filled_weights_are_exact_and_aligned() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let want: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let filled = WeightBytes::filled(len, |buffer| buffer.copy_from_slice(&want));
            assert_eq!(&filled.0[..], &want[..]);
            assert_eq!(filled.len(), len);
            if len > 0 {
                assert_eq!(filled.0.as_ptr() as usize % 16, 0, "{len} bytes");
            }
            assert_eq!(&WeightBytes::from(want.clone()).0[..], &want[..]);
        }
    }
}
