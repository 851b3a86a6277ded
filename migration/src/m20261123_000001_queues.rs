//! The queues: retry times and dead letters on the outbox, in-app notifications, subscribe
//! message quotas, and timed jobs for the scheduler.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite cannot add two at once.
        for column in ["available_at", "dead_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("outbox")
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .col(string("id").primary_key())
                    .col(string("user_id"))
                    .col(string("kind"))
                    .col(string("title"))
                    .col(text("body"))
                    .col(string_null("ref_type"))
                    .col(string_null("ref_id"))
                    .col(big_integer("source_event"))
                    .col(string("wechat_status").default("none"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("read_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_notifications_event_user")
                    .table("notifications")
                    .col("source_event")
                    .col("user_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_user")
                    .table("notifications")
                    .col("user_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("subscription_quotas")
                    .col(string("user_id"))
                    .col(string("template_id"))
                    .col(integer("remaining").default(0))
                    .col(boolean("banned").default(false))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("user_id").col("template_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("scheduled_jobs")
                    .col(string("id").primary_key())
                    .col(string_uniq("dedupe_key"))
                    .col(string("queue"))
                    .col(string("kind"))
                    .col(text("payload"))
                    .col(timestamp_with_time_zone("run_at"))
                    .col(timestamp_with_time_zone_null("fired_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scheduled_jobs_due")
                    .table("scheduled_jobs")
                    .col("fired_at")
                    .col("run_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["scheduled_jobs", "subscription_quotas", "notifications"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        for column in ["dead_at", "available_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("outbox")
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
