//! The integration tests: one binary, real repositories, hermetic git.

mod check;
mod ci;
mod fixture;
mod gitlab;
mod history;
mod pack;
mod slug;
