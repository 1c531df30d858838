//! The integration tests: one binary, real repositories, hermetic git.

mod check;
mod fixture;
mod hook;
mod install;
mod push;
mod server;
