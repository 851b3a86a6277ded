//! The fallback for a lost close order: every few seconds each instance asks the database, in
//! one query, which of its sockets' logins are still live and in which community their users
//! are, and closes the sockets whose login was revoked or whose user moved.
use std::{collections::HashMap, time::Duration};

use entity::{login_session, user};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect,
};

use super::registry::{CloseCause, Owner, Registry};

/// Within the 5 s a revoked login's sockets may stay open, with room for the query.
pub const EVERY: Duration = Duration::from_secs(2);
/// Logins asked about per query (bound parameters stay far under SQLite's limit).
const CHUNK: usize = 500;

/// Runs until the process ends.
pub async fn run(db: DatabaseConnection, registry: Registry) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = sweep(&db, &registry).await {
            // The database is unreachable: close nothing on a guess, try again next tick.
            tracing::warn!(error = %err, "could not check open sockets' logins");
        }
    }
}

/// Closes the sockets whose login ended or whose user changed community; how many.
pub async fn sweep(db: &DatabaseConnection, registry: &Registry) -> Result<usize, DbErr> {
    let owners = registry.owners();
    if owners.is_empty() {
        return Ok(0);
    }
    let mut sessions: Vec<&str> = owners.iter().map(|(_, o)| o.session_id.as_str()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    let live = live_sessions(db, &sessions).await?;
    let ended: Vec<u64> = owners
        .iter()
        .filter(|(_, owner)| !still_allowed(owner, &live))
        .map(|(id, _)| *id)
        .collect();
    registry.close_sockets(&ended, CloseCause::Revoked);
    Ok(ended.len())
}

fn still_allowed(owner: &Owner, live: &HashMap<String, Option<String>>) -> bool {
    live.get(&owner.session_id)
        .is_some_and(|community| *community == owner.community_id)
}

fn of_user() -> sea_orm::RelationDef {
    login_session::Entity::belongs_to(user::Entity)
        .from(login_session::Column::UserId)
        .to(user::Column::Id)
        .into()
}

/// Live (unrevoked) logins among these, each with its user's community now.
async fn live_sessions(
    db: &DatabaseConnection,
    sessions: &[&str],
) -> Result<HashMap<String, Option<String>>, DbErr> {
    let mut live = HashMap::with_capacity(sessions.len());
    for chunk in sessions.chunks(CHUNK) {
        let rows: Vec<(String, Option<String>)> = login_session::Entity::find()
            .select_only()
            .column(login_session::Column::Id)
            .column_as(user::Column::CommunityId, "community_id")
            .join(JoinType::InnerJoin, of_user())
            .filter(login_session::Column::Id.is_in(chunk.iter().copied()))
            .filter(login_session::Column::RevokedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        live.extend(rows);
    }
    Ok(live)
}
