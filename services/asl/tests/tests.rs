//! Integration tests of the engine, one binary: the AWS-recorded conformance corpus and
//! behaviour tests per state type, sharing `util`.

mod conformance;
mod heartbeat;
mod jsonata;
mod jsonata_suite;
mod util;
mod validation;
