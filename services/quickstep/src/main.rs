//! The `quickstep` binary: turns flags into a call of a library and its result into an exit
//! code. Logic lives in the crates (`asl` for the language); nothing here decides semantics.

mod allocator;
mod cli;
mod dev;
mod gateway_config;
mod telemetry;
mod worker_config;

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("quickstep: {error:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
