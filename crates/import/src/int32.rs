//! The hub form made WebGPU-ready (a step of the build script, `crates/import/src/lib.rs`).
//!
//! The ONNX files model hubs ship for XLM-R cross-encoders are TorchScript exports at opset 14:
//! int64 inputs, int64 index math for the position ids, and a token-type-id buffer sliced and
//! `Expand`ed to the input's shape at run time. burn-onnx imports that form, but its code computes
//! in `DType::I64` (WGSL has no 64-bit integers) and reads the `Expand`'s shape back with
//! `to_data()` (which panics in wasm on WebGPU). This step rewrites the graph so neither remains:
//!
//! * **token types**: a `Gather` from the token-type table whose indices are all zero (a buffer of
//!   zeros, sliced/expanded, or a `token_type_ids` input of a one-row table) becomes that table's
//!   row 0, an initializer the following `Add` broadcasts. The buffer's slicing and expanding go
//!   with it. A non-zero buffer, or a `token_type_ids` input with a table of several rows, stops
//!   the build: such a model needs token types the engine does not pass.
//! * **int64 → int32**: the int64 inputs become int32, and so does every int64 value computed
//!   from their contents: `Cast`s to int64 cast to int32 instead, and the int64 constants such a
//!   value meets in arithmetic or comparisons get int32 copies. Shape arithmetic (what `Shape`
//!   produces) is not computed from the contents and stays as burn-onnx expects it. An op on such
//!   a value this step does not know stops the build with its name.
//!
//! A graph without int64 inputs (tools/export_onnx.py's WebGPU form) is left as it is.

use std::collections::HashSet;

use onnx_ir::{GraphProto, NodeProto, TensorProto, ValueInfoProto};

use crate::fail;
use crate::onnx::{tensor_floats, tensor_ints};

const INT32: i32 = 6;
const INT64: i32 = 7;
const FLOAT: i32 = 1;

/// Rewrites `graph` (see the module docs); `source` names the file in messages.
pub fn rewrite(graph: &mut GraphProto, source: &str) {
    fold_token_types(graph, source);
    let int64_inputs: Vec<String> = graph
        .input
        .iter()
        .filter(|i| elem_type(i) == Some(INT64))
        .map(|i| i.name.clone())
        .collect();
    if int64_inputs.is_empty() {
        return;
    }
    narrow(graph, &int64_inputs, source);
    crate::onnx::drop_unused(graph);
    for input in &mut graph.input {
        if int64_inputs.contains(&input.name) {
            set_elem_type(input, INT32);
        }
    }
}

/// Replaces each token-type lookup whose ids are all zero by the table's row 0.
fn fold_token_types(graph: &mut GraphProto, source: &str) {
    let mut folded = 0;
    let mut index = 0;
    while index < graph.node.len() {
        let node = &graph.node[index];
        let table = node.input.first().and_then(|t| initializer(graph, t));
        let (Some(table), Some(ids)) = (table, node.input.get(1)) else {
            index += 1;
            continue;
        };
        if node.op_type != "Gather"
            || table.data_type != FLOAT
            || table.dims.len() != 2
            || !(ids == "token_type_ids" || zeros_source(graph, ids).is_some())
        {
            index += 1;
            continue;
        }
        if ids == "token_type_ids" && table.dims[0] != 1 {
            fail(format!(
                "{source} takes token_type_ids and its token-type table has {} rows; the engine \
                 passes no token types, so it supports only one-row tables (XLM-R's)",
                table.dims[0]
            ));
        }
        let hidden = table.dims[1] as usize;
        let data = tensor_floats(table).unwrap_or_else(|| {
            fail(format!(
                "{source}: cannot read the token-type table {}",
                table.name
            ))
        });
        let mut row = TensorProto::new();
        row.name = node.output[0].clone();
        row.data_type = FLOAT;
        row.dims = vec![hidden as i64];
        row.float_data = data[..hidden].to_vec();
        graph.value_info.retain(|v| v.name != row.name);
        graph.initializer.push(row);
        graph.node.remove(index);
        folded += 1;
    }
    if folded > 0 {
        graph.input.retain(|i| i.name != "token_type_ids");
        crate::onnx::drop_unused(graph);
    }
    // A buffer of token types that are not all zero would be silently wrong without this.
    for node in &graph.node {
        if node.op_type == "Gather"
            && let Some(ids) = node.input.get(1)
            && let Some(buffer) = buffer_source(graph, ids)
            && node
                .input
                .first()
                .and_then(|t| initializer(graph, t))
                .is_some_and(|t| t.data_type == FLOAT)
        {
            fail(format!(
                "{source}: the token types read from {} are not all zero; the engine \
                 supports models whose token types are all zero (XLM-R's)",
                buffer.name
            ));
        }
    }
}

/// The ops a token-type buffer passes through on its way to the lookup: each one's values are
/// some of its first input's (transformers 5 gathers the buffer by the position ids).
const LAYOUT: [&str; 9] = [
    "Expand",
    "Slice",
    "Reshape",
    "Unsqueeze",
    "Squeeze",
    "Cast",
    "Identity",
    "Gather",
    "GatherElements",
];

/// The integer initializer `value` takes its values from (following the [`LAYOUT`] ops' first input).
fn buffer_source<'g>(graph: &'g GraphProto, value: &str) -> Option<&'g TensorProto> {
    let mut value = value.to_string();
    loop {
        if let Some(tensor) = initializer(graph, &value).or_else(|| constant(graph, &value)) {
            return matches!(tensor.data_type, INT32 | INT64).then_some(tensor);
        }
        let producer = graph.node.iter().find(|n| n.output.contains(&value))?;
        if !LAYOUT.contains(&producer.op_type.as_str()) {
            return None;
        }
        value = producer.input.first()?.clone();
    }
}

/// [`buffer_source`], if every value in it is zero.
fn zeros_source<'g>(graph: &'g GraphProto, value: &str) -> Option<&'g TensorProto> {
    buffer_source(graph, value)
        .filter(|t| tensor_ints(t).is_some_and(|v| v.iter().all(|&x| x == 0)))
}

/// Turns every int64 value computed from the contents of `inputs` into int32 (module docs).
fn narrow(graph: &mut GraphProto, inputs: &[String], source: &str) {
    // Values computed from the inputs' contents, and those of them that are (were) int64.
    let mut data: HashSet<String> = inputs.iter().cloned().collect();
    let mut int64: HashSet<String> = data.clone();
    let mut copies: Vec<TensorProto> = Vec::new();
    for index in 0..graph.node.len() {
        let node = &graph.node[index];
        if node.op_type == "Shape" || !node.input.iter().any(|i| data.contains(i)) {
            continue;
        }
        let op = node.op_type.clone();
        let reads_int64 = node.input.iter().any(|i| int64.contains(i));
        let first_int64 = node.input.first().is_some_and(|i| int64.contains(i));
        let mut outputs_int64 = false;
        match op.as_str() {
            "Cast" => {
                let node = &mut graph.node[index];
                if let Some(to) = node.attribute.iter_mut().find(|a| a.name == "to")
                    && to.i == i64::from(INT64)
                {
                    to.i = i64::from(INT32);
                    outputs_int64 = true;
                }
            }
            "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Neg" | "Abs" | "Max" | "Min" | "CumSum"
            | "Concat" | "Where" | "Equal" | "Less" | "Greater" | "LessOrEqual"
            | "GreaterOrEqual"
                if reads_int64 =>
            {
                // The operands besides the data (constants) become int32 too; CumSum's second
                // input is its axis, and Where's first its condition.
                let skip = match op.as_str() {
                    "CumSum" => vec![1],
                    "Where" => vec![0],
                    _ => vec![],
                };
                for slot in 0..graph.node[index].input.len() {
                    let name = graph.node[index].input[slot].clone();
                    if skip.contains(&slot) || data.contains(&name) || name.is_empty() {
                        continue;
                    }
                    let Some(tensor) = initializer(graph, &name).or_else(|| constant(graph, &name))
                    else {
                        fail(format!(
                            "{source}: {op} {} mixes int64 data with {name}, which is neither \
                             data nor a constant; the build cannot make it int32",
                            graph.node[index].name
                        ))
                    };
                    if tensor.data_type != INT64 {
                        continue;
                    }
                    let copy = format!("{name}__int32");
                    if !copies.iter().any(|c| c.name == copy) {
                        copies.push(int32_copy(tensor, &copy, source));
                    }
                    graph.node[index].input[slot] = copy;
                }
                outputs_int64 = !matches!(
                    op.as_str(),
                    "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual"
                );
            }
            "Unsqueeze" | "Squeeze" | "Reshape" | "Transpose" | "Expand" | "Slice" | "Flatten"
            | "Identity" | "Gather"
                if first_int64 =>
            {
                outputs_int64 = true;
            }
            // A Gather whose indices are the data (an embedding lookup) reads its table's type.
            _ if reads_int64 && (op != "Gather" || first_int64) => fail(format!(
                "{source}: {op} {} computes with int64 values from the inputs, and the build \
                 knows no int32 form of it. Export the model with `tools/export_onnx.py --form \
                 webgpu` (or `./build.sh --checkpoint DIR`)",
                graph.node[index].name
            )),
            _ => {}
        }
        for output in &graph.node[index].output {
            data.insert(output.clone());
            if outputs_int64 {
                int64.insert(output.clone());
            }
        }
    }
    graph.initializer.extend(copies);
    for info in &mut graph.value_info {
        if int64.contains(&info.name) {
            set_elem_type(info, INT32);
        }
    }
}

/// An int32 copy of the int64 constant `tensor`, named `name`.
fn int32_copy(tensor: &TensorProto, name: &str, source: &str) -> TensorProto {
    let values = tensor_ints(tensor).unwrap_or_default();
    let mut copy = TensorProto::new();
    copy.name = name.to_string();
    copy.data_type = INT32;
    copy.dims = tensor.dims.clone();
    copy.int32_data = values
        .iter()
        .map(|&v| {
            i32::try_from(v).unwrap_or_else(|_| {
                fail(format!(
                    "{source}: the int64 constant {} holds {v}, which int32 cannot",
                    tensor.name
                ))
            })
        })
        .collect();
    copy
}

fn initializer<'g>(graph: &'g GraphProto, name: &str) -> Option<&'g TensorProto> {
    graph.initializer.iter().find(|t| t.name == name)
}

/// The value of the `Constant` node that makes `name`.
fn constant<'g>(graph: &'g GraphProto, name: &str) -> Option<&'g TensorProto> {
    let node: &NodeProto = graph
        .node
        .iter()
        .find(|n| n.op_type == "Constant" && n.output.first().is_some_and(|o| o == name))?;
    node.attribute
        .iter()
        .find(|a| a.name == "value")
        .and_then(|a| a.t.as_ref())
}

fn elem_type(value: &ValueInfoProto) -> Option<i32> {
    value.type_.as_ref().map(|t| t.tensor_type().elem_type)
}

fn set_elem_type(value: &mut ValueInfoProto, to: i32) {
    value
        .type_
        .mut_or_insert_default()
        .mut_tensor_type()
        .elem_type = to;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::node;
    use crate::onnx_test::{Graph, run, value_info};

    /// `input_ids` (int64 `[1, 3]`) plus an int64 offset, looked up in a `[6, 2]` table, plus a
    /// token-type row looked up with an all-zero (or not) int64 buffer: the hub form's shape.
    fn hub_like(token_types: [i64; 3]) -> Graph {
        let mut g = Graph::new(&[], &[("y", &[1, 3, 2])]);
        g.inputs.push(value_info("input_ids", INT64, &[1, 3]));
        g.initializer(
            "table",
            &[6, 2],
            &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0],
        );
        g.initializer("types", &[2, 2], &[0.5, -0.5, 9.0, 9.0]);
        g.int_initializer("offset", &[1], &[2]);
        g.int_initializer("buffer", &[1, 3], &token_types);
        g.nodes
            .push(node("Add", &["input_ids", "offset"], "positions"));
        g.nodes
            .push(node("Gather", &["table", "positions"], "embedded"));
        g.nodes.push(node("Gather", &["types", "buffer"], "typed"));
        g.nodes.push(node("Add", &["embedded", "typed"], "y"));
        g
    }

    #[test]
    fn int64_inputs_and_what_they_compute_become_int32_and_zero_token_types_a_row() {
        let graph = hub_like([0, 0, 0]);
        let inputs: [(&str, &[usize], &[f32]); 1] = [("input_ids", &[1, 3], &[0.0, 3.0, 1.0])];
        let before = run(&graph.model(), &inputs);
        let mut model = graph.model();
        rewrite(model.graph.mut_or_insert_default(), "test");
        let graph_after = &model.graph;
        assert_eq!(elem_type(&graph_after.input[0]), Some(INT32));
        let add = &graph_after.node[0];
        assert_eq!(add.input, ["input_ids", "offset__int32"]);
        let copy = graph_after
            .initializer
            .iter()
            .find(|t| t.name == "offset__int32")
            .unwrap();
        assert_eq!(
            (copy.data_type, copy.int32_data.as_slice()),
            (INT32, &[2][..])
        );
        // The token-type lookup is now its table's row 0, and the buffer is gone.
        assert!(
            graph_after
                .node
                .iter()
                .all(|n| !n.input.contains(&"buffer".to_string()))
        );
        assert!(graph_after.initializer.iter().all(|t| t.name != "buffer"));
        assert_eq!(run(&model, &inputs), before);
    }

    #[test]
    fn a_graph_without_int64_inputs_stays() {
        let mut g = Graph::new(&[("x", &[2])], &[("y", &[2])]);
        g.initializer("one", &[], &[1.0]);
        g.nodes.push(node("Add", &["x", "one"], "y"));
        let mut model = g.model();
        rewrite(model.graph.mut_or_insert_default(), "test");
        assert_eq!(model, g.model());
    }

    #[test]
    #[should_panic(expected = "are not all zero")]
    fn token_types_that_are_not_all_zero_stop_the_build() {
        let mut model = hub_like([0, 1, 0]).model();
        rewrite(model.graph.mut_or_insert_default(), "test");
    }

    #[test]
    #[should_panic(expected = "knows no int32 form")]
    fn an_int64_op_it_does_not_know_stops_the_build() {
        let mut g = hub_like([0, 0, 0]);
        g.nodes[0] = node("BitShift", &["input_ids", "offset"], "positions");
        let mut model = g.model();
        rewrite(model.graph.mut_or_insert_default(), "test");
    }
}
