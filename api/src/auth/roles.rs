//! Roles. Every user is a resident; the other roles are granted per community, except admin,
//! which spans the installation.
use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    Volunteer,
    Partner,
    GridLeader,
    Staff,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Volunteer => "volunteer",
            Self::Partner => "partner",
            Self::GridLeader => "grid_leader",
            Self::Staff => "staff",
            Self::Admin => "admin",
        }
    }

    /// Roles stored as grants; resident is implied and admin is a flag on the user.
    pub fn is_grantable(self) -> bool {
        matches!(
            self,
            Self::Volunteer | Self::Partner | Self::GridLeader | Self::Staff
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "resident" => Self::Resident,
            "volunteer" => Self::Volunteer,
            "partner" => Self::Partner,
            "grid_leader" => Self::GridLeader,
            "staff" => Self::Staff,
            "admin" => Self::Admin,
            _ => return Err(()),
        })
    }
}
