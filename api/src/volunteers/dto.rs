//! Bodies of the volunteer endpoints.
