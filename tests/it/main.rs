//! The integration tests: one binary, real repositories, hermetic git.

mod check;
mod ci;
mod fixture;
mod gitlab;
mod history;
mod hook;
mod images;
mod install;
mod lexer;
mod memo;
mod pack;
mod push;
mod server;
mod slug;
mod tag;
