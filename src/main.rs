//! The dockguard binary: parse, run, map errors to exit codes. All logic is in the library.

use clap::Parser;

fn main() {
    let cli = dockguard::cli::Cli::parse();
    let env = dockguard::Env::from_process().with_flags(cli.color, cli.output);
    let mut stdout = std::io::stdout().lock();
    let code = match dockguard::run(&cli, &env, &mut stdout) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", dockguard::render_error(&e, &env));
            e.exit_code()
        }
    };
    std::process::exit(code);
}
