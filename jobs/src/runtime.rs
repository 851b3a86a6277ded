//! The job runtime: the relay (outbox → streams), the sweeper (republishes what was published
//! but never finished, so a Redis that lost its data loses nothing), one worker per queue on a
//! consumer group, and the scheduler. Retries, backoff, dead letters, reclaiming a crashed
//! worker's jobs and shutdown live here once, not in each handler.
use std::{future::Future, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::outbox;
use rand::Rng;
use redis::{
    AsyncCommands, Value,
    streams::{
        StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
    },
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    RedisStore, SharedClock,
    notify::{self, Notify, NotifyUrgent, Outcome, Templates},
    outbox::{Event, Queue},
    push, scheduler,
    wechat::WeChatClient,
};

const GROUP: &str = "linli";

#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Attempts before a job goes to the dead-letter stream.
    pub max_attempts: i32,
    /// A job pending this long with a consumer is taken over by another.
    pub reclaim_idle: Duration,
    /// A published job not done after this long is published again.
    pub sweep_after: chrono::Duration,
    /// How often the relay looks for new events and the scheduler ticks.
    pub poll_interval: Duration,
    /// First retry delay; doubles each attempt, with jitter, up to `max_backoff`.
    pub base_backoff: chrono::Duration,
    pub max_backoff: chrono::Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            reclaim_idle: Duration::from_secs(30),
            sweep_after: chrono::Duration::seconds(120),
            poll_interval: Duration::from_millis(100),
            base_backoff: chrono::Duration::seconds(2),
            max_backoff: chrono::Duration::minutes(10),
        }
    }
}

/// What handlers can reach.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub redis: RedisStore,
    pub clock: SharedClock,
    pub wechat: WeChatClient,
    pub templates: Arc<Templates>,
    pub config: Arc<JobsConfig>,
    /// Handlers of the kinds the application defines (besides notifications).
    pub handlers: Arc<Handlers>,
    /// Live push to users' open sockets (after a commit).
    pub push: crate::push::Publisher,
}

type HandlerFn = Arc<
    dyn Fn(
            JobContext,
            String,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>
        + Send
        + Sync,
>;

/// The application's job handlers by event kind. A handler must be idempotent: a job may run
/// twice (a worker dies before acknowledging, the sweeper republishes).
#[derive(Clone, Default)]
pub struct Handlers(std::collections::HashMap<&'static str, HandlerFn>);

impl Handlers {
    /// Runs `handler` for every event of type `E`.
    pub fn on<E, F, Fut>(mut self, handler: F) -> Self
    where
        E: Event + Send + 'static,
        F: Fn(JobContext, E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.0.insert(
            E::KIND,
            Arc::new(move |ctx, payload| {
                let handler = handler.clone();
                Box::pin(async move {
                    let event: E = serde_json::from_str(&payload)
                        .map_err(|e| JobError::Fatal(format!("bad payload: {e}")))?;
                    handler(ctx, event).await
                })
            }),
        );
        self
    }

    fn get(&self, kind: &str) -> Option<&HandlerFn> {
        self.0.get(kind)
    }
}

pub fn stream_key(redis: &RedisStore, queue: Queue) -> String {
    redis.key(&format!("queue:{queue}"))
}

pub fn dead_key(redis: &RedisStore, queue: Queue) -> String {
    redis.key(&format!("queue:{queue}:dead"))
}

/// How long to wait before attempt `attempt + 1`: exponential with full jitter.
pub fn backoff(config: &JobsConfig, attempt: i32) -> chrono::Duration {
    let exp = config
        .base_backoff
        .checked_mul(1 << attempt.clamp(0, 20))
        .unwrap_or(config.max_backoff)
        .min(config.max_backoff);
    let millis = exp.num_milliseconds().max(1);
    let jittered = rand::rng().random_range(millis / 2..=millis);
    chrono::Duration::milliseconds(jittered)
}

/// Handles started by `start`; `stop` asks them to finish and waits.
pub struct Runtime {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Runtime {
    pub fn start(ctx: JobContext, periodic: Vec<scheduler::Periodic>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let consumer = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
        let mut tasks = vec![
            tokio::spawn(relay_loop(ctx.clone(), stopped.clone())),
            tokio::spawn(sweep_loop(ctx.clone(), stopped.clone())),
            tokio::spawn(scheduler::run(ctx.clone(), periodic, stopped.clone())),
        ];
        for queue in Queue::ALL {
            tasks.push(tokio::spawn(worker_loop(
                ctx.clone(),
                queue,
                consumer.clone(),
                stopped.clone(),
            )));
        }
        Self { stop, tasks }
    }

    /// Stops taking new jobs, lets each worker finish the one it holds; jobs read but not
    /// started stay pending and are reclaimed by another worker.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "linli".to_owned())
}

async fn sleep_or_stop(stopped: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => *stopped.borrow(),
        _ = stopped.changed() => true,
    }
}

// ---------------------------------------------------------------- relay and sweeper

async fn relay_loop(ctx: JobContext, mut stopped: watch::Receiver<bool>) {
    loop {
        match publish_due(&ctx).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err, "relay could not publish; will retry"),
        }
        if sleep_or_stop(&mut stopped, ctx.config.poll_interval).await {
            return;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Moves due outbox rows to their streams; returns how many. Rows wait while Redis is down.
/// One relay runs at a time across instances (a Redis lock), so a row is published once.
pub async fn publish_due(ctx: &JobContext) -> Result<usize, RelayError> {
    let Some(lock) = crate::lock::RedisLock::try_acquire(&ctx.redis, "relay:lock", 10_000).await?
    else {
        return Ok(0);
    };
    let published = publish_batch(ctx).await;
    lock.release(&ctx.redis).await;
    published
}

async fn publish_batch(ctx: &JobContext) -> Result<usize, RelayError> {
    let now = ctx.clock.now();
    let due = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .filter(outbox::Column::DoneAt.is_null())
        .filter(outbox::Column::DeadAt.is_null())
        .filter(
            Condition::any()
                .add(outbox::Column::AvailableAt.is_null())
                .add(outbox::Column::AvailableAt.lte(now)),
        )
        .order_by_asc(outbox::Column::Id)
        .limit(200)
        .all(&ctx.db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    // One round trip for the whole batch. If it fails, none counts as published: entries that
    // did reach Redis run twice at worst, and handlers are idempotent.
    let mut pipe = redis::pipe();
    let mut published = Vec::with_capacity(due.len());
    for row in &due {
        let Ok(queue) = row.queue.parse::<Queue>() else {
            continue;
        };
        pipe.xadd(stream_key(&ctx.redis, queue), "*", &[("job", row.id)]);
        published.push(row.id);
    }
    let mut conn = ctx.redis.conn();
    let _: Vec<String> = pipe.query_async(&mut conn).await?;
    if !published.is_empty() {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::PublishedAt, Expr::value(now))
            .filter(outbox::Column::Id.is_in(published.clone()))
            .exec(&ctx.db)
            .await?;
        metrics::counter!("outbox_published_total").increment(published.len() as u64);
    }
    Ok(published.len())
}

async fn sweep_loop(ctx: JobContext, mut stopped: watch::Receiver<bool>) {
    loop {
        if let Err(err) = sweep(&ctx).await {
            tracing::debug!(error = %err, "sweeper failed; will retry");
        }
        if sleep_or_stop(&mut stopped, Duration::from_secs(1)).await {
            return;
        }
    }
}

/// Published long ago and still not done: the stream entry may be gone (Redis lost its data),
/// so publish it again. Handlers are idempotent, so a duplicate costs nothing.
pub async fn sweep(ctx: &JobContext) -> Result<u64, DbErr> {
    let cutoff = ctx.clock.now() - ctx.config.sweep_after;
    let swept = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::PublishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox::Column::DoneAt.is_null())
        .filter(outbox::Column::DeadAt.is_null())
        .filter(outbox::Column::PublishedAt.lt(cutoff))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    if swept > 0 {
        tracing::info!(swept, "republishing jobs that were never finished");
    }
    Ok(swept)
}

// ---------------------------------------------------------------- workers

async fn ensure_group(
    conn: &mut impl redis::aio::ConnectionLike,
    key: &str,
) -> redis::RedisResult<()> {
    let created: redis::RedisResult<Value> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(key)
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(err) if err.to_string().contains("BUSYGROUP") => Ok(()),
        Err(err) => Err(err),
    }
}

async fn worker_loop(
    ctx: JobContext,
    queue: Queue,
    consumer: String,
    mut stopped: watch::Receiver<bool>,
) {
    let key = stream_key(&ctx.redis, queue);
    while !*stopped.borrow() {
        let mut conn = match ctx.redis.dedicated().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::debug!(error = %err, %queue, "worker cannot reach Redis; waiting");
                if sleep_or_stop(&mut stopped, Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        if let Err(err) = serve_queue(&ctx, queue, &key, &consumer, &mut conn, &mut stopped).await {
            tracing::debug!(error = %err, %queue, "worker lost Redis; reconnecting");
            if sleep_or_stop(&mut stopped, Duration::from_millis(500)).await {
                return;
            }
        }
    }
}

async fn serve_queue(
    ctx: &JobContext,
    queue: Queue,
    key: &str,
    consumer: &str,
    conn: &mut redis::aio::MultiplexedConnection,
    stopped: &mut watch::Receiver<bool>,
) -> redis::RedisResult<()> {
    ensure_group(conn, key).await?;
    let mut last_reclaim = std::time::Instant::now();
    while !*stopped.borrow() {
        // Jobs a dead worker left pending come first.
        if last_reclaim.elapsed() >= ctx.config.reclaim_idle / 2 {
            last_reclaim = std::time::Instant::now();
            let reclaimed = reclaim(ctx, key, consumer, conn).await?;
            if *stopped.borrow() {
                return Ok(());
            }
            process_batch(ctx, queue, key, conn, &reclaimed).await?;
        }
        let options = StreamReadOptions::default()
            .group(GROUP, consumer)
            .count(BATCH)
            .block(500);
        let reply: redis::RedisResult<StreamReadReply> =
            conn.xread_options(&[key], &[">"], &options).await;
        let reply = match reply {
            Ok(reply) => reply,
            // Redis restarted without its data: the group is gone; make it again.
            Err(err) if err.to_string().contains("NOGROUP") => {
                ensure_group(conn, key).await?;
                continue;
            }
            Err(err) => return Err(err),
        };
        let entries: Vec<StreamId> = reply.keys.into_iter().flat_map(|s| s.ids).collect();
        if *stopped.borrow() {
            // Read but not started: left pending, another worker reclaims them.
            return Ok(());
        }
        process_batch(ctx, queue, key, conn, &entries).await?;
    }
    Ok(())
}

async fn reclaim(
    ctx: &JobContext,
    key: &str,
    consumer: &str,
    conn: &mut redis::aio::MultiplexedConnection,
) -> redis::RedisResult<Vec<StreamId>> {
    let idle = u64::try_from(ctx.config.reclaim_idle.as_millis()).unwrap_or(u64::MAX);
    let reply: redis::RedisResult<StreamAutoClaimReply> = conn
        .xautoclaim_options(
            key,
            GROUP,
            consumer,
            idle,
            "0-0",
            StreamAutoClaimOptions::default().count(20),
        )
        .await;
    match reply {
        Ok(reply) => {
            if !reply.claimed.is_empty() {
                metrics::counter!("jobs_reclaimed_total").increment(reply.claimed.len() as u64);
                tracing::info!(
                    count = reply.claimed.len(),
                    "reclaimed jobs of a stopped worker"
                );
            }
            Ok(reply.claimed)
        }
        Err(err) if err.to_string().contains("NOGROUP") => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}

/// Stream entries read at once.
const BATCH: usize = 50;

/// Runs a batch of stream entries and acknowledges, in one call, those whose outcome is in the
/// database. Notices that send nothing to WeChat are stored together in one transaction (a rush
/// of enrolments is a rush of such notices); every other job runs on its own, side by side: most
/// of a job's time is spent waiting on the database and WeChat, and each is independent.
async fn process_batch(
    ctx: &JobContext,
    queue: Queue,
    key: &str,
    conn: &mut redis::aio::MultiplexedConnection,
    entries: &[StreamId],
) -> redis::RedisResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let job_ids: Vec<i64> = entries.iter().filter_map(|e| e.get("job")).collect();
    let rows = match outbox::Entity::find()
        .filter(outbox::Column::Id.is_in(job_ids))
        .all(&ctx.db)
        .await
    {
        Ok(rows) => rows,
        Err(err) => {
            // The database is unreachable: leave the entries pending; they are reclaimed later.
            tracing::warn!(error = %err, "jobs could not be read; leaving them pending");
            return Ok(());
        }
    };
    // Done already (a duplicate delivery) or gone: nothing to do but acknowledge.
    let mut quiet: Vec<(outbox::Model, Notify)> = Vec::new();
    let mut single: Vec<outbox::Model> = Vec::new();
    for row in rows {
        if row.done_at.is_some() || row.dead_at.is_some() {
            continue;
        }
        match quiet_notice(ctx, &row) {
            Some(notice) => quiet.push((row, notice)),
            None => single.push(row),
        }
    }
    let mut unrecorded: Vec<i64> = Vec::new();
    if let Err(err) = store_quiet_notices(ctx, queue, &quiet).await {
        tracing::warn!(error = %err, "notices could not be recorded; leaving them pending");
        unrecorded.extend(quiet.iter().map(|(row, _)| row.id));
    }
    let results = futures_util::future::join_all(
        single
            .into_iter()
            .map(|row| async move { (row.id, run_job(ctx, queue, row).await) }),
    )
    .await;
    for (job_id, result) in results {
        if let Err(err) = result {
            tracing::warn!(error = %err, job_id, "job could not be recorded; leaving it pending");
            unrecorded.push(job_id);
        }
    }
    let done: Vec<&str> = entries
        .iter()
        .filter(|e| {
            e.get::<i64>("job")
                .is_none_or(|job_id| !unrecorded.contains(&job_id))
        })
        .map(|e| e.id.as_str())
        .collect();
    if !done.is_empty() {
        let _: i64 = conn.xack(key, GROUP, &done).await?;
    }
    Ok(())
}

/// The notice of a `notify` job whose kind has no WeChat template, so storing it is all it takes.
fn quiet_notice(ctx: &JobContext, row: &outbox::Model) -> Option<Notify> {
    let notice = match row.kind.as_str() {
        Notify::KIND => serde_json::from_str::<Notify>(&row.payload).ok()?,
        NotifyUrgent::KIND => serde_json::from_str::<NotifyUrgent>(&row.payload).ok()?.0,
        _ => return None,
    };
    ctx.templates
        .for_kind(&notice.kind)
        .is_none()
        .then_some(notice)
}

async fn store_quiet_notices(
    ctx: &JobContext,
    queue: Queue,
    notices: &[(outbox::Model, Notify)],
) -> Result<(), DbErr> {
    if notices.is_empty() {
        return Ok(());
    }
    use sea_orm::sea_query::ExprTrait as _;
    let now = ctx.clock.now();
    let txn = crate::write_txn::write_txn(&ctx.db).await?;
    let events: Vec<(i64, &Notify)> = notices.iter().map(|(row, n)| (row.id, n)).collect();
    let stored = notify::store_all(&txn, &events, now).await?;
    outbox::Entity::update_many()
        .col_expr(outbox::Column::DoneAt, Expr::value(now))
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .filter(outbox::Column::Id.is_in(events.iter().map(|(id, _)| *id)))
        .filter(outbox::Column::DoneAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    for (row, _) in notices {
        record_done(queue, row, now);
    }
    for notification in &stored {
        ctx.push.publish(
            vec![notification.user_id.clone()],
            push::notification_created(notification),
        );
    }
    Ok(())
}

fn record_done(queue: Queue, row: &outbox::Model, now: DateTime<Utc>) {
    let labels = [
        ("queue", queue.as_str().to_owned()),
        ("kind", row.kind.clone()),
    ];
    let latency = (now - row.created_at).num_milliseconds().max(0) as f64 / 1000.0;
    metrics::histogram!("job_latency_seconds", &labels).record(latency);
    metrics::counter!("jobs_total", "queue" => queue.as_str(), "outcome" => "done").increment(1);
}

/// Why a job failed, and whether trying again can help.
#[derive(Debug)]
pub enum JobError {
    Retry(String),
    Fatal(String),
}

async fn dispatch(ctx: &JobContext, row: &outbox::Model) -> Result<(), JobError> {
    let outcome = match row.kind.as_str() {
        Notify::KIND => {
            let event: Notify = serde_json::from_str(&row.payload)
                .map_err(|e| JobError::Fatal(format!("bad payload: {e}")))?;
            notify::handle(ctx, row.id, &event).await
        }
        NotifyUrgent::KIND => {
            let event: NotifyUrgent = serde_json::from_str(&row.payload)
                .map_err(|e| JobError::Fatal(format!("bad payload: {e}")))?;
            notify::handle(ctx, row.id, &event.0).await
        }
        other => {
            let Some(handler) = ctx.handlers.get(other) else {
                return Err(JobError::Fatal(format!("no handler for kind {other}")));
            };
            return handler(ctx.clone(), row.payload.clone()).await;
        }
    };
    match outcome {
        Ok(Outcome::Done) => Ok(()),
        Ok(Outcome::Retry) => Err(JobError::Retry("a WeChat send failed for now".into())),
        Err(err) => Err(JobError::Retry(format!("database: {err}"))),
    }
}

async fn run_job(ctx: &JobContext, queue: Queue, row: outbox::Model) -> Result<(), DbErr> {
    let job_id = row.id;
    let started = std::time::Instant::now();
    let result = dispatch(ctx, &row).await;
    let now = ctx.clock.now();
    let labels = [
        ("queue", queue.as_str().to_owned()),
        ("kind", row.kind.clone()),
    ];
    metrics::histogram!("job_run_seconds", &labels).record(started.elapsed().as_secs_f64());
    match result {
        Ok(()) => {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::DoneAt, Expr::value(now))
                .col_expr(outbox::Column::Attempts, Expr::value(row.attempts + 1))
                .filter(outbox::Column::Id.eq(job_id))
                .filter(outbox::Column::DoneAt.is_null())
                .exec(&ctx.db)
                .await?;
            record_done(queue, &row, now);
        }
        Err(error) => {
            let attempts = row.attempts + 1;
            let (message, fatal) = match error {
                JobError::Retry(m) => (m, false),
                JobError::Fatal(m) => (m, true),
            };
            if fatal || attempts >= ctx.config.max_attempts {
                bury(ctx, queue, &row, attempts, &message, now).await?;
                metrics::counter!("jobs_total", "queue" => queue.as_str(), "outcome" => "dead")
                    .increment(1);
            } else {
                let retry_at = now + backoff(&ctx.config, attempts - 1);
                outbox::Entity::update_many()
                    .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                    .col_expr(outbox::Column::LastError, Expr::value(Some(message)))
                    .col_expr(
                        outbox::Column::PublishedAt,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(outbox::Column::AvailableAt, Expr::value(Some(retry_at)))
                    .filter(outbox::Column::Id.eq(job_id))
                    .filter(outbox::Column::DoneAt.is_null())
                    .exec(&ctx.db)
                    .await?;
                metrics::counter!("jobs_total", "queue" => queue.as_str(), "outcome" => "retry")
                    .increment(1);
            }
        }
    }
    Ok(())
}

/// Gives up on a job: marks it dead in the outbox (the record that survives Redis) and adds it
/// to the queue's dead-letter stream for operators.
async fn bury(
    ctx: &JobContext,
    queue: Queue,
    row: &outbox::Model,
    attempts: i32,
    message: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Some(message.to_owned())),
        )
        .col_expr(outbox::Column::DeadAt, Expr::value(Some(now)))
        .filter(outbox::Column::Id.eq(row.id))
        .exec(&ctx.db)
        .await?;
    let mut conn = ctx.redis.conn();
    let added: redis::RedisResult<String> = conn
        .xadd(
            dead_key(&ctx.redis, queue),
            "*",
            &[("job", row.id.to_string()), ("kind", row.kind.clone())],
        )
        .await;
    if let Err(err) = added {
        tracing::warn!(error = %err, job_id = row.id, "dead-letter stream unavailable; the outbox keeps the record");
    }
    tracing::warn!(job_id = row.id, kind = %row.kind, attempts, "job moved to the dead-letter stream");
    Ok(())
}

/// Puts a dead job back in line, with its attempts reset.
pub async fn retry_dead(ctx: &JobContext, job_id: i64) -> Result<bool, DbErr> {
    let Some(row) = outbox::Entity::find_by_id(job_id).one(&ctx.db).await? else {
        return Ok(false);
    };
    if row.dead_at.is_none() {
        return Ok(false);
    }
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::DeadAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(
            outbox::Column::PublishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::AvailableAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox::Column::Id.eq(job_id))
        .exec(&ctx.db)
        .await?;
    if let Ok(queue) = row.queue.parse::<Queue>() {
        remove_from_dead_stream(ctx, queue, job_id).await;
    }
    Ok(true)
}

async fn remove_from_dead_stream(ctx: &JobContext, queue: Queue, job_id: i64) {
    let key = dead_key(&ctx.redis, queue);
    let mut conn = ctx.redis.conn();
    let entries: redis::RedisResult<redis::streams::StreamRangeReply> = conn.xrange_all(&key).await;
    if let Ok(entries) = entries {
        let ids: Vec<String> = entries
            .ids
            .into_iter()
            .filter(|e| e.get::<i64>("job") == Some(job_id))
            .map(|e| e.id)
            .collect();
        if !ids.is_empty() {
            let _: redis::RedisResult<i64> = conn.xdel(&key, &ids).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        let config = JobsConfig::default();
        for attempt in 0..12 {
            let ceiling = (config.base_backoff * (1 << attempt)).min(config.max_backoff);
            for _ in 0..50 {
                let wait = backoff(&config, attempt);
                assert!(wait <= ceiling, "attempt {attempt}: {wait} > {ceiling}");
                assert!(
                    wait >= ceiling / 2,
                    "attempt {attempt}: {wait} < half of {ceiling}"
                );
            }
        }
        assert!(backoff(&config, 40) <= config.max_backoff);
    }
}
