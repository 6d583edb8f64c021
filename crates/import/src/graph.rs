//! Graph surgery: transformers 5's bool mask math made plain ([`crate::mask`]), the hub form
//! made int32 ([`crate::int32`]), Gemm layers in MatMul's layout ([`crate::gemm`]), the
//! word-embedding table cut out of the ONNX graph, then the fusions of [`crate::fuse`].

use std::fs;
use std::path::Path;

use onnx_ir::{GraphProto, Message, ModelProto};

use crate::quant::WORD_EMBEDDINGS;
use crate::{fail, fuse, gemm, int32, mask};

/// Rewrites `onnx`'s bool mask math ([`mask`]) and int64 form ([`int32`]), cuts the word-embedding table out, fuses attention and GELU ([`fuse`]) and writes
/// the rest of the graph to `split`.
///
/// The table is the `[vocab, hidden]` f32 initializer read by exactly one `Gather` (axis 0). That
/// node goes; its output becomes the graph input `word_embeddings`, `[batch, sequence, hidden]`.
/// Returns the table's little-endian f32 bytes, what was fused and what was not
/// ([`fuse::unfused`]).
pub fn prepare(
    onnx: &Path,
    split: &Path,
    vocab: u64,
    hidden: u64,
    heads: u64,
) -> (Vec<u8>, fuse::Fused, Vec<String>) {
    let bytes = fs::read(onnx).unwrap_or_else(|e| fail(format!("cannot read {onnx:?}: {e}")));
    let mut model = ModelProto::parse_from_bytes(&bytes)
        .unwrap_or_else(|e| fail(format!("{onnx:?} is not an ONNX model: {e}")));
    drop(bytes);
    let folder = onnx.parent().unwrap_or(Path::new("."));
    let external = crate::onnx::inline_external_data(&mut model, folder)
        .unwrap_or_else(|e| fail(format!("{onnx:?}: {e}")));
    for file in external {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let source = format!("{onnx:?}");
    let (table, fused) = prepare_model(&mut model, &source, vocab, hidden, heads);
    let unfused = fuse::unfused(model.graph.as_ref().expect("a graph"));
    let written = model
        .write_to_bytes()
        .unwrap_or_else(|e| fail(format!("cannot encode the split graph: {e}")));
    fs::write(split, written).unwrap_or_else(|e| fail(format!("cannot write {split:?}: {e}")));
    (table, fused, unfused)
}

/// [`prepare`] on a parsed model; `source` names it in messages.
pub fn prepare_model(
    model: &mut ModelProto,
    source: &str,
    vocab: u64,
    hidden: u64,
    heads: u64,
) -> (Vec<u8>, fuse::Fused) {
    mask::rewrite(model);
    let graph = model.graph.mut_or_insert_default();
    int32::rewrite(graph, source);
    gemm::rewrite(graph);
    let table = cut_table(graph, source, vocab, hidden);
    let fused = fuse::fuse(model, heads);
    (table, fused)
}

/// Cuts the word-embedding table out of `graph` (see [`prepare`]); returns its bytes.
fn cut_table(graph: &mut GraphProto, onnx: &str, vocab: u64, hidden: u64) -> Vec<u8> {
    let shape = [vocab as i64, hidden as i64];
    let Some(index) = graph
        .initializer
        .iter()
        .position(|t| t.dims == shape && t.data_type == 1)
    else {
        fail(format!(
            "{onnx} has no f32 [{vocab}, {hidden}] initializer: cannot find the word embeddings"
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
            "in {onnx} the word-embedding table {} is used by {} node(s); expected one Gather \
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
        fail(format!("{onnx} has no input named input_ids"))
    };
    let mut input = ids.clone();
    input.name = WORD_EMBEDDINGS.to_string();
    let tensor = input.type_.mut_or_insert_default().mut_tensor_type();
    tensor.elem_type = 1;
    let dims = &mut tensor.shape.mut_or_insert_default().dim;
    let Some(mut width) = dims.first().cloned() else {
        fail(format!("{onnx}: input_ids has no shape"))
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
            "{onnx}: the word-embedding table holds {} bytes, expected {} (external data is not supported)",
            data.len(),
            vocab * hidden * 4
        ));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::node;
    use crate::onnx_test::{Graph, run, value_info};

    const TABLE: [f32; 10] = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5];

    /// `input_ids` `[1, 2]` looked up in a `[5, 2]` table, plus a bias.
    fn embedded(second_reader: bool) -> Graph {
        let mut g = Graph::new(&[], &[("y", &[1, 2, 2])]);
        g.inputs.push(value_info("input_ids", 6, &[1, 2]));
        g.initializer("table", &[5, 2], &TABLE);
        g.initializer("bias", &[2], &[0.25, -0.25]);
        g.nodes
            .push(node("Gather", &["table", "input_ids"], "rows"));
        g.nodes.push(node("Add", &["rows", "bias"], "y"));
        if second_reader {
            g.outputs.push(value_info("again", 1, &[1, 2, 2]));
            g.nodes
                .push(node("Gather", &["table", "input_ids"], "again"));
        }
        g
    }

    #[test]
    fn the_table_becomes_an_input_and_the_graph_computes_the_same_from_its_rows() {
        let graph = embedded(false);
        let ids = [3.0, 1.0];
        let before = run(&graph.model(), &[("input_ids", &[1, 2], &ids)]);
        let mut model = graph.model();
        let (table, fused) = prepare_model(&mut model, "test", 5, 2, 1);
        assert_eq!(fused, fuse::Fused::default());
        let values: Vec<f32> = table
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(values, TABLE);
        assert!(model.graph.initializer.iter().all(|t| t.name != "table"));
        assert!(model.graph.node.iter().all(|n| n.op_type != "Gather"));
        let input = model
            .graph
            .input
            .iter()
            .find(|i| i.name == WORD_EMBEDDINGS)
            .expect("the new input");
        let dims: Vec<i64> = input
            .type_
            .tensor_type()
            .shape
            .dim
            .iter()
            .map(|d| d.dim_value())
            .collect();
        assert_eq!(dims, [1, 2, 2]);
        let rows = [3.0, 3.5, 1.0, 1.5];
        let after = run(
            &model,
            &[
                ("input_ids", &[1, 2], &ids),
                (WORD_EMBEDDINGS, &[1, 2, 2], &rows),
            ],
        );
        assert_eq!(after, before);
    }

    #[test]
    #[should_panic(expected = "is used by 2 node(s)")]
    fn a_table_read_twice_stops_the_build() {
        prepare_model(&mut embedded(true).model(), "test", 5, 2, 1);
    }

    #[test]
    #[should_panic(expected = "no f32 [7, 2] initializer")]
    fn a_model_without_the_table_stops_the_build() {
        prepare_model(&mut embedded(false).model(), "test", 7, 2, 1);
    }
}
