//! The integration tests: one binary, real repositories, hermetic git.

mod check;
mod fixture;
mod images;
mod lexer;
mod tag;
