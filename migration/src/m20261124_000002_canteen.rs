//! Canteen (食堂) and delivery: menus, reservations, standing orders, deliveries with the
//! volunteers who declined or missed them, and welfare alerts.
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
                    .table("menus")
                    .col(string("id").primary_key())
                    .col(string("community_id"))
                    .col(date("date"))
                    .col(string("slot"))
                    .col(text("dishes"))
                    .col(integer("price_fen"))
                    .col(integer("capacity"))
                    .col(integer("reserved_count").default(0))
                    .col(timestamp_with_time_zone("reserve_cutoff_at"))
                    .col(boolean("delivery_available"))
                    .col(boolean("free_meal_day"))
                    .col(timestamp_with_time_zone_null("roster_at"))
                    .col(timestamp_with_time_zone_null("roster_ran_at"))
                    .col(timestamp_with_time_zone_null("dispatched_at"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "menus",
                    "uq_menus_day_slot",
                    &["community_id", "date", "slot"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "menus",
                "idx_menus_dispatch_due",
                &["dispatched_at", "reserve_cutoff_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "menus",
                "idx_menus_roster_due",
                &["roster_ran_at", "roster_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("reservations")
                    .col(string("id").primary_key())
                    .col(string("menu_id"))
                    .col(string("community_id"))
                    .col(string("user_id"))
                    .col(date("date"))
                    .col(string("slot"))
                    .col(string("mode"))
                    .col(integer("price_fen"))
                    .col(integer("subsidy_fen"))
                    .col(integer("payable_fen"))
                    .col(boolean("free_meal"))
                    .col(string("source"))
                    .col(string("status"))
                    .col(string_null("delivery_id"))
                    .col(string_null("live_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("reservations", "uq_reservations_live", &["live_key"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "reservations",
                "idx_reservations_menu",
                &["menu_id", "status"],
            ))
            .await?;
        manager
            .create_index(index(
                "reservations",
                "idx_reservations_user",
                &["user_id", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "reservations",
                "idx_reservations_community_date",
                &["community_id", "date"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("standing_orders")
                    .col(string("user_id").primary_key())
                    .col(string("community_id"))
                    .col(text("items"))
                    .col(date_null("paused_from"))
                    .col(date_null("paused_until"))
                    .col(string("updated_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "standing_orders",
                "idx_standing_orders_community",
                &["community_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("deliveries")
                    .col(string("id").primary_key())
                    .col(string("community_id"))
                    .col(string("kind"))
                    .col(string("ref_id"))
                    .col(string_null("menu_id"))
                    .col(date("date"))
                    .col(string("slot"))
                    .col(string("recipient_id"))
                    .col(string_null("volunteer_id"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone_null("accept_deadline"))
                    .col(timestamp_with_time_zone_null("assigned_at"))
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .col(timestamp_with_time_zone_null("picked_up_at"))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .col(timestamp_with_time_zone_null("failed_at"))
                    .col(string_null("fail_reason"))
                    .col(string_null("fail_note"))
                    .col(timestamp_with_time_zone_null("unassigned_alerted_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("deliveries", "uq_deliveries_ref", &["kind", "ref_id"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "deliveries",
                "idx_deliveries_board",
                &["community_id", "date", "status"],
            ))
            .await?;
        manager
            .create_index(index(
                "deliveries",
                "idx_deliveries_volunteer",
                &["volunteer_id", "date"],
            ))
            .await?;
        manager
            .create_index(index(
                "deliveries",
                "idx_deliveries_accept_due",
                &["status", "accept_deadline"],
            ))
            .await?;
        manager
            .create_index(index(
                "deliveries",
                "idx_deliveries_menu",
                &["menu_id", "status"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("delivery_exclusions")
                    .col(string("id").primary_key())
                    .col(string("delivery_id"))
                    .col(string("volunteer_id"))
                    .col(string("reason"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "delivery_exclusions",
                    "uq_delivery_exclusions",
                    &["delivery_id", "volunteer_id"],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("welfare_alerts")
                    .col(string("id").primary_key())
                    .col(string("community_id"))
                    .col(string("delivery_id"))
                    .col(string("member_id"))
                    .col(string_null("grid_unit_id"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("raised_at"))
                    .col(string_null("acknowledged_by"))
                    .col(timestamp_with_time_zone_null("acknowledged_at"))
                    .col(string_null("resolved_by"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .col(string_null("resolution_note"))
                    .col(timestamp_with_time_zone_null("next_escalation_at"))
                    .col(integer("escalations").default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "welfare_alerts",
                    "uq_welfare_alerts_delivery",
                    &["delivery_id"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "welfare_alerts",
                "idx_welfare_alerts_community",
                &["community_id", "status", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "welfare_alerts",
                "idx_welfare_alerts_escalation",
                &["status", "next_escalation_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "welfare_alerts",
            "delivery_exclusions",
            "deliveries",
            "standing_orders",
            "reservations",
            "menus",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
