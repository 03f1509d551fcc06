//! The run loop: moves one execution from state to state, counting history event ids whether
//! or not anyone records the events, and yields to the executor in long synchronous loops.

use super::api::{ExecutionInfo, Outcome, Services, Status};
use super::compile::{Branch, Kind, Machine, State, StateId, Transition};
use super::scope::Vars;
use super::size::fits;
use super::spans;
use super::{EXPRESS_MAX_SECONDS, PAYLOAD_LIMIT_BYTES};
use crate::error::StatesError;
use crate::history::{HistoryEvent, HistoryEventType as Event, HistoryObserver, Level};
use futures::future::{self, BoxFuture, Either, FutureExt};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

impl Machine {
    /// Runs one execution to its end. Never panics on any input: failures are outcomes.
    ///
    /// An execution whose top-level branch enters a Wait parks there: its leg ends with what
    /// it needs to go on (the state, its input and variables, the event counters), its
    /// futures are dropped, and only that and the clock's sleep are held until it resumes in
    /// a new leg. Waits inside Map and Parallel branches are slept inline.
    pub fn run<'a, 'i, 's>(
        &'a self,
        input: Value,
        info: &'a ExecutionInfo<'i>,
        services: &'a Services<'s>,
    ) -> impl Future<Output = Outcome> + use<'a, 'i, 's> {
        self.execute(Cow::Owned(input), info, services)
    }

    /// `run` on an input the caller keeps: the execution copies it only where a state
    /// writes into it (a Pass's `ResultPath` at a path, say); a state that builds its
    /// output anew (`Parameters`) or only reads it (Choice) copies nothing.
    pub fn run_borrowed<'a, 'i, 's>(
        &'a self,
        input: &'a Value,
        info: &'a ExecutionInfo<'i>,
        services: &'a Services<'s>,
    ) -> impl Future<Output = Outcome> + use<'a, 'i, 's> {
        self.execute(Cow::Borrowed(input), info, services)
    }

    /// The first leg inline (an execution that awaits nothing ends in it), the rest parked.
    async fn execute(
        &self,
        input: Cow<'_, Value>,
        info: &ExecutionInfo<'_>,
        services: &Services<'_>,
    ) -> Outcome {
        let parked = match self.leg(From::Start(input), info, services).await {
            Leg::Ended(outcome) => return outcome,
            Leg::Parked(parked) => parked,
        };
        self.parked(parked, info, services).await
    }

    /// [`Machine::run`], with the first leg in a box of its own, freed when it ends: a
    /// caller that holds many executions while they wait (a worker) then holds only the
    /// parked state, not the largest leg's future. `run` keeps the first leg inline, which
    /// spares an allocation to executions that end in their first poll (a benchmark's).
    /// (Not an `async fn`: that would keep room for the input beside the leg it went into.)
    pub fn run_boxed<'a>(
        &'a self,
        input: Value,
        info: &'a ExecutionInfo<'a>,
        services: &'a Services<'a>,
    ) -> impl Future<Output = Outcome> + Send + 'a {
        let first = Box::pin(self.leg(From::Start(Cow::Owned(input)), info, services));
        async move {
            // The leg's result is looked at where it lands: its room (an `Outcome`) is not
            // kept across the sleeps.
            let parked = match first.await {
                Leg::Ended(outcome) => return outcome,
                Leg::Parked(parked) => parked,
            };
            self.parked(parked, info, services).await
        }
    }

    /// Sleeps out a parked Wait on the clock and runs the next leg (each in a box of its
    /// own), until one ends the execution. Only the parked state lives across the sleeps: a
    /// leg's result is looked at where it lands, so its room (an `Outcome`) is not kept.
    async fn parked(
        &self,
        mut parked: Box<Parked>,
        info: &ExecutionInfo<'_>,
        services: &Services<'_>,
    ) -> Outcome {
        loop {
            let deadline_ms = parked.start_ms.saturating_add(self.limit_ms());
            let until_ms = parked.wait.until_ms.min(deadline_ms);
            let left_ms = until_ms.saturating_sub(services.clock.now_ms());
            if left_ms > 0 {
                services
                    .clock
                    .sleep(Duration::from_millis(left_ms as u64))
                    .await;
            } else {
                // A zero Wait in a loop still lets the executor run other futures.
                YieldNow(false).await;
            }
            // A Wait that ends at the deadline still resumes: its next states may end the
            // execution before anything awaits (as when the wait and the timeout raced).
            let from = if parked.wait.until_ms > deadline_ms {
                From::TimedOut(parked)
            } else {
                From::Resume(parked)
            };
            parked = match Box::pin(self.leg(from, info, services)).await {
                Leg::Ended(outcome) => return outcome,
                Leg::Parked(parked) => parked,
            };
        }
    }

    /// The execution's time limit: its TimeoutSeconds, at most the Express limit.
    fn limit_ms(&self) -> i64 {
        let seconds = self
            .timeout_seconds
            .unwrap_or(EXPRESS_MAX_SECONDS)
            .min(EXPRESS_MAX_SECONDS);
        (seconds * 1000) as i64
    }

    /// One leg of an execution: from its start or a parked Wait to its end or the next
    /// parked Wait, within the execution's time limit.
    async fn leg(&self, from: From<'_>, info: &ExecutionInfo<'_>, services: &Services<'_>) -> Leg {
        let (start_ms, execution_input, event_ids, transitions, begin) = match from {
            // `$$.Execution.Input`: a borrowed input is read where it is; an owned one,
            // which the states consume, is copied first.
            From::Start(input) => (
                services.clock.now_ms(),
                match &input {
                    _ if !self.reads_execution_input => None,
                    Cow::Borrowed(input) => Some(Cow::Borrowed(*input)),
                    Cow::Owned(input) => Some(Cow::Owned(input.clone())),
                },
                0,
                0,
                Begin::Input(input),
            ),
            From::Resume(parked) => {
                let Parked {
                    start_ms,
                    execution_input,
                    event_ids,
                    transitions,
                    wait,
                } = *parked;
                let begin = Begin::Wait(wait);
                let execution_input = execution_input.map(Cow::Owned);
                (start_ms, execution_input, event_ids, transitions, begin)
            }
            From::TimedOut(parked) => (
                parked.start_ms,
                None,
                parked.event_ids,
                parked.transitions,
                Begin::TimedOut,
            ),
        };
        let run = Run {
            services,
            info,
            execution_input: execution_input.as_deref().unwrap_or(&Value::Null),
            start_ms,
            event_ids: AtomicU64::new(event_ids),
            transitions: AtomicU64::new(transitions),
            history: services.history.filter(|h| h.level() != Level::Off),
            test: None,
            links: Links::default(),
        };
        let deadline_ms = start_ms.saturating_add(self.limit_ms());
        let ended = match begin {
            Begin::Input(input) => {
                // AWS's first state event names no previous event (previousEventId 0),
                // not the ExecutionStarted event before it.
                run.event(
                    0,
                    Event::ExecutionStarted,
                    || json!({"input": run.data(&input), "roleArn": info.role_arn}),
                );
                let body = async {
                    if !fits(&input, PAYLOAD_LIMIT_BYTES) {
                        return Err(StatesError::data_limit(
                            "The execution input exceeds the maximum number of bytes service limit.",
                        ));
                    }
                    run.branch(
                        &self.root,
                        self.root.start,
                        input,
                        Vars::default(),
                        0,
                        false,
                        true,
                    )
                    .await
                };
                run.within(std::pin::pin!(body), deadline_ms).await
            }
            Begin::Wait(wait) => {
                let body = std::pin::pin!(run.resume(&self.root, wait));
                run.within(body, deadline_ms).await
            }
            Begin::TimedOut => Err(()),
        };
        let ended = match ended {
            Ok(Ok(Reached::Parked(wait))) => {
                let (event_ids, transitions) = (
                    run.event_ids.load(Ordering::Relaxed),
                    run.transitions.load(Ordering::Relaxed),
                );
                return Leg::Parked(Box::new(Parked {
                    start_ms,
                    execution_input: execution_input.map(Cow::into_owned),
                    event_ids,
                    transitions,
                    wait: *wait,
                }));
            }
            Ok(Ok(Reached::End(output, _))) => Ok(output),
            Ok(Err(failure)) => Err(Some(failure)),
            Err(()) => Err(None),
        };
        let last = run.event_ids.load(Ordering::Relaxed);
        let (status, output, error, cause) = match ended {
            Ok(output) => {
                run.event(
                    last,
                    Event::ExecutionSucceeded,
                    || json!({"output": run.data(&output)}),
                );
                (Status::Succeeded, Some(output), None, None)
            }
            Err(Some(failure)) => {
                run.event(last, Event::ExecutionFailed, || failure_details(&failure));
                let error = Some(failure.name.as_str().to_owned()).filter(|e| !e.is_empty());
                // DescribeExecution leaves out an empty cause.
                (
                    Status::Failed,
                    None,
                    error,
                    failure.cause.filter(|c| !c.is_empty()),
                )
            }
            Err(None) => {
                run.event(
                    last,
                    Event::ExecutionTimedOut,
                    || json!({"error": "States.Timeout"}),
                );
                // AWS reports a timed-out execution with no error (test_global_timeout).
                (Status::TimedOut, None, None, None)
            }
        };
        Leg::Ended(Outcome {
            status,
            output,
            error,
            cause,
            state_transitions: run.transitions.load(Ordering::Relaxed),
            start_ms,
            stop_ms: services.clock.now_ms(),
        })
    }
}

/// Where a leg begins.
enum From<'v> {
    /// The execution's start, with its input.
    Start(Cow<'v, Value>),
    /// A parked Wait, once it has been waited out.
    Resume(Box<Parked>),
    /// A parked Wait that would outlast the execution's time limit, at the limit.
    TimedOut(Box<Parked>),
}

/// What a leg begins with, once the execution's counters are taken out.
enum Begin<'v> {
    Input(Cow<'v, Value>),
    Wait(Waiting),
    TimedOut,
}

/// How a leg ends.
enum Leg {
    Ended(Outcome),
    Parked(Box<Parked>),
}

/// A parked execution: all it needs to go on after its Wait, and no futures.
struct Parked {
    start_ms: i64,
    /// The execution input, kept when the machine reads `$$.Execution.Input`.
    execution_input: Option<Value>,
    event_ids: u64,
    transitions: u64,
    wait: Waiting,
}

/// A Wait state of the top-level branch, entered and parked in.
pub(crate) struct Waiting {
    pub(crate) state: StateId,
    /// The state's input, as it entered.
    pub(crate) input: Value,
    pub(crate) vars: Vars,
    pub(crate) entered_event_id: u64,
    pub(crate) entered_time_ms: i64,
    /// When the wait ends, on the clock.
    pub(crate) until_ms: i64,
    /// The state's span, open until the state exits.
    pub(crate) span: spans::Span,
}

/// How a branch stopped: at its end (the output and the last event id), or parked in a
/// Wait (only the top-level branch parks).
/// (Boxed: an execution that never parks would otherwise move a `Waiting`'s room through
/// every branch's result.)
pub(crate) enum Reached {
    End(Value, u64),
    Parked(Box<Waiting>),
}

pub(crate) fn failure_details(failure: &StatesError) -> Value {
    let mut map = Map::new();
    if !failure.name.as_str().is_empty() {
        map.insert("error".into(), failure.name.as_str().into());
    }
    if let Some(cause) = &failure.cause {
        map.insert("cause".into(), cause.clone().into());
    }
    Value::Object(map)
}

/// Where a state stands, for the context object and error messages.
#[derive(Clone, Copy)]
pub(crate) struct StateContext<'a> {
    pub(crate) name: &'a str,
    pub(crate) entered_event_id: u64,
    /// What the state's `EvaluationFailed` event follows: AWS links it to the event before
    /// the state was entered, except in a Wait state, where it follows `…StateEntered`.
    pub(crate) evaluation_after: u64,
    /// What the attempt's first own event (`…Scheduled`, `…StateStarted`) follows: the
    /// entered event, and on a retry the last event of the failed attempt.
    pub(crate) attempt_after: u64,
    /// `None` for a state that awaits nothing: then it is the clock's time now.
    pub(crate) entered_time_ms: Option<i64>,
    pub(crate) retry_count: u64,
    pub(crate) retriable: bool,
    pub(crate) task_token: Option<&'a str>,
    pub(crate) map_item: Option<(usize, &'a Value)>,
}

pub(crate) struct Run<'a> {
    pub(crate) services: &'a Services<'a>,
    pub(crate) info: &'a ExecutionInfo<'a>,
    pub(crate) execution_input: &'a Value,
    pub(crate) start_ms: i64,
    pub(crate) event_ids: AtomicU64,
    pub(crate) transitions: AtomicU64,
    pub(crate) history: Option<&'a dyn HistoryObserver>,
    /// TestState's hooks (its record of the data flow, its context object, its Map and
    /// Parallel mocks); `None` in executions. Only the tested state itself is recorded.
    pub(crate) test: Option<&'a super::test_state::TestHooks<'a>>,
    /// Where AWS's history links an event to one that is not the event just before it.
    pub(crate) links: Links,
}

/// Hand-offs of event ids between a state's work and the run loop. Each is stored by a
/// Map, Parallel or Task just before it returns and taken (reset to 0) by the caller with
/// no `.await` in between, so concurrent branches never see each other's values.
#[derive(Default)]
pub(crate) struct Links {
    /// What the state's `…StateExited` follows when not the last event: a Map's or
    /// Parallel's exit follows the event before its `…StateSucceeded` (a Distributed Map's,
    /// its `MapRunStarted`).
    pub(crate) exit_after: AtomicU64,
    /// What the events after a failed attempt (`…StateFailed`, a retry's first event)
    /// follow when not the last event.
    pub(crate) failed_after: AtomicU64,
}

impl Links {
    /// Takes a stored link, or `fallback` when none was stored.
    #[inline]
    pub(crate) fn take(link: &AtomicU64, fallback: impl FnOnce() -> u64) -> u64 {
        match link.swap(0, Ordering::Relaxed) {
            0 => fallback(),
            id => id,
        }
    }
}

/// How a state hands on: to a state of the same branch, or out of the branch.
pub(crate) enum Step {
    Next(StateId, Value),
    End(Value),
}

impl Step {
    /// Where the step goes, its output put in `slot`.
    #[inline]
    pub(crate) fn into_output(self, slot: &mut Cow<'_, Value>) -> Transition {
        match self {
            Step::Next(next, output) => {
                *slot = Cow::Owned(output);
                Transition::Next(next)
            }
            Step::End(output) => {
                *slot = Cow::Owned(output);
                Transition::End
            }
        }
    }
}

pub(crate) fn entered(kind: &Kind) -> (Event, Event) {
    match kind {
        Kind::Pass { .. } => (Event::PassStateEntered, Event::PassStateExited),
        Kind::Task(_) => (Event::TaskStateEntered, Event::TaskStateExited),
        Kind::Choice { .. } => (Event::ChoiceStateEntered, Event::ChoiceStateExited),
        Kind::Wait(_) => (Event::WaitStateEntered, Event::WaitStateExited),
        Kind::Succeed => (Event::SucceedStateEntered, Event::SucceedStateExited),
        Kind::Fail { .. } => (Event::FailStateEntered, Event::FailStateEntered),
        Kind::Parallel { .. } => (Event::ParallelStateEntered, Event::ParallelStateExited),
        Kind::Map(_) => (Event::MapStateEntered, Event::MapStateExited),
    }
}

/// How many Pass/Choice transitions run between yields to the executor: often enough for a
/// timeout to fire in a loop, rarely enough to cost nothing on a straight chain.
pub(crate) const TRANSITIONS_PER_YIELD: u32 = 64;

/// Returns `Pending` once, waking itself at once: lets the executor poll other futures.
pub(crate) struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl<'a> Run<'a> {
    /// Records a step of the data flow for TestState's inspection data. Inlined so that
    /// executions, which inspect nothing, pay one test per call.
    #[inline]
    pub(crate) fn inspect(&self, state: &State, key: &str, value: &Value) {
        if self.test.is_some() {
            self.record_inspection(state, key, value);
        }
    }

    pub(crate) fn record_inspection(&self, state: &State, key: &str, value: &Value) {
        if let Some(test) = self.tested(state) {
            test.inspection
                .lock()
                .expect("inspection lock is never poisoned")
                .insert(key.to_owned(), value.clone());
        }
    }

    /// TestState's hooks, when `state` is the state under test.
    #[inline]
    pub(crate) fn tested(&self, state: &State) -> Option<&super::test_state::TestHooks<'a>> {
        self.test.filter(|t| std::ptr::eq(t.state, state))
    }

    /// An event's `input` or `output`: the data when the observer takes execution data, else
    /// nothing (`record` drops the key), so that an event without them never copies them.
    #[inline]
    pub(crate) fn data<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.history
            .filter(|history| history.include_execution_data())
            .map(|_| value)
    }

    /// Counts an event and, when someone listens at a level that admits it, builds it.
    /// Inlined so that an execution without history pays for the count alone.
    #[inline]
    pub(crate) fn event(
        &self,
        previous: u64,
        event_type: Event,
        details: impl FnOnce() -> Value,
    ) -> u64 {
        let id = self.event_ids.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(history) = self.history {
            self.record(history, id, previous, event_type, details);
        }
        id
    }

    pub(crate) fn record(
        &self,
        history: &dyn HistoryObserver,
        id: u64,
        previous: u64,
        event_type: Event,
        details: impl FnOnce() -> Value,
    ) {
        if history.level().admits(event_type) {
            let mut details = details();
            if !history.include_execution_data() {
                if let Value::Object(map) = &mut details {
                    map.remove("input");
                    map.remove("output");
                }
            }
            history.record(HistoryEvent {
                id,
                previous_event_id: previous,
                event_timestamp_ms: self.services.clock.now_ms(),
                event_type,
                details,
            });
        }
    }

    pub(crate) fn runtime(
        &self,
        state: &StateContext<'_>,
        detail: impl std::fmt::Display,
    ) -> StatesError {
        StatesError::runtime(format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
            state.name, state.entered_event_id, detail
        ))
    }

    /// `branch`, boxed: Parallel and Map run branches inside a state, and a future cannot
    /// contain itself.
    pub(crate) fn run_branch<'b>(
        &'b self,
        branch: &'b Branch,
        input: Value,
        vars: Vars,
        previous: u64,
        aborts_tasks: bool,
    ) -> BoxFuture<'b, Result<(Value, u64), StatesError>> {
        self.branch(
            branch,
            branch.start,
            Cow::Owned(input),
            vars,
            previous,
            aborts_tasks,
            false,
        )
        .map(|reached| match reached? {
            Reached::End(output, last) => Ok((output, last)),
            Reached::Parked(_) => unreachable!("a branch that does not park never parks"),
        })
        .boxed()
    }

    /// Runs `body` to its end, or until the execution's deadline (`Err`). An execution
    /// whose states await nothing ends in its first poll, so the timer is only set when
    /// that poll does not finish: setting it (a boxed sleep, a clock handle) cost a tenth of
    /// such an execution.
    /// The body is pinned by the caller, where it is built: passed by value, it was copied
    /// into this future and again into its pin (+300 instructions an execution).
    async fn within<F: Future>(
        &self,
        mut body: std::pin::Pin<&mut F>,
        deadline_ms: i64,
    ) -> Result<F::Output, ()> {
        match futures::poll!(body.as_mut()) {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => {
                let left_ms = deadline_ms
                    .saturating_sub(self.services.clock.now_ms())
                    .max(0);
                let timer = self
                    .services
                    .clock
                    .sleep(Duration::from_millis(left_ms as u64));
                match future::select(body, timer).await {
                    Either::Left((result, _)) => Ok(result),
                    Either::Right(_) => Err(()),
                }
            }
        }
    }

    /// The rest of a Wait the top-level branch parked in (its Assign, OutputPath or Output,
    /// then its exit), and the branch on from its next state.
    async fn resume(&self, branch: &Branch, wait: Waiting) -> Result<Reached, StatesError> {
        let Waiting {
            state: at,
            input,
            mut vars,
            entered_event_id,
            entered_time_ms,
            span,
            ..
        } = wait;
        let state = &branch.states[at];
        let context = StateContext {
            name: &state.name,
            entered_event_id,
            evaluation_after: entered_event_id,
            attempt_after: entered_event_id,
            entered_time_ms: Some(entered_time_ms),
            retry_count: 0,
            retriable: false,
            task_token: None,
            map_item: None,
        };
        let step = spans::now(&span, || self.after_wait(state, input, &mut vars, &context))
            .inspect_err(|error| spans::failed(&span, error))?;
        let output = match &step {
            Step::Next(_, output) | Step::End(output) => output,
        };
        let previous = self.event(
            self.last_event(),
            Event::WaitStateExited,
            || json!({"name": state.name, "output": output}),
        );
        drop(span);
        match step {
            Step::Next(next, output) => {
                self.branch(
                    branch,
                    next,
                    Cow::Owned(output),
                    vars,
                    previous,
                    false,
                    true,
                )
                .await
            }
            Step::End(output) => Ok(Reached::End(output, previous)),
        }
    }

    /// Runs a branch from `start` to its end; returns the output and the last event id.
    /// With `aborts_tasks` (a Parallel's branches), a Task whose error leaves the branch is
    /// recorded as aborted (`TaskStateAborted`), as AWS records it. With `parks` (the
    /// top-level branch), a Wait ends the branch's run parked instead of sleeping.
    /// The input is borrowed only as an execution's input, lent by its caller.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn branch(
        &self,
        branch: &Branch,
        start: StateId,
        input: Cow<'_, Value>,
        mut vars: Vars,
        mut previous: u64,
        aborts_tasks: bool,
        parks: bool,
    ) -> Result<Reached, StatesError> {
        let mut current = start;
        let mut transitions_since_yield = 0u32;
        let mut input = input;
        loop {
            let state = &branch.states[current];
            self.transitions.fetch_add(1, Ordering::Relaxed);
            let (entered_type, exited_type) = entered(&state.kind);
            let entered_id = self.event(
                previous,
                entered_type,
                || json!({"name": state.name, "input": self.data(&input)}),
            );
            let runs_now = Self::runs_now(state);
            let context = StateContext {
                name: &state.name,
                entered_event_id: entered_id,
                evaluation_after: if matches!(state.kind, Kind::Wait(_)) {
                    entered_id
                } else {
                    previous
                },
                attempt_after: entered_id,
                // A state that awaits nothing enters and leaves within one poll: its
                // entered time is read only if `$$` asks for it.
                entered_time_ms: (!runs_now).then(|| self.services.clock.now_ms()),
                retry_count: 0,
                retriable: matches!(
                    state.kind,
                    Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_)
                ),
                task_token: None,
                map_item: None,
            };
            let span = spans::state(state);
            // The step leaves the state's output in `input`.
            let next = if runs_now {
                spans::now(&span, || {
                    if state.in_place && self.test.is_none() {
                        self.step_in_place(state, &mut input, &mut vars, &context)
                    } else {
                        let raw = std::mem::replace(&mut input, Cow::Owned(Value::Null));
                        self.attempt_now(state, raw, &mut vars, &context)
                            .map(|step| step.into_output(&mut input))
                    }
                })
            } else if parks && Self::parks(state) {
                // The wait's length now; the rest of the state when it resumes (`resume`).
                match spans::now(&span, || self.wait_for(state, &input, &vars, &context)) {
                    Ok(duration) => {
                        let (mut input, mut vars) = (input.into_owned(), vars);
                        Self::compact_for_wait(&mut input, &mut vars);
                        let now_ms = self.services.clock.now_ms();
                        let wait_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
                        return Ok(Reached::Parked(Box::new(Waiting {
                            state: current,
                            input,
                            vars,
                            entered_event_id: entered_id,
                            entered_time_ms: context.entered_time_ms.unwrap_or(now_ms),
                            until_ms: now_ms.saturating_add(wait_ms),
                            span,
                        })));
                    }
                    Err(error) => Err(error),
                }
            } else {
                // Boxed: the branch future then holds a pointer, not the largest state
                // kind's future.
                Box::pin(spans::within(&span, || {
                    let raw = std::mem::replace(&mut input, Cow::Owned(Value::Null));
                    self.run_state(state, raw.into_owned(), &mut vars, context)
                }))
                .await
                .map(|step| step.into_output(&mut input))
            }
            .inspect_err(|error| {
                spans::failed(&span, error);
                if aborts_tasks && matches!(state.kind, Kind::Task(_)) {
                    // A side event: what follows the failure (ParallelStateFailed, the
                    // Parallel's retry) follows the task's last event, not this one.
                    let last = self.last_event();
                    self.event(last, Event::TaskStateAborted, || json!({}));
                    self.links.failed_after.store(last, Ordering::Relaxed);
                }
            })?;
            if matches!(state.kind, Kind::Fail { .. }) {
                unreachable!("a Fail state always ends in an error");
            }
            let output = &input;
            let exit_after = if runs_now {
                self.last_event()
            } else {
                Links::take(&self.links.exit_after, || self.last_event())
            };
            previous = self.event(
                exit_after,
                exited_type,
                || json!({"name": state.name, "output": self.data(output)}),
            );
            match next {
                Transition::Next(next) => {
                    current = next;
                    // A loop of Pass and Choice states awaits nothing else: yield now and
                    // then, so the executor can still fire the execution's timeout.
                    transitions_since_yield += 1;
                    if transitions_since_yield == TRANSITIONS_PER_YIELD {
                        transitions_since_yield = 0;
                        YieldNow(false).await;
                    }
                }
                Transition::End => return Ok(Reached::End(input.into_owned(), previous)),
            }
        }
    }

    pub(crate) fn last_event(&self) -> u64 {
        self.event_ids.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;
    use crate::interpret::api::{TaskHandler, TaskRequest};
    use crate::interpret::size::{json_size, json_text, size_bound};
    use crate::interpret::{SplitMix64, VirtualClock};
    use std::future::Future;
    use std::sync::mpsc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    #[test]
    fn the_size_bound_is_never_below_the_size_and_fits_is_exact() {
        let values = [
            json!(null),
            json!(true),
            json!(-1.7976931348623157e308),
            json!(u64::MAX),
            json!("\u{1}\"\\ plain é 中"),
            json!({"k\n": [1, {"a": "\u{7f}"}], "": {}}),
            json!([[], [[]], ""]),
        ];
        for value in &values {
            let size = json_size(value);
            assert!(size_bound(value) >= size, "{value}: bound below {size}");
            assert!(fits(value, size), "{value} fits its own size");
            assert!(!fits(value, size - 1), "{value} does not fit one byte less");
        }
    }

    #[test]
    fn json_text_is_the_compact_text_in_key_order() {
        let value = json!({"z": 1, "a": [1.5, -0.0, "q\"\n", null], "m": {"é": true}});
        assert_eq!(
            json_text(&value),
            "{\"z\":1,\"a\":[1.5,-0.0,\"q\\\"\\n\",null],\"m\":{\"é\":true}}"
        );
        assert_eq!(json_text(&value), value.to_string());
        assert_eq!(json_size(&value), json_text(&value).len());
    }

    struct NoTasks;

    impl TaskHandler for NoTasks {
        fn invoke<'a>(&'a self, _: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
            Box::pin(async { Err(StatesError::new(ErrorName::TaskFailed, "no tasks")) })
        }
    }

    /// Regression (fuzz target `definition`): a Choice/Pass loop never yielded, so one poll
    /// of the execution never returned and its TimeoutSeconds (or the Express limit) could
    /// never fire; `quickstep run` hung for ever.
    #[test]
    fn a_pass_choice_loop_yields_to_the_executor() {
        let (done, polled) = mpsc::channel();
        std::thread::spawn(move || {
            let machine = Machine::compile(&json!({
                "TimeoutSeconds": 1,
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Choice",
                          "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "C"}],
                          "Default": "B"},
                    "B": {"Type": "Pass", "Next": "A"},
                    "C": {"Type": "Succeed"}
                }
            }))
            .expect("compiles");
            let (clock, rng) = (VirtualClock::new(0), SplitMix64::new(1));
            let services = Services {
                tasks: &NoTasks,
                clock: &clock,
                rng: &rng,
                tokens: &crate::interpret::CountingTokens::default(),
                history: None,
            };
            let info = ExecutionInfo::default();
            let mut run = std::pin::pin!(machine.run(json!({}), &info, &services));
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            for _ in 0..1_000 {
                assert!(matches!(run.as_mut().poll(&mut cx), Poll::Pending));
            }
            done.send(()).expect("the test waits");
        });
        polled
            .recv_timeout(Duration::from_secs(30))
            .expect("each poll of a looping execution returns");
    }
}
