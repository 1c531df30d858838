//! `dockguard check [REV…]`: the verdict for a person or a script (`-q`: only the
//! conclusion when nothing needs a rebuild).

use std::io::Write;

use git2::Repository;

use crate::cli::{CheckArgs, Format};
use crate::config::{Flag, Name, Verbosity};
use crate::context::{Context, Door, Env};
use crate::engine::{targets, JudgeOptions};
use crate::error::Result;
use crate::git::repo;
use crate::render;

/// Runs `check`. Exit 1 with `--exit-code` when a rebuild is needed.
pub fn run(repo: &Repository, args: &CheckArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    repo::workdir(repo, "check")?;
    let flags = Flag::given(&[(Name::Upstream, args.upstream.as_ref(), "--upstream")]);
    let ctx = Context::load(repo, env, Door::Local, &flags)?;
    for w in ctx.warnings() {
        eprintln!("dockguard: {w}");
    }
    let mut engine = ctx.engine(repo)?;
    let targets = targets::from_revspecs(repo, &args.revs)?;
    let report = engine.report(
        &targets,
        JudgeOptions {
            commits: args.commits,
            explain: true,
        },
    )?;
    let styles = render::human::Styles::new(env.color());
    let quiet = ctx.settings.verbosity == Verbosity::Quiet && !report.rebuild;
    let text = match args.format {
        Format::Json => render::human::json(&report),
        Format::Human if quiet => {
            render::human::conclusion(&report, &ctx.settings.push_option, &styles)
        }
        Format::Human => render::human::human(&report, &ctx.settings.push_option, &styles),
    };
    crate::write_out(out, text.as_bytes())?;
    Ok(i32::from(args.exit_code && report.rebuild))
}
