//! Small builders the migrations share.
use sea_orm_migration::prelude::*;

/// A (non-unique) index over `cols`; add `.unique()` for a unique one.
pub fn index(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(Alias::new(table));
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt.to_owned()
}
