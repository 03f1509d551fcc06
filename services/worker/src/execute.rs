//! The execute stage: each start record's own task carries it through admission, the
//! runtime's executor and emission, off the loop that reads the partitions.

use crate::admit::{Admission, Admit};
use crate::commit::CommitTracker;
use crate::emit::Emitter;
use crate::idempotency::RecordId;
use crate::source::SourceRecord;
use runtime::execute::Executor;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What ended a record's trip through the pipeline.
pub(crate) struct Done {
    pub(crate) record: RecordId,
    /// False when the record must stay uncommitted (shutdown while its claim could not be
    /// made): its offset then holds the partition's commit position.
    pub(crate) committed: bool,
    pub(crate) finished_at: Instant,
}

/// What each execution's task uses, shared: one reference count per task.
pub(crate) struct Stages {
    pub(crate) admit: Arc<Admit>,
    pub(crate) executor: Arc<Executor>,
    pub(crate) emitter: Arc<Emitter>,
    pub(crate) shutdown: CancellationToken,
}

/// Admits a record to the pipeline and spawns its execution's task.
pub(crate) fn start(
    record: SourceRecord,
    stages: &Arc<Stages>,
    tracker: &mut CommitTracker,
    executions: &mut JoinSet<Done>,
) {
    // A record fetched before its partition was revoked belongs to the new owner now.
    if !tracker.admit(&record.id) {
        return;
    }
    let stages = stages.clone();
    // Boxed: the runtime moves a task's future into its cell and writes the output over
    // it, each a copy of the whole future; a box makes those copies a pointer's.
    executions.spawn(Box::pin(async move {
        let (record, committed) = carry(record, &stages).await;
        Done {
            record,
            committed,
            finished_at: Instant::now(),
        }
    }));
}

/// Carries a record to its end inside its execution's task: admission (the registry
/// catch-up for an unknown state machine and the idempotency claim are round trips) happens
/// here, so it spreads over the runtime's threads and overlaps rather than stalling the
/// loop that reads the partitions. Returns the record and whether it may be committed (not
/// when shutdown left its claim unmade).
async fn carry(record: SourceRecord, stages: &Stages) -> (RecordId, bool) {
    let id = record.id.clone();
    let committed = match stages.admit.admit(record, &stages.shutdown).await {
        // Held inline: the task's future is boxed once when it is spawned, and a box for each
        // stage was one more allocation and one more copy of its future per record.
        Admission::Run(mut job) => {
            let finished = stages.executor.execute(&mut job.execution).await;
            stages.emitter.finished(job, finished).await;
            true
        }
        Admission::Reject(rejection) => {
            Box::pin(stages.emitter.rejected(rejection)).await;
            true
        }
        Admission::Duplicate(_) => true,
        // Left uncommitted: the next owner of the partition sees it again. (`admit` answers
        // `Unknown` never: it reconsiders such a record itself.)
        Admission::Abandoned | Admission::Unknown(_) => false,
    };
    (id, committed)
}
