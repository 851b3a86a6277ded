//! Group commit for enrolments. In a registration rush every enrolment waits for the same course
//! row (and on SQLite for the one writer), so each paying for its own transaction (begin, the
//! locks, commit and its write-ahead log flush) is most of the cost. The enrolments that arrive
//! while one transaction runs go together in the next, which reads each course once: each is
//! still checked against every rule and is its own conditional update and inserts, in arrival
//! order, refused or taken exactly as it would be alone, and answered only after the commit.
//! Correctness stays with the database, so any number of instances may enrol at once; the
//! queue only saves work within one instance.
use std::{
    hash::{Hash, Hasher},
    sync::Arc,
};

use entity::enrollment;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};

use super::service::{PlaceAsk, place_alone, place_together};
use crate::error::AppError;

/// At most this many enrolments share a transaction, so that none holds the course (or
/// SQLite's writer) for long.
const MOST_TOGETHER: usize = 256;

/// The enrolment queue of this instance: one lane per group of courses, each lane one
/// transaction at a time. SQLite has one lane (it has one writer anyway).
#[derive(Clone)]
pub struct EnrolQueue {
    db: DatabaseConnection,
    lanes: Arc<[mpsc::UnboundedSender<Waiting>]>,
}

/// An enrolment waiting in a lane, and where its outcome goes.
struct Waiting {
    ask: PlaceAsk,
    reply: oneshot::Sender<Result<enrollment::Model, AppError>>,
}

impl EnrolQueue {
    /// Starts the lanes on a thread of their own, with connections of their own; they end when
    /// the last clone is dropped.
    ///
    /// A lane awaits each of its statements in turn, so it must be woken the moment one is
    /// done: on a runtime shared with other work (the workers, in tests the load) every wake-up
    /// would wait its turn in the queue, and a transaction holds the course that much longer.
    /// For the same reason it does not share the service's pool: in a rush hundreds of requests
    /// wait there to read their caller, and a lane behind them would hold up every one of them.
    pub async fn start(database_url: &str, shared: &DatabaseConnection) -> Result<Self, DbErr> {
        let lanes = match shared.get_database_backend() {
            DatabaseBackend::Sqlite => 1,
            _ => 4,
        };
        let db = if database_url.contains(":memory:") {
            // Another pool would open another, empty, database.
            shared.clone()
        } else {
            crate::db::connect_pool(database_url, lanes as u32).await?
        };
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..lanes).map(|_| mpsc::unbounded_channel()).unzip();
        let serve_lanes = {
            let db = db.clone();
            async move {
                futures_util::future::join_all(
                    receivers.into_iter().map(|r| run_lane(db.clone(), r)),
                )
                .await;
            }
        };
        // Should the thread not start, the receivers are gone with it and every enrolment
        // goes alone (`take`).
        let started = std::thread::Builder::new()
            .name("enrolments".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(serve_lanes),
                    Err(err) => tracing::error!(error = %err, "no runtime for the enrolment lanes"),
                }
            });
        if let Err(err) = started {
            tracing::error!(error = %err, "no thread for the enrolment lanes");
        }
        Ok(Self {
            db,
            lanes: senders.into(),
        })
    }

    /// Takes the place asked for, together with the enrolments waiting in its lane.
    pub(super) async fn take(&self, ask: PlaceAsk) -> Result<enrollment::Model, AppError> {
        let (reply, outcome) = oneshot::channel();
        let lane = &self.lanes[lane_of(ask.course_id(), self.lanes.len())];
        if let Err(refused) = lane.send(Waiting { ask, reply }) {
            // The lane has stopped (shutting down): alone, then.
            return place_alone(&self.db, &refused.0.ask).await;
        }
        outcome.await.unwrap_or_else(|_| {
            Err(AppError::Internal(anyhow::anyhow!(
                "the enrolment lane stopped before answering"
            )))
        })
    }
}

fn lane_of(course_id: &str, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    course_id.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// Serves a lane: whatever has arrived, up to `MOST_TOGETHER`, goes in one transaction.
async fn run_lane(db: DatabaseConnection, mut arrivals: mpsc::UnboundedReceiver<Waiting>) {
    let mut batch = Vec::with_capacity(MOST_TOGETHER);
    while arrivals.recv_many(&mut batch, MOST_TOGETHER).await > 0 {
        serve(&db, std::mem::take(&mut batch)).await;
    }
}

async fn serve(db: &DatabaseConnection, mut batch: Vec<Waiting>) {
    // Courses in one order in every transaction (a stable sort keeps each course's arrival
    // order), so that two instances' transactions never wait for each other's course rows.
    batch.sort_by(|a, b| a.ask.course_id().cmp(b.ask.course_id()));
    let asks: Vec<&PlaceAsk> = batch.iter().map(|w| &w.ask).collect();
    match place_together(db, &asks).await {
        Ok(outcomes) => {
            for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                // Nobody listening: the caller went away; the enrolment stands.
                let _ = waiting.reply.send(outcome);
            }
        }
        Err(err) => {
            // Rare (a deadlock another writer caused, a lost connection): each goes alone,
            // so one enrolment's trouble is not everyone's.
            tracing::warn!(
                error = ?err,
                together = batch.len(),
                "shared enrolment transaction failed; each goes alone"
            );
            for waiting in batch {
                let outcome = place_alone(db, &waiting.ask).await;
                let _ = waiting.reply.send(outcome);
            }
        }
    }
}
