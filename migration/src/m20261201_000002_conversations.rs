//! Conversations (私信) with their members, messages, reports and the staff's access log; and
//! the problems inbox that reports and blocked delivery conversations go to.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        conversations(manager).await?;
        messages(manager).await?;
        reports(manager).await?;
        problems(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "problems",
            "conversation_access_log",
            "conversation_reports",
            "messages",
            "conversation_members",
            "conversations",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn conversations(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("conversations")
                .col(string("id").primary_key())
                .col(string("community_id"))
                .col(string("context_type"))
                .col(string("context_id"))
                .col(string("context_key"))
                .col(big_integer("last_seq").default(0))
                .col(timestamp_with_time_zone("last_activity_at"))
                .col(timestamp_with_time_zone_null("read_only_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            index(
                "conversations",
                "uq_conversations_context",
                &["context_key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table("conversation_members")
                .col(string("conversation_id"))
                .col(string("user_id"))
                .col(string("role"))
                .col(big_integer("read_seq").default(0))
                .col(big_integer("reminded_seq").default(0))
                .col(timestamp_with_time_zone_null("blocked_at"))
                .col(timestamp_with_time_zone("joined_at"))
                .col(timestamp_with_time_zone_null("left_at"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("conversation_id"))
                        .col(Alias::new("user_id")),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "conversation_members",
            "idx_conversation_members_user",
            &["user_id", "left_at"],
        ))
        .await
}

async fn messages(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("messages")
                .col(string("id").primary_key())
                .col(string("conversation_id"))
                .col(big_integer_null("seq"))
                .col(string("sender_id"))
                .col(text("text"))
                .col(string("client_msg_id"))
                .col(string("status"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("published_at"))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            index("messages", "uq_messages_seq", &["conversation_id", "seq"])
                .unique()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            index(
                "messages",
                "uq_messages_client_msg_id",
                &["sender_id", "conversation_id", "client_msg_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "messages",
            "idx_messages_sender_recent",
            &["sender_id", "created_at"],
        ))
        .await
}

async fn reports(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("conversation_reports")
                .col(string("id").primary_key())
                .col(string("community_id"))
                .col(string("conversation_id"))
                .col(string("reporter_id"))
                .col(string("reason"))
                .col(text_null("note"))
                .col(text("messages"))
                .col(string("status"))
                .col(string_null("outcome"))
                .col(text_null("resolve_note"))
                .col(string_null("resolved_by"))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "conversation_reports",
            "idx_conversation_reports_community",
            &["community_id", "status", "id"],
        ))
        .await?;
    manager
        .create_index(index(
            "conversation_reports",
            "idx_conversation_reports_conversation",
            &["conversation_id", "status"],
        ))
        .await?;
    manager
        .create_table(
            Table::create()
                .table("conversation_access_log")
                .col(string("id").primary_key())
                .col(string("community_id"))
                .col(string("conversation_id"))
                .col(string("report_id"))
                .col(string("reader_id"))
                .col(timestamp_with_time_zone("at"))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "conversation_access_log",
            "idx_conversation_access_log_community",
            &["community_id", "id"],
        ))
        .await
}

async fn problems(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("problems")
                .col(string("id").primary_key())
                .col(string("community_id"))
                .col(string("kind"))
                .col(string("ref_type"))
                .col(string("ref_id"))
                .col(string("summary"))
                .col(boolean("urgent"))
                .col(string("status"))
                .col(string_null("taken_by"))
                .col(timestamp_with_time_zone_null("taken_at"))
                .col(string_null("closed_by"))
                .col(timestamp_with_time_zone_null("closed_at"))
                .col(text_null("close_note"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
    // One item per cause: raising it again changes nothing.
    manager
        .create_index(
            index(
                "problems",
                "uq_problems_cause",
                &["kind", "ref_type", "ref_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "problems",
            "idx_problems_inbox",
            &["community_id", "status", "urgent", "created_at"],
        ))
        .await
}
