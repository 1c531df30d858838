//! `dockguard completions SHELL` and `dockguard man`: generated at run time from the clap
//! definitions in [`crate::cli`], so they always match the binary's real flags.
//!
//! Commands rather than build.rs generation: the build stays fast (no clap tree built at
//! compile time), and a packager gets the files with one command each
//! (`dockguard completions bash > …`, `dockguard man --out-dir …`).

use std::fmt::Write as _;
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
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match dir {
        None => {
            let buf = page(&cmd).map_err(|e| Error::io("cannot render the man page", e))?;
            write_out(out, &buf)?;
        }
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("cannot create {}", d.display()), e))?;
            write_pages(&cmd, d).map_err(|e| {
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

/// One page per command, as `clap_mangen::generate_to` names them.
fn write_pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    let name = clap_mangen::Man::new(cmd.clone()).get_filename();
    crate::fsx::replace(&dir.join(name), &page(cmd)?, 0o644)
}

/// clap_mangen's sections, a synopsis that shows `-C DIR` (clap_mangen drops the value
/// of a short-only option), and the EXIT STATUS and ENVIRONMENT sections man-pages(7)
/// expects.
fn page(cmd: &clap::Command) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    let mut synopsis = Vec::new();
    man.render_synopsis_section(&mut synopsis)?;
    let synopsis =
        String::from_utf8_lossy(&synopsis).replace(r"[\fB\-C \fR]", r"[\fB\-C\fR \fIDIR\fR]");
    buf.extend_from_slice(synopsis.as_bytes());
    man.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut buf)?;
    }
    if cmd.get_after_help().is_some() {
        man.render_extra_section(&mut buf)?;
    }
    buf.extend_from_slice(exit_status(cmd).as_bytes());
    buf.extend_from_slice(environment().as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut buf)?;
    }
    Ok(buf)
}

/// EXIT STATUS: the command's own "Exit codes" from its help, else what they share.
fn exit_status(cmd: &clap::Command) -> String {
    let help = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let text = match help.find("Exit code") {
        Some(at) => help[at..]
            .split_once(':')
            .map_or("", |(_, rest)| rest)
            .to_owned(),
        None => concat!(
            "  0  success (with check --exit-code: no rebuild needed; the hook: allow the push)\n",
            "  1  a documented \"no\": check --exit-code (a rebuild is needed), the hook (the push\n",
            "     is blocked), ci and plan --strict (a rebuild is needed but was not requested)\n",
            "  2  error (one line, its cause, and a hint)\n",
            "dockguard push exits with git push's status.",
        )
        .to_owned(),
    };
    format!(
        ".SH \"EXIT STATUS\"\n.nf\n{}\n.fi\n",
        roff_text(text.trim_matches('\n'))
    )
}

/// ENVIRONMENT: colour, the escape hatch, and each setting's variable (from the key table).
fn environment() -> String {
    fn item(s: &mut String, name: &str, doc: &str) {
        let _ = write!(s, ".TP\n\\fB{}\\fR\n{}\n", roff_text(name), roff_text(doc));
    }
    let mut s = String::from(".SH ENVIRONMENT\n");
    for (name, doc) in [
        (
            "NO_COLOR",
            "Not empty: no colour (--color always still colours).",
        ),
        (
            "CLICOLOR_FORCE",
            "Not empty and not 0: colour even when not a terminal (NO_COLOR wins).",
        ),
        ("CLICOLOR", "0: no colour on a terminal."),
        (
            "DOCKGUARD_SKIP",
            "1: the hook lets the push through unchecked.",
        ),
    ] {
        item(&mut s, name, doc);
    }
    let _ = write!(
        s,
        ".PP\n{}\n",
        roff_text(
            "Each setting below can be set by its variable (over the repository's file \
             and git config, under flags; see `dockguard status`). `dockguard ci` reads none \
             of them: whoever pushes can set pipeline variables."
        )
    );
    for key in crate::config::KEYS {
        if !matches!(key.kind, crate::config::keys::Kind::Tables(_)) {
            let doc = format!("`{}`: {}.", key.name, key.doc);
            item(&mut s, &crate::config::keys::env_name(key), &doc);
        }
    }
    s
}

/// Text for roff: backslashes and hyphens escaped, no line starting with a control
/// character.
fn roff_text(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e").replace('-', "\\-");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
