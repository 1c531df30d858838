//! `dockguard completions SHELL` and `dockguard man`: generated at run time from the clap
//! definitions in [`crate::cli`], so they always match the binary's real flags.
//!
//! Commands rather than build.rs generation: the build stays fast (no clap tree built at
//! compile time), and a packager gets the files with one command each
//! (`dockguard completions bash > …`, `dockguard man --out-dir …`).

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::write_out;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<i32> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dockguard", &mut buf);
    write_out(out, &buf)?;
    Ok(0)
}

/// Prints the top-level man page, or writes every page into `dir`.
pub fn man(dir: Option<&Path>, out: &mut dyn Write) -> Result<i32> {
    let cmd = Cli::command();
    match dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| Error::io("cannot render the man page", e))?;
            write_out(out, &buf)?;
        }
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("cannot create {}", d.display()), e))?;
            clap_mangen::generate_to(cmd, d).map_err(|e| {
                Error::io(format!("cannot write man pages into {}", d.display()), e)
            })?;
            write_out(
                out,
                format!("wrote the dockguard man pages into {}\n", d.display()).as_bytes(),
            )?;
        }
    }
    Ok(0)
}
