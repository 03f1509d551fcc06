//! The `quickstep` binary: turns flags into a call of a library and its result into an exit
//! code (see `cli` for the codes). Logic lives in the crates (`asl` for the language,
//! `runtime` for executions, `worker` and `gateway`); nothing here decides semantics.

// No unsafe code but the allocator's (the GlobalAlloc contract is unsafe by definition).
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod allocator;
mod cli;
mod commands;
mod config;
mod telemetry;

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(failure) => {
            let (code, error) = failure.report();
            eprintln!("quickstep: {error:#}");
            ExitCode::from(code)
        }
    }
}
