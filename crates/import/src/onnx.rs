//! Helpers over ONNX's protobuf types that the graph passes share: building nodes and
//! attributes, reading attributes and tensors' values, the default opset, and dropping what
//! nothing reads.

use std::collections::HashSet;

use onnx_ir::{AttributeProto, AttributeType, GraphProto, ModelProto, NodeProto, TensorProto};

/// Removes nodes whose outputs nothing reads (repeatedly), then initializers nothing reads.
pub fn drop_unused(graph: &mut GraphProto) {
    let outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    loop {
        let read: HashSet<&str> = graph
            .node
            .iter()
            .flat_map(|n| n.input.iter().map(String::as_str))
            .collect();
        let keep: Vec<bool> = graph
            .node
            .iter()
            .map(|n| {
                n.output
                    .iter()
                    .any(|o| read.contains(o.as_str()) || outputs.contains(o))
            })
            .collect();
        if keep.iter().all(|k| *k) {
            break;
        }
        let mut keep = keep.into_iter();
        graph.node.retain(|_| keep.next().unwrap_or(true));
    }
    let read: HashSet<String> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .collect();
    graph
        .initializer
        .retain(|t| read.contains(&t.name) || outputs.contains(&t.name));
}

/// The version of the default (`ai.onnx`) opset `model` imports; 0 when it names none.
pub fn default_opset(model: &ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version)
}

/// A node of the default domain: `op(inputs) -> output`, named after both.
pub fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    let mut node = NodeProto::new();
    node.op_type = op.to_string();
    node.name = format!("{}_{output}", op.to_lowercase());
    node.input = inputs.iter().map(|s| s.to_string()).collect();
    node.output = vec![output.to_string()];
    node
}

/// An INT or FLOAT attribute.
pub fn attribute(name: &str, value: Number) -> AttributeProto {
    let mut attribute = AttributeProto::new();
    attribute.name = name.to_string();
    match value {
        Number::Int(i) => {
            attribute.type_ = AttributeType::INT.into();
            attribute.i = i;
        }
        Number::Float(f) => {
            attribute.type_ = AttributeType::FLOAT.into();
            attribute.f = f;
        }
    }
    attribute
}

/// An INTS attribute.
pub fn ints_attribute(name: &str, values: &[i64]) -> AttributeProto {
    let mut attribute = AttributeProto::new();
    attribute.name = name.to_string();
    attribute.type_ = AttributeType::INTS.into();
    attribute.ints = values.to_vec();
    attribute
}

/// The value of an INT or FLOAT attribute.
pub enum Number {
    Int(i64),
    Float(f32),
}

/// A node's INT attribute `name`.
pub fn int(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

/// A node's FLOAT attribute `name`.
pub fn float_attribute(node: &NodeProto, name: &str) -> Option<f32> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.f)
}

/// A node's INTS attribute `name`.
pub fn ints<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.as_slice())
}

/// ONNX's element types the helpers read.
pub const FLOAT: i32 = 1;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;

/// An integer tensor's values (int64 or int32, raw or typed), as i64.
pub fn tensor_ints(tensor: &TensorProto) -> Option<Vec<i64>> {
    let raw = &tensor.raw_data[..];
    match tensor.data_type {
        INT64 if !raw.is_empty() => Some(
            raw.chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        ),
        INT64 => Some(tensor.int64_data.clone()),
        INT32 if !raw.is_empty() => Some(
            raw.chunks_exact(4)
                .map(|b| i64::from(i32::from_le_bytes(b.try_into().expect("4 bytes"))))
                .collect(),
        ),
        INT32 => Some(tensor.int32_data.iter().map(|&v| i64::from(v)).collect()),
        _ => None,
    }
}

/// An f32 tensor's values, raw or typed.
pub fn tensor_floats(tensor: &TensorProto) -> Option<Vec<f32>> {
    if tensor.data_type != FLOAT {
        return None;
    }
    if tensor.raw_data.is_empty() {
        return Some(tensor.float_data.clone());
    }
    Some(
        tensor
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect(),
    )
}
