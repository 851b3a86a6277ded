//! Timed work. Deadlines live in the database (`scheduled_jobs`); each tick turns the due ones
//! into outbox events. A Redis lock lets one instance tick at a time; the conditional update
//! that marks a job fired is what makes it fire exactly once, even without Redis.
use std::{future::Future, pin::Pin, time::Duration};

use chrono::{DateTime, Utc};
use entity::scheduled_job;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
    sea_query::{Expr, OnConflict},
};
use tokio::sync::watch;

use crate::{
    lock::RedisLock,
    outbox::{self, Event},
    runtime::JobContext,
};

type PeriodicFn = Box<
    dyn Fn(JobContext, DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync,
>;

/// Housekeeping run every `every` by whichever instance holds the tick.
pub struct Periodic {
    pub name: &'static str,
    pub every: chrono::Duration,
    pub run: PeriodicFn,
}

/// Stores a deadline: at `run_at` the event goes to its queue. The same `dedupe_key` is stored
/// once, so scheduling is idempotent.
pub async fn schedule<E: Event>(
    db: &impl ConnectionTrait,
    dedupe_key: &str,
    event: &E,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let payload = serde_json::to_string(event).map_err(|e| DbErr::Custom(e.to_string()))?;
    scheduled_job::Entity::insert(scheduled_job::ActiveModel {
        id: Set(uuid::Uuid::now_v7().simple().to_string()),
        dedupe_key: Set(dedupe_key.to_owned()),
        queue: Set(E::QUEUE.as_str().to_owned()),
        kind: Set(E::KIND.to_owned()),
        payload: Set(payload),
        run_at: Set(run_at),
        fired_at: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(scheduled_job::Column::DedupeKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// Forgets a deadline that has not fired (a claim delivered before it expired, say).
pub async fn cancel(db: &impl ConnectionTrait, dedupe_key: &str) -> Result<bool, DbErr> {
    let removed = scheduled_job::Entity::delete_many()
        .filter(scheduled_job::Column::DedupeKey.eq(dedupe_key))
        .filter(scheduled_job::Column::FiredAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    Ok(removed > 0)
}

/// Fires every due job once; returns how many this call fired.
pub async fn fire_due(ctx: &JobContext) -> Result<usize, DbErr> {
    let now = ctx.clock.now();
    let due = scheduled_job::Entity::find()
        .filter(scheduled_job::Column::FiredAt.is_null())
        .filter(scheduled_job::Column::RunAt.lte(now))
        .order_by_asc(scheduled_job::Column::RunAt)
        .limit(200)
        .all(&ctx.db)
        .await?;
    let mut fired = 0;
    for job in due {
        let Ok(queue) = job.queue.parse() else {
            continue;
        };
        let txn = ctx.db.begin().await?;
        let claimed = scheduled_job::Entity::update_many()
            .col_expr(scheduled_job::Column::FiredAt, Expr::value(Some(now)))
            .filter(scheduled_job::Column::Id.eq(&job.id))
            .filter(scheduled_job::Column::FiredAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 1 {
            outbox::emit_raw(&txn, queue, &job.kind, &job.payload, now).await?;
            fired += 1;
        }
        txn.commit().await?;
    }
    if fired > 0 {
        metrics::counter!("scheduler_fired_total").increment(fired as u64);
    }
    Ok(fired)
}

pub async fn run(ctx: JobContext, periodic: Vec<Periodic>, mut stopped: watch::Receiver<bool>) {
    let mut last_run: Vec<Option<DateTime<Utc>>> = vec![None; periodic.len()];
    loop {
        let lock = TickLock::acquire(&ctx).await;
        if lock.held() {
            if let Err(err) = fire_due(&ctx).await {
                tracing::debug!(error = %err, "scheduler tick failed; will retry");
            }
            let now = ctx.clock.now();
            for (task, last) in periodic.iter().zip(last_run.iter_mut()) {
                if last.is_none_or(|at| now - at >= task.every) {
                    *last = Some(now);
                    tracing::debug!(task = task.name, "periodic task");
                    (task.run)(ctx.clone(), now).await;
                }
            }
        }
        lock.release(&ctx).await;
        let pause = ctx.config.poll_interval.max(Duration::from_millis(50));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// The tick lock. Without Redis the tick runs anyway: firing is guarded by the database, the
/// lock only saves duplicate work.
enum TickLock {
    Held(RedisLock),
    Busy,
    NoRedis,
}

impl TickLock {
    async fn acquire(ctx: &JobContext) -> Self {
        match RedisLock::try_acquire(&ctx.redis, "scheduler:lock", 10_000).await {
            Ok(Some(lock)) => Self::Held(lock),
            Ok(None) => Self::Busy,
            Err(_) => Self::NoRedis,
        }
    }

    fn held(&self) -> bool {
        !matches!(self, Self::Busy)
    }

    async fn release(self, ctx: &JobContext) {
        if let Self::Held(lock) = self {
            lock.release(&ctx.redis).await;
        }
    }
}
