//! Check-in codes on course sessions, and attendance.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite cannot add two at once.
        manager
            .alter_table(
                Table::alter()
                    .table("course_sessions")
                    .add_column(string_null("check_in_code"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("course_sessions")
                    .add_column(timestamp_with_time_zone_null("check_in_expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("attendance")
                    .col(string("id").primary_key())
                    .col(string("session_id"))
                    .col(string("course_id"))
                    .col(string("enrollment_id"))
                    .col(string("participant_name"))
                    .col(string("checked_in_by"))
                    .col(timestamp_with_time_zone("checked_in_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "attendance",
                    "uq_attendance_session_enrollment",
                    &["session_id", "enrollment_id"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index("attendance", "idx_attendance_course", &["course_id"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("attendance")).to_owned())
            .await?;
        for column in ["check_in_expires_at", "check_in_code"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("course_sessions")
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
