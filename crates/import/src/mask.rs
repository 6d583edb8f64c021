//! The attention mask in plain arithmetic (a step of the build script, `crates/import/src/lib.rs`).
//!
//! transformers 5 builds its attention mask with index and bool tensor math (`Range`s, a `Gather`
//! on the flattened bool mask, `And`, `Expand`, `Where(mask, 0, min)`). Traced by TorchScript
//! that becomes bool tensor ops burn-flex 0.22 cannot run (`bool_binary_op: dtype mismatch`, a
//! panic at the first call), and data-dependent shapes WebGPU cannot have. For a bidirectional
//! encoder (XLM-R's) all of it computes the padding mask, so this step puts back the form the
//! other exports have: `Unsqueeze((1 - float(attention_mask)) · f32::MIN, [1, 2])`, a
//! `[batch, 1, 1, sequence]` additive bias (0 where a token is kept; `f32::MIN` where it is
//! padding, which softmax turns into exactly 0, as `Where`'s `min` did).
//!
//! Which values are rewritten: the bias an attention `Softmax` adds (an input of the `Add` that
//! feeds it) that depends on no input but `attention_mask` and is computed with bool ops. A bias
//! in plain arithmetic already (the hub's form, ours) is left as it is.
//!
//! NOTE: the rewrite assumes the mask is the padding mask, true of the encoders this project
//! imports (one-label XLM-R cross-encoders); the fixture of this form (tests/fixtures/
//! tiny-transformers) checks the rewritten model against onnxruntime on the original file, with
//! padded batches.

use std::collections::{BTreeSet, HashMap};

use onnx_ir::{GraphProto, ModelProto, TensorProto};

use crate::onnx::{self, Number, node};

const MASK: &str = "attention_mask";
const FLOAT: i32 = 1;
const INT64: i32 = 7;
const BOOL: i32 = 9;

/// Content dependencies of a value: on `attention_mask`, on another input.
const ON_MASK: u8 = 1;
const ON_OTHER: u8 = 2;

/// Rewrites every attention bias that needs it (see the module docs).
pub fn rewrite(model: &mut ModelProto) {
    let opset = onnx::default_opset(model);
    let graph = model.graph.mut_or_insert_default();
    if !graph.input.iter().any(|i| i.name == MASK) {
        return;
    }
    let deps = dependencies(graph);
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let mut biases = BTreeSet::new();
    for node in graph.node.iter().filter(|n| n.op_type == "Softmax") {
        let Some(&add) = node.input.first().and_then(|i| producer.get(i.as_str())) else {
            continue;
        };
        if graph.node[add].op_type != "Add" {
            continue;
        }
        for input in &graph.node[add].input {
            if deps.get(input.as_str()) == Some(&ON_MASK) && uses_bool_math(graph, &producer, input)
            {
                biases.insert(input.clone());
            }
        }
    }
    for bias in biases {
        replace(graph, &bias, opset);
    }
    onnx::drop_unused(graph);
}

/// For each value, which graph inputs its contents depend on (`Shape` reads no contents).
fn dependencies(graph: &GraphProto) -> HashMap<&str, u8> {
    let mut deps: HashMap<&str, u8> = graph
        .input
        .iter()
        .map(|i| {
            let on = if i.name == MASK { ON_MASK } else { ON_OTHER };
            (i.name.as_str(), on)
        })
        .collect();
    for node in &graph.node {
        let on = if node.op_type == "Shape" {
            0
        } else {
            node.input
                .iter()
                .fold(0, |on, i| on | deps.get(i.as_str()).copied().unwrap_or(0))
        };
        for output in &node.output {
            deps.insert(output.as_str(), on);
        }
    }
    deps
}

/// Whether `value` is computed (anywhere upstream) with a bool op.
fn uses_bool_math(graph: &GraphProto, producer: &HashMap<&str, usize>, value: &str) -> bool {
    let mut stack = vec![value];
    let mut seen = BTreeSet::new();
    while let Some(value) = stack.pop() {
        let Some(&index) = producer.get(value) else {
            continue;
        };
        if !seen.insert(index) {
            continue;
        }
        let node = &graph.node[index];
        let casts_to_bool = node.op_type == "Cast"
            && node
                .attribute
                .iter()
                .any(|a| a.name == "to" && a.i == i64::from(BOOL));
        if casts_to_bool || matches!(node.op_type.as_str(), "And" | "Or" | "Xor" | "Not") {
            return true;
        }
        stack.extend(node.input.iter().map(String::as_str));
    }
    false
}

/// Replaces the node that makes `bias` by the padding-mask arithmetic, in its place.
fn replace(graph: &mut GraphProto, bias: &str, opset: i64) {
    let index = graph
        .node
        .iter()
        .position(|n| n.output.iter().any(|o| o == bias))
        .expect("a bias with a producer");
    let name = |part: &str| format!("{bias}__padding_{part}");
    graph.initializer.push(scalar(&name("one"), 1.0));
    graph.initializer.push(scalar(&name("min"), f32::MIN));
    let mut unsqueeze = node("Unsqueeze", &[&name("scaled")], bias);
    if opset >= 13 {
        let mut axes = TensorProto::new();
        axes.name = name("axes");
        axes.data_type = INT64;
        axes.dims = vec![2];
        axes.int64_data = vec![1, 2];
        graph.initializer.push(axes);
        unsqueeze.input.push(name("axes"));
    } else {
        unsqueeze
            .attribute
            .push(onnx::ints_attribute("axes", &[1, 2]));
    }
    let mut cast = node("Cast", &[MASK], &name("float"));
    cast.attribute
        .push(onnx::attribute("to", Number::Int(i64::from(FLOAT))));
    let nodes = [
        cast,
        node("Sub", &[&name("one"), &name("float")], &name("dropped")),
        node("Mul", &[&name("dropped"), &name("min")], &name("scaled")),
        unsqueeze,
    ];
    graph.node.splice(index..=index, nodes);
    graph.value_info.retain(|v| v.name != bias);
}

fn scalar(name: &str, value: f32) -> TensorProto {
    let mut tensor = TensorProto::new();
    tensor.name = name.to_string();
    tensor.data_type = FLOAT;
    tensor.float_data = vec![value];
    tensor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx_test::{Graph, ops, run, value_info};

    /// Scores `[1, 1, 2, 3]` plus a bias from `attention_mask` `[1, 3]`, then softmax; the bias
    /// made with bool ops (transformers 5's way) or in plain arithmetic (the hub's).
    fn masked_softmax(bool_math: bool) -> Graph {
        let mut g = Graph::new(&[("scores", &[1, 1, 2, 3])], &[("y", &[1, 1, 2, 3])]);
        g.inputs.push(value_info(MASK, INT64, &[1, 3]));
        g.initializer("zero", &[], &[0.0]);
        g.initializer("min", &[], &[f32::MIN]);
        g.initializer("one", &[], &[1.0]);
        g.int_initializer("axes", &[2], &[1, 2]);
        let cast = |input: &str, output: &str, to: i32| {
            let mut n = node("Cast", &[input], output);
            n.attribute
                .push(onnx::attribute("to", Number::Int(i64::from(to))));
            n
        };
        if bool_math {
            g.nodes.push(cast(MASK, "kept", BOOL));
            g.nodes.push(node("Not", &["kept"], "dropped"));
            g.nodes
                .push(node("Where", &["dropped", "min", "zero"], "flat"));
        } else {
            g.nodes.push(cast(MASK, "kept", FLOAT));
            g.nodes.push(node("Sub", &["one", "kept"], "dropped"));
            g.nodes.push(node("Mul", &["dropped", "min"], "flat"));
        }
        g.nodes.push(node("Unsqueeze", &["flat", "axes"], "bias"));
        g.nodes.push(node("Add", &["scores", "bias"], "masked"));
        g.nodes.push(node("Softmax", &["masked"], "y"));
        g
    }

    const SCORES: [f32; 6] = [0.5, -1.0, 2.0, 0.0, 0.25, 3.0];

    #[test]
    fn a_bias_made_with_bool_ops_becomes_the_padding_arithmetic_and_computes_the_same() {
        let graph = masked_softmax(true);
        for mask in [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]] {
            let inputs: [(&str, &[usize], &[f32]); 2] =
                [("scores", &[1, 1, 2, 3], &SCORES), (MASK, &[1, 3], &mask)];
            let before = run(&graph.model(), &inputs);
            let mut model = graph.model();
            rewrite(&mut model);
            let ops = ops(&model);
            assert!(
                !ops.iter().any(|op| ["Not", "Where"].contains(op)),
                "{ops:?}"
            );
            assert_eq!(ops, ["Cast", "Sub", "Mul", "Unsqueeze", "Add", "Softmax"]);
            assert_eq!(run(&model, &inputs), before, "mask {mask:?}");
        }
    }

    #[test]
    fn a_bias_in_plain_arithmetic_and_a_graph_without_a_mask_stay() {
        // (Only the nodes are compared: the step drops initializers nothing reads.)
        let graph = masked_softmax(false);
        let mut model = graph.model();
        rewrite(&mut model);
        assert_eq!(model.graph.node, graph.nodes);
        let mut no_mask = masked_softmax(true);
        no_mask.inputs.retain(|i| i.name != MASK);
        let mut model = no_mask.model();
        rewrite(&mut model);
        assert_eq!(model.graph.node, no_mask.nodes);
    }
}
