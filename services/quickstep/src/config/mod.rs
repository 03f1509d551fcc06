//! Configuration, layered once at startup: defaults → `--config` file (TOML) → `QUICKSTEP_*`
//! environment (`__` nests) → flags. Nothing reads the environment later.

pub mod gateway;
pub mod tasks;
pub mod worker;
