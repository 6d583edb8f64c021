//! For the passes' tests: small ONNX graphs built by hand, and a reference interpreter of the
//! few operators they use (numpy's broadcasting, f32), so that a test checks that a rewritten
//! graph computes what the original did, not only what its nodes look like. The fused nodes of
//! [`crate::fuse`] are computed from their definitions (the formulas, not our kernels).

use std::collections::HashMap;

use onnx_ir::{ModelProto, NodeProto, TensorProto, ValueInfoProto};

use crate::onnx::{float_attribute, int, ints, tensor_floats, tensor_ints};

/// A graph under construction: inputs and outputs (f32, fixed shapes), initializers, nodes.
pub struct Graph {
    pub inputs: Vec<ValueInfoProto>,
    pub outputs: Vec<ValueInfoProto>,
    pub initializers: Vec<TensorProto>,
    pub nodes: Vec<NodeProto>,
    pub opset: i64,
}

/// A value's type: f32 (1), int64 (7), of a fixed shape.
pub fn value_info(name: &str, elem_type: i32, shape: &[i64]) -> ValueInfoProto {
    let mut info = ValueInfoProto::new();
    info.name = name.to_string();
    let tensor = info.type_.mut_or_insert_default().mut_tensor_type();
    tensor.elem_type = elem_type;
    // NOTE: onnx-ir does not export the dimension type; a default one is filled in place.
    let dims = &mut tensor.shape.mut_or_insert_default().dim;
    for &d in shape {
        dims.push(Default::default());
        dims.last_mut().expect("pushed").set_dim_value(d);
    }
    info
}

impl Graph {
    /// f32 inputs and outputs of the given shapes, opset 17.
    pub fn new(inputs: &[(&str, &[i64])], outputs: &[(&str, &[i64])]) -> Self {
        Graph {
            inputs: inputs.iter().map(|(n, s)| value_info(n, 1, s)).collect(),
            outputs: outputs.iter().map(|(n, s)| value_info(n, 1, s)).collect(),
            initializers: Vec::new(),
            nodes: Vec::new(),
            opset: 17,
        }
    }

    /// An f32 initializer.
    pub fn initializer(&mut self, name: &str, dims: &[i64], values: &[f32]) -> &mut Self {
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.data_type = 1;
        t.dims = dims.to_vec();
        t.float_data = values.to_vec();
        self.initializers.push(t);
        self
    }

    /// An int64 initializer.
    pub fn int_initializer(&mut self, name: &str, dims: &[i64], values: &[i64]) -> &mut Self {
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.data_type = 7;
        t.dims = dims.to_vec();
        t.int64_data = values.to_vec();
        self.initializers.push(t);
        self
    }

    pub fn model(&self) -> ModelProto {
        let mut model = ModelProto::new();
        model.ir_version = 8;
        model.opset_import.push(Default::default());
        model.opset_import[0].version = self.opset;
        let graph = model.graph.mut_or_insert_default();
        graph.name = "test".into();
        graph.input = self.inputs.clone();
        graph.output = self.outputs.clone();
        graph.initializer = self.initializers.clone();
        graph.node = self.nodes.clone();
        model
    }
}

/// The op types of `model`'s nodes, in order.
pub fn ops(model: &ModelProto) -> Vec<&str> {
    model
        .graph
        .node
        .iter()
        .map(|n| n.op_type.as_str())
        .collect()
}

/// A tensor of the interpreter: its shape and f32 values (integers held as f32).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn tensor_of(t: &TensorProto) -> Tensor {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = tensor_floats(t)
        .or_else(|| tensor_ints(t).map(|v| v.iter().map(|&i| i as f32).collect()))
        .unwrap_or_else(|| {
            panic!(
                "the test interpreter reads no tensor of type {}",
                t.data_type
            )
        });
    Tensor { shape, data }
}

/// Runs `model` on `inputs` (name, shape, values); returns each graph output's values.
pub fn run(model: &ModelProto, inputs: &[(&str, &[usize], &[f32])]) -> Vec<Vec<f32>> {
    let graph = model.graph.as_ref().expect("a graph");
    let mut values: HashMap<String, Tensor> = HashMap::new();
    for t in &graph.initializer {
        values.insert(t.name.clone(), tensor_of(t));
    }
    for (name, shape, data) in inputs {
        values.insert(
            name.to_string(),
            Tensor {
                shape: shape.to_vec(),
                data: data.to_vec(),
            },
        );
    }
    for node in &graph.node {
        let args: Vec<Option<Tensor>> = node
            .input
            .iter()
            .map(|i| {
                (!i.is_empty()).then(|| {
                    values
                        .get(i)
                        .unwrap_or_else(|| panic!("{i} is not computed"))
                        .clone()
                })
            })
            .collect();
        let out = eval(node, &args);
        values.insert(node.output[0].clone(), out);
    }
    graph
        .output
        .iter()
        .map(|o| values[&o.name].data.clone())
        .collect()
}

fn arg(args: &[Option<Tensor>], i: usize) -> &Tensor {
    args[i].as_ref().expect("an input")
}

fn eval(node: &NodeProto, args: &[Option<Tensor>]) -> Tensor {
    let binary = |f: fn(f32, f32) -> f32| broadcast(arg(args, 0), arg(args, 1), f);
    let unary = |f: fn(f32) -> f32| {
        let x = arg(args, 0);
        Tensor {
            shape: x.shape.clone(),
            data: x.data.iter().map(|&v| f(v)).collect(),
        }
    };
    match (node.domain.as_str(), node.op_type.as_str()) {
        ("", "Constant") => tensor_of(
            node.attribute
                .iter()
                .find(|a| a.name == "value")
                .and_then(|a| a.t.as_ref())
                .expect("value"),
        ),
        ("", "Add") => binary(|a, b| a + b),
        ("", "Sub") => binary(|a, b| a - b),
        ("", "Mul") => binary(|a, b| a * b),
        ("", "Div") => binary(|a, b| a / b),
        ("", "Pow") => binary(f32::powf),
        ("", "Erf") => unary(|v| libm::erf(v as f64) as f32),
        ("", "Sqrt") => unary(f32::sqrt),
        // ONNX's Gelu (opset 20) with the tanh approximation (the exact one is below, with ours).
        ("", "Gelu")
            if node
                .attribute
                .iter()
                .any(|a| a.name == "approximate" && &a.s[..] == b"tanh") =>
        {
            unary(|v| {
                let inner = (2.0 / std::f32::consts::PI).sqrt() * (v + 0.044715 * v * v * v);
                0.5 * v * (1.0 + inner.tanh())
            })
        }
        // Integers are held as f32; a cast to bool (9) makes 0 or 1.
        ("", "Cast") if int(node, "to") == Some(9) => unary(|v| f32::from(v != 0.0)),
        ("", "Cast") => unary(|v| v),
        ("", "Not") => unary(|v| f32::from(v == 0.0)),
        ("", "IsNaN") => unary(|v| f32::from(v.is_nan())),
        ("", "Concat") => {
            let parts: Vec<&Tensor> = (0..args.len()).map(|i| arg(args, i)).collect();
            assert!(
                parts.iter().all(|a| a.shape.len() == 1),
                "the interpreter's Concat is on 1-D data"
            );
            let data: Vec<f32> = parts.iter().flat_map(|a| a.data.iter().copied()).collect();
            Tensor {
                shape: vec![data.len()],
                data,
            }
        }
        ("", "Shape") => {
            let x = arg(args, 0);
            Tensor {
                shape: vec![x.shape.len()],
                data: x.shape.iter().map(|&d| d as f32).collect(),
            }
        }
        // On one axis of 1-D data (the shape arithmetic), step 1.
        ("", "Slice") => {
            let x = arg(args, 0);
            assert_eq!(x.shape.len(), 1, "the interpreter's Slice is on 1-D data");
            let len = x.data.len() as i64;
            let at = |i: usize| {
                let v = arg(args, i).data[0] as f64;
                let v = if v >= len as f64 { len } else { v as i64 };
                (if v < 0 { v + len } else { v }).clamp(0, len) as usize
            };
            let data = x.data[at(1)..at(2).max(at(1))].to_vec();
            Tensor {
                shape: vec![data.len()],
                data,
            }
        }
        // NOTE: NaN marks "not chosen" between the two broadcasts; the tests' values are finite.
        ("", "Where") => {
            let chosen = broadcast(arg(args, 0), arg(args, 1), |c, a| {
                if c != 0.0 { a } else { f32::NAN }
            });
            broadcast(&chosen, arg(args, 2), |a, b| if a.is_nan() { b } else { a })
        }
        ("", "Unsqueeze") => {
            let x = arg(args, 0);
            let axes: Vec<i64> = ints(node, "axes")
                .map(<[i64]>::to_vec)
                .unwrap_or_else(|| arg(args, 1).data.iter().map(|&v| v as i64).collect());
            let mut shape = x.shape.clone();
            for &a in &axes {
                shape.insert(a as usize, 1);
            }
            Tensor {
                shape,
                data: x.data.clone(),
            }
        }
        ("", "Gather") => {
            assert_eq!(
                int(node, "axis").unwrap_or(0),
                0,
                "the interpreter's Gather is on axis 0"
            );
            let (table, ids) = (arg(args, 0), arg(args, 1));
            let row: usize = table.shape[1..].iter().product();
            let data = ids
                .data
                .iter()
                .flat_map(|&id| table.data[id as usize * row..][..row].to_vec())
                .collect();
            let mut shape = ids.shape.clone();
            shape.extend(&table.shape[1..]);
            Tensor { shape, data }
        }
        ("", "MatMul") => matmul(arg(args, 0), arg(args, 1)),
        ("", "Gemm") => {
            assert_eq!(
                int(node, "transB"),
                Some(1),
                "the interpreter's Gemm is A·Bᵀ + C"
            );
            let product = matmul(arg(args, 0), &transpose(arg(args, 1), &[1, 0]));
            match args.get(2).and_then(|c| c.as_ref()) {
                Some(c) => broadcast(&product, c, |a, b| a + b),
                None => product,
            }
        }
        ("", "ReduceMean") => {
            let axes = ints(node, "axes")
                .map(<[i64]>::to_vec)
                .unwrap_or_else(|| arg(args, 1).data.iter().map(|&v| v as i64).collect());
            assert_eq!(
                axes,
                [-1],
                "the interpreter's ReduceMean is over the last axis"
            );
            last_axis(arg(args, 0), |row| {
                let mean = row.iter().sum::<f32>() / row.len() as f32;
                vec![mean]
            })
        }
        ("", "Softmax") => {
            assert_eq!(int(node, "axis").unwrap_or(-1), -1);
            last_axis(arg(args, 0), softmax)
        }
        ("", "Transpose") => transpose(arg(args, 0), ints(node, "perm").expect("perm")),
        ("", "Reshape") => {
            let x = arg(args, 0);
            let mut shape: Vec<i64> = arg(args, 1).data.iter().map(|&v| v as i64).collect();
            for (i, d) in shape.iter_mut().enumerate() {
                if *d == 0 {
                    *d = x.shape[i] as i64;
                }
            }
            let known: i64 = shape.iter().filter(|&&d| d != -1).product();
            let shape = shape.iter().map(|&d| if d == -1 { x.data.len() as i64 / known } else { d } as usize).collect();
            Tensor {
                shape,
                data: x.data.clone(),
            }
        }
        ("", "LayerNormalization") => {
            let epsilon = float_attribute(node, "epsilon").unwrap_or(1e-5);
            layer_norm(arg(args, 0), arg(args, 1), arg(args, 2), epsilon)
        }
        // Exact: ONNX's own, and ours (crate::fuse).
        ("", "Gelu") | (crate::fuse::DOMAIN, crate::fuse::GELU) => {
            unary(|v| 0.5 * v * (1.0 + libm::erf(v as f64 / std::f64::consts::SQRT_2) as f32))
        }
        (crate::fuse::DOMAIN, crate::fuse::ADD_LAYER_NORM) => {
            let sum = broadcast(arg(args, 0), arg(args, 1), |a, b| a + b);
            layer_norm(
                &sum,
                arg(args, 2),
                arg(args, 3),
                float_attribute(node, "epsilon").expect("epsilon"),
            )
        }
        (crate::fuse::DOMAIN, crate::fuse::ATTENTION) => attention(
            [arg(args, 0), arg(args, 1), arg(args, 2), arg(args, 3)],
            int(node, "heads").expect("heads") as usize,
            float_attribute(node, "scale").expect("scale"),
        ),
        (domain, op) => panic!("the test interpreter has no {domain}::{op}"),
    }
}

fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::MIN, f32::max);
    let exps: Vec<f32> = row.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, epsilon: f32) -> Tensor {
    let normed = last_axis(x, |row| {
        let n = row.len() as f32;
        let mean = row.iter().sum::<f32>() / n;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        row.iter()
            .map(|v| (v - mean) / (var + epsilon).sqrt())
            .collect()
    });
    let scaled = broadcast(&normed, gamma, |a, b| a * b);
    broadcast(&scaled, beta, |a, b| a + b)
}

/// `query`, `key`, `value` `[batch, sequence, hidden]`, `bias` broadcastable to
/// `[batch, heads, sequence, sequence]`: softmax(Q·Kᵀ·scale + bias)·V per head, heads merged.
fn attention([q, k, v, bias]: [&Tensor; 4], heads: usize, scale: f32) -> Tensor {
    let (batch, seq, hidden) = (q.shape[0], q.shape[1], q.shape[2]);
    let head = hidden / heads;
    let split = |t: &Tensor| {
        transpose(
            &Tensor {
                shape: vec![batch, seq, heads, head],
                data: t.data.clone(),
            },
            &[0, 2, 1, 3],
        )
    };
    let scores = matmul(&split(q), &transpose(&split(k), &[0, 1, 3, 2]));
    let scores = broadcast(
        &scores,
        &Tensor {
            shape: vec![],
            data: vec![scale],
        },
        |a, b| a * b,
    );
    let weights = last_axis(&broadcast(&scores, bias, |a, b| a + b), softmax);
    let out = transpose(&matmul(&weights, &split(v)), &[0, 2, 1, 3]);
    Tensor {
        shape: vec![batch, seq, hidden],
        data: out.data,
    }
}

/// `f` over each row of the last axis (its output's length is the new last dimension).
fn last_axis(x: &Tensor, f: impl Fn(&[f32]) -> Vec<f32>) -> Tensor {
    let width = *x.shape.last().expect("a rank ≥ 1");
    let mut data = Vec::new();
    let mut out_width = 0;
    for row in x.data.chunks(width) {
        let r = f(row);
        out_width = r.len();
        data.extend(r);
    }
    let mut shape = x.shape.clone();
    *shape.last_mut().unwrap() = out_width;
    Tensor { shape, data }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// numpy broadcasting of two tensors through `f`.
fn broadcast(a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32) -> Tensor {
    let rank = a.shape.len().max(b.shape.len());
    let pad = |s: &[usize]| [vec![1; rank - s.len()], s.to_vec()].concat();
    let (sa, sb) = (pad(&a.shape), pad(&b.shape));
    let shape: Vec<usize> = sa
        .iter()
        .zip(&sb)
        .map(|(&x, &y)| {
            assert!(
                x == y || x == 1 || y == 1,
                "shapes {:?} and {:?} do not broadcast",
                a.shape,
                b.shape
            );
            x.max(y)
        })
        .collect();
    let (ta, tb, to) = (strides(&sa), strides(&sb), strides(&shape));
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| {
            let (mut ia, mut ib) = (0, 0);
            for d in 0..rank {
                let c = i / to[d] % shape[d];
                ia += if sa[d] == 1 { 0 } else { c * ta[d] };
                ib += if sb[d] == 1 { 0 } else { c * tb[d] };
            }
            f(a.data[ia], b.data[ib])
        })
        .collect();
    Tensor { shape, data }
}

fn transpose(x: &Tensor, perm: &[i64]) -> Tensor {
    let perm: Vec<usize> = perm.iter().map(|&p| p as usize).collect();
    let shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let (from, to) = (strides(&x.shape), strides(&shape));
    let n = x.data.len();
    let mut data = vec![0.0; n];
    for (i, slot) in data.iter_mut().enumerate() {
        let mut src = 0;
        for (d, &p) in perm.iter().enumerate() {
            src += (i / to[d] % shape[d]) * from[p];
        }
        *slot = x.data[src];
    }
    Tensor { shape, data }
}

/// Batched matrix product over the last two axes (the batch axes equal).
fn matmul(a: &Tensor, b: &Tensor) -> Tensor {
    let r = a.shape.len();
    let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[b.shape.len() - 1]);
    assert_eq!(
        k,
        b.shape[b.shape.len() - 2],
        "matmul {:?} · {:?}",
        a.shape,
        b.shape
    );
    let batches: usize = a.shape[..r - 2].iter().product();
    let b_batched = b.shape.len() == r;
    let mut data = vec![0.0; batches * m * n];
    for bt in 0..batches {
        let ab = &a.data[bt * m * k..][..m * k];
        let bb = if b_batched {
            &b.data[bt * k * n..][..k * n]
        } else {
            &b.data[..k * n]
        };
        for i in 0..m {
            for j in 0..n {
                data[bt * m * n + i * n + j] = (0..k).map(|p| ab[i * k + p] * bb[p * n + j]).sum();
            }
        }
    }
    let mut shape = a.shape[..r - 2].to_vec();
    shape.extend([m, n]);
    Tensor { shape, data }
}
