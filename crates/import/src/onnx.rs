//! Helpers over ONNX's protobuf types that the graph passes share: building nodes and
//! attributes, reading attributes and tensors' values, the default opset, and dropping what
//! nothing reads.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use onnx_ir::{AttributeProto, AttributeType, GraphProto, ModelProto, NodeProto, TensorProto};

/// `TensorProto.data_location` of a tensor whose bytes live in another file.
const EXTERNAL: i32 = 1;

/// Reads the weights an export wrote beside the graph (`data_location: EXTERNAL`, as torch's
/// dynamo exporter does by default: `model.onnx.data`) into the initializers' `raw_data`, so
/// every pass and the split graph see one self-contained model. `dir` is the model's folder,
/// which each `location` is relative to. Returns the files read.
///
/// NOTE: a `location` that leaves `dir` (absolute, or through `..`) is refused: a model folder
/// downloaded from elsewhere must not make the build read other files.
pub fn inline_external_data(model: &mut ModelProto, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let graph = model.graph.mut_or_insert_default();
    for tensor in graph.initializer.iter_mut() {
        if tensor.data_location.value() != EXTERNAL {
            continue;
        }
        let entry = |key: &str| {
            tensor
                .external_data
                .iter()
                .find(|e| e.key == key)
                .map(|e| e.value.clone())
        };
        let number = |key: &str| -> Result<Option<usize>, String> {
            entry(key)
                .map(|v| {
                    v.parse().map_err(|_| {
                        format!(
                            "tensor {}: external data {key} {v:?} is not a number",
                            tensor.name
                        )
                    })
                })
                .transpose()
        };
        let location = entry("location")
            .ok_or_else(|| format!("tensor {}: external data without a location", tensor.name))?;
        let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
        let relative = Path::new(&location);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "tensor {}: external data location {location:?} is outside the model folder",
                tensor.name
            ));
        }
        if !files.contains_key(&location) {
            let path = dir.join(relative);
            let bytes = fs::read(&path).map_err(|e| {
                format!(
                    "tensor {}: cannot read its external data {path:?}: {e}",
                    tensor.name
                )
            })?;
            files.insert(location.clone(), bytes);
        }
        let bytes = &files[&location];
        let end = length.map_or(Some(bytes.len()), |l| offset.checked_add(l));
        let Some(data) = end.and_then(|end| bytes.get(offset..end)) else {
            return Err(format!(
                "tensor {}: external data {location:?} has {} bytes, not {offset}..{}",
                tensor.name,
                bytes.len(),
                end.map_or("overflow".to_string(), |e| e.to_string())
            ));
        };
        tensor.raw_data = data.to_vec().into();
        tensor.external_data.clear();
        tensor.data_location = Default::default();
    }
    let mut read: Vec<PathBuf> = files.keys().map(|l| dir.join(l)).collect();
    read.sort();
    Ok(read)
}

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

#[cfg(test)]
mod tests {
    use onnx_ir::Message;

    use super::*;

    /// An f32 initializer `name` of `len` values whose bytes are in `location` from `offset`.
    fn external(name: &str, len: usize, location: &str, offset: usize) -> TensorProto {
        let mut tensor = TensorProto::new();
        tensor.name = name.to_string();
        tensor.data_type = FLOAT;
        tensor.dims = vec![len as i64];
        for (key, value) in [
            ("location", location.to_string()),
            ("offset", offset.to_string()),
            ("length", (4 * len).to_string()),
        ] {
            tensor.external_data.push(Default::default());
            let entry = tensor.external_data.last_mut().unwrap();
            entry.key = key.to_string();
            entry.value = value;
        }
        // NOTE: the enum's type is private to onnx-ir, so `data_location: EXTERNAL` (field 14,
        // varint 1) is appended in its wire form.
        let mut bytes = tensor.write_to_bytes().unwrap();
        bytes.extend([0x70, 0x01]);
        let tensor = TensorProto::parse_from_bytes(&bytes).unwrap();
        assert_eq!(tensor.data_location.value(), EXTERNAL);
        tensor
    }

    fn folder(name: &str, data: &[f32]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("reranker-external-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        fs::write(dir.join("model.onnx.data"), bytes).unwrap();
        dir
    }

    fn model(tensors: Vec<TensorProto>) -> ModelProto {
        let mut model = ModelProto::new();
        model.graph.mut_or_insert_default().initializer = tensors;
        model
    }

    #[test]
    fn external_weights_are_read_into_the_graph() {
        let dir = folder("read", &[1.0, 2.0, 3.0, 4.0, 5.0]);
        let mut m = model(vec![
            external("a", 2, "model.onnx.data", 0),
            external("b", 3, "./model.onnx.data", 8),
        ]);
        let read = inline_external_data(&mut m, &dir).unwrap();
        assert_eq!(read.len(), 2, "{read:?}");
        let graph = m.graph.as_ref().unwrap();
        assert_eq!(tensor_floats(&graph.initializer[0]), Some(vec![1.0, 2.0]));
        assert_eq!(
            tensor_floats(&graph.initializer[1]),
            Some(vec![3.0, 4.0, 5.0])
        );
        for t in &graph.initializer {
            assert_eq!(t.data_location.value(), 0, "{}", t.name);
            assert!(t.external_data.is_empty(), "{}", t.name);
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn external_weights_outside_the_folder_or_past_the_file_are_refused() {
        let dir = folder("refused", &[1.0, 2.0]);
        for (tensor, want) in [
            (
                external("a", 1, "../model.onnx.data", 0),
                "outside the model folder",
            ),
            (
                external("a", 1, "/etc/passwd", 0),
                "outside the model folder",
            ),
            (
                external("a", 2, "model.onnx.data", 4),
                "has 8 bytes, not 4..12",
            ),
            (
                external("a", 1, "missing.data", 0),
                "cannot read its external data",
            ),
        ] {
            let error = inline_external_data(&mut model(vec![tensor]), &dir).unwrap_err();
            assert!(error.contains(want), "{error}");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
