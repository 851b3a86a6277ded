//! Request and response types of conversations and messages.
use chrono::{DateTime, Utc};
use entity::{
    conversation::{self, ContextType},
    conversation_member::MemberRole,
    message::{self, MessageStatus},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContextView {
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "wish")]
    pub kind: ContextType,
    pub id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParticipantView {
    pub user_id: String,
    /// Masked (王**) except to staff.
    pub display_name: String,
    #[schema(value_type = String, example = "claimer")]
    pub role: MemberRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Open,
    ReadOnly,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    /// Absent while the message waits for the content check.
    pub seq: Option<i64>,
    pub sender_id: String,
    pub text: String,
    pub client_msg_id: String,
    #[schema(value_type = String, example = "published")]
    pub status: MessageStatus,
    pub created_at: DateTime<Utc>,
}

impl From<message::Model> for MessageView {
    fn from(m: message::Model) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender_id: m.sender_id,
            text: m.text,
            client_msg_id: m.client_msg_id,
            status: m.status,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub community_id: String,
    pub context: ContextView,
    pub participants: Vec<ParticipantView>,
    pub state: ConversationState,
    pub last_seq: i64,
    pub read_seq: i64,
    /// `last_seq − read_seq`: derived, never counted.
    pub unread_count: i64,
    pub last_message: Option<MessageView>,
    pub blocked_by_me: bool,
    pub created_at: DateTime<Utc>,
}

impl ConversationView {
    pub fn state_of(c: &conversation::Model, now: DateTime<Utc>) -> ConversationState {
        if c.read_only_at.is_some_and(|at| at <= now) {
            ConversationState::ReadOnly
        } else {
            ConversationState::Open
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDirect {
    /// The member of the staff member's community to talk to.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub user_id: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// 1–1000 characters.
    #[validate(custom(function = "message_text"))]
    pub text: String,
    /// Chosen by the phone, 1–64 characters: a retried send answers the first message.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub client_msg_id: String,
}

fn message_text(text: &str) -> Result<(), validator::ValidationError> {
    let chars = text.trim().chars().count();
    if (1..=1000).contains(&chars) {
        Ok(())
    } else {
        Err(validator::ValidationError::new("length"))
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Read up to this `seq`; a larger one is taken as `last_seq`.
    #[validate(range(min = 0, code = "range"))]
    pub seq: i64,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// Catching up: the messages after this `seq`, in `seq` order.
    #[validate(range(min = 0, code = "range"))]
    pub after_seq: Option<i64>,
    /// History: the newest messages before this `seq`.
    #[validate(range(min = 1, code = "range"))]
    pub before_seq: Option<i64>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    Harassment,
    Fraud,
    Privacy,
    Other,
}

impl ReportReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Harassment => "harassment",
            Self::Fraud => "fraud",
            Self::Privacy => "privacy",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    pub reason: ReportReason,
    #[validate(length(max = 500, code = "length"))]
    pub note: Option<String>,
    /// The messages the report is about (at most 50); a copy is kept with it.
    #[validate(length(max = 50, code = "too_many"))]
    pub message_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Open,
    Resolved,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    NoAction,
    Warned,
    BlockedSender,
    Other,
}

impl ReportOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAction => "no_action",
            Self::Warned => "warned",
            Self::BlockedSender => "blocked_sender",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveReport {
    pub outcome: ReportOutcome,
    /// 1–500 characters.
    #[validate(length(min = 1, max = 500, code = "length"))]
    pub note: String,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    pub status: Option<ReportStatus>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub id: String,
    pub conversation_id: String,
    pub reporter_id: String,
    pub reason: String,
    pub note: Option<String>,
    pub status: String,
    pub outcome: Option<String>,
    pub resolve_note: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<entity::conversation_report::Model> for ReportView {
    fn from(r: entity::conversation_report::Model) -> Self {
        Self {
            id: r.id,
            conversation_id: r.conversation_id,
            reporter_id: r.reporter_id,
            reason: r.reason,
            note: r.note,
            status: r.status,
            outcome: r.outcome,
            resolve_note: r.resolve_note,
            resolved_by: r.resolved_by,
            resolved_at: r.resolved_at,
            created_at: r.created_at,
        }
    }
}

/// What staff read for a report: the copy kept with it and the conversation as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportedMessages {
    pub report: ReportView,
    /// The messages the reporter named, as they were when reported.
    pub reported: Vec<MessageView>,
    /// The conversation's published messages, oldest first (the latest 200).
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogEntry {
    pub id: String,
    pub conversation_id: String,
    pub report_id: String,
    pub reader_id: String,
    pub at: DateTime<Utc>,
}

impl From<entity::conversation_access::Model> for AccessLogEntry {
    fn from(a: entity::conversation_access::Model) -> Self {
        Self {
            id: a.id,
            conversation_id: a.conversation_id,
            report_id: a.report_id,
            reader_id: a.reader_id,
            at: a.at,
        }
    }
}

/// A report's answer on creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCreated {
    pub id: String,
    pub status: ReportStatus,
}
