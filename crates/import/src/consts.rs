//! The small constant arithmetic of an exported graph, evaluated at import time: shapes and the
//! scalars computed from them (a step the graph passes call, `crate::fuse`).
//!
//! The exports compute some constants in the graph rather than writing them down. The one that
//! matters: torch's `scaled_dot_product_attention` export (the Optimum form of the hub's file)
//! computes the attention scale as `1 / √(last dimension of Shape(query heads))` and multiplies
//! the query and the transposed key by its square root each. Knowing the scale means evaluating
//! `Shape` of a tensor the graph has only split into heads: [`Consts`] tracks the dimensions that
//! are constant (the head count and head size written into the split's `Reshape` target) and
//! folds `Shape`, `Slice`, `Gather`, `Concat`, `Unsqueeze`, `Cast` and the four arithmetic ops over
//! them. Anything else (or a dimension that depends on the input, such as the batch) is unknown,
//! and a pattern that needs it does not fuse.

use std::collections::HashMap;

use onnx_ir::{GraphProto, NodeProto, TensorProto};

use crate::onnx::{int, ints, tensor_floats, tensor_ints};

/// A value whose elements are each known (`Some`) or not: at most a short vector (a shape, a
/// scalar).
pub type Partial = Vec<Option<f64>>;

/// The graph's constant values and the producers of the rest, for [`Consts::value`] and
/// [`Consts::shape`].
pub struct Consts<'a> {
    nodes: &'a [NodeProto],
    producer: HashMap<&'a str, usize>,
    initializers: HashMap<&'a str, &'a TensorProto>,
}

/// Values longer than this are not folded (shapes and scalars are short).
const MAX_ELEMENTS: usize = 16;

fn tensor_values(tensor: &TensorProto) -> Option<Partial> {
    let values: Vec<f64> = tensor_floats(tensor)
        .map(|v| v.into_iter().map(f64::from).collect())
        .or_else(|| tensor_ints(tensor).map(|v| v.into_iter().map(|i| i as f64).collect()))?;
    (values.len() <= MAX_ELEMENTS).then(|| values.into_iter().map(Some).collect())
}

/// An ONNX index (negative from the end) into `len` elements.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

impl<'a> Consts<'a> {
    pub fn new(graph: &'a GraphProto) -> Self {
        let mut producer = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for output in &node.output {
                producer.insert(output.as_str(), i);
            }
        }
        Consts {
            nodes: &graph.node,
            producer,
            initializers: graph
                .initializer
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
        }
    }

    /// `value` as one known number (a scalar or a one-element tensor).
    pub fn scalar(&self, value: &str) -> Option<f64> {
        match self.value(value)?.as_slice() {
            [Some(v)] => Some(*v),
            _ => None,
        }
    }

    /// What is known of `value`'s elements; `None` when nothing is (or it is not short).
    pub fn value(&self, value: &str) -> Option<Partial> {
        self.value_at(value, 0)
    }

    /// What is known of `value`'s dimensions; `None` when not even its rank is.
    pub fn shape(&self, value: &str) -> Option<Partial> {
        self.shape_at(value, 0)
    }

    fn input(node: &NodeProto, i: usize) -> Option<&str> {
        node.input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    fn value_at(&self, value: &str, depth: usize) -> Option<Partial> {
        // NOTE: the folded chains are a few nodes long; the bound keeps a malformed (cyclic)
        // graph from recursing without end.
        if depth > 64 {
            return None;
        }
        if let Some(tensor) = self.initializers.get(value) {
            return tensor_values(tensor);
        }
        let node = &self.nodes[*self.producer.get(value)?];
        let arg = |i: usize| Self::input(node, i).and_then(|v| self.value_at(v, depth + 1));
        let known = |i: usize| -> Option<Vec<i64>> {
            arg(i)?
                .into_iter()
                .map(|v| v.map(|v| v as i64))
                .collect::<Option<Vec<_>>>()
        };
        match node.op_type.as_str() {
            "Constant" => node
                .attribute
                .iter()
                .find(|a| a.name == "value")
                .and_then(|a| a.t.as_ref())
                .and_then(tensor_values),
            "Shape" if int(node, "start").is_none() && int(node, "end").is_none() => {
                self.shape_at(Self::input(node, 0)?, depth + 1)
            }
            // A cast keeps the value (the shapes' int64 to the scale's float and back); a cast to
            // bool or another kind of value is not folded.
            "Cast" if matches!(int(node, "to"), Some(1 | 6 | 7 | 10 | 11)) => arg(0),
            "Identity" => arg(0),
            "Unsqueeze" | "Squeeze" | "Reshape" => arg(0).filter(|v| v.len() == 1),
            "Concat" => {
                let mut out = Vec::new();
                for i in 0..node.input.len() {
                    out.extend(arg(i)?);
                }
                (out.len() <= MAX_ELEMENTS).then_some(out)
            }
            // As many elements as indices, each known where the data is (the batch size that
            // `Gather(Shape(input), 0)` takes is unknown, but it is one element).
            "Gather" if int(node, "axis").unwrap_or(0) == 0 => {
                let indices = known(1)?;
                match arg(0) {
                    Some(data) => indices
                        .iter()
                        .map(|&i| index(i, data.len()).map(|i| data[i]))
                        .collect(),
                    None => Some(vec![None; indices.len()]),
                }
            }
            // Opset 10+: starts, ends (and axes, steps) as inputs; 1-D data only.
            "Slice" => {
                let data = arg(0)?;
                let (starts, ends) = (known(1)?, known(2)?);
                let axes = if Self::input(node, 3).is_some() {
                    known(3)?
                } else {
                    vec![0]
                };
                let steps = if Self::input(node, 4).is_some() {
                    known(4)?
                } else {
                    vec![1]
                };
                if starts.len() != 1
                    || ends.len() != 1
                    || !matches!(axes[..], [0 | -1])
                    || steps != [1]
                {
                    return None;
                }
                let len = data.len() as i64;
                let clamp = |i: i64| (if i < 0 { i + len } else { i }).clamp(0, len) as usize;
                let (start, end) = (clamp(starts[0]), clamp(ends[0]));
                Some(data.get(start..end.max(start))?.to_vec())
            }
            "Sqrt" => Some(arg(0)?.into_iter().map(|v| v.map(f64::sqrt)).collect()),
            "Mul" | "Div" | "Add" | "Sub" => {
                let (a, b) = (arg(0)?, arg(1)?);
                let f = match node.op_type.as_str() {
                    "Mul" => |a: f64, b: f64| a * b,
                    "Div" => |a: f64, b: f64| a / b,
                    "Add" => |a: f64, b: f64| a + b,
                    _ => |a: f64, b: f64| a - b,
                };
                let len = a.len().max(b.len());
                if (a.len() != len && a.len() != 1) || (b.len() != len && b.len() != 1) {
                    return None;
                }
                let at = |v: &Partial, i: usize| if v.len() == 1 { v[0] } else { v[i] };
                Some((0..len).map(|i| Some(f(at(&a, i)?, at(&b, i)?))).collect())
            }
            _ => None,
        }
    }

    fn shape_at(&self, value: &str, depth: usize) -> Option<Partial> {
        if depth > 64 {
            return None;
        }
        if let Some(tensor) = self.initializers.get(value) {
            return Some(tensor.dims.iter().map(|&d| Some(d as f64)).collect());
        }
        let node = &self.nodes[*self.producer.get(value)?];
        match node.op_type.as_str() {
            // The target shape as far as it is known: 0 copies the input's dimension, -1 is
            // inferred (both unknown here unless the input's shape says).
            "Reshape" => {
                let target = self.value_at(Self::input(node, 1)?, depth + 1)?;
                let from = self.shape_at(Self::input(node, 0)?, depth + 1);
                Some(
                    target
                        .iter()
                        .enumerate()
                        .map(|(i, d)| match d {
                            Some(d) if *d > 0.0 => Some(*d),
                            Some(d) if *d == 0.0 => from.as_ref().and_then(|s| *s.get(i)?),
                            _ => None,
                        })
                        .collect(),
                )
            }
            "Transpose" => {
                let shape = self.shape_at(Self::input(node, 0)?, depth + 1)?;
                let perm = ints(node, "perm")?;
                (perm.len() == shape.len()).then(|| {
                    perm.iter()
                        .map(|&p| index(p, shape.len()).and_then(|p| shape[p]))
                        .collect()
                })
            }
            "Mul" | "Div" | "Add" | "Sub" | "Sqrt" | "Cast" | "Identity" | "Erf" | "Softmax" => {
                // Element-wise: the first input's shape, where the other is a scalar.
                let other_is_scalar = node.input.len() < 2 || self.scalar(&node.input[1]).is_some();
                other_is_scalar
                    .then(|| self.shape_at(Self::input(node, 0)?, depth + 1))
                    .flatten()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{Number, attribute, ints_attribute, node};
    use crate::onnx_test::Graph as TestGraph;

    fn constant(name: &str, dims: &[i64], values: &[i64]) -> NodeProto {
        let mut n = node("Constant", &[], name);
        let mut t = TensorProto::new();
        t.data_type = crate::onnx::INT64;
        t.dims = dims.to_vec();
        t.int64_data = values.to_vec();
        let mut a = attribute("value", Number::Int(0));
        a.type_ = onnx_ir::AttributeType::TENSOR.into();
        a.t = Some(t).into();
        n.attribute.push(a);
        n
    }

    /// torch's SDPA export of the scale, from heads split by a Reshape whose target is
    /// `[batch, length, heads, head_size]` with batch and length from `Shape(x)`.
    fn scale_graph(perm: &[i64]) -> TestGraph {
        let mut g = TestGraph::new(&[("x", &[1, 3, 8])], &[("y", &[1])]);
        g.nodes.push(node("Shape", &["x"], "x_shape"));
        g.nodes.push(constant("zero", &[], &[0]));
        g.nodes.push(node("Gather", &["x_shape", "zero"], "batch"));
        g.nodes.push(constant("axes", &[1], &[0]));
        g.nodes
            .push(node("Unsqueeze", &["batch", "axes"], "batch1"));
        g.nodes.push(constant("length", &[1], &[-1]));
        g.nodes.push(constant("heads", &[1], &[2]));
        g.nodes.push(constant("head_size", &[1], &[4]));
        g.nodes.push(node(
            "Concat",
            &["batch1", "length", "heads", "head_size"],
            "target",
        ));
        g.nodes.push(node("Reshape", &["x", "target"], "split"));
        let mut t = node("Transpose", &["split"], "q_heads");
        t.attribute.push(ints_attribute("perm", perm));
        g.nodes.push(t);
        g.nodes.push(node("Shape", &["q_heads"], "q_shape"));
        g.nodes.push(constant("start", &[1], &[-1]));
        g.nodes.push(constant("end", &[1], &[i64::MAX]));
        g.nodes
            .push(node("Slice", &["q_shape", "start", "end"], "last"));
        let mut cast = node("Cast", &["last"], "last_f");
        cast.attribute.push(attribute("to", Number::Int(1)));
        g.nodes.push(cast);
        g.nodes.push(node("Sqrt", &["last_f"], "root"));
        g.initializer("one", &[1], &[1.0]);
        g.nodes.push(node("Div", &["one", "root"], "scale"));
        g.nodes.push(node("Sqrt", &["scale"], "y"));
        g
    }

    #[test]
    fn the_sdpa_scale_is_folded_from_the_heads_reshape_target() {
        let model = scale_graph(&[0, 2, 1, 3]).model();
        let consts = Consts::new(model.graph.as_ref().unwrap());
        assert_eq!(
            consts.shape("q_heads"),
            Some(vec![None, Some(2.0), None, Some(4.0)])
        );
        let y = consts.scalar("y").unwrap();
        assert!((y - (1.0 / 4f64.sqrt()).sqrt()).abs() < 1e-12, "{y}");
    }

    #[test]
    fn an_unknown_dimension_is_not_guessed() {
        // Heads transposed so that the sequence length (unknown) is last.
        let model = scale_graph(&[0, 2, 3, 1]).model();
        let consts = Consts::new(model.graph.as_ref().unwrap());
        assert_eq!(consts.scalar("y"), None);
        assert_eq!(consts.scalar("x"), None);
    }
}
