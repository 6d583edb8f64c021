//! Gemm layers in MatMul's form (a step of the importer, before the table cut and the fusions).
//!
//! torch.onnx writes an `nn.Linear` on a 2-D input (the classifier head on the `<s>` token) as
//! `Gemm(A, B, C)` with `transB = 1`: its weight `B` is `[out, in]`. burn-onnx makes that a
//! `Linear` whose weight it would transpose while writing the weights file, a step our layer's
//! override (crates/import/src/codegen.rs) cannot reach. So here such a Gemm becomes
//! `MatMul(A, Bᵀ)` then `Add(C)`, with `Bᵀ` (`[in, out]`) stored as the initializer: burn-onnx
//! makes the pair a `Linear` with the weight as it is, the layout every other layer has.
//!
//! Only the plain linear layer is rewritten: `alpha = beta = 1`, `transA = 0`, `transB = 1`,
//! `B` an f32 matrix initializer that this Gemm alone reads. Any other Gemm is left as it is.

use onnx_ir::{GraphProto, TensorProto};

use crate::onnx::{float_attribute, int, node, tensor_floats};

/// Rewrites each plain linear-layer Gemm of `graph`; returns how many.
pub fn rewrite(graph: &mut GraphProto) -> usize {
    let mut rewritten = 0;
    let mut index = 0;
    while index < graph.node.len() {
        let Some(weight) = plain_linear(graph, index) else {
            index += 1;
            continue;
        };
        let gemm = graph.node.remove(index);
        let transposed = transpose(&graph.initializer[weight]);
        graph.initializer[weight] = transposed;
        let (a, b) = (gemm.input[0].as_str(), gemm.input[1].as_str());
        let output = gemm.output[0].as_str();
        let mut replacement = Vec::new();
        match gemm.input.get(2).filter(|c| !c.is_empty()) {
            Some(c) => {
                let product = format!("{output}_matmul");
                replacement.push(node("MatMul", &[a, b], &product));
                replacement.push(node("Add", &[&product, c], output));
            }
            None => replacement.push(node("MatMul", &[a, b], output)),
        }
        let count = replacement.len();
        for (offset, new) in replacement.into_iter().enumerate() {
            graph.node.insert(index + offset, new);
        }
        index += count;
        rewritten += 1;
    }
    rewritten
}

/// The index of the weight initializer of node `index`, if it is a plain linear-layer Gemm.
fn plain_linear(graph: &GraphProto, index: usize) -> Option<usize> {
    let gemm = &graph.node[index];
    if gemm.op_type != "Gemm" || !(gemm.domain.is_empty() || gemm.domain == "ai.onnx") {
        return None;
    }
    let plain = float_attribute(gemm, "alpha").unwrap_or(1.0) == 1.0
        && float_attribute(gemm, "beta").unwrap_or(1.0) == 1.0
        && int(gemm, "transA").unwrap_or(0) == 0
        && int(gemm, "transB").unwrap_or(0) == 1;
    let b = gemm.input.get(1)?;
    let weight = graph.initializer.iter().position(|t| &t.name == b)?;
    let tensor = &graph.initializer[weight];
    let readers = graph.node.iter().filter(|n| n.input.contains(b)).count();
    let is_output = graph.output.iter().any(|o| &o.name == b);
    (plain && tensor.data_type == 1 && tensor.dims.len() == 2 && readers == 1 && !is_output)
        .then_some(weight)
}

/// An f32 matrix initializer `[rows, columns]` as `[columns, rows]`, under the same name, its
/// values in `raw_data`.
fn transpose(tensor: &TensorProto) -> TensorProto {
    let (rows, columns) = (tensor.dims[0] as usize, tensor.dims[1] as usize);
    let values = tensor_floats(tensor).expect("an f32 initializer (checked by plain_linear)");
    let mut out = TensorProto::new();
    out.name = tensor.name.clone();
    out.data_type = 1;
    out.dims = vec![columns as i64, rows as i64];
    let mut raw = Vec::with_capacity(values.len() * 4);
    for column in 0..columns {
        for row in 0..rows {
            raw.extend_from_slice(&values[row * columns + column].to_le_bytes());
        }
    }
    out.raw_data = raw.into();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{Number, attribute};
    use crate::onnx_test::{Graph, ops, run};

    fn gemm(graph: &mut Graph, bias: bool) {
        let mut inputs = vec!["x", "w"];
        if bias {
            inputs.push("c");
        }
        let mut n = node("Gemm", &inputs, "y");
        n.attribute.push(attribute("transB", Number::Int(1)));
        graph.nodes.push(n);
    }

    #[test]
    fn a_linear_layer_gemm_becomes_matmul_and_add_with_the_same_values() {
        for bias in [true, false] {
            let mut graph = Graph::new(&[("x", &[2, 3])], &[("y", &[2, 2])]);
            // w: [out = 2, in = 3]
            graph.initializer("w", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
            graph.initializer("c", &[2], &[0.5, -0.5]);
            gemm(&mut graph, bias);
            let x = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5];
            let before = run(&graph.model(), &[("x", &[2, 3], &x)]);
            let mut model = graph.model();
            assert_eq!(rewrite(model.graph.mut_or_insert_default()), 1);
            let ops = ops(&model);
            assert_eq!(
                ops,
                if bias {
                    vec!["MatMul", "Add"]
                } else {
                    vec!["MatMul"]
                }
            );
            let w = model
                .graph
                .initializer
                .iter()
                .find(|t| t.name == "w")
                .unwrap();
            assert_eq!(w.dims, vec![3, 2]);
            assert_eq!(run(&model, &[("x", &[2, 3], &x)]), before, "bias {bias}");
        }
    }

    #[test]
    fn other_gemms_stay() {
        // transB = 0 (already [in, out]), alpha ≠ 1, and a weight that is a graph input.
        let mut graph = Graph::new(
            &[("x", &[2, 3]), ("v", &[2, 3])],
            &[("y", &[2, 2]), ("z", &[2, 2]), ("u", &[2, 2])],
        );
        graph.initializer("w", &[3, 2], &[1.0; 6]);
        graph.initializer("w2", &[2, 3], &[1.0; 6]);
        graph.nodes.push(node("Gemm", &["x", "w"], "y"));
        let mut scaled = node("Gemm", &["x", "w2"], "z");
        scaled.attribute.push(attribute("transB", Number::Int(1)));
        scaled
            .attribute
            .push(attribute("alpha", Number::Float(2.0)));
        graph.nodes.push(scaled);
        let mut dynamic = node("Gemm", &["x", "v"], "u");
        dynamic.attribute.push(attribute("transB", Number::Int(1)));
        graph.nodes.push(dynamic);
        let mut model = graph.model();
        assert_eq!(rewrite(model.graph.mut_or_insert_default()), 0);
        assert_eq!(model.graph.node.len(), 3);
        assert!(model.graph.node.iter().all(|n| n.op_type == "Gemm"));
    }
}
