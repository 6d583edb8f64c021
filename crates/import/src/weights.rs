//! The two weight files: `weights-f32.bpk` (exact) and `weights-int8.bpk` (compact), from
//! burn-onnx's `model.bpk` and the word-embedding table.

use std::fs;
use std::path::Path;

use burn_store::burn_pack::{Bytes, DType, Reader, Tensor as PackTensor, Writer};

use crate::fail;
use crate::quant::{
    self, PRECISION_KEY, Precision, QUANTIZED_PREFIX, ScaleAxis, WORD_EMBEDDINGS, scale_name,
};

/// How the compact weights store a tensor: int8 with scales along an axis, or `None` for f32.
///
/// NOTE: only large matrices are worth quantizing, and they are the ones whose error averages
/// out: a linear layer's weight (`[in, out]` in burn, so one scale per output column) and the
/// word-embedding table (one per token). Biases, LayerNorm, the position embeddings and the
/// classifier's one-column output stay f32: they are small, and an error there reaches the
/// logit directly.
fn compact_axis(name: &str, shape: &[usize]) -> Option<ScaleAxis> {
    if name == WORD_EMBEDDINGS {
        return Some(ScaleAxis::Rows);
    }
    // burn-onnx names a linear layer `linearN`, inside `submoduleM.` when it splits a large graph.
    let mut path = name.rsplit('.');
    let is_linear = path.next() == Some("weight")
        && path.next().is_some_and(|layer| layer.starts_with("linear"));
    (is_linear && shape.len() == 2 && shape.iter().all(|&d| d >= 16)).then_some(ScaleAxis::Columns)
}

/// Writes `weights-f32.bpk` and `weights-int8.bpk` from burn-onnx's `model.bpk` and the table.
pub fn write(target: &Path, table: Vec<u8>, vocab: u64, hidden: u64) {
    let generated = target.join("model.bpk");
    let tensors = Reader::from_file(&generated)
        .and_then(Reader::into_tensors)
        .unwrap_or_else(|e| fail(format!("cannot read {generated:?}: {e}")));
    let table = PackTensor::new(
        WORD_EMBEDDINGS.to_string(),
        DType::F32,
        vec![vocab as usize, hidden as usize],
        None,
        Bytes::from_bytes_vec(table),
    );

    // NOTE: read once for both files; a clone of a file view reads at most that tensor (the
    // transformer's, never the table, which is added to each list on its own).
    let mut exact = tensors.clone();
    exact.push(table.clone());
    Writer::new(exact)
        .with_metadata(PRECISION_KEY, Precision::F32.name())
        .overwrite(true)
        .write_to_file(target.join("weights-f32.bpk"))
        .unwrap_or_else(|e| fail(format!("cannot write weights-f32.bpk: {e}")));

    let mut compact = Vec::new();
    let mut writer_metadata = Vec::new();
    for tensor in tensors.into_iter().chain([table]) {
        let shape = tensor.shape.to_vec();
        match (tensor.dtype, compact_axis(&tensor.name, &shape)) {
            (DType::F32, Some(axis)) => {
                let bytes = tensor
                    .to_bytes()
                    .unwrap_or_else(|e| fail(format!("tensor {}: {e}", tensor.name)));
                let values: Vec<f32> = quant::f32_le(&bytes).collect();
                let (q, scales) = quant::quantize(&values, shape[0], shape[1], axis);
                let q: Vec<u8> = q.into_iter().map(|v| v as u8).collect();
                let scales: Vec<u8> = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
                let count = axis.scale_count(shape[0], shape[1]);
                writer_metadata.push((format!("{QUANTIZED_PREFIX}{}", tensor.name), axis.name()));
                compact.push(PackTensor::new(
                    scale_name(&tensor.name),
                    DType::F32,
                    vec![count],
                    None,
                    Bytes::from_bytes_vec(scales),
                ));
                compact.push(PackTensor::new(
                    tensor.name,
                    DType::I8,
                    shape,
                    None,
                    Bytes::from_bytes_vec(q),
                ));
            }
            _ => compact.push(tensor),
        }
    }
    let mut writer = Writer::new(compact).with_metadata(PRECISION_KEY, Precision::Int8.name());
    for (key, value) in &writer_metadata {
        writer = writer.with_metadata(key, value);
    }
    writer
        .overwrite(true)
        .write_to_file(target.join("weights-int8.bpk"))
        .unwrap_or_else(|e| fail(format!("cannot write weights-int8.bpk: {e}")));
    // Only the two files above are meant to be loaded.
    let _ = fs::remove_file(&generated);
}
