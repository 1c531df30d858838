//! The integration tests: one binary, real repositories, hermetic git.

mod adversarial;
mod check;
mod ci;
mod cli;
mod faults;
mod fixture;
mod gitlab;
mod history;
mod hook;
mod husky;
mod images;
mod install;
mod lefthook;
mod lexer;
mod memo;
mod pack;
mod precommit;
mod props;
mod push;
mod schema;
mod security;
mod server;
mod slug;
mod tag;
