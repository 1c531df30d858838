//! The dockguard binary: parse, run, map errors to exit codes. All logic is in the library.

use std::io::Write;

use clap::Parser;

fn main() {
    exit_2_when_stderr_is_gone();
    let cli = dockguard::cli::Cli::parse();
    let env = dockguard::Env::from_process().with_flags(cli.color, cli.output);
    let mut stdout = std::io::stdout().lock();
    let code = match dockguard::run(&cli, &env, &mut stdout) {
        Ok(code) => code,
        Err(e) => {
            // Nowhere to say it (stderr closed, its reader gone): the exit status still does.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}",
                dockguard::render_error(&e, &env)
            );
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// A message that cannot be written to stderr (a pipe whose reader left) makes
/// `eprintln!` panic, and the release profile aborts (SIGABRT, status 134), which a CI
/// log or a hook manager reads as a crash. Such a run ends with status 2, the error status,
/// instead; any other panic stays a panic.
fn exit_2_when_stderr_is_gone() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stderr") {
            std::process::exit(2);
        }
        default(info);
    }));
}
