//! Integration tests on a real Kafka broker (and redis): the worker issue's proof list.
//! They need `QUICKSTEP_TEST_BROKERS` and `QUICKSTEP_TEST_REDIS` (./test starts
//! deploy/local/up and sets both); without them each test prints SKIP and passes.
//! Every test uses its own topics, group and keys, so runs never collide on a shared broker;
//! the restart test starts its own broker and redis on other ports.

mod callbacks;
mod common;
mod crash;
mod dedupe;
mod exactly_once;
mod poison;
mod restart;
mod scale;
mod sigterm;
