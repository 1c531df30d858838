//! Renderers: how results look to people (console), to scripts (JSON) and to CI systems
//! (dotenv, `$GITHUB_OUTPUT`, step summaries). They format data; they decide nothing.

pub mod annotation;
pub mod escape;
pub mod human;
pub mod images;
pub mod outputs;
pub mod paint;
pub mod plan;
