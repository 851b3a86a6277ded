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
use crate::{
    error::AppError,
    http::{Cursor, Page, PageParams},
};

/// A page of the queues' figures, in `Queue::ALL` order; the cursor is the last queue's name.
pub async fn stats(ctx: &JobContext, page: &PageParams) -> Result<Page<QueueStats>, AppError> {
    let start = match page.after()? {
        None => 0,
        Some(Cursor(after)) => {
            let seen = after
                .parse::<Queue>()
                .map_err(|_| AppError::BadRequest("the cursor is not valid".into()))?;
            Queue::ALL
                .iter()
                .position(|q| *q == seen)
                .map_or(0, |i| i + 1)
        }
    };
    let wanted = usize::try_from(page.limit() + 1).unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    for queue in Queue::ALL.into_iter().skip(start).take(wanted) {
        rows.push(queue_stats(ctx, queue).await?);
    }
    Ok(Page::from_rows(
        rows,
        page.limit(),
        |s| s.queue.clone(),
        |s| s,
    ))
}

/// Reads every queue's figures, which sets their gauges (the periodic `queue_gauges` task).
pub async fn refresh_gauges(ctx: &JobContext) -> Result<(), AppError> {
    for queue in Queue::ALL {
        queue_stats(ctx, queue).await?;
    }
    Ok(())
}

/// One queue's figures; reading them sets its gauges.
async fn queue_stats(ctx: &JobContext, queue: Queue) -> Result<QueueStats, AppError> {
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
    Ok(QueueStats {
        queue: queue.as_str().to_owned(),
        depth,
        in_flight,
        retrying,
        dead,
        outbox_backlog,
    })
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

/// Dead jobs, newest first; the cursor is the last job's id.
pub async fn dead_jobs(ctx: &JobContext, page: &PageParams) -> Result<Page<DeadJob>, AppError> {
    let mut select = outbox::Entity::find()
        .filter(outbox::Column::DeadAt.is_not_null())
        .order_by_desc(outbox::Column::Id);
    if let Some(Cursor(before)) = page.after()? {
        let before = job_id(&before)
            .ok_or_else(|| AppError::BadRequest("the cursor is not valid".into()))?;
        select = select.filter(outbox::Column::Id.lt(before));
    }
    let rows = select.limit(page.limit() + 1).all(&ctx.db).await?;
    Ok(Page::from_rows(
        rows,
        page.limit(),
        |r| r.id.to_string(),
        DeadJob::from,
    ))
}

/// Puts a dead job back in line; an id that names no dead job (or cannot name any) is 404.
pub async fn retry(ctx: &JobContext, id: &str) -> Result<(), AppError> {
    let id = job_id(id).ok_or(AppError::NotFound)?;
    if runtime::retry_dead(ctx, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The row behind a job's id as `DeadJob` shows it: exactly the number's own spelling, so
/// `+7`, `07` or ` 7` name nothing.
fn job_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| id.to_string() == raw)
}

#[cfg(test)]
mod tests {
    use super::job_id;

    #[test]
    fn only_an_ids_own_spelling_names_a_job() {
        let cases = [
            ("7", Some(7)),
            ("1234567890123", Some(1_234_567_890_123)),
            ("+7", None),
            ("07", None),
            (" 7", None),
            ("7\0", None),
            ("", None),
            ("seven", None),
            ("99999999999999999999", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(job_id(raw), expected, "{raw:?}");
        }
    }
}
