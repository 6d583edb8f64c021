//! Code generation: burn-onnx's `ModelGen` with the fused nodes as custom operations and our
//! linear layer as an override of its `Linear`; then the generated file is read as a syntax tree
//! (`syn`) to fold each GELU into the linear layer before it, to list the linear layers, to check
//! the `forward` signature and to find what cannot run on WebGPU; and the `glue.rs` that ties it
//! to the engine.
//!
//! NOTE: burn-onnx 0.22's extension points (`CustomOp`, `OpOverride`) choose the code of one node
//! at a time, so the GELU fold (two nodes: a layer and the GELU of its output), the list of the
//! module's linear layers and the WebGPU blockers are read from the generated file's syntax tree
//! instead, never from its text.

use std::fs;
use std::path::Path;

use burn_import::onnx::ext::proc_macro2::{self, Ident, Span};
use burn_import::onnx::ext::quote::quote;
use burn_import::onnx::ext::{
    ArgType, CodegenContext, CustomNode, CustomOp, DType as OnnxDType, Field, Node, NodeType,
    OpOverride, PackTensor, ProcessError, arg_to_ident, create_deferred_tensor,
};
use burn_import::onnx::{LoadStrategy, ModelGen};
use syn::visit::Visit;

use crate::{Imported, fail, fuse};

/// The type of our linear layer in the generated code (the override's field type).
pub const OUR_LINEAR: [&str; 3] = ["crate", "kernels", "Linear"];

/// What the generated code holds, read from its syntax tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Each linear layer's path from the model (`linear1`, or `sub.linear1` in a sub-module).
    pub linear_layers: Vec<String>,
    /// How many GELUs were folded into the linear layer before them.
    pub gelu_folded: usize,
    /// Why the code cannot run on WebGPU (empty: it can).
    pub webgpu_blockers: Vec<&'static str>,
}

/// Runs burn-onnx on the prepared graph `OUT_DIR/<name>/model.onnx`, rewrites `model.rs` beside
/// it ([`rewrite`]) and returns what it holds.
pub fn generate(name: &str, split_onnx: &Path, dir: &Path) -> Generated {
    let target = split_onnx.parent().expect("a model folder");
    ModelGen::new()
        .input(split_onnx.to_str().expect("UTF-8 path"))
        .out_dir(&format!("{name}/"))
        .load_strategy(LoadStrategy::Bytes)
        .register_custom_op(FusedNode::Attention)
        .register_custom_op(FusedNode::Gelu)
        .register_custom_op(FusedNode::AddLayerNorm)
        .register_op_override(OurLinear)
        .run_from_script();
    let path = target.join("model.rs");
    let code = fs::read_to_string(&path)
        .unwrap_or_else(|e| fail(format!("burn-onnx wrote no model.rs for {name}: {e}")));
    let (code, generated) =
        rewrite(&code).unwrap_or_else(|e| fail(format!("{name} ({}): {e}", dir.display())));
    fs::write(&path, code).unwrap_or_else(|e| fail(format!("cannot write {name}/model.rs: {e}")));
    generated
}

/// Reads burn-onnx's `model.rs`, checks its `forward` signature, folds each GELU into the linear
/// layer before it ([`fold_gelu`]) and lists the linear layers ([`linear_layers`]). Returns the
/// new code and what it holds; `Err` names what the importer cannot use.
pub fn rewrite(code: &str) -> Result<(String, Generated), String> {
    let mut file =
        syn::parse_file(code).map_err(|e| format!("burn-onnx's model.rs does not parse: {e}"))?;
    check_signature(&file)?;
    let gelu_folded = fold_gelu(&mut file);
    let linear_layers = linear_layers(&file)?;
    let webgpu_blockers = webgpu_blockers(&file);
    let generated = Generated {
        linear_layers,
        gelu_folded,
        webgpu_blockers,
    };
    Ok((prettyplease::unparse(&file), generated))
}

/// Why the generated code cannot run on WebGPU: a `.to_data()` call (a synchronous read-back,
/// which panics in wasm on WebGPU) or `DType::I64` (WGSL has no 64-bit integers).
pub fn webgpu_blockers(file: &syn::File) -> Vec<&'static str> {
    #[derive(Default)]
    struct Find {
        to_data: bool,
        int64: bool,
    }
    impl<'ast> Visit<'ast> for Find {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            self.to_data |= call.method == "to_data";
            syn::visit::visit_expr_method_call(self, call);
        }
        fn visit_path(&mut self, path: &'ast syn::Path) {
            let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.int64 |= names.ends_with(&["DType".to_string(), "I64".to_string()]);
            syn::visit::visit_path(self, path);
        }
    }
    let mut find = Find::default();
    find.visit_file(file);
    let mut blockers = Vec::new();
    if find.to_data {
        blockers.push(
            "its graph has data-dependent shapes, so the generated code reads tensors back \
             synchronously (to_data), which panics in wasm on WebGPU",
        );
    }
    if find.int64 {
        blockers.push("it computes with int64 tensors, and WGSL has no 64-bit integers");
    }
    blockers
}

/// Folds a fused GELU into the linear layer before it, in every function: `let a =
/// self.l.forward(x);` followed by `let b = crate::kernels::gelu(a);`, where nothing else reads
/// `a`, becomes `let b = self.l.forward_gelu(x);` (on WebGPU one kernel, the GELU applied as the
/// product is written). A pair it does not recognise stays as two calls: the same math. Returns
/// how many it folded.
pub fn fold_gelu(file: &mut syn::File) -> usize {
    let mut folded = 0;
    for item in &mut file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        for member in &mut block.items {
            if let syn::ImplItem::Fn(function) = member {
                folded += fold_gelu_in(&mut function.block);
            }
        }
    }
    folded
}

fn fold_gelu_in(block: &mut syn::Block) -> usize {
    let mut folded = 0;
    let mut i = 0;
    while i + 1 < block.stmts.len() {
        let fused = layer_call(&block.stmts[i]).and_then(|(value, layer, input)| {
            let (result, argument) = gelu_call(&block.stmts[i + 1])?;
            (argument == value && ident_uses(block, &value) == 2).then(|| {
                let stmt: syn::Stmt = syn::parse_quote! {
                    let #result = self.#layer.forward_gelu(#input);
                };
                stmt
            })
        });
        if let Some(stmt) = fused {
            block.stmts[i] = stmt;
            block.stmts.remove(i + 1);
            folded += 1;
        }
        i += 1;
    }
    folded
}

/// `let <value> = self.<layer>.forward(<input>);`: (value, layer, input).
fn layer_call(stmt: &syn::Stmt) -> Option<(Ident, Ident, syn::Expr)> {
    let (value, expr) = let_binding(stmt)?;
    let syn::Expr::MethodCall(call) = expr else {
        return None;
    };
    let syn::Expr::Field(field) = call.receiver.as_ref() else {
        return None;
    };
    let syn::Member::Named(layer) = &field.member else {
        return None;
    };
    let is_self = matches!(field.base.as_ref(), syn::Expr::Path(p) if p.path.is_ident("self"));
    (is_self && call.method == "forward" && call.args.len() == 1)
        .then(|| (value, layer.clone(), call.args[0].clone()))
}

/// `let <result> = crate::kernels::gelu(<argument>);`: (result, argument).
fn gelu_call(stmt: &syn::Stmt) -> Option<(Ident, Ident)> {
    let (result, expr) = let_binding(stmt)?;
    let syn::Expr::Call(call) = expr else {
        return None;
    };
    let syn::Expr::Path(func) = call.func.as_ref() else {
        return None;
    };
    let names: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let [syn::Expr::Path(argument)] = call.args.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    (names == ["crate", "kernels", "gelu"])
        .then(|| argument.path.get_ident().cloned())
        .flatten()
        .map(|argument| (result, argument))
}

/// `let <name> = <expr>;` with a plain name.
fn let_binding(stmt: &syn::Stmt) -> Option<(Ident, &syn::Expr)> {
    let syn::Stmt::Local(local) = stmt else {
        return None;
    };
    let syn::Pat::Ident(name) = &local.pat else {
        return None;
    };
    let init = local.init.as_ref()?;
    init.diverge
        .is_none()
        .then(|| (name.ident.clone(), init.expr.as_ref()))
}

/// How often `name` occurs in `block` (its binding included).
fn ident_uses(block: &syn::Block, name: &Ident) -> usize {
    struct Count<'a>(&'a Ident, usize);
    impl<'ast> Visit<'ast> for Count<'_> {
        fn visit_ident(&mut self, ident: &'ast Ident) {
            if ident == self.0 {
                self.1 += 1;
            }
        }
    }
    let mut count = Count(name, 0);
    count.visit_block(block);
    count.1
}

/// Every linear layer of the model, by its path from `Model` through the sub-modules burn-onnx
/// puts a large graph's nodes in. A field of our linear type that the model does not reach, or a
/// field of burn's own `Linear` (a layer the override missed), is an error naming it: the engine
/// must not leave a layer on f32 weights without a word.
pub fn linear_layers(file: &syn::File) -> Result<Vec<String>, String> {
    let structs: Vec<&syn::ItemStruct> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) => Some(s),
            _ => None,
        })
        .collect();
    let mut all = Vec::new();
    for s in &structs {
        for (field, ty) in fields(s) {
            if ty.last().is_some_and(|t| t == "Linear") {
                if ty != OUR_LINEAR {
                    return Err(format!(
                        "the linear layer `{}.{field}` is a `{}`, not ours: the build's override \
                         of burn-onnx's Linear did not reach it",
                        s.ident,
                        ty.join("::")
                    ));
                }
                all.push(format!("{}.{field}", s.ident));
            }
        }
    }
    // Depth-first from Model, in the order the fields are declared.
    fn walk(
        name: &str,
        prefix: &str,
        structs: &[&syn::ItemStruct],
        found: &mut Vec<String>,
        reached: &mut Vec<String>,
    ) {
        let Some(s) = structs.iter().find(|s| s.ident == name) else {
            return;
        };
        for (field, ty) in fields(s) {
            let path = format!("{prefix}{field}");
            if ty == OUR_LINEAR {
                reached.push(format!("{name}.{field}"));
                found.push(path);
            } else if let [single] = &ty[..] {
                walk(single, &format!("{path}."), structs, found, reached);
            }
        }
    }
    let (mut found, mut reached) = (Vec::new(), Vec::new());
    walk("Model", "", &structs, &mut found, &mut reached);
    if let Some(lost) = all.iter().find(|l| !reached.contains(l)) {
        return Err(format!(
            "the linear layer `{lost}` is not reachable from Model's fields, so the engine could \
             not give it int8 weights"
        ));
    }
    Ok(found)
}

/// A struct's named fields whose type is a path: (name, the path's segments).
fn fields(s: &syn::ItemStruct) -> Vec<(String, Vec<String>)> {
    s.fields
        .iter()
        .filter_map(|f| {
            let syn::Type::Path(ty) = &f.ty else {
                return None;
            };
            let path = ty
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            Some((f.ident.as_ref()?.to_string(), path))
        })
        .collect()
}

/// The model's own `forward` (on `Model`) must be `(input_ids: Tensor<2, Int>, attention_mask:
/// Tensor<2, Int>, word_embeddings: Tensor<3>) -> Tensor<2>`.
fn check_signature(file: &syn::File) -> Result<(), String> {
    let forward = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(block) if block.trait_.is_none() => Some(block),
            _ => None,
        })
        .filter(|block| matches!(block.self_ty.as_ref(), syn::Type::Path(p) if p.path.is_ident("Model")))
        .flat_map(|block| &block.items)
        .find_map(|member| match member {
            syn::ImplItem::Fn(f) if f.sig.ident == "forward" => Some(&f.sig),
            _ => None,
        })
        .ok_or("the generated code has no Model::forward")?;
    let ty = |s: &str| syn::parse_str::<syn::Type>(s).expect("a type");
    let expected = [
        ("input_ids", ty("Tensor<2, Int>")),
        ("attention_mask", ty("Tensor<2, Int>")),
        ("word_embeddings", ty("Tensor<3>")),
    ];
    let inputs: Vec<(String, syn::Type)> = forward
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => match t.pat.as_ref() {
                syn::Pat::Ident(name) => Some((name.ident.to_string(), (*t.ty).clone())),
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let returns = matches!(&forward.output, syn::ReturnType::Type(_, t) if **t == ty("Tensor<2>"));
    let fits = returns
        && inputs.len() == expected.len()
        && inputs
            .iter()
            .zip(&expected)
            .all(|((name, t), (want, want_ty))| name == want && t == want_ty);
    if !fits {
        return Err(format!(
            "Model::forward has inputs {:?}; expected (input_ids, attention_mask, word_embeddings) \
             -> logits [batch, 1]: export the model with tools/export_onnx.py",
            inputs.iter().map(|(n, _)| n).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// burn-onnx's `Linear` node with our layer (`crate::kernels::Linear`: burn's fields, plus int8
/// weights computed in integers): the same field name, weights and call, another type.
struct OurLinear;

impl OurLinear {
    fn node(node: &Node) -> Result<&onnx_ir::linear::LinearNode, ProcessError> {
        match node {
            Node::Linear(linear) => Ok(linear),
            _ => Err(ProcessError::Custom(
                "the Linear override got another node".into(),
            )),
        }
    }
}

impl OpOverride for OurLinear {
    fn target(&self) -> NodeType {
        NodeType::Linear
    }

    fn forward(
        &self,
        node: &Node,
        ctx: &mut CodegenContext<'_, '_>,
    ) -> Result<proc_macro2::TokenStream, ProcessError> {
        let linear = Self::node(node)?;
        let input = ctx.arg(&linear.inputs[0]);
        let output = arg_to_ident(&linear.outputs[0]);
        let field = Ident::new(&linear.name, Span::call_site());
        Ok(quote! {
            let #output = self.#field.forward(#input);
        })
    }

    fn field(&self, node: &Node) -> Result<Option<Field>, ProcessError> {
        let linear = Self::node(node)?;
        // NOTE: crates/import/src/gemm.rs turns a Gemm's `[out, in]` weight into MatMul's
        // `[in, out]`, so every layer reaching here is stored as burn's Row layout.
        if linear.config.transpose_weight {
            return Err(ProcessError::Custom(format!(
                "linear layer {}: a weight in Gemm's [out, in] layout reached code generation",
                linear.name
            )));
        }
        let shape = linear.inputs[1].ty.static_shape_known().ok_or_else(|| {
            ProcessError::Custom(format!(
                "linear layer {}: its weight's shape is not known",
                linear.name
            ))
        })?;
        let [d_input, d_output] = shape[..] else {
            return Err(ProcessError::Custom(format!(
                "linear layer {}: a weight of shape {shape:?}",
                linear.name
            )));
        };
        let bias = linear.inputs.len() > 2;
        let name = Ident::new(&linear.name, Span::call_site());
        let init = quote! {
            let #name = crate::kernels::LinearConfig::new(#d_input, #d_output)
                .with_bias(#bias)
                .init(device);
        };
        Ok(Some(Field::new(
            &linear.name,
            quote! { crate::kernels::Linear },
            init,
        )))
    }

    fn collect_tensors(
        &self,
        node: &Node,
        field_name: &str,
    ) -> Result<Vec<PackTensor>, ProcessError> {
        let linear = Self::node(node)?;
        let mut tensors = Vec::new();
        for (index, part) in [(1, "weight"), (2, "bias")] {
            if let Some(input) = linear.inputs.get(index) {
                tensors.extend(create_deferred_tensor(
                    input,
                    &format!("{field_name}.{part}"),
                ));
            }
        }
        Ok(tensors)
    }
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

pub fn write_glue(m: &Imported, out: &Path) {
    let blockers = &m.generated.webgpu_blockers;
    let blocker = if blockers.is_empty() {
        "None".to_string()
    } else {
        format!("Some({:?})", blockers.join("; and "))
    };
    let glue = format!(
        r#"// Generated by crates/import/src/codegen.rs: ties the burn-onnx model to the engine.
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
    folded_gelu_layers: {folded_gelu},
    fused_layer_norms: {fused_layer_norm},
    linear_layers: {linear_count},
}};

/// The f32 weights written by the build next to the generated code (exact parity).
pub const WEIGHTS_F32_PATH: &str = concat!(env!("OUT_DIR"), "/{name}/weights-f32.bpk");

/// The compact weights (int8 embeddings and linear layers, the rest f32).
pub const WEIGHTS_INT8_PATH: &str = concat!(env!("OUT_DIR"), "/{name}/weights-int8.bpk");

/// The generated model code, as the build wrote it (its snapshot test reads it).
pub const MODEL_RS_PATH: &str = concat!(env!("OUT_DIR"), "/{name}/model.rs");

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
        folded_gelu = m.generated.gelu_folded,
        fused_layer_norm = m.fused.layer_norm,
        linear_count = m.generated.linear_layers.len(),
        linear_layers = m
            .generated
            .linear_layers
            .iter()
            .map(|field| format!("({field:?}, &mut self.{field})"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    fs::write(out.join(m.name).join("glue.rs"), glue).expect("write glue.rs");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model file of the shape burn-onnx writes, with two sub-module levels.
    const MODEL: &str = r#"
use burn::prelude::*;

pub struct Submodule1 {
    linear3: crate::kernels::Linear,
}

impl Submodule1 {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let linear3_out1 = self.linear3.forward(x);
        let gelu2_out1 = crate::kernels::gelu(linear3_out1);
        gelu2_out1
    }
}

pub struct Model {
    linear1: crate::kernels::Linear,
    submodule1: Submodule1,
    linear2: crate::kernels::Linear,
    device: burn::module::Ignored<Device>,
}

impl Model {
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
        word_embeddings: Tensor<3>,
    ) -> Tensor<2> {
        let linear1_out1 = self.linear1.forward(word_embeddings);
        let gelu1_out1 = crate::kernels::gelu(linear1_out1);
        let sub_out1 = self.submodule1.forward(gelu1_out1);
        let linear2_out1 = self.linear2.forward(sub_out1);
        let gelu3_out1 = crate::kernels::gelu(linear2_out1.clone());
        let logits = gelu3_out1 + linear2_out1;
        logits.slice([0..1]).squeeze_dim(1)
    }
}
"#;

    #[test]
    fn a_gelu_reading_only_a_layers_output_folds_into_it_and_one_read_twice_does_not() {
        let (code, generated) = rewrite(MODEL).expect("a model it can use");
        assert_eq!(generated.gelu_folded, 2);
        assert!(
            code.contains("let gelu1_out1 = self.linear1.forward_gelu(word_embeddings);"),
            "{code}"
        );
        assert!(
            code.contains("let gelu2_out1 = self.linear3.forward_gelu(x);"),
            "{code}"
        );
        // linear2's output is read again after its GELU: the two calls stay.
        assert!(
            code.contains("let linear2_out1 = self.linear2.forward(sub_out1);"),
            "{code}"
        );
        assert!(
            code.contains("crate::kernels::gelu(linear2_out1.clone())"),
            "{code}"
        );
        assert!(!code.contains("self.linear1.forward("), "{code}");
        // The rewritten file parses and rewrites to itself.
        let (again, second) = rewrite(&code).unwrap();
        assert_eq!((again, second.gelu_folded), (code, 0));
    }

    #[test]
    fn the_linear_layers_are_listed_by_their_path_from_the_model() {
        let (_, generated) = rewrite(MODEL).unwrap();
        assert_eq!(
            generated.linear_layers,
            ["linear1", "submodule1.linear3", "linear2"]
        );
        assert!(generated.webgpu_blockers.is_empty());
    }

    #[test]
    fn a_linear_layer_the_model_does_not_reach_or_of_burns_type_is_an_error_naming_it() {
        let orphan =
            format!("{MODEL}\npub struct Submodule9 {{ linear9: crate::kernels::Linear }}\n");
        let error = rewrite(&orphan).unwrap_err();
        assert!(
            error.contains("`Submodule9.linear9`") && error.contains("not reachable"),
            "{error}"
        );
        let burns = MODEL.replace(
            "linear2: crate::kernels::Linear",
            "linear2: burn::nn::Linear",
        );
        let error = rewrite(&burns).unwrap_err();
        assert!(
            error.contains("`Model.linear2` is a `burn::nn::Linear`"),
            "{error}"
        );
    }

    #[test]
    fn a_synchronous_read_back_and_int64_math_are_webgpu_blockers() {
        let read_back = MODEL.replace(
            "let logits = ",
            "let _ = gelu3_out1.clone().to_data();\n        let logits = ",
        );
        let (_, generated) = rewrite(&read_back).unwrap();
        assert_eq!(generated.webgpu_blockers.len(), 1);
        assert!(generated.webgpu_blockers[0].contains("to_data"));
        let int64 = MODEL.replace("let logits = ", "let _ = DType::I64; let logits = ");
        let (_, generated) = rewrite(&int64).unwrap();
        assert_eq!(generated.webgpu_blockers.len(), 1);
        assert!(generated.webgpu_blockers[0].contains("int64"));
    }

    #[test]
    fn a_forward_of_another_signature_is_an_error() {
        let renamed = MODEL.replace(
            "attention_mask: Tensor<2, Int>",
            "token_type_ids: Tensor<2, Int>",
        );
        let error = rewrite(&renamed).unwrap_err();
        assert!(error.contains("token_type_ids"), "{error}");
        let returns = MODEL.replace(") -> Tensor<2> {", ") -> Tensor<3> {");
        assert!(rewrite(&returns).is_err());
    }
}
