//! The build script: imports the selected model (`RERANKER_MODEL_DIR`) and, with the `fixtures`
//! feature, the committed test models into burn code in `OUT_DIR`. The importer is the workspace
//! crate `crates/import`, where each step is a module with its own tests.

fn main() {
    web_reranker_import::run();
}
