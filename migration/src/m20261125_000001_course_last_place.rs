//! What the latest enrolment of a course took (`enrolled` or `waitlisted`), written by the same
//! conditional update that takes it, so one statement both takes a place and tells which.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("courses"))
                    .add_column(string_null("last_place"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("courses"))
                    .drop_column(Alias::new("last_place"))
                    .to_owned(),
            )
            .await
    }
}
