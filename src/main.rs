//! CLI entry: parse arguments, run one command, map errors to exit codes.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

// Ingest and analysis allocate millions of short strings; glibc's malloc
// spent a quarter of the analysis consolidating and unlinking chunks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        // `hopline export --incident | head`: the reader left; not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = commands::exit_code_for(&e);
            eprintln!("hopline: {e:#}");
            if let Some(hint) = commands::hint_for(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(code)
        }
    }
}
