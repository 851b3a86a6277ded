//! The `notify` queue: an event for some users becomes an in-app notification for each, and a
//! WeChat subscribe message where the user has quota for that kind's template.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{notification, subscription_quota, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait, TryInsertResult, sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};

use crate::{
    outbox::{Event, Queue},
    push,
    wechat::{SubscribeMessage, WeChatError, keywords},
};

/// Tell these users something.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notify {
    pub recipients: Vec<String>,
    /// `wish_claimed`, `seat_promoted`, `welfare_check`, …; picks the WeChat template.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub ref_type: Option<String>,
    pub ref_id: Option<String>,
    /// Extra values a template's keywords may use (besides `title`, `body`, `kind`).
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

impl Notify {
    /// A notice of `kind` about one thing (`ref_type`, `ref_id`) for these users.
    pub fn about(
        recipients: Vec<String>,
        kind: &str,
        (ref_type, ref_id): (&str, &str),
        title: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            recipients,
            kind: kind.to_owned(),
            title: title.into(),
            body: body.into(),
            ref_type: Some(ref_type.to_owned()),
            ref_id: Some(ref_id.to_owned()),
            data: BTreeMap::new(),
        }
    }
}

impl Event for Notify {
    const KIND: &'static str = "notify";
    const QUEUE: Queue = Queue::Notify;
}

/// The same, ahead of every other queue (welfare alerts).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotifyUrgent(pub Notify);

impl Event for NotifyUrgent {
    const KIND: &'static str = "notify_urgent";
    const QUEUE: Queue = Queue::Urgent;
}

/// One kind's subscribe template: its id, the page it opens, and which of our values goes into
/// which of its keywords (`{"thing1": "title", "time2": "at"}`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Template {
    pub template_id: String,
    #[serde(default)]
    pub page: Option<String>,
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates(pub HashMap<String, Template>);

impl Templates {
    /// From `LINLI_WECHAT_TEMPLATES`: JSON, or the path of a JSON file.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::default());
        };
        let text = if raw.starts_with('{') {
            raw.to_owned()
        } else {
            std::fs::read_to_string(raw).map_err(|e| format!("cannot read {raw}: {e}"))?
        };
        serde_json::from_str(&text)
            .map(Self)
            .map_err(|e| format!("not a valid template map: {e}"))
    }

    pub fn for_kind(&self, kind: &str) -> Option<&Template> {
        self.0.get(kind)
    }

    /// The kind whose template has this id.
    pub fn kind_of(&self, template_id: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, t)| t.template_id == template_id)
            .map(|(kind, _)| kind.as_str())
    }
}

/// What became of a WeChat send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Worth trying again later.
    Retry,
}

pub const WECHAT_NONE: &str = "none";
pub const WECHAT_PENDING: &str = "pending";
/// Claimed by one worker for sending, so two runs of the same job never both send.
pub const WECHAT_SENDING: &str = "sending";
pub const WECHAT_SENT: &str = "sent";
pub const WECHAT_NO_QUOTA: &str = "no_quota";
pub const WECHAT_FAILED: &str = "failed";

/// Stores the notification for each recipient (once, however often the job runs), then sends
/// what WeChat messages are due. Returns `Retry` if a send failed transiently.
pub async fn handle(
    ctx: &crate::runtime::JobContext,
    event_id: i64,
    event: &Notify,
) -> Result<Outcome, DbErr> {
    let now = ctx.clock.now();
    let template = ctx.templates.for_kind(&event.kind);
    let mut outcome = Outcome::Done;
    for recipient in &event.recipients {
        let (stored, new) =
            store(&ctx.db, event_id, recipient, event, template.is_some(), now).await?;
        if new {
            // Stored by a single statement, so it is committed: push it now, before WeChat.
            ctx.push
                .publish(vec![recipient.clone()], push::notification_created(&stored));
        }
        if stored.wechat_status != WECHAT_PENDING {
            continue;
        }
        if let Some(template) = template
            && send_wechat(ctx, &stored, event, template).await? == Outcome::Retry
        {
            outcome = Outcome::Retry;
        }
    }
    Ok(outcome)
}

/// The time as the database keeps it (PostgreSQL to the microsecond), so a pushed notification
/// is the one `GET /notifications` lists later, to the digit.
fn stored_time(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    now.trunc_subsecs(6)
}

/// Ordered by the event's commit, not by when a worker got to it, so "newest first" holds
/// however jobs interleave.
fn notification_id(event_id: i64, recipient: &str) -> String {
    format!("{event_id:019}-{recipient}")
}

/// The in-app notification of one event for one recipient.
fn notification_row(
    event_id: i64,
    recipient: &str,
    event: &Notify,
    wechat_status: &str,
    now: DateTime<Utc>,
) -> notification::Model {
    notification::Model {
        id: notification_id(event_id, recipient),
        user_id: recipient.to_owned(),
        kind: event.kind.clone(),
        title: event.title.clone(),
        body: event.body.clone(),
        ref_type: event.ref_type.clone(),
        ref_id: event.ref_id.clone(),
        source_event: event_id,
        wechat_status: wechat_status.to_owned(),
        created_at: stored_time(now),
        read_at: None,
    }
}

/// The recipient's notification of this event, and whether this run stored it (an earlier run
/// of the job may have).
async fn store(
    db: &DatabaseConnection,
    event_id: i64,
    recipient: &str,
    event: &Notify,
    has_template: bool,
    now: DateTime<Utc>,
) -> Result<(notification::Model, bool), DbErr> {
    let wechat_status = if has_template {
        WECHAT_PENDING
    } else {
        WECHAT_NONE
    };
    let row = notification_row(event_id, recipient, event, wechat_status, now);
    let inserted = notification::Entity::insert(notification::ActiveModel::from(row.clone()))
        .on_conflict(
            OnConflict::columns([
                notification::Column::SourceEvent,
                notification::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        metrics::counter!("notifications_stored_total", "kind" => event.kind.clone()).increment(1);
        return Ok((row, true));
    }
    // Stored by an earlier run of this job: its send status is what counts.
    notification::Entity::find()
        .filter(notification::Column::SourceEvent.eq(event_id))
        .filter(notification::Column::UserId.eq(recipient))
        .one(db)
        .await?
        .map(|row| (row, false))
        .ok_or_else(|| DbErr::RecordNotFound("notification just stored".into()))
}

/// Stores many notices that send nothing to WeChat, each once however often its job runs;
/// the ones this call stored (to push once the caller's transaction commits).
pub async fn store_all(
    db: &impl ConnectionTrait,
    events: &[(i64, &Notify)],
    now: DateTime<Utc>,
) -> Result<Vec<notification::Model>, DbErr> {
    let rows: Vec<notification::Model> = events
        .iter()
        .flat_map(|(event_id, event)| {
            event
                .recipients
                .iter()
                .map(move |recipient| notification::Model {
                    id: notification_id(*event_id, recipient),
                    user_id: recipient.clone(),
                    kind: event.kind.clone(),
                    title: event.title.clone(),
                    body: event.body.clone(),
                    ref_type: event.ref_type.clone(),
                    ref_id: event.ref_id.clone(),
                    source_event: *event_id,
                    wechat_status: WECHAT_NONE.to_owned(),
                    created_at: stored_time(now),
                    read_at: None,
                })
        })
        .collect();
    let mut stored = Vec::new();
    for chunk in rows.chunks(crate::ROWS_PER_INSERT) {
        let by_id: HashMap<&str, &notification::Model> =
            chunk.iter().map(|n| (n.id.as_str(), n)).collect();
        let inserted = notification::Entity::insert_many(
            chunk.iter().cloned().map(notification::ActiveModel::from),
        )
        .on_conflict_do_nothing_on([
            notification::Column::SourceEvent,
            notification::Column::UserId,
        ])
        .exec_with_returning_keys(db)
        .await?;
        if let TryInsertResult::Inserted(ids) = inserted {
            for id in ids {
                if let Some(row) = by_id.get(id.as_str()) {
                    metrics::counter!("notifications_stored_total", "kind" => row.kind.clone())
                        .increment(1);
                    stored.push((*row).clone());
                }
            }
        }
    }
    Ok(stored)
}

async fn set_wechat_status(db: &impl ConnectionTrait, id: &str, status: &str) -> Result<(), DbErr> {
    notification::Entity::update_many()
        .col_expr(notification::Column::WechatStatus, status.into())
        .filter(notification::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Takes the send for this worker; false if another run of the job already has it.
async fn claim_send(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let claimed = notification::Entity::update_many()
        .col_expr(notification::Column::WechatStatus, WECHAT_SENDING.into())
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::WechatStatus.eq(WECHAT_PENDING))
        .exec(db)
        .await?
        .rows_affected;
    Ok(claimed == 1)
}

async fn quota_left(
    db: &DatabaseConnection,
    user_id: &str,
    template_id: &str,
) -> Result<bool, DbErr> {
    Ok(
        subscription_quota::Entity::find_by_id((user_id.to_owned(), template_id.to_owned()))
            .one(db)
            .await?
            .is_some_and(|q| q.remaining > 0 && !q.banned),
    )
}

/// The keyword values of a template, cut to WeChat's rules; a value that cannot be made valid
/// leaves the message unsendable (sending would only earn a 47003).
fn keyword_values(
    template: &Template,
    event: &Notify,
    at: DateTime<Utc>,
) -> Option<Vec<(String, String)>> {
    let at_text = at
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y年%-m月%-d日 %H:%M")
        .to_string();
    let mut values = Vec::with_capacity(template.fields.len());
    for (keyword, field) in &template.fields {
        let raw = match field.as_str() {
            "title" => event.title.as_str(),
            "body" => event.body.as_str(),
            "kind" => event.kind.as_str(),
            "at" => at_text.as_str(),
            other => event.data.get(other).map(String::as_str).unwrap_or(""),
        };
        let kind = keyword.parse::<keywords::KeywordType>().ok()?;
        values.push((keyword.clone(), keywords::format_value(kind, raw)?));
    }
    Some(values)
}

async fn send_wechat(
    ctx: &crate::runtime::JobContext,
    stored: &notification::Model,
    event: &Notify,
    template: &Template,
) -> Result<Outcome, DbErr> {
    if !ctx.wechat.is_configured()
        || !quota_left(&ctx.db, &stored.user_id, &template.template_id).await?
    {
        set_wechat_status(&ctx.db, &stored.id, WECHAT_NONE).await?;
        return Ok(Outcome::Done);
    }
    let Some(openid) = user::Entity::find_by_id(stored.user_id.clone())
        .one(&ctx.db)
        .await?
        .map(|u| u.openid)
    else {
        set_wechat_status(&ctx.db, &stored.id, WECHAT_NONE).await?;
        return Ok(Outcome::Done);
    };
    if !claim_send(&ctx.db, &stored.id).await? {
        return Ok(Outcome::Done);
    }
    let Some(data) = keyword_values(template, event, stored.created_at) else {
        tracing::warn!(kind = %event.kind, "a template keyword cannot be filled; not sending");
        set_wechat_status(&ctx.db, &stored.id, WECHAT_FAILED).await?;
        return Ok(Outcome::Done);
    };
    let message = SubscribeMessage {
        touser: openid,
        template_id: template.template_id.clone(),
        page: template.page.clone(),
        data,
        miniprogram_state: "formal".to_owned(),
    };
    let result = ctx
        .wechat
        .send_subscribe_message(&ctx.redis, &message)
        .await;
    let outcome_label = match &result {
        Ok(()) => "sent",
        Err(WeChatError::Business(43101)) => "no_quota",
        Err(e) if e.is_retryable() => "retry",
        Err(_) => "failed",
    };
    metrics::counter!("wechat_sends_total", "outcome" => outcome_label).increment(1);
    match result {
        Ok(()) => {
            let txn = ctx.db.begin().await?;
            spend_quota(
                &txn,
                &stored.user_id,
                &template.template_id,
                ctx.clock.now(),
            )
            .await?;
            set_wechat_status(&txn, &stored.id, WECHAT_SENT).await?;
            txn.commit().await?;
            Ok(Outcome::Done)
        }
        // No grant left: WeChat knows better than our count. Stop, do not retry.
        Err(WeChatError::Business(43101)) => {
            subscription_quota::Entity::update_many()
                .col_expr(subscription_quota::Column::Remaining, 0.into())
                .filter(subscription_quota::Column::UserId.eq(&stored.user_id))
                .filter(subscription_quota::Column::TemplateId.eq(&template.template_id))
                .exec(&ctx.db)
                .await?;
            set_wechat_status(&ctx.db, &stored.id, WECHAT_NO_QUOTA).await?;
            Ok(Outcome::Done)
        }
        Err(err) if err.is_retryable() => {
            tracing::info!(error = %err, "WeChat send failed for now; will retry");
            set_wechat_status(&ctx.db, &stored.id, WECHAT_PENDING).await?;
            Ok(Outcome::Retry)
        }
        Err(err) => {
            tracing::warn!(error = %err, "WeChat send refused; not retrying");
            set_wechat_status(&ctx.db, &stored.id, WECHAT_FAILED).await?;
            Ok(Outcome::Done)
        }
    }
}

async fn spend_quota(
    db: &impl ConnectionTrait,
    user_id: &str,
    template_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    subscription_quota::Entity::update_many()
        .col_expr(
            subscription_quota::Column::Remaining,
            Expr::col(subscription_quota::Column::Remaining).sub(1),
        )
        .col_expr(subscription_quota::Column::UpdatedAt, now.into())
        .filter(subscription_quota::Column::UserId.eq(user_id))
        .filter(subscription_quota::Column::TemplateId.eq(template_id))
        .filter(subscription_quota::Column::Remaining.gt(0))
        .exec(db)
        .await
        .map(|_| ())
}

/// Records what `wx.requestSubscribeMessage` returned: each accept is one message we may send;
/// a ban stops that template for the user until they accept again.
pub async fn record_subscriptions(
    db: &impl ConnectionTrait,
    user_id: &str,
    results: &[(String, SubscriptionChoice)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    for (template_id, choice) in results {
        let (add, banned) = match choice {
            SubscriptionChoice::Accept => (1, false),
            SubscriptionChoice::Reject => (0, false),
            SubscriptionChoice::Ban => (0, true),
        };
        let row = subscription_quota::ActiveModel {
            user_id: Set(user_id.to_owned()),
            template_id: Set(template_id.clone()),
            remaining: Set(add),
            banned: Set(banned),
            updated_at: Set(now),
        };
        subscription_quota::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    subscription_quota::Column::UserId,
                    subscription_quota::Column::TemplateId,
                ])
                .value(
                    subscription_quota::Column::Remaining,
                    Expr::col((
                        subscription_quota::Entity,
                        subscription_quota::Column::Remaining,
                    ))
                    .add(add),
                )
                .value(subscription_quota::Column::Banned, banned)
                .value(subscription_quota::Column::UpdatedAt, now)
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionChoice {
    Accept,
    Reject,
    Ban,
}

/// Remaining quota per template of a user.
pub async fn quotas(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<subscription_quota::Model>, DbErr> {
    subscription_quota::Entity::find()
        .filter(subscription_quota::Column::UserId.eq(user_id))
        .all(db)
        .await
}
