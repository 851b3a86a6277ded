//! Request and response bodies of communities, the grid, roles, care flags and members.
use chrono::{DateTime, Utc};
use entity::{community, grid_node};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::settings::CommunitySettings;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommunity {
    #[validate(length(min = 1, max = 50, code = "length"))]
    pub name: String,
    /// An IANA time zone; default `Asia/Shanghai`.
    #[validate(custom(function = "valid_timezone"))]
    pub timezone: Option<String>,
}

fn valid_timezone(tz: &str) -> Result<(), validator::ValidationError> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| validator::ValidationError::new("unknown_timezone"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub settings: CommunitySettings,
    pub created_at: DateTime<Utc>,
}

impl From<community::Model> for CommunityView {
    fn from(c: community::Model) -> Self {
        Self {
            settings: CommunitySettings::from_json(&c.settings),
            id: c.id,
            name: c.name,
            timezone: c.timezone,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    Estate,
    Building,
    Unit,
}

impl GridKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Estate => "estate",
            Self::Building => "building",
            Self::Unit => "unit",
        }
    }

    /// The kind a node of this kind must hang under; an estate hangs under the community.
    pub fn parent_kind(self) -> Option<Self> {
        match self {
            Self::Estate => None,
            Self::Building => Some(Self::Estate),
            Self::Unit => Some(Self::Building),
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGridNode {
    pub parent_id: Option<String>,
    pub kind: GridKind,
    #[validate(length(min = 1, max = 30, code = "length"))]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridNodeView {
    pub id: String,
    pub community_id: String,
    pub parent_id: Option<String>,
    pub kind: String,
    pub name: String,
}

impl From<grid_node::Model> for GridNodeView {
    fn from(n: grid_node::Model) -> Self {
        Self {
            id: n.id,
            community_id: n.community_id,
            parent_id: n.parent_id,
            kind: n.kind,
            name: n.name,
        }
    }
}

/// A node of the grid tree with the nodes under it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GridTree {
    pub id: String,
    pub kind: String,
    pub name: String,
    #[schema(no_recursion)]
    pub children: Vec<GridTree>,
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// The node a `grid_leader` leads; required for that role.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub grid_node_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarePatch {
    pub lives_alone: Option<bool>,
    pub empty_nest: Option<bool>,
    pub hardship: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Only members holding this role.
    pub role: Option<crate::auth::Role>,
    /// Part of a nickname, or a whole phone number.
    #[validate(length(min = 1, max = 50, code = "length"))]
    pub q: Option<String>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}
