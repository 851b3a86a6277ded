//! Lottery draws (seed, when, each applicant's rank) and session reminders (when due, when sent).
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Columns added, one ALTER each: SQLite cannot add two at once.
fn added() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("courses", string_null("draw_seed")),
        ("courses", timestamp_with_time_zone_null("drawn_at")),
        (
            "course_sessions",
            timestamp_with_time_zone_null("remind_at"),
        ),
        (
            "course_sessions",
            timestamp_with_time_zone_null("reminded_at"),
        ),
        ("enrollments", integer_null("draw_rank")),
        ("enrollments", string_null("draw_result")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, mut column) in added() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(index(
                "courses",
                "idx_courses_draw_due",
                &["allocation", "drawn_at", "registration_closes_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "course_sessions",
                "idx_course_sessions_remind",
                &["reminded_at", "remind_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_course_sessions_remind").to_owned())
            .await?;
        manager
            .drop_index(Index::drop().name("idx_courses_draw_due").to_owned())
            .await?;
        for (table, column) in added().into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new(column.get_column_name()))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
