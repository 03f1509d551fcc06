//! Interpreter benches on the machines in `loadtest/machines/` (the load scripts run the
//! same files): each iteration runs one execution on a virtual clock, as `quickstep bench`
//! does. `cargo bench -p asl --bench engine`.

use asl::interpret::{SplitMix64, VirtualClock};
use asl::validate::MachineType;
use asl::{ExecutionInfo, Machine, Outcome, Services, StatesError, TaskHandler, TaskRequest};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::BoxFuture;
use serde_json::Value;
use std::hint::black_box;
use std::path::PathBuf;

/// The benched machines use no Task states.
struct NoTasks;

impl TaskHandler for NoTasks {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        panic!("no Task state is benched: {}", request.resource)
    }
}

fn machines_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../loadtest/machines")
}

fn read_json(name: &str) -> Value {
    let path = machines_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A compiled machine and its input, ready to run.
struct Bench {
    machine: Machine,
    input: Value,
}

impl Bench {
    fn load(name: &str) -> Bench {
        let definition = read_json(&format!("{name}.asl.json"));
        let machine = Machine::from_definition(&definition, MachineType::Express)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let bench = Bench {
            machine,
            input: read_json(&format!("{name}.input.json")),
        };
        let outcome = bench.run();
        assert_eq!(outcome.status.as_str(), "SUCCEEDED", "{name}: {outcome:?}");
        bench
    }

    fn run(&self) -> Outcome {
        let clock = VirtualClock::new(1_767_225_600_000);
        let rng = SplitMix64::new(1);
        let services = Services {
            tasks: &NoTasks,
            clock: &clock,
            rng: &rng,
            tokens: &asl::interpret::CountingTokens::default(),
            history: None,
        };
        let info = ExecutionInfo {
            execution_arn: "arn:aws:states:us-east-1:111111111111:execution:bench:run".into(),
            name: "run".into(),
            role_arn: "arn:aws:iam::111111111111:role/bench".into(),
            state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:bench".into(),
            state_machine_name: "bench".into(),
            redrive_count: None,
        };
        clock
            .block_on(self.machine.run_borrowed(&self.input, &info, &services))
            .expect("a benched machine only waits on the clock")
    }
}

fn executions(c: &mut Criterion) {
    let mut group = c.benchmark_group("execution");
    for (name, label) in [
        ("order", "order (5 states)"),
        ("order-jsonata", "order in JSONata (5 states)"),
        ("map100", "map (100 items, ItemSelector)"),
        ("intrinsics", "intrinsics (16 calls in Parameters)"),
        ("pass20", "pass chain (20 states)"),
    ] {
        let bench = Bench::load(name);
        // Transitions per execution, so criterion also reports transitions per second.
        let transitions = bench.run().state_transitions;
        group.throughput(Throughput::Elements(transitions));
        group.bench_function(label, |b| b.iter(|| black_box(bench.run())));
    }
    group.finish();
}

fn compiling(c: &mut Criterion) {
    let definition = read_json("order.asl.json");
    c.bench_function("compile/order (validate + compile)", |b| {
        b.iter(|| {
            Machine::from_definition(black_box(&definition), MachineType::Express).expect("valid")
        })
    });
    c.bench_function("compile/order (compile only)", |b| {
        b.iter(|| Machine::compile(black_box(&definition)).expect("compiles"))
    });
}

/// One JSONata expression through the engine's evaluator as Quickstep configures it
/// (parse included, as `asl::jsonata::evaluate` does; states evaluate pre-parsed ASTs).
fn expressions(c: &mut Criterion) {
    let input = read_json("order.input.json");
    let bindings = serde_json::Map::new();
    let rng = SplitMix64::new(1);
    c.bench_function("jsonata/evaluate `amount > 100` (parse + evaluate)", |b| {
        b.iter(|| {
            asl::jsonata::evaluate(
                black_box("amount > 100"),
                Some(&input),
                &bindings,
                asl::jsonata::Limits::default(),
                &rng,
            )
            .expect("evaluates")
        })
    });
}

criterion_group!(benches, executions, compiling, expressions);
criterion_main!(benches);
