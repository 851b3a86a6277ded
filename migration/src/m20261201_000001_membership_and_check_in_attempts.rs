//! Roles belong to membership: grants and live volunteer applications held in a community the
//! user has left are ended (an upgraded installation starts consistent). And wrong check-in
//! codes are counted per user and session, so six digits cannot be guessed.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const GRANTS_OUTSIDE_MEMBERSHIP: &str = "DELETE FROM role_grants WHERE NOT EXISTS (
    SELECT 1 FROM users WHERE users.id = role_grants.user_id
    AND users.community_id = role_grants.community_id)";

const APPLICATIONS_OUTSIDE_MEMBERSHIP: &str = "UPDATE volunteer_applications
    SET status = 'withdrawn', live_key = NULL
    WHERE live_key IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM users WHERE users.id = volunteer_applications.user_id
    AND users.community_id = volunteer_applications.community_id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(GRANTS_OUTSIDE_MEMBERSHIP).await?;
        db.execute_unprepared(APPLICATIONS_OUTSIDE_MEMBERSHIP)
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("check_in_attempts")
                    .col(string("session_id"))
                    .col(string("user_id"))
                    .col(integer("failures").default(0))
                    .col(timestamp_with_time_zone("window_started_at"))
                    .primary_key(
                        Index::create()
                            .col(Alias::new("session_id"))
                            .col(Alias::new("user_id")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The ended grants are not brought back: they were already without effect.
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("check_in_attempts"))
                    .to_owned(),
            )
            .await
    }
}
