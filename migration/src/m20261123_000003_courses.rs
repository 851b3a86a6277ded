//! Classes (课堂): courses, their sessions, and enrollments with the waitlist.
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
                    .table("courses")
                    .col(string("id").primary_key())
                    .col(string("community_id"))
                    .col(string("title"))
                    .col(string("category"))
                    .col(text_null("description"))
                    .col(string_null("teacher"))
                    .col(string_null("location"))
                    .col(integer_null("min_age"))
                    .col(integer_null("max_age"))
                    .col(integer("capacity"))
                    .col(integer_null("waitlist_capacity"))
                    .col(integer("enrolled_count").default(0))
                    .col(integer("waitlist_count").default(0))
                    .col(string("allocation"))
                    .col(timestamp_with_time_zone("registration_opens_at"))
                    .col(timestamp_with_time_zone("registration_closes_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "courses",
                "idx_courses_community",
                &["community_id", "id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("course_sessions")
                    .col(string("id").primary_key())
                    .col(string("course_id"))
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "course_sessions",
                "idx_course_sessions_course",
                &["course_id", "starts_at"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("enrollments")
                    .col(string("id").primary_key())
                    .col(string("course_id"))
                    .col(string("community_id"))
                    .col(string("user_id"))
                    .col(string("participant_kind"))
                    .col(string("participant_id"))
                    .col(string("participant_name"))
                    .col(string("status"))
                    .col(integer_null("waitlist_position"))
                    .col(string_null("live_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("enrollments", "uq_enrollments_live", &["live_key"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "enrollments",
                "idx_enrollments_course_status",
                &["course_id", "status", "waitlist_position"],
            ))
            .await?;
        manager
            .create_index(index(
                "enrollments",
                "idx_enrollments_participant",
                &["participant_id", "status"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["enrollments", "course_sessions", "courses"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
