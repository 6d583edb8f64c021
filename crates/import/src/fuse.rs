//! Graph fusion at import time (a step of the build script, `crates/import/src/lib.rs`).
//!
//! Rewrites two subgraphs of each transformer layer into custom nodes of the `web_reranker`
//! domain, which burn-onnx then generates as calls to `crate::kernels` (see the hooks in
//! crates/import/src/codegen.rs):
//!
//! * **attention**: `Reshape`+`Transpose` of the query, key and value into heads → `MatMul` →
//!   `Mul` by a scalar scale → `Add` of the mask bias → `Softmax` → `MatMul` with the values →
//!   `Transpose`+`Reshape` back. Becomes `Attention(query, key, value, bias)` with the head count
//!   and scale as attributes.
//! * **GELU**: `Div` by √2 (or `Mul` by 1/√2) → `Erf` → `Add` 1 → two `Mul`s by ½ and by the
//!   input, in either order. Becomes `Gelu(x)`; so does ONNX's own `Gelu` (opset 20, what torch's
//!   dynamo exporter writes) when exact (`approximate` "none").
//!
//! * **LayerNorm after a residual add**: `Add(a, b)` → `ReduceMean` over the last axis → `Sub`
//!   → `Pow` 2 → `ReduceMean` → `Add` ε → `Sqrt` → `Div` → `Mul` γ → `Add` β, the form the
//!   PyTorch exports decompose LayerNorm into. Becomes `AddLayerNorm(a, b, γ, β)` with
//!   `epsilon` as an attribute; so does `Add` → `LayerNormalization` (opset 17's own op).
//!
//! A subgraph fuses only when every intermediate value has this one use; anything else is left
//! as it was, so an unfamiliar export still imports, only unfused. Nodes left without a use
//! (the shape arithmetic of the head split) and initializers nothing reads are then dropped.

use std::collections::{HashMap, HashSet};

use onnx_ir::{GraphProto, ModelProto, NodeProto};

use crate::consts::Consts;
use crate::onnx::{Number, attribute, default_opset, drop_unused, int, ints, node};

/// The custom domain of the fused nodes.
pub const DOMAIN: &str = "web_reranker";
/// `Attention(query, key, value, bias)`, attributes `heads` (int) and `scale` (float).
pub const ATTENTION: &str = "Attention";
/// `Gelu(x)`, the erf form.
pub const GELU: &str = "Gelu";
/// `AddLayerNorm(a, b, gamma, beta)`: LayerNorm of `a + b` over the last axis, attributes
/// `epsilon` (float) and `decomposed` (int: 1 where the export wrote the LayerNorm as its parts,
/// which the CPU then computes exactly as before).
pub const ADD_LAYER_NORM: &str = "AddLayerNorm";

/// How many subgraphs were fused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fused {
    pub attention: usize,
    pub gelu: usize,
    pub layer_norm: usize,
}

/// Fuses what it can in `model` (see the module docs). `heads` is the model's head count.
pub fn fuse(model: &mut ModelProto, heads: u64) -> Fused {
    // NOTE: before opset 13 a Softmax without `axis` works on axis 1 (flattened), not the last.
    let opset = default_opset(model);
    let graph = model.graph.mut_or_insert_default();
    let view = Graph::new(graph, if opset >= 13 { -1 } else { 1 });
    let mut fused = Fused::default();
    let mut removed = HashSet::new();
    // The fused node takes the place of the pattern's last node, so the order stays topological.
    let mut replacements = HashMap::new();
    for (index, node) in graph.node.iter().enumerate() {
        let (found, count) = match node.op_type.as_str() {
            "Softmax" => (view.attention(index, heads), &mut fused.attention),
            "Erf" => (view.gelu(index), &mut fused.gelu),
            "Gelu" if default_domain(node) => (view.gelu_op(index), &mut fused.gelu),
            "Sqrt" => (view.add_layer_norm(index), &mut fused.layer_norm),
            "LayerNormalization" => (view.add_layer_normalization(index), &mut fused.layer_norm),
            _ => continue,
        };
        let Some(Match { nodes, last, node }) = found else {
            continue;
        };
        // Two matches never share a node; a second claim on one is left unfused.
        if nodes.iter().any(|n| removed.contains(n)) {
            continue;
        }
        *count += 1;
        removed.extend(nodes);
        replacements.insert(last, node);
    }
    if replacements.is_empty() {
        return fused;
    }
    let old = std::mem::take(&mut graph.node);
    for (index, node) in old.into_iter().enumerate() {
        if let Some(new) = replacements.remove(&index) {
            graph.node.push(new);
        } else if !removed.contains(&index) {
            graph.node.push(node);
        }
    }
    drop_unused(graph);
    let mut opset = model
        .opset_import
        .first()
        .cloned()
        .expect("an ONNX model imports at least the default opset");
    opset.domain = DOMAIN.to_string();
    opset.version = 1;
    model.opset_import.push(opset);
    fused
}

/// A matched subgraph: the nodes it replaces, the last of them, and the fused node.
struct Match {
    nodes: Vec<usize>,
    last: usize,
    node: NodeProto,
}

/// A value reached through constant scale factors: the node that makes the unscaled value (and
/// that value), the product of the factors, and the `Mul`/`Div` nodes that apply them.
struct Scaled<'a> {
    node: usize,
    value: &'a str,
    scale: f64,
    nodes: Vec<usize>,
}

/// Read-only lookups over a graph: who makes a value, who reads it, its constants.
struct Graph<'a> {
    nodes: &'a [NodeProto],
    producer: HashMap<&'a str, usize>,
    consumers: HashMap<&'a str, Vec<usize>>,
    outputs: HashSet<&'a str>,
    /// The axis of a Softmax that does not name one (depends on the opset).
    softmax_default_axis: i64,
    /// The graph's constant arithmetic (a scale computed from a shape).
    consts: Consts<'a>,
}

impl<'a> Graph<'a> {
    fn new(graph: &'a GraphProto, softmax_default_axis: i64) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, node) in graph.node.iter().enumerate() {
            for output in &node.output {
                producer.insert(output.as_str(), index);
            }
            for input in &node.input {
                consumers.entry(input.as_str()).or_default().push(index);
            }
        }
        Graph {
            nodes: &graph.node,
            producer,
            consumers,
            outputs: graph.output.iter().map(|o| o.name.as_str()).collect(),
            softmax_default_axis,
            consts: Consts::new(graph),
        }
    }

    /// The node that makes `value`, if it is `op` and `value` has no other use.
    fn only_use_of(&self, value: &str, op: &str) -> Option<usize> {
        let index = *self.producer.get(value)?;
        (self.nodes[index].op_type == op && self.single_use(value)).then_some(index)
    }

    /// The one node that reads `value`, if it is `op`.
    fn sole_consumer(&self, value: &str, op: &str) -> Option<usize> {
        let index = match self.consumers.get(value)?.as_slice() {
            [index] => *index,
            _ => return None,
        };
        (self.nodes[index].op_type == op && !self.outputs.contains(value)).then_some(index)
    }

    /// Like [`Self::sole_consumer`], but `value` may also be read by `Shape` nodes whose results
    /// feed only that consumer's shape input: the TorchScript export computes the merged heads'
    /// `Reshape` target from `Shape(value)`. Once the consumer is fused, they go unused.
    fn consumer_besides_its_shape(&self, value: &str, op: &str) -> Option<usize> {
        if self.outputs.contains(value) {
            return None;
        }
        let consumers = self.consumers.get(value)?;
        let index = match consumers
            .iter()
            .filter(|&&c| self.nodes[c].op_type != "Shape")
            .collect::<Vec<_>>()
            .as_slice()
        {
            [index] => **index,
            _ => return None,
        };
        let node = &self.nodes[index];
        let shape_only = consumers
            .iter()
            .all(|&c| c == index || self.only_feeds(c, &[index]));
        (node.op_type == op && node.input.first().is_some_and(|i| i == value) && shape_only)
            .then_some(index)
    }

    /// Whether `value` is read by these two nodes and nothing else (no graph output either).
    fn read_only_by(&self, value: &str, [a, b]: [usize; 2]) -> bool {
        self.consumers.get(value).is_some_and(|readers| {
            readers.len() == 2 && readers.contains(&a) && readers.contains(&b)
        }) && a != b
            && !self.outputs.contains(value)
    }

    fn single_use(&self, value: &str) -> bool {
        self.consumers.get(value).is_some_and(|c| c.len() == 1) && !self.outputs.contains(value)
    }

    /// `value` as one constant number ([`Consts::scalar`]: a constant, an initializer, or
    /// arithmetic on them), as the f32 the graph computes with.
    fn scalar(&self, value: &str) -> Option<f32> {
        self.consts.scalar(value).map(|v| v as f32)
    }

    fn is_scalar(&self, value: &str, want: f32) -> bool {
        self.scalar(value)
            .is_some_and(|v| (v - want).abs() <= 1e-6 * want.abs())
    }

    /// For a two-input node: (the input that is the scalar `want`, the other one).
    fn other_than_scalar(&self, node: usize, want: f32) -> Option<&'a str> {
        match self.nodes[node].input.as_slice() {
            [a, b] if self.is_scalar(b, want) => Some(a),
            [a, b] if self.is_scalar(a, want) => Some(b),
            _ => None,
        }
    }

    /// Whether every result of `node` ends up only in `targets` (and nothing else reads it on
    /// the way): the shape and scale arithmetic that an export computes from a tensor.
    fn only_feeds(&self, node: usize, targets: &[usize]) -> bool {
        self.nodes[node].output.iter().all(|value| {
            !self.outputs.contains(value.as_str())
                && self.consumers.get(value.as_str()).is_none_or(|readers| {
                    readers
                        .iter()
                        .all(|&r| targets.contains(&r) || self.only_feeds(r, targets))
                })
        })
    }

    /// Walks up from `value` through single-use `Mul`s and `Div`s by a constant scalar (folded
    /// by [`Consts`], so a scale computed in the graph counts) to the node of type `op` that
    /// makes it.
    fn scaled(&self, value: &'a str, op: &str) -> Option<Scaled<'a>> {
        let mut value = value;
        let mut scaled = Scaled {
            node: 0,
            value,
            scale: 1.0,
            nodes: Vec::new(),
        };
        loop {
            let index = *self.producer.get(value)?;
            let node = &self.nodes[index];
            if node.op_type == op {
                scaled.node = index;
                scaled.value = value;
                return Some(scaled);
            }
            if !self.single_use(value) {
                return None;
            }
            let [a, b] = node.input.as_slice() else {
                return None;
            };
            (value, scaled.scale) = match node.op_type.as_str() {
                "Mul" => match (self.consts.scalar(a), self.consts.scalar(b)) {
                    (_, Some(s)) => (a.as_str(), scaled.scale * s),
                    (Some(s), None) => (b.as_str(), scaled.scale * s),
                    (None, None) => return None,
                },
                "Div" => (a.as_str(), scaled.scale / self.consts.scalar(b)?),
                _ => return None,
            };
            scaled.nodes.push(index);
        }
    }

    /// `Transpose(Reshape(x, _), perm)` whose result `value` is read by `reader` and otherwise
    /// only by shape arithmetic that ends in `scale_nodes` (torch's SDPA export reads the query
    /// heads' shape for the scale): returns (x, [reshape, transpose]).
    fn heads_at(
        &self,
        transpose: usize,
        perm: &[i64],
        reader: usize,
        scale_nodes: &[usize],
    ) -> Option<(&'a str, [usize; 2])> {
        let value = self.nodes[transpose].output[0].as_str();
        if ints(&self.nodes[transpose], "perm")? != perm || self.outputs.contains(value) {
            return None;
        }
        let readers = self.consumers.get(value)?;
        if !readers.iter().all(|&r| {
            r == reader || (self.nodes[r].op_type == "Shape" && self.only_feeds(r, scale_nodes))
        }) {
            return None;
        }
        let reshape = self.only_use_of(&self.nodes[transpose].input[0], "Reshape")?;
        Some((&self.nodes[reshape].input[0], [reshape, transpose]))
    }

    /// Kᵀ as torch's dynamo exporter writes it (a transpose of the last two axes at any rank):
    /// the key heads `[b, h, s, d]` (`Transpose` [0, 2, 1, 3] of the key's `Reshape`) folded to
    /// 3-D, transposed [0, 2, 1] and unfolded, `Reshape(Transpose(Reshape(heads), [0, 2, 1]))`,
    /// both folds' targets computed from `Shape(heads)`. `outer` is the unfolding `Reshape`,
    /// read by `reader`. Returns the key before the head split and the nodes.
    fn key_heads_folded(
        &self,
        outer: usize,
        reader: usize,
        scale_nodes: &[usize],
    ) -> Option<(&'a str, Vec<usize>)> {
        let unfolded = self.nodes[outer].output[0].as_str();
        if self.consumers.get(unfolded)?.as_slice() != [reader] || self.outputs.contains(unfolded) {
            return None;
        }
        let swap = self.only_use_of(&self.nodes[outer].input[0], "Transpose")?;
        if ints(&self.nodes[swap], "perm")? != [0, 2, 1] {
            return None;
        }
        let fold = self.only_use_of(&self.nodes[swap].input[0], "Reshape")?;
        let heads = *self.producer.get(self.nodes[fold].input[0].as_str())?;
        if self.nodes[heads].op_type != "Transpose" {
            return None;
        }
        let shape_targets: Vec<usize> = scale_nodes.iter().copied().chain([fold, outer]).collect();
        let (k, split) = self.heads_at(heads, &[0, 2, 1, 3], fold, &shape_targets)?;
        Some((k, [split[0], split[1], fold, swap, outer].to_vec()))
    }

    /// The `Reshape` of the weighted sum `[b, h, s, d]` to its own shape, where the export writes
    /// one: its target a `Concat` of at most one `-1` and dimensions read from shapes that are,
    /// by how attention is computed, the weighted sum's own at that axis (its own shape; the
    /// query heads' `b, h, s`; the value heads' `b, h, d`). `None` where there is none, or where
    /// the target could be anything else.
    fn reshape_to_own_shape(
        &self,
        weighted: usize,
        query_heads: &str,
        value_heads: &str,
    ) -> Option<usize> {
        let out = self.nodes[weighted].output[0].as_str();
        let reshape = self.consumer_besides_its_shape(out, "Reshape")?;
        let target = *self
            .producer
            .get(self.nodes[reshape].input.get(1)?.as_str())?;
        let target = &self.nodes[target];
        if target.op_type != "Concat" || target.input.len() != 4 {
            return None;
        }
        // Which axis of the weighted sum a `(value, axis)` of a shape is.
        let axis_of = |value: &str, axis: i64| -> Option<i64> {
            let known: &[i64] = if value == out {
                &[0, 1, 2, 3]
            } else if value == query_heads {
                &[0, 1, 2]
            } else if value == value_heads {
                &[0, 1, 3]
            } else {
                &[]
            };
            known.contains(&axis).then_some(axis)
        };
        // An element of the target: -1, or `Unsqueeze(Gather(Shape(x), axis))`.
        let element = |value: &str| -> Option<Option<i64>> {
            if self.consts.scalar(value) == Some(-1.0) {
                return Some(None);
            }
            let unsqueeze = &self.nodes[*self.producer.get(value)?];
            let gather = &self.nodes[*self.producer.get(unsqueeze.input.first()?.as_str())?];
            let shape = &self.nodes[*self.producer.get(gather.input.first()?.as_str())?];
            let ok = unsqueeze.op_type == "Unsqueeze"
                && gather.op_type == "Gather"
                && shape.op_type == "Shape"
                && shape.attribute.is_empty();
            let axis = self.consts.scalar(gather.input.get(1)?)? as i64;
            ok.then(|| axis_of(&shape.input[0], axis).map(Some))?
        };
        let mut inferred = 0;
        for (i, value) in target.input.iter().enumerate() {
            match element(value)? {
                None => inferred += 1,
                Some(axis) if axis == i as i64 => {}
                Some(_) => return None,
            }
        }
        (inferred <= 1).then_some(reshape)
    }

    /// The attention weights past an export's NaN guard, `Where(IsNaN(p), 0, p)` (transformers
    /// 5's SDPA: a row whose every key is masked would be NaN): (the value the weighted sum
    /// reads, the guard's nodes); `p` itself and no nodes where there is no guard.
    /// NOTE: the guard never changes a value here: every row keeps its first token (`<s>` is
    /// never padding), so the fused kernel leaves it out.
    fn past_nan_guard(&self, p: &'a str) -> (&'a str, Vec<usize>) {
        let guarded = || {
            let readers = self.consumers.get(p)?;
            let isnan = *readers
                .iter()
                .find(|&&r| self.nodes[r].op_type == "IsNaN")?;
            let select = self.sole_consumer(&self.nodes[isnan].output[0], "Where")?;
            let [condition, zero, value] = self.nodes[select].input.as_slice() else {
                return None;
            };
            let plain = condition == &self.nodes[isnan].output[0]
                && self.is_scalar(zero, 0.0)
                && value == p
                && self.read_only_by(p, [isnan, select]);
            plain.then(|| (self.nodes[select].output[0].as_str(), vec![isnan, select]))
        };
        guarded().unwrap_or((p, Vec::new()))
    }

    /// Attention by what it computes: `softmax(s · (Q·Kᵀ) + bias) · V` over heads split by
    /// `Reshape`+`Transpose` and merged back, where the scale `s` is any product of constant
    /// factors on the query heads, the transposed key heads or the scores (each a `Mul` or `Div`
    /// by a scalar, a computed one included): the TorchScript exports scale the scores, torch's
    /// SDPA export (Optimum's form) multiplies the query and the key by `√s` each.
    fn attention(&self, softmax: usize, heads: u64) -> Option<Match> {
        let node = &self.nodes[softmax];
        // Softmax over the last axis of the 4-D scores.
        if !matches!(
            int(node, "axis").unwrap_or(self.softmax_default_axis),
            -1 | 3
        ) {
            return None;
        }
        let add = self.only_use_of(&node.input[0], "Add")?;
        let (scores, bias) = [(0, 1), (1, 0)].into_iter().find_map(|(s, b)| {
            let scores = self.scaled(&self.nodes[add].input[s], "MatMul")?;
            Some((scores, self.nodes[add].input[b].as_str()))
        })?;
        let product = scores.node;
        if !self.single_use(scores.value) {
            return None;
        }
        let query = self.scaled(&self.nodes[product].input[0], "Transpose")?;
        let key_input = &self.nodes[product].input[1];
        let key = self
            .scaled(key_input, "Transpose")
            .or_else(|| self.scaled(key_input, "Reshape"))?;
        let scale_nodes: Vec<usize> = [&scores.nodes, &query.nodes, &key.nodes]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let (weights, guard) = self.past_nan_guard(&node.output[0]);
        let weighted = self.sole_consumer(weights, "MatMul")?;
        if self.nodes[weighted].input[0] != weights {
            return None;
        }
        let value_heads = *self.producer.get(self.nodes[weighted].input[1].as_str())?;
        if self.nodes[value_heads].op_type != "Transpose" {
            return None;
        }
        // transformers 5's SDPA export reshapes the weighted sum to the shape it has before the
        // heads are merged; the shape arithmetic of that reshape reads the heads' shapes too.
        let same_shape = self.reshape_to_own_shape(
            weighted,
            &self.nodes[query.node].output[0],
            &self.nodes[value_heads].output[0],
        );
        let shape_readers: Vec<usize> = scale_nodes.iter().copied().chain(same_shape).collect();
        let first_reader = |s: &Scaled| s.nodes.first().copied().unwrap_or(product);
        let (q, q_nodes) = self.heads_at(
            query.node,
            &[0, 2, 1, 3],
            first_reader(&query),
            &shape_readers,
        )?;
        let (k, k_nodes) = if self.nodes[key.node].op_type == "Transpose" {
            let (k, nodes) =
                self.heads_at(key.node, &[0, 2, 3, 1], first_reader(&key), &shape_readers)?;
            (k, nodes.to_vec())
        } else {
            self.key_heads_folded(key.node, first_reader(&key), &shape_readers)?
        };
        let (v, v_nodes) = self.heads_at(value_heads, &[0, 2, 1, 3], weighted, &shape_readers)?;
        let merged_from = same_shape.unwrap_or(weighted);
        let merge = self.sole_consumer(&self.nodes[merged_from].output[0], "Transpose")?;
        if ints(&self.nodes[merge], "perm")? != [0, 2, 1, 3] {
            return None;
        }
        let flatten = self.consumer_besides_its_shape(&self.nodes[merge].output[0], "Reshape")?;
        let mut nodes = vec![softmax, add, product, weighted, merge, flatten];
        nodes.extend(guard);
        nodes.extend(same_shape);
        nodes.extend(scale_nodes);
        nodes.extend(q_nodes.into_iter().chain(k_nodes).chain(v_nodes));
        let scale = (scores.scale * query.scale * key.scale) as f32;
        let mut fused = custom_node(ATTENTION, &[q, k, v, bias], &self.nodes[flatten].output[0]);
        fused
            .attribute
            .push(attribute("heads", Number::Int(heads as i64)));
        fused
            .attribute
            .push(attribute("scale", Number::Float(scale)));
        Some(Match {
            nodes,
            last: flatten,
            node: fused,
        })
    }

    fn gelu(&self, erf: usize) -> Option<Match> {
        let node = &self.nodes[erf];
        let scaled = &node.input[0];
        let (x, divide) = if let Some(div) = self.only_use_of(scaled, "Div") {
            match self.nodes[div].input.as_slice() {
                [x, c] if self.is_scalar(c, std::f32::consts::SQRT_2) => (x.as_str(), div),
                _ => return None,
            }
        } else {
            let mul = self.only_use_of(scaled, "Mul")?;
            (
                self.other_than_scalar(mul, std::f32::consts::FRAC_1_SQRT_2)?,
                mul,
            )
        };
        let add = self.sole_consumer(&node.output[0], "Add")?;
        self.other_than_scalar(add, 1.0)?;
        let first = self.sole_consumer(&self.nodes[add].output[0], "Mul")?;
        let other = |mul: usize, known: &str| {
            let [a, b] = self.nodes[mul].input.as_slice() else {
                return None;
            };
            Some(if a == known { b.as_str() } else { a.as_str() })
        };
        let first_other = other(first, &self.nodes[add].output[0])?;
        let mut nodes = vec![divide, erf, add, first];
        let last = if self.is_scalar(first_other, 0.5) || first_other == x {
            // (1 + erf) · ½ · x or (1 + erf) · x · ½, in two Muls.
            let second = self.sole_consumer(&self.nodes[first].output[0], "Mul")?;
            let second_other = other(second, &self.nodes[first].output[0])?;
            let halves = [first_other, second_other]
                .iter()
                .filter(|v| self.is_scalar(v, 0.5))
                .count();
            let xs = [first_other, second_other]
                .iter()
                .filter(|v| **v == x)
                .count();
            if halves != 1 || xs != 1 {
                return None;
            }
            nodes.push(second);
            second
        } else {
            // (x · ½) · (1 + erf), the half-product made separately.
            let half = self.only_use_of(first_other, "Mul")?;
            if self.other_than_scalar(half, 0.5)? != x {
                return None;
            }
            nodes.push(half);
            first
        };
        Some(Match {
            node: custom_node(GELU, &[x], &self.nodes[last].output[0]),
            nodes,
            last,
        })
    }

    /// ONNX's own `Gelu` (opset 20), exact (`approximate` absent or "none"): the same function as
    /// the erf subgraph, so it becomes ours, which the generated code folds into the linear layer
    /// before it. The tanh approximation is another function and stays.
    fn gelu_op(&self, gelu: usize) -> Option<Match> {
        let node = &self.nodes[gelu];
        let approximate = node
            .attribute
            .iter()
            .find(|a| a.name == "approximate")
            .map(|a| &a.s[..]);
        if !matches!(approximate, None | Some(b"none")) {
            return None;
        }
        let ([x], [y]) = (node.input.as_slice(), node.output.as_slice()) else {
            return None;
        };
        Some(Match {
            node: custom_node(GELU, &[x], y),
            nodes: vec![gelu],
            last: gelu,
        })
    }
}

/// Whether `node` is of ONNX's own domain (not ours, not a vendor's).
fn default_domain(node: &NodeProto) -> bool {
    node.domain.is_empty() || node.domain == "ai.onnx"
}

impl Graph<'_> {
    /// Whether `node` averages over the last axis, keeping it (`ReduceMean`, axes `[-1]` as an
    /// attribute: opsets before 18).
    fn mean_over_last_axis(&self, node: usize) -> bool {
        let node = &self.nodes[node];
        node.input.len() == 1
            && ints(node, "axes") == Some(&[-1])
            && int(node, "keepdims").unwrap_or(1) == 1
    }

    fn add_layer_norm(&self, sqrt: usize) -> Option<Match> {
        let plus_epsilon = self.only_use_of(&self.nodes[sqrt].input[0], "Add")?;
        let (variance, epsilon) = match self.nodes[plus_epsilon].input.as_slice() {
            [v, e] if self.scalar(e).is_some() => (v, self.scalar(e)?),
            [e, v] if self.scalar(e).is_some() => (v, self.scalar(e)?),
            _ => return None,
        };
        let variance = self.only_use_of(variance, "ReduceMean")?;
        let square = self.only_use_of(&self.nodes[variance].input[0], "Pow")?;
        let [centred, two] = self.nodes[square].input.as_slice() else {
            return None;
        };
        if !self.is_scalar(two, 2.0) || !self.mean_over_last_axis(variance) {
            return None;
        }
        let divide = self.sole_consumer(&self.nodes[sqrt].output[0], "Div")?;
        if self.nodes[divide].input.as_slice()
            != [centred.clone(), self.nodes[sqrt].output[0].clone()]
        {
            return None;
        }
        // The centred values feed the square and the division, nothing else.
        if !self.read_only_by(centred, [square, divide]) {
            return None;
        }
        let sub = *self.producer.get(centred.as_str())?;
        let [x, mean] = self.nodes[sub].input.as_slice() else {
            return None;
        };
        if self.nodes[sub].op_type != "Sub" {
            return None;
        }
        let mean = self.only_use_of(mean, "ReduceMean")?;
        if self.nodes[mean].input[0] != *x || !self.mean_over_last_axis(mean) {
            return None;
        }
        // The sum feeds the mean and the subtraction, nothing else.
        let residual = *self.producer.get(x.as_str())?;
        if !self.read_only_by(x, [mean, sub]) || self.nodes[residual].op_type != "Add" {
            return None;
        }
        let scale = self.sole_consumer(&self.nodes[divide].output[0], "Mul")?;
        let gamma = self.other_input(scale, &self.nodes[divide].output[0])?;
        let shift = self.sole_consumer(&self.nodes[scale].output[0], "Add")?;
        let beta = self.other_input(shift, &self.nodes[scale].output[0])?;
        let [a, b] = self.nodes[residual].input.as_slice() else {
            return None;
        };
        let mut node = custom_node(
            ADD_LAYER_NORM,
            &[a, b, gamma, beta],
            &self.nodes[shift].output[0],
        );
        node.attribute
            .push(attribute("epsilon", Number::Float(epsilon)));
        node.attribute.push(attribute("decomposed", Number::Int(1)));
        Some(Match {
            nodes: vec![
                residual,
                mean,
                sub,
                square,
                variance,
                plus_epsilon,
                sqrt,
                divide,
                scale,
                shift,
            ],
            last: shift,
            node,
        })
    }

    /// `LayerNormalization(Add(a, b), γ, β)` over the last axis (opset 17's own op).
    fn add_layer_normalization(&self, norm: usize) -> Option<Match> {
        let node = &self.nodes[norm];
        let [x, gamma, beta] = node.input.as_slice() else {
            return None;
        };
        if int(node, "axis").unwrap_or(-1) != -1 || node.output.len() != 1 {
            return None;
        }
        let epsilon = node
            .attribute
            .iter()
            .find(|a| a.name == "epsilon")
            .map_or(1e-5, |a| a.f);
        let residual = self.only_use_of(x, "Add")?;
        let [a, b] = self.nodes[residual].input.as_slice() else {
            return None;
        };
        let mut fused = custom_node(ADD_LAYER_NORM, &[a, b, gamma, beta], &node.output[0]);
        fused
            .attribute
            .push(attribute("epsilon", Number::Float(epsilon)));
        Some(Match {
            nodes: vec![residual, norm],
            last: norm,
            node: fused,
        })
    }

    /// For a two-input node with `known` as one input: the other one.
    fn other_input(&self, node: usize, known: &str) -> Option<&str> {
        match self.nodes[node].input.as_slice() {
            [a, b] if a == known && b != known => Some(b),
            [a, b] if b == known && a != known => Some(a),
            _ => None,
        }
    }
}

/// The ops of what [`fuse`] left unfused: for each `Softmax` (attention), `Erf` (GELU),
/// `LayerNormalization` or decomposed LayerNorm (its `Pow`) still in `graph`, a line naming the
/// node and the subgraph found around it, for the build's warning.
pub fn unfused(graph: &GraphProto) -> Vec<String> {
    let producer: HashMap<&str, &NodeProto> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
        .collect();
    // `op(input's op(...))`, four levels up each node's inputs that other nodes make.
    fn describe(node: &NodeProto, producer: &HashMap<&str, &NodeProto>, depth: usize) -> String {
        let inputs: Vec<String> = node
            .input
            .iter()
            .filter_map(|i| producer.get(i.as_str()))
            .filter(|n| n.op_type != "Constant")
            .map(|n| {
                if depth == 0 {
                    n.op_type.clone()
                } else {
                    describe(n, producer, depth - 1)
                }
            })
            .collect();
        if inputs.is_empty() {
            node.op_type.clone()
        } else {
            format!("{}({})", node.op_type, inputs.join(", "))
        }
    }
    graph
        .node
        .iter()
        .filter_map(|n| {
            let what = match n.op_type.as_str() {
                "Softmax" => "attention",
                "Erf" => "GELU",
                "Gelu" if default_domain(n) => "GELU",
                "LayerNormalization" | "Pow" => "residual + LayerNorm",
                _ => return None,
            };
            Some(format!(
                "{what} at `{}` not fused; found {}",
                n.name,
                describe(n, &producer, 3)
            ))
        })
        .collect()
}

/// A node of the [`DOMAIN`] of fused nodes.
fn custom_node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    let mut node = node(op, inputs, output);
    node.domain = DOMAIN.to_string();
    node
}

#[cfg(test)]
mod tests {
    use std::f32::consts::{FRAC_1_SQRT_2, SQRT_2};

    use super::*;
    use crate::onnx::ints_attribute;
    use crate::onnx_test::{Graph as TestGraph, ops, run};

    /// Runs `graph` before and after fusing: (what was fused, the ops left, the largest
    /// difference of the outputs).
    fn fused(
        graph: &TestGraph,
        heads: u64,
        inputs: &[(&str, &[usize], &[f32])],
    ) -> (Fused, Vec<String>, f32) {
        let before = run(&graph.model(), inputs);
        let mut model = graph.model();
        let fused = fuse(&mut model, heads);
        let after = run(&model, inputs);
        let ops = ops(&model).into_iter().map(String::from).collect();
        let diff = before
            .iter()
            .flatten()
            .zip(after.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        (fused, ops, diff)
    }

    const X: [f32; 8] = [-2.0, -0.5, 0.0, 0.25, 1.0, 1.5, 3.0, -1.25];

    fn gelu_graph(divide: bool, half_first: bool, x_also_read: bool) -> TestGraph {
        let mut outputs: Vec<(&str, &[i64])> = vec![("y", &[2, 4])];
        if x_also_read {
            outputs.push(("e", &[2, 4]));
        }
        let mut g = TestGraph::new(&[("x", &[2, 4])], &outputs);
        g.initializer("sqrt2", &[], &[SQRT_2]);
        g.initializer("inv_sqrt2", &[], &[FRAC_1_SQRT_2]);
        g.initializer("one", &[], &[1.0]);
        g.initializer("half", &[], &[0.5]);
        g.nodes.push(if divide {
            node("Div", &["x", "sqrt2"], "s")
        } else {
            node("Mul", &["x", "inv_sqrt2"], "s")
        });
        g.nodes.push(node("Erf", &["s"], "e"));
        g.nodes.push(node("Add", &["e", "one"], "p"));
        if half_first {
            g.nodes.push(node("Mul", &["x", "half"], "h"));
            g.nodes.push(node("Mul", &["h", "p"], "y"));
        } else {
            g.nodes.push(node("Mul", &["p", "x"], "m"));
            g.nodes.push(node("Mul", &["m", "half"], "y"));
        }
        g
    }

    #[test]
    fn gelu_fuses_in_each_form_and_computes_the_same() {
        for (divide, half_first) in [(true, false), (false, false), (true, true), (false, true)] {
            let (fused, ops, diff) = fused(
                &gelu_graph(divide, half_first, false),
                1,
                &[("x", &[2, 4], &X)],
            );
            assert_eq!(
                fused,
                Fused {
                    gelu: 1,
                    ..Fused::default()
                },
                "divide {divide} half_first {half_first}"
            );
            assert_eq!(ops, ["Gelu"]);
            assert!(diff <= 1e-6, "{diff}");
        }
    }

    /// ONNX's own Gelu op (opset 20, torch's dynamo exporter).
    fn gelu_op_graph(approximate: Option<&str>) -> TestGraph {
        let mut g = TestGraph::new(&[("x", &[2, 4])], &[("y", &[2, 4])]);
        g.opset = 20;
        let mut gelu = node("Gelu", &["x"], "y");
        if let Some(approximate) = approximate {
            let mut a = onnx_ir::AttributeProto::new();
            a.name = "approximate".to_string();
            a.type_ = onnx_ir::AttributeType::STRING.into();
            a.s = approximate.as_bytes().to_vec().into();
            gelu.attribute.push(a);
        }
        g.nodes.push(gelu);
        g
    }

    #[test]
    fn onnx_gelu_op_becomes_ours_when_exact() {
        for approximate in [None, Some("none")] {
            let (fused, ops, diff) = fused(&gelu_op_graph(approximate), 1, &[("x", &[2, 4], &X)]);
            assert_eq!(fused.gelu, 1, "{approximate:?}");
            assert_eq!(ops, ["Gelu"]);
            let model = {
                let mut m = gelu_op_graph(approximate).model();
                fuse(&mut m, 1);
                m
            };
            assert_eq!(model.graph.node[0].domain, DOMAIN, "{approximate:?}");
            assert!(diff <= 1e-6, "{diff}");
        }
    }

    #[test]
    fn onnx_gelu_op_with_the_tanh_approximation_stays() {
        let mut model = gelu_op_graph(Some("tanh")).model();
        assert_eq!(fuse(&mut model, 1), Fused::default());
        assert_eq!(model.graph.node[0].domain, "");
        let unfused = unfused(&model.graph);
        assert_eq!(unfused.len(), 1, "{unfused:?}");
        assert!(unfused[0].starts_with("GELU at"), "{unfused:?}");
    }

    #[test]
    fn gelu_with_a_value_read_elsewhere_stays() {
        let (fused, ops, _) = fused(&gelu_graph(true, false, true), 1, &[("x", &[2, 4], &X)]);
        assert_eq!(fused, Fused::default());
        assert_eq!(ops.len(), 5);
    }

    fn layer_norm_graph(decomposed: bool, sum_is_output: bool) -> TestGraph {
        let mut outputs: Vec<(&str, &[i64])> = vec![("y", &[2, 4])];
        if sum_is_output {
            outputs.push(("sum", &[2, 4]));
        }
        let mut g = TestGraph::new(&[("a", &[2, 4]), ("b", &[4])], &outputs);
        g.initializer("gamma", &[4], &[1.0, 0.5, 2.0, -1.0]);
        g.initializer("beta", &[4], &[0.0, 0.1, -0.2, 0.3]);
        g.initializer("eps", &[], &[1e-5]);
        g.initializer("two", &[], &[2.0]);
        g.nodes.push(node("Add", &["a", "b"], "sum"));
        if decomposed {
            let mean = |input: &str, output: &str| {
                let mut n = node("ReduceMean", &[input], output);
                n.attribute.push(ints_attribute("axes", &[-1]));
                n
            };
            g.nodes.push(mean("sum", "mean"));
            g.nodes.push(node("Sub", &["sum", "mean"], "centred"));
            g.nodes.push(node("Pow", &["centred", "two"], "square"));
            g.nodes.push(mean("square", "variance"));
            g.nodes.push(node("Add", &["variance", "eps"], "shifted"));
            g.nodes.push(node("Sqrt", &["shifted"], "deviation"));
            g.nodes
                .push(node("Div", &["centred", "deviation"], "normed"));
            g.nodes.push(node("Mul", &["normed", "gamma"], "scaled"));
            g.nodes.push(node("Add", &["scaled", "beta"], "y"));
        } else {
            let mut n = node("LayerNormalization", &["sum", "gamma", "beta"], "y");
            n.attribute.push(attribute("epsilon", Number::Float(1e-5)));
            g.nodes.push(n);
        }
        g
    }

    #[test]
    fn a_residual_add_and_layer_norm_fuse_in_both_forms_and_compute_the_same() {
        let b = [0.5, -0.5, 1.0, 0.0];
        for decomposed in [true, false] {
            let (fused, ops, diff) = fused(
                &layer_norm_graph(decomposed, false),
                1,
                &[("a", &[2, 4], &X), ("b", &[4], &b)],
            );
            assert_eq!(
                fused,
                Fused {
                    layer_norm: 1,
                    ..Fused::default()
                },
                "decomposed {decomposed}"
            );
            assert_eq!(ops, ["AddLayerNorm"]);
            assert!(diff <= 1e-5, "{diff}");
        }
    }

    #[test]
    fn a_layer_norm_whose_sum_is_read_elsewhere_stays() {
        for decomposed in [true, false] {
            let (fused, _, _) = fused(
                &layer_norm_graph(decomposed, true),
                1,
                &[("a", &[2, 4], &X), ("b", &[4], &[0.0; 4])],
            );
            assert_eq!(fused, Fused::default(), "decomposed {decomposed}");
        }
    }

    /// How an export scales the attention scores.
    #[derive(Debug, Clone, Copy)]
    enum Scaling {
        /// `Mul` of the scores by a constant (the TorchScript exports).
        Scores,
        /// `Div` of the scores by √head_size (eager transformers written as a division).
        DivideScores,
        /// torch's SDPA export: `√(1/√head_size)`, computed from `Shape(query heads)`, multiplies
        /// the query heads and the transposed key heads each (the Optimum form).
        Sdpa,
        /// torch's dynamo export: constant `√scale` factors, Kᵀ as the key heads folded to 3-D,
        /// transposed and unfolded (targets from `Shape`), and the NaN guard after the softmax.
        Dynamo,
    }

    /// The exports' attention: heads split by Reshape + Transpose, Q·Kᵀ, scale, mask bias,
    /// softmax, ·V, heads merged. `[1, 3, 4]` inputs, 2 heads of 2.
    fn attention_graph(weights_are_output: bool, scaling: Scaling) -> TestGraph {
        let mut outputs: Vec<(&str, &[i64])> = vec![("y", &[1, 3, 4])];
        if weights_are_output {
            outputs.push(("weights", &[1, 2, 3, 3]));
        }
        let mut g = TestGraph::new(
            &[
                ("q", &[1, 3, 4]),
                ("k", &[1, 3, 4]),
                ("v", &[1, 3, 4]),
                ("bias", &[1, 1, 1, 3]),
            ],
            &outputs,
        );
        // The length is inferred (-1), as the exports leave it: only the heads are constants.
        g.int_initializer("heads_shape", &[4], &[1, -1, 2, 2]);
        g.int_initializer("merged_shape", &[3], &[1, 3, 4]);
        g.initializer("scale", &[], &[FRAC_1_SQRT_2]);
        g.initializer("root_head_size", &[], &[SQRT_2]);
        let transpose = |input: &str, output: &str, perm: &[i64]| {
            let mut n = node("Transpose", &[input], output);
            n.attribute.push(ints_attribute("perm", perm));
            n
        };
        let key_perm = if matches!(scaling, Scaling::Dynamo) {
            [0, 2, 1, 3]
        } else {
            [0, 2, 3, 1]
        };
        for (x, perm) in [("q", [0, 2, 1, 3]), ("k", key_perm), ("v", [0, 2, 1, 3])] {
            g.nodes
                .push(node("Reshape", &[x, "heads_shape"], &format!("{x}_split")));
            g.nodes.push(transpose(
                &format!("{x}_split"),
                &format!("{x}_heads"),
                &perm,
            ));
        }
        match scaling {
            Scaling::Scores => {
                g.nodes
                    .push(node("MatMul", &["q_heads", "k_heads"], "scores"));
                g.nodes.push(node("Mul", &["scores", "scale"], "scaled"));
            }
            Scaling::DivideScores => {
                g.nodes
                    .push(node("MatMul", &["q_heads", "k_heads"], "scores"));
                g.nodes
                    .push(node("Div", &["scores", "root_head_size"], "scaled"));
            }
            Scaling::Sdpa => {
                g.int_initializer("start", &[1], &[-1]);
                g.int_initializer("end", &[1], &[i64::MAX]);
                g.initializer("one", &[1], &[1.0]);
                g.nodes.push(node("Shape", &["q_heads"], "q_shape"));
                g.nodes
                    .push(node("Slice", &["q_shape", "start", "end"], "head_size"));
                let mut cast = node("Cast", &["head_size"], "head_size_f");
                cast.attribute.push(attribute("to", Number::Int(1)));
                g.nodes.push(cast);
                g.nodes.push(node("Sqrt", &["head_size_f"], "root"));
                g.nodes.push(node("Div", &["one", "root"], "sdpa_scale"));
                g.nodes.push(node("Sqrt", &["sdpa_scale"], "q_factor"));
                g.nodes.push(node("Sqrt", &["sdpa_scale"], "k_factor"));
                g.nodes
                    .push(node("Mul", &["q_heads", "q_factor"], "q_scaled"));
                g.nodes
                    .push(node("Mul", &["k_heads", "k_factor"], "k_scaled"));
                g.nodes
                    .push(node("MatMul", &["q_scaled", "k_scaled"], "scaled"));
            }
            Scaling::Dynamo => {
                // [b, h, s, d] → [b·h, s, d] → [b·h, d, s] → [b, h, d, s], the targets from
                // Shape(key heads): [-1, s, d] and [b, h, d, s].
                g.int_initializer("minus_one", &[1], &[-1]);
                g.int_initializer("minus_two", &[1], &[-2]);
                g.int_initializer("zero", &[1], &[0]);
                g.int_initializer("end", &[1], &[i64::MAX]);
                g.initializer("root_scale", &[], &[FRAC_1_SQRT_2.sqrt()]);
                g.initializer("nothing", &[], &[0.0]);
                g.nodes.push(node("Shape", &["k_heads"], "k_shape"));
                for (from, to, output) in [
                    ("minus_two", "end", "last_two"),
                    ("zero", "minus_two", "first_two"),
                    ("minus_one", "end", "last"),
                    ("minus_two", "minus_one", "second_last"),
                ] {
                    g.nodes.push(node("Slice", &["k_shape", from, to], output));
                }
                let mut concat = |inputs: &[&str], output: &str| {
                    let mut n = node("Concat", inputs, output);
                    n.attribute.push(attribute("axis", Number::Int(0)));
                    g.nodes.push(n);
                };
                concat(&["minus_one", "last_two"], "fold_shape");
                concat(&["first_two", "last", "second_last"], "unfold_shape");
                g.nodes
                    .push(node("Reshape", &["k_heads", "fold_shape"], "k_folded"));
                g.nodes.push(transpose("k_folded", "k_swapped", &[0, 2, 1]));
                g.nodes.push(node(
                    "Reshape",
                    &["k_swapped", "unfold_shape"],
                    "k_transposed",
                ));
                g.nodes
                    .push(node("Mul", &["q_heads", "root_scale"], "q_scaled"));
                g.nodes
                    .push(node("Mul", &["k_transposed", "root_scale"], "k_scaled"));
                g.nodes
                    .push(node("MatMul", &["q_scaled", "k_scaled"], "scaled"));
            }
        }
        g.nodes.push(node("Add", &["scaled", "bias"], "masked"));
        if matches!(scaling, Scaling::Dynamo) {
            g.nodes.push(node("Softmax", &["masked"], "unguarded"));
            g.nodes.push(node("IsNaN", &["unguarded"], "nan"));
            g.nodes
                .push(node("Where", &["nan", "nothing", "unguarded"], "weights"));
        } else {
            g.nodes.push(node("Softmax", &["masked"], "weights"));
        }
        g.nodes
            .push(node("MatMul", &["weights", "v_heads"], "context"));
        g.nodes.push(transpose("context", "merged", &[0, 2, 1, 3]));
        g.nodes
            .push(node("Reshape", &["merged", "merged_shape"], "y"));
        g
    }

    #[test]
    fn attention_fuses_and_computes_the_same() {
        let q: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        let k: Vec<f32> = (0..12).map(|i| (i as f32 * 0.71).cos()).collect();
        let v: Vec<f32> = (0..12).map(|i| i as f32 * 0.1 - 0.5).collect();
        let bias = [0.0, 0.0, f32::MIN];
        let inputs: [(&str, &[usize], &[f32]); 4] = [
            ("q", &[1, 3, 4], &q),
            ("k", &[1, 3, 4], &k),
            ("v", &[1, 3, 4], &v),
            ("bias", &[1, 1, 1, 3], &bias),
        ];
        for scaling in [
            Scaling::Scores,
            Scaling::DivideScores,
            Scaling::Sdpa,
            Scaling::Dynamo,
        ] {
            let (fused, ops, diff) = fused(&attention_graph(false, scaling), 2, &inputs);
            assert_eq!(
                fused,
                Fused {
                    attention: 1,
                    ..Fused::default()
                },
                "{scaling:?}"
            );
            // The SDPA form's shape and scale arithmetic goes with it.
            assert_eq!(ops, ["Attention"], "{scaling:?}");
            assert!(diff <= 1e-6, "{scaling:?}: {diff}");
        }
    }

    /// A scale factor that depends on the input (here the sequence length, the last dimension
    /// of the transposed key heads) is not a constant: no fusion.
    #[test]
    fn attention_with_a_scale_that_is_not_constant_stays() {
        let mut g = attention_graph(false, Scaling::Sdpa);
        for n in &mut g.nodes {
            if n.op_type == "Shape" {
                n.input[0] = "k_heads".into();
            }
        }
        let mut model = g.model();
        assert_eq!(fuse(&mut model, 2), Fused::default());
        assert!(model.graph.node.iter().any(|n| n.op_type == "Softmax"));
    }

    #[test]
    fn what_stays_unfused_is_named_with_the_subgraph_found() {
        let mut g = attention_graph(false, Scaling::Sdpa);
        for n in &mut g.nodes {
            if n.op_type == "Shape" {
                n.input[0] = "k_heads".into();
            }
        }
        let mut model = g.model();
        fuse(&mut model, 2);
        let lines = unfused(model.graph.as_ref().unwrap());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "attention at `softmax_weights` not fused; found Softmax(Add(MatMul(Mul(Transpose"
            ),
            "{}",
            lines[0]
        );
        // A fused graph leaves nothing to report.
        let mut model = attention_graph(false, Scaling::Sdpa).model();
        fuse(&mut model, 2);
        assert_eq!(unfused(model.graph.as_ref().unwrap()), Vec::<String>::new());
    }

    #[test]
    fn attention_whose_weights_are_read_elsewhere_stays() {
        for scaling in [Scaling::Sdpa, Scaling::Dynamo] {
            let mut model = attention_graph(true, scaling).model();
            assert_eq!(fuse(&mut model, 2), Fused::default(), "{scaling:?}");
            assert!(model.graph.node.iter().any(|n| n.op_type == "Softmax"));
        }
    }

    /// A guard that puts anything but 0 where the weights are NaN is not the NaN guard: it
    /// changes what the weighted sum reads, so the attention stays.
    #[test]
    fn attention_behind_a_guard_that_is_not_zero_stays() {
        let mut g = attention_graph(false, Scaling::Dynamo);
        g.initializer("nothing", &[], &[0.5]);
        g.initializers
            .retain(|t| t.name != "nothing" || t.float_data == [0.5]);
        let mut model = g.model();
        assert_eq!(fuse(&mut model, 2), Fused::default());
        assert!(model.graph.node.iter().any(|n| n.op_type == "IsNaN"));
    }
}
