//! One module per subcommand: each turns its flags into a call of a library and its result
//! into an exit code.

pub mod bench;
pub mod dev;
pub mod gateway;
pub mod run;
pub mod validate;
pub mod worker;
