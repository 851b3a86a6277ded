//! The operators' view of the queues: depth, in flight, retrying and dead per queue, the dead
//! jobs themselves, and putting one back in line.
use entity::outbox;
use jobs::{
    outbox::Queue,
    runtime::{self, JobContext},
};
use redis::AsyncCommands;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::dto::{DeadJob, QueueStats};
use crate::error::AppError;

pub async fn stats(ctx: &JobContext) -> Result<Vec<QueueStats>, AppError> {
    let mut all = Vec::new();
    for queue in Queue::ALL {
        let (depth, in_flight) = stream_counts(ctx, queue).await;
        let rows = || outbox::Entity::find().filter(outbox::Column::Queue.eq(queue.as_str()));
        let retrying = rows()
            .filter(outbox::Column::DoneAt.is_null())
            .filter(outbox::Column::DeadAt.is_null())
            .filter(outbox::Column::Attempts.gt(0))
            .count(&ctx.db)
            .await?;
        let dead = rows()
            .filter(outbox::Column::DeadAt.is_not_null())
            .count(&ctx.db)
            .await?;
        let outbox_backlog = rows()
            .filter(outbox::Column::PublishedAt.is_null())
            .filter(outbox::Column::DoneAt.is_null())
            .filter(outbox::Column::DeadAt.is_null())
            .count(&ctx.db)
            .await?;
        metrics::gauge!("queue_depth", "queue" => queue.as_str()).set(depth as f64);
        metrics::gauge!("queue_in_flight", "queue" => queue.as_str()).set(in_flight as f64);
        metrics::gauge!("outbox_backlog", "queue" => queue.as_str()).set(outbox_backlog as f64);
        all.push(QueueStats {
            queue: queue.as_str().to_owned(),
            depth,
            in_flight,
            retrying,
            dead,
            outbox_backlog,
        });
    }
    Ok(all)
}

/// Stream length and pending entries; zero when Redis cannot say.
async fn stream_counts(ctx: &JobContext, queue: Queue) -> (u64, u64) {
    let key = runtime::stream_key(&ctx.redis, queue);
    let mut conn = ctx.redis.conn();
    let depth: u64 = conn.xlen(&key).await.unwrap_or(0);
    let pending: redis::RedisResult<redis::streams::StreamPendingReply> =
        conn.xpending(&key, "linli").await;
    let in_flight = match pending {
        Ok(reply) => reply.count() as u64,
        Err(_) => 0,
    };
    (depth, in_flight)
}

pub async fn dead_jobs(ctx: &JobContext) -> Result<Vec<DeadJob>, AppError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::DeadAt.is_not_null())
        .order_by_desc(outbox::Column::Id)
        .limit(200)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(DeadJob::from)
        .collect())
}

pub async fn retry(ctx: &JobContext, id: i64) -> Result<(), AppError> {
    if runtime::retry_dead(ctx, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
