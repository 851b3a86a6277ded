//! Reading conversations: the caller's list, one conversation, its messages; direct
//! conversations opened by staff; read markers and blocks.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    conversation::{self, ContextType},
    conversation_member::{self, MemberRole},
    message::{self, MessageStatus},
    user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use super::{
    context,
    dto::{
        ContextView, ConversationView, MarkRead, MessageQuery, MessageView, OpenDirect,
        ParticipantView,
    },
};
use crate::{
    auth::CurrentUser,
    community::service as community,
    db::write_txn,
    error::AppError,
    http::{Cursor, Page, PageParams, after_pair, cursor_time, mask},
    problems,
};

/// A conversation the caller is in now (404 otherwise: nobody learns it exists), with their
/// membership.
pub async fn membership(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<(conversation::Model, conversation_member::Model), AppError> {
    let member = conversation_member::Entity::find_by_id((id.to_owned(), actor.id().to_owned()))
        .one(db)
        .await?
        .filter(|m| m.left_at.is_none())
        .ok_or(AppError::NotFound)?;
    let found = conversation::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((found, member))
}

/// Who is looking at a conversation: staff of its community see names in full.
pub struct Viewer {
    pub staff: bool,
}

impl Viewer {
    pub fn of(actor: &CurrentUser, community_id: &str) -> Self {
        Self {
            staff: actor.is_staff_of(community_id),
        }
    }

    /// The same for a user outside a request (a job pushing frames).
    pub async fn load(
        db: &impl ConnectionTrait,
        user_id: &str,
        community_id: &str,
    ) -> Result<Self, AppError> {
        let found = user::Entity::find_by_id(user_id.to_owned()).one(db).await?;
        let in_community = found
            .as_ref()
            .is_some_and(|u| u.community_id.as_deref() == Some(community_id));
        let admin = found.is_some_and(|u| u.is_admin);
        let staff = in_community
            && entity::role_grant::Entity::find()
                .filter(entity::role_grant::Column::UserId.eq(user_id))
                .filter(entity::role_grant::Column::CommunityId.eq(community_id))
                .filter(entity::role_grant::Column::Role.eq(crate::auth::Role::Staff.as_str()))
                .one(db)
                .await?
                .is_some();
        Ok(Self {
            staff: staff || admin,
        })
    }
}

/// The conversation as `viewer` sees it.
pub async fn view_for(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    found: conversation::Model,
    mine: &conversation_member::Model,
    now: DateTime<Utc>,
) -> Result<ConversationView, AppError> {
    let members = conversation_member::Entity::find()
        .filter(conversation_member::Column::ConversationId.eq(&found.id))
        .filter(conversation_member::Column::LeftAt.is_null())
        .order_by_asc(conversation_member::Column::JoinedAt)
        .all(db)
        .await?;
    let names = nicknames(db, members.iter().map(|m| m.user_id.clone()).collect()).await?;
    let full_names = viewer.staff;
    let participants = members
        .iter()
        .map(|m| {
            let nickname = names.get(&m.user_id).map(String::as_str).unwrap_or("");
            ParticipantView {
                user_id: m.user_id.clone(),
                display_name: if full_names || m.role == MemberRole::Staff {
                    nickname.to_owned()
                } else {
                    mask::name(nickname)
                },
                role: m.role,
            }
        })
        .collect();
    let last_message = last_message(db, &found).await?;
    Ok(ConversationView {
        state: ConversationView::state_of(&found, now),
        context: ContextView {
            kind: found.context_type,
            id: found.context_id.clone(),
        },
        unread_count: (found.last_seq - mine.read_seq).max(0),
        read_seq: mine.read_seq,
        last_seq: found.last_seq,
        blocked_by_me: mine.blocked_at.is_some(),
        participants,
        last_message,
        id: found.id,
        community_id: found.community_id,
        created_at: found.created_at,
    })
}

async fn nicknames(
    db: &impl ConnectionTrait,
    ids: Vec<String>,
) -> Result<HashMap<String, String>, AppError> {
    let rows: Vec<(String, String)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Nickname)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

async fn last_message(
    db: &impl ConnectionTrait,
    found: &conversation::Model,
) -> Result<Option<MessageView>, AppError> {
    if found.last_seq == 0 {
        return Ok(None);
    }
    Ok(message::Entity::find()
        .filter(message::Column::ConversationId.eq(&found.id))
        .filter(message::Column::Seq.eq(found.last_seq))
        .one(db)
        .await?
        .map(MessageView::from))
}

/// The caller's conversations, the most recently active first.
pub async fn list(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    page: &PageParams,
    now: DateTime<Utc>,
) -> Result<Page<ConversationView>, AppError> {
    let limit = page.limit();
    let mine = conversation_member::Entity::find()
        .select_only()
        .column(conversation_member::Column::ConversationId)
        .filter(conversation_member::Column::UserId.eq(actor.id()))
        .filter(conversation_member::Column::LeftAt.is_null());
    let mut select = conversation::Entity::find()
        .filter(conversation::Column::Id.in_subquery(sea_orm::QueryTrait::into_query(mine)))
        .order_by_desc(conversation::Column::LastActivityAt)
        .order_by_desc(conversation::Column::Id);
    if let Some(cursor) = page.after()? {
        let [at, id] = cursor.parts()?;
        let at: DateTime<Utc> = Cursor::parse(at)?;
        select = select.filter(after_pair(
            conversation::Column::LastActivityAt,
            at,
            conversation::Column::Id,
            id.to_owned(),
            true,
        ));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    let page = Page::from_rows(
        rows,
        limit,
        |c| Cursor::of(&[&cursor_time(c.last_activity_at), &c.id]).0,
        |c| c,
    );
    let mut items = Vec::with_capacity(page.items.len());
    for found in page.items {
        let (found, member) = membership(db, actor, &found.id).await?;
        let viewer = Viewer::of(actor, &found.community_id);
        items.push(view_for(db, &viewer, found, &member, now).await?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

pub async fn get(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ConversationView, AppError> {
    let (found, member) = membership(db, actor, id).await?;
    let viewer = Viewer::of(actor, &found.community_id);
    view_for(db, &viewer, found, &member, now).await
}

/// Staff open (or find) the direct conversation with a member of their community; true when
/// it is new.
pub async fn open_direct(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    input: OpenDirect,
    now: DateTime<Utc>,
) -> Result<(bool, ConversationView), AppError> {
    let community_id = actor
        .community_id()
        .ok_or(AppError::Forbidden("only community staff may do this"))?
        .to_owned();
    actor.require_staff_of(&community_id)?;
    if input.user_id == actor.id() {
        return Err(AppError::field("user_id", "is_yourself"));
    }
    community::member_of(db, &community_id, &input.user_id)
        .await
        .map_err(|_| AppError::field("user_id", "not_a_member"))?;
    let key = context::context_key(
        ContextType::Direct,
        &format!("{}:{}", actor.id(), input.user_id),
    );
    let txn = write_txn(db).await?;
    let existed = conversation::Entity::find()
        .filter(conversation::Column::ContextKey.eq(&key))
        .one(&txn)
        .await?
        .is_some();
    let people = [
        (actor.id(), MemberRole::Staff),
        (input.user_id.as_str(), MemberRole::Member),
    ];
    let found = context::open(
        &txn,
        &community_id,
        (ContextType::Direct, &input.user_id, key),
        &people,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok((!existed, get(db, actor, &found.id, now).await?))
}

/// Messages of a conversation: with `after_seq` those after it in `seq` order (catching up);
/// otherwise the newest first, before `before_seq` when given (history). The caller's own
/// pending and rejected messages come with the first page, for them alone.
pub async fn messages(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
    query: &MessageQuery,
) -> Result<Page<MessageView>, AppError> {
    let (found, _) = membership(db, actor, id).await?;
    let limit = query.limit.unwrap_or(20);
    let cursor = query
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()?
        .map(|Cursor(c)| c.parse::<i64>())
        .transpose()
        .map_err(|_| AppError::BadRequest("the cursor is not valid".into()))?;
    let published = message::Entity::find()
        .filter(message::Column::ConversationId.eq(&found.id))
        .filter(message::Column::Status.eq(MessageStatus::Published));
    let select = match query.after_seq {
        Some(after_seq) => published
            .filter(message::Column::Seq.gt(cursor.unwrap_or(after_seq).max(after_seq)))
            .order_by_asc(message::Column::Seq),
        None => {
            let before = [cursor, query.before_seq].into_iter().flatten().min();
            let newest = published.order_by_desc(message::Column::Seq);
            match before {
                Some(before) => newest.filter(message::Column::Seq.lt(before)),
                None => newest,
            }
        }
    };
    let rows = select.limit(limit + 1).all(db).await?;
    let mut page = Page::from_rows(
        rows,
        limit,
        |m| m.seq.unwrap_or(0).to_string(),
        MessageView::from,
    );
    if cursor.is_none() && query.before_seq.is_none() {
        let unpublished = message::Entity::find()
            .filter(message::Column::ConversationId.eq(&found.id))
            .filter(message::Column::SenderId.eq(actor.id()))
            .filter(message::Column::Status.ne(MessageStatus::Published))
            .order_by_asc(message::Column::Id)
            .limit(100)
            .all(db)
            .await?
            .into_iter()
            .map(MessageView::from);
        if query.after_seq.is_some() {
            page.items.extend(unpublished);
        } else {
            let mut first: Vec<MessageView> = unpublished.rev().collect();
            first.append(&mut page.items);
            page.items = first;
        }
    }
    Ok(page)
}

/// Moves the caller's read marker forward (never back, never past `last_seq`); the new marker,
/// and whether it moved.
pub async fn mark_read(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: MarkRead,
) -> Result<(conversation::Model, i64, bool), AppError> {
    let (found, member) = membership(db, actor, id).await?;
    let target = input.seq.min(found.last_seq);
    let moved = conversation_member::Entity::update_many()
        .col_expr(conversation_member::Column::ReadSeq, Expr::value(target))
        .filter(conversation_member::Column::ConversationId.eq(id))
        .filter(conversation_member::Column::UserId.eq(actor.id()))
        .filter(conversation_member::Column::ReadSeq.lt(target))
        .exec(db)
        .await?
        .rows_affected;
    Ok((found, target.max(member.read_seq), moved > 0))
}

/// Blocks (or unblocks) the conversation for the caller: the others' sends are refused.
/// Conversations with staff cannot be blocked; blocking a delivery conversation puts an item in
/// the staff's inbox, since the meal may need another volunteer.
pub async fn set_block(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    blocked: bool,
    now: DateTime<Utc>,
) -> Result<conversation::Model, AppError> {
    let (found, _) = membership(db, actor, id).await?;
    if blocked {
        let with_staff = conversation_member::Entity::find()
            .filter(conversation_member::Column::ConversationId.eq(id))
            .filter(conversation_member::Column::Role.eq(MemberRole::Staff))
            .one(db)
            .await?
            .is_some();
        if with_staff {
            return Err(AppError::conflict(
                "cannot_block",
                "a conversation with community staff cannot be blocked",
            ));
        }
    }
    let txn = write_txn(db).await?;
    conversation_member::Entity::update_many()
        .col_expr(
            conversation_member::Column::BlockedAt,
            Expr::value(blocked.then_some(now)),
        )
        .filter(conversation_member::Column::ConversationId.eq(id))
        .filter(conversation_member::Column::UserId.eq(actor.id()))
        .exec(&txn)
        .await?;
    if blocked && found.context_type == ContextType::Delivery {
        let cause = problems::Cause {
            community_id: &found.community_id,
            kind: "blocked_conversation",
            ref_type: "conversation",
            ref_id: &found.id,
            summary: "送餐会话被一方屏蔽，可能需要换志愿者".to_owned(),
            urgent: false,
        };
        problems::raise(&txn, cause, now).await?;
    }
    txn.commit().await?;
    Ok(found)
}
