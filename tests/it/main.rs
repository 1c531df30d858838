//! The integration tests: one binary, real repositories, hermetic git.

mod adversarial;
mod check;
mod ci;
mod faults;
mod fixture;
mod gitlab;
mod history;
mod hook;
mod images;
mod install;
mod lexer;
mod pack;
mod props;
mod push;
mod server;
mod slug;
mod tag;
