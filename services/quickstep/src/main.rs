//! The `quickstep` binary: turns flags into a call of a library and its result into an exit
//! code. Logic lives in the crates (`asl` for the language); nothing here decides semantics.

mod cli;
mod dev;
mod gateway_config;
mod telemetry;
mod worker_config;

use std::process::ExitCode;

// Executions allocate many small JSON values and free them soon after; mimalloc's size-class
// caches beat glibc's malloc there by a wide margin (see loadtest/README.md for the numbers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("quickstep: {error:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
