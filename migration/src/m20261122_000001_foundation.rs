//! Users, communities and their grid, roles, care flags, logins, idempotency keys and the outbox.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id() -> ColumnDef {
    string("id").primary_key().to_owned()
}

fn created_at() -> ColumnDef {
    timestamp_with_time_zone("created_at")
}

const TABLES: &[&str] = &[
    "communities",
    "users",
    "care_flags",
    "dependents",
    "grid_nodes",
    "role_grants",
    "login_sessions",
    "refresh_tokens",
    "idempotency_keys",
    "outbox",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("communities")
                    .col(id())
                    .col(string("name"))
                    .col(string("timezone"))
                    .col(text("settings"))
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(id())
                    .col(string_uniq("openid"))
                    .col(string_null("unionid"))
                    .col(string("nickname"))
                    .col(string_null("avatar_url"))
                    .col(string_null("community_id"))
                    .col(string_null("grid_unit_id"))
                    .col(date_null("birth_date"))
                    .col(string_null("phone"))
                    .col(string_null("address_detail"))
                    .col(string_null("dietary_notes"))
                    .col(boolean("is_admin").default(false))
                    .col(string("volunteer_status").default("none"))
                    .col(created_at())
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "users",
                "idx_users_community",
                &["community_id", "id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("care_flags")
                    .col(string("user_id").primary_key())
                    .col(boolean("lives_alone").default(false))
                    .col(boolean("empty_nest").default(false))
                    .col(boolean("hardship").default(false))
                    .col(string_null("updated_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("dependents")
                    .col(id())
                    .col(string("user_id"))
                    .col(string("name"))
                    .col(date("birth_date"))
                    .col(string("relation"))
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("dependents", "idx_dependents_user", &["user_id"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("grid_nodes")
                    .col(id())
                    .col(string("community_id"))
                    .col(string_null("parent_id"))
                    .col(string("kind"))
                    .col(string("name"))
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "grid_nodes",
                "idx_grid_nodes_community",
                &["community_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("role_grants")
                    .col(id())
                    .col(string("user_id"))
                    .col(string("community_id"))
                    .col(string("role"))
                    .col(string("grid_node_id").default(""))
                    .col(string_null("granted_by"))
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "role_grants",
                    "uq_role_grants",
                    &["user_id", "community_id", "role", "grid_node_id"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "role_grants",
                "idx_role_grants_community",
                &["community_id", "role"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("login_sessions")
                    .col(id())
                    .col(string("user_id"))
                    .col(created_at())
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(id())
                    .col(string("session_id"))
                    .col(string("user_id"))
                    .col(string_uniq("token_hash"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "refresh_tokens",
                "idx_refresh_tokens_session",
                &["session_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(string("user_id"))
                    .col(string("key"))
                    .col(string("request_hash"))
                    .col(integer_null("status_code"))
                    .col(text_null("response_body"))
                    .col(created_at())
                    .primary_key(Index::create().col("user_id").col("key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("outbox")
                    .col(big_pk_auto("id"))
                    .col(string("queue"))
                    .col(string("kind"))
                    .col(text("payload"))
                    .col(created_at())
                    .col(timestamp_with_time_zone_null("published_at"))
                    .col(timestamp_with_time_zone_null("done_at"))
                    .col(integer("attempts").default(0))
                    .col(text_null("last_error"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "outbox",
                "idx_outbox_pending",
                &["done_at", "published_at", "id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(*table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
