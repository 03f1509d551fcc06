//! `quickstep validate`: AWS-style diagnostics of a definition (code, message, location),
//! each followed by a `  hint:` line naming the offending value where AWS's message does not.

use crate::cli::Failure;
use anyhow::Context as _;
use asl::validate::{self, MachineType};
use clap::ValueEnum;
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `quickstep validate`.
#[derive(clap::Args)]
pub struct ValidateFlags {
    /// The state machine definition.
    definition: PathBuf,
    /// Check as AWS checks this type of state machine.
    #[arg(long = "type", value_enum, default_value_t = TypeArg::Express)]
    machine_type: TypeArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum TypeArg {
    Express,
    Standard,
}

/// Prints the diagnostics; exit 0 when valid, 1 when not.
pub fn run(flags: ValidateFlags) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&flags.definition)
        .with_context(|| format!("reading {}", flags.definition.display()))
        .map_err(Failure::Usage)?;
    let machine_type = match flags.machine_type {
        TypeArg::Express => MachineType::Express,
        TypeArg::Standard => MachineType::Standard,
    };
    let diagnostics = validate::validate_text_for(&text, machine_type);
    for diagnostic in &diagnostics {
        println!("{} {diagnostic}", diagnostic.severity);
        // AWS's message stays as AWS words it; where it does not name the offending value,
        // the validator's hint does, on a line of its own.
        if let Some(hint) = &diagnostic.hint {
            println!("  hint: {hint}");
        }
    }
    if validate::has_errors(&diagnostics) {
        return Ok(ExitCode::from(1));
    }
    println!("OK");
    Ok(ExitCode::SUCCESS)
}
