//! Code generation: burn-onnx's `ModelGen` with the fused nodes as custom operations, the
//! generated code pointed at our linear layers and checked, and the `glue.rs` that ties it to
//! the engine.
//!
//! NOTE: three things here read or edit the generated text, because burn-onnx 0.22 offers no hook
//! for them: the `Linear` type it names (no option chooses the module type of a node), the list of
//! `Linear` fields (the generator returns no description of the module it wrote), and the
//! WebGPU blockers (`.to_data()` and `DType::I64` in the code are exactly what fails on WebGPU,
//! whichever ONNX ops produced them). Each edit fails the build loudly when the text is not what
//! it expects.

use std::fs;
use std::path::Path;

use burn_import::onnx::ext::quote::quote;
use burn_import::onnx::ext::{
    ArgType, CodegenContext, CustomNode, CustomOp, DType as OnnxDType, ProcessError, arg_to_ident,
    proc_macro2,
};
use burn_import::onnx::{LoadStrategy, ModelGen};

use crate::{Imported, fail, fuse};

/// Runs burn-onnx on the prepared graph `OUT_DIR/<name>/model.onnx`, writes `model.rs` beside
/// it with our linear layers, and returns the code.
pub fn generate(name: &str, split_onnx: &Path, dir: &Path) -> String {
    let target = split_onnx.parent().expect("a model folder");
    ModelGen::new()
        .input(split_onnx.to_str().expect("UTF-8 path"))
        .out_dir(&format!("{name}/"))
        .load_strategy(LoadStrategy::Bytes)
        .register_custom_op(FusedNode::Attention)
        .register_custom_op(FusedNode::Gelu)
        .register_custom_op(FusedNode::AddLayerNorm)
        .run_from_script();
    let code = fs::read_to_string(target.join("model.rs"))
        .unwrap_or_else(|e| fail(format!("burn-onnx wrote no model.rs for {name}: {e}")));
    check_signature(name, &code, dir);
    let code = gelu_after_linear(&use_our_linear(&code));
    fs::write(target.join("model.rs"), &code)
        .unwrap_or_else(|e| fail(format!("cannot write {name}/model.rs: {e}")));
    code
}

/// Why the generated code cannot run on WebGPU (empty: it can).
pub fn webgpu_blockers(code: &str) -> Vec<&'static str> {
    let mut blockers = Vec::new();
    if code.contains(".to_data()") {
        blockers.push(
            "its graph has data-dependent shapes, so the generated code reads tensors back \
             synchronously (to_data), which panics in wasm on WebGPU",
        );
    }
    if code.contains("DType::I64") {
        blockers.push("it computes with int64 tensors, and WGSL has no 64-bit integers");
    }
    blockers
}

/// Points the generated code's `Linear` and `LinearConfig` at `crate::kernels`' (burn's, plus
/// int8 weights computed in integers).
fn use_our_linear(code: &str) -> String {
    let code = code
        .replace("use burn::nn::Linear;", "use crate::kernels::Linear;")
        .replace(
            "use burn::nn::LinearConfig;",
            "use crate::kernels::LinearConfig;",
        );
    if code.contains("burn::nn::Linear") {
        fail(
            "the generated code names burn::nn::Linear in a way the build does not rewrite".into(),
        );
    }
    code
}

/// Folds a fused GELU into the linear layer before it: `let a = self.l.forward(x);` followed by
/// `let b = crate::kernels::gelu(a);`, where nothing else reads `a`, becomes
/// `let b = self.l.forward_gelu(x);` (on WebGPU one kernel, the GELU applied as the product is
/// written). NOTE: text, like [`use_our_linear`]: burn-onnx 0.22 generates a custom node's call
/// but has no hook to give a layer's call another method. A pair it does not recognise stays
/// as two calls, the same math.
fn gelu_after_linear(code: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if let Some(fused) = lines
            .get(i + 1)
            .and_then(|next| fold_gelu(lines[i], next, code))
        {
            out.push(fused);
            i += 2;
        } else {
            out.push(lines[i].to_string());
            i += 1;
        }
    }
    out.join("\n") + "\n"
}

/// The one line for `linear` and `gelu`, if they are a layer's call and the GELU of its result.
fn fold_gelu(linear: &str, gelu: &str, code: &str) -> Option<String> {
    let indent = &linear[..linear.len() - linear.trim_start().len()];
    let (value, call) = linear.trim().strip_prefix("let ")?.split_once(" = ")?;
    let (layer, input) = call.strip_prefix("self.")?.split_once(".forward(")?;
    let input = input.strip_suffix(");")?;
    let (result, argument) = gelu.trim().strip_prefix("let ")?.split_once(" = ")?;
    if argument != format!("crate::kernels::gelu({value});") {
        return None;
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let uses = code
        .match_indices(value)
        .filter(|(at, _)| {
            let before = code[..*at].chars().next_back();
            let after = code[at + value.len()..].chars().next();
            !before.is_some_and(word) && !after.is_some_and(word)
        })
        .count();
    (uses == 2 && layer.chars().all(word) && value.chars().all(word))
        .then(|| format!("{indent}let {result} = self.{layer}.forward_gelu({input});"))
}

/// The `name: Linear` fields of the generated `pub struct Model { … }`.
///
/// NOTE: burn-onnx puts a large graph's nodes into sub-modules of their own; their layers are
/// not listed, so they keep f32 weights (correct, only not the integer kernel).
pub fn linear_fields(code: &str) -> Vec<String> {
    let Some(start) = code.find("pub struct Model {") else {
        return Vec::new();
    };
    let body = &code[start..];
    let body = &body[..body.find('}').unwrap_or(body.len())];
    body.lines()
        .filter_map(|line| line.trim().strip_suffix(": Linear,"))
        .filter(|field| field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// Code for the custom nodes [`fuse`] makes: calls into `crate::kernels`.
#[derive(Clone, Copy)]
enum FusedNode {
    /// [`fuse::ATTENTION`] → `crate::kernels::attention`.
    Attention,
    /// [`fuse::GELU`] → `crate::kernels::gelu`.
    Gelu,
    /// [`fuse::ADD_LAYER_NORM`] → `crate::kernels::add_layer_norm`.
    AddLayerNorm,
}

impl CustomOp for FusedNode {
    fn op_type(&self) -> &str {
        match self {
            FusedNode::Attention => fuse::ATTENTION,
            FusedNode::Gelu => fuse::GELU,
            FusedNode::AddLayerNorm => fuse::ADD_LAYER_NORM,
        }
    }

    fn domain(&self) -> &str {
        fuse::DOMAIN
    }

    fn infer_output_types(&self, node: &CustomNode) -> Result<Vec<ArgType>, ProcessError> {
        // The kernels take f32 tensors: attention a [batch, sequence, hidden] query, key and
        // value and a 4-D bias, GELU any rank, the LayerNorm two that broadcast and a 1-D γ and
        // β. Each output has its first input's type (the LayerNorm's, its larger operand's).
        let ranks: Vec<Option<usize>> = node
            .inputs
            .iter()
            .map(|input| match &input.ty {
                ArgType::Tensor(t) if t.dtype == OnnxDType::F32 => Some(t.rank),
                _ => None,
            })
            .collect();
        let fits = match self {
            FusedNode::Attention => ranks == [Some(3), Some(3), Some(3), Some(4)],
            FusedNode::Gelu => matches!(ranks[..], [Some(_)]),
            FusedNode::AddLayerNorm => {
                matches!(ranks[..], [Some(a), Some(b), Some(1), Some(1)] if a.max(b) >= 1)
            }
        };
        if !fits {
            return Err(ProcessError::TypeMismatch {
                expected: match self {
                    FusedNode::Attention => {
                        "f32 query, key, value of rank 3 and an f32 bias of rank 4"
                    }
                    FusedNode::Gelu => "one f32 tensor",
                    FusedNode::AddLayerNorm => "two f32 tensors and a 1-D γ and β",
                }
                .into(),
                actual: format!(
                    "{:?}",
                    node.inputs.iter().map(|i| &i.ty).collect::<Vec<_>>()
                ),
            });
        }
        // The sum has the rank of the larger of the two (they broadcast).
        let first = match self {
            FusedNode::AddLayerNorm if ranks[1] > ranks[0] => 1,
            _ => 0,
        };
        Ok(vec![node.inputs[first].ty.clone()])
    }

    fn forward(
        &self,
        node: &CustomNode,
        ctx: &mut CodegenContext<'_, '_>,
    ) -> Result<proc_macro2::TokenStream, ProcessError> {
        let inputs: Vec<_> = node.inputs.iter().map(|input| ctx.arg(input)).collect();
        let output = arg_to_ident(&node.outputs[0]);
        Ok(match self {
            FusedNode::Attention => {
                let heads = node
                    .attrs
                    .get_i64("heads")
                    .ok_or_else(|| ProcessError::MissingAttribute("heads".into()))?
                    as usize;
                let scale = node
                    .attrs
                    .get_f32("scale")
                    .ok_or_else(|| ProcessError::MissingAttribute("scale".into()))?;
                quote! {
                    let #output = crate::kernels::attention(#(#inputs,)* #heads, #scale);
                }
            }
            FusedNode::Gelu => quote! {
                let #output = crate::kernels::gelu(#(#inputs),*);
            },
            FusedNode::AddLayerNorm => {
                let epsilon = node
                    .attrs
                    .get_f32("epsilon")
                    .ok_or_else(|| ProcessError::MissingAttribute("epsilon".into()))?;
                // The kernel takes the sum's operands at one rank: the larger first, the other
                // with leading dimensions of 1 (an embedding row added to every token, say).
                let rank = |i: usize| match &node.inputs[i].ty {
                    ArgType::Tensor(t) => t.rank,
                    _ => 0,
                };
                let (larger, smaller) = if rank(1) > rank(0) { (1, 0) } else { (0, 1) };
                let (a, b, gamma, beta) =
                    (&inputs[larger], &inputs[smaller], &inputs[2], &inputs[3]);
                let b = if rank(smaller) < rank(larger) {
                    let target = rank(larger);
                    quote! { (#b).unsqueeze::<#target>() }
                } else {
                    quote! { #b }
                };
                let form = if node.attrs.get_i64("decomposed") == Some(1) {
                    quote! { crate::kernels::LayerNormForm::Decomposed }
                } else {
                    quote! { crate::kernels::LayerNormForm::Operator }
                };
                quote! {
                    let #output =
                        crate::kernels::add_layer_norm(#a, #b, #gamma, #beta, #epsilon, #form);
                }
            }
        })
    }
}

/// The top-level `forward` must be `(input_ids, attention_mask, word_embeddings) -> logits
/// [batch, 1]`.
fn check_signature(name: &str, code: &str, dir: &Path) {
    let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let expected = "pubfnforward(&self,input_ids:Tensor<2,Int>,attention_mask:Tensor<2,Int>,\
                    word_embeddings:Tensor<3>,)->Tensor<2>{";
    // Sub-graphs come first in the generated file; the model's own forward is the last one.
    let last = flat.rfind("pubfnforward(").unwrap_or(0);
    if !flat[last..].starts_with(expected) {
        let end = flat[last..].find('{').map_or(flat.len(), |i| last + i);
        fail(format!(
            "{name} ({}) has an unsupported signature `{}`: export it with tools/export_onnx.py \
             so its inputs are (input_ids, attention_mask) and its output is logits [batch, 1]",
            dir.display(),
            &flat[last..end]
        ));
    }
}

pub fn write_glue(m: &Imported, out: &Path) {
    let blocker = if m.webgpu_blockers.is_empty() {
        "None".to_string()
    } else {
        format!("Some({:?})", m.webgpu_blockers.join("; and "))
    };
    let glue = format!(
        r#"// Generated by build/codegen.rs: ties the burn-onnx model to the engine.
/// What the build learned about this model.
pub const INFO: crate::model::ModelInfo = crate::model::ModelInfo {{
    name: {name:?},
    source_dir: {dir:?},
    vocab_size: {vocab},
    hidden_size: {hidden},
    num_attention_heads: {heads},
    intermediate_size: {ffn},
    max_positions: {positions},
    pad_token_id: {pad},
    webgpu_blocker: {blocker},
    fused_attention_layers: {fused_attention},
    fused_gelu_layers: {fused_gelu},
    fused_layer_norms: {fused_layer_norm},
}};

/// The f32 weights written by the build next to the generated code (exact parity).
pub const WEIGHTS_F32_PATH: &str = concat!(env!("OUT_DIR"), "/{name}/weights-f32.bpk");

/// The compact weights (int8 embeddings and linear layers, the rest f32).
pub const WEIGHTS_INT8_PATH: &str = concat!(env!("OUT_DIR"), "/{name}/weights-int8.bpk");

/// The compact tokenizer (`tokenizer.json` with a binary vocabulary).
pub const TOKENIZER_BIN_PATH: &str = concat!(env!("OUT_DIR"), "/{name}/tokenizer.bin");

impl crate::model::CrossEncoderModel for Model {{
    const INFO: crate::model::ModelInfo = INFO;

    fn empty(device: &burn::prelude::Device) -> Self {{
        Model::new(device)
    }}

    fn logits(
        &self,
        input_ids: burn::prelude::Tensor<2, burn::prelude::Int>,
        attention_mask: burn::prelude::Tensor<2, burn::prelude::Int>,
        word_embeddings: burn::prelude::Tensor<3>,
    ) -> burn::prelude::Tensor<2> {{
        self.forward(input_ids, attention_mask, word_embeddings)
    }}

    fn linear_layers(&mut self) -> Vec<(&'static str, &mut crate::kernels::Linear)> {{
        vec![{linear_layers}]
    }}
}}
"#,
        name = m.name,
        dir = m.dir.display().to_string(),
        vocab = m.vocab_size,
        hidden = m.hidden_size,
        heads = m.num_attention_heads,
        ffn = m.intermediate_size,
        positions = m.max_positions,
        pad = m.pad_token_id,
        fused_attention = m.fused.attention,
        fused_gelu = m.fused.gelu,
        fused_layer_norm = m.fused.layer_norm,
        linear_layers = m
            .linear_layers
            .iter()
            .map(|field| format!("({field:?}, &mut self.{field})"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    fs::write(out.join(m.name).join("glue.rs"), glue).expect("write glue.rs");
}
