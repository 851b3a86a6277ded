//! The audit log of staff actions on courses.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("course_audit")
                    .col(string("id").primary_key())
                    .col(string("course_id"))
                    .col(string("actor_id"))
                    .col(string("action"))
                    .col(string_null("enrollment_id"))
                    .col(string_null("reason"))
                    .col(text("detail"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "course_audit",
                "idx_course_audit_course",
                &["course_id", "id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("course_audit")).to_owned())
            .await
    }
}
