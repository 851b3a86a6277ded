//! Volunteers (applications, teams, availability, the hours ledger) and micro-wishes (微心愿).
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
                    .table("volunteer_applications")
                    .col(string("id").primary_key())
                    .col(string("user_id"))
                    .col(string("community_id"))
                    .col(string("real_name"))
                    .col(string("phone"))
                    .col(text("skills"))
                    .col(string_null("team_id"))
                    .col(string("status"))
                    .col(string_null("live_key"))
                    .col(string_null("reason"))
                    .col(string_null("reviewed_by"))
                    .col(timestamp_with_time_zone_null("reviewed_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "volunteer_applications",
                    "uq_volunteer_applications_live",
                    &["live_key"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "volunteer_applications",
                "idx_volunteer_applications_community",
                &["community_id", "status"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("teams")
                    .col(string("id").primary_key())
                    .col(string("community_id"))
                    .col(string("name"))
                    .col(string_null("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("volunteer_availability")
                    .col(string("id").primary_key())
                    .col(string("user_id"))
                    .col(string("community_id"))
                    .col(integer_null("weekday"))
                    .col(date_null("date"))
                    .col(string_null("slot"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "volunteer_availability",
                "idx_volunteer_availability_user",
                &["user_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("hours_entries")
                    .col(string("id").primary_key())
                    .col(string("user_id"))
                    .col(string("community_id"))
                    .col(string("source"))
                    .col(string("ref_id"))
                    .col(integer("minutes"))
                    .col(string_null("reason"))
                    .col(string_null("created_by"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "hours_entries",
                    "uq_hours_entries_credit",
                    &["source", "ref_id", "user_id"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "hours_entries",
                "idx_hours_entries_community_at",
                &["community_id", "at"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("wishes")
                    .col(string("id").primary_key())
                    .col(string("community_id"))
                    .col(string("title"))
                    .col(text("description"))
                    .col(string("category"))
                    .col(big_integer("budget_fen"))
                    .col(string("status"))
                    .col(string("poster_id"))
                    .col(string("beneficiary_id"))
                    .col(string_null("claimer_id"))
                    .col(string_null("claimer_kind"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("published_at"))
                    .col(timestamp_with_time_zone_null("claimed_at"))
                    .col(timestamp_with_time_zone_null("claim_expires_at"))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(string_null("reject_reason"))
                    .col(text_null("delivery_note"))
                    .col(text_null("photo_urls"))
                    .col(text_null("thanks_note"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "wishes",
                "idx_wishes_community_status",
                &["community_id", "status", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "wishes",
                "idx_wishes_beneficiary",
                &["beneficiary_id", "status"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "wishes",
            "hours_entries",
            "volunteer_availability",
            "teams",
            "volunteer_applications",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
