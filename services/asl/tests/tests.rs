//! Integration tests of the engine, one binary: the AWS-recorded conformance corpus and
//! behaviour tests per state type, sharing `util`.

mod choice;
mod conformance;
mod context;
mod data_flow;
mod definition_errors;
mod documented;
mod fail;
mod heartbeat;
mod history;
mod history_conformance;
mod history_links;
mod jsonata;
mod jsonata_suite;
mod limits;
mod map;
mod parallel;
mod pass;
mod retry_catch;
mod task;
mod test_state;
mod util;
mod validation;
mod variables;
mod wait;
