//! Bodies of the wish endpoints.
