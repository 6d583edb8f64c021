//! Graph surgery: transformers 5's bool mask math made plain ([`crate::mask`]), the hub form
//! made int32 ([`crate::int32`]), the word-embedding table cut out of the ONNX graph, then the
//! fusions of [`crate::fuse`].

use std::fs;
use std::path::Path;

use onnx_ir::{Message, ModelProto};

use crate::quant::WORD_EMBEDDINGS;
use crate::{fail, fuse, int32, mask};

/// Rewrites `onnx`'s bool mask math ([`mask`]) and int64 form ([`int32`]), cuts the word-embedding table out, fuses attention and GELU ([`fuse`]) and writes
/// the rest of the graph to `split`.
///
/// The table is the `[vocab, hidden]` f32 initializer read by exactly one `Gather` (axis 0). That
/// node goes; its output becomes the graph input `word_embeddings`, `[batch, sequence, hidden]`.
/// Returns the table's little-endian f32 bytes and what was fused.
pub fn prepare(
    onnx: &Path,
    split: &Path,
    vocab: u64,
    hidden: u64,
    heads: u64,
) -> (Vec<u8>, fuse::Fused) {
    let bytes = fs::read(onnx).unwrap_or_else(|e| fail(format!("cannot read {onnx:?}: {e}")));
    let mut model = ModelProto::parse_from_bytes(&bytes)
        .unwrap_or_else(|e| fail(format!("{onnx:?} is not an ONNX model: {e}")));
    drop(bytes);
    mask::rewrite(&mut model);
    let graph = model.graph.mut_or_insert_default();
    int32::rewrite(graph, &onnx.display().to_string());
    let shape = [vocab as i64, hidden as i64];
    let Some(index) = graph
        .initializer
        .iter()
        .position(|t| t.dims == shape && t.data_type == 1)
    else {
        fail(format!(
            "{onnx:?} has no f32 [{vocab}, {hidden}] initializer: cannot find the word embeddings"
        ))
    };
    let table = graph.initializer.remove(index);
    let users: Vec<usize> = (0..graph.node.len())
        .filter(|&i| graph.node[i].input.contains(&table.name))
        .collect();
    let gather = match users.as_slice() {
        [i] if graph.node[*i].op_type == "Gather"
            && graph.node[*i].input.first() == Some(&table.name)
            && graph.node[*i]
                .attribute
                .iter()
                .all(|a| a.name != "axis" || a.i == 0) =>
        {
            graph.node.remove(*i)
        }
        _ => fail(format!(
            "in {onnx:?} the word-embedding table {} is used by {} node(s); expected one Gather \
             on axis 0 (export with tools/export_onnx.py)",
            table.name,
            users.len()
        )),
    };
    let gathered = gather.output[0].clone();
    for node in &mut graph.node {
        for input in &mut node.input {
            if *input == gathered {
                *input = WORD_EMBEDDINGS.to_string();
            }
        }
    }
    graph.value_info.retain(|v| v.name != gathered);
    // The new input: the shape of `input_ids` plus the hidden width, as f32.
    let Some(ids) = graph.input.iter().find(|i| i.name == "input_ids") else {
        fail(format!("{onnx:?} has no input named input_ids"))
    };
    let mut input = ids.clone();
    input.name = WORD_EMBEDDINGS.to_string();
    let tensor = input.type_.mut_or_insert_default().mut_tensor_type();
    tensor.elem_type = 1;
    let dims = &mut tensor.shape.mut_or_insert_default().dim;
    let Some(mut width) = dims.first().cloned() else {
        fail(format!("{onnx:?}: input_ids has no shape"))
    };
    width.set_dim_value(hidden as i64);
    dims.push(width);
    graph.input.push(input);

    let data = if !table.raw_data.is_empty() {
        table.raw_data.to_vec()
    } else {
        table
            .float_data
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    };
    if data.len() as u64 != vocab * hidden * 4 {
        fail(format!(
            "{onnx:?}: the word-embedding table holds {} bytes, expected {} (external data is not supported)",
            data.len(),
            vocab * hidden * 4
        ));
    }
    let fused = fuse::fuse(&mut model, heads);
    let written = model
        .write_to_bytes()
        .unwrap_or_else(|e| fail(format!("cannot encode the split graph: {e}")));
    fs::write(split, written).unwrap_or_else(|e| fail(format!("cannot write {split:?}: {e}")));
    (data, fused)
}
