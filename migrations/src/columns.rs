//! Column helpers shared by the migrations, so every table spells types the same way.

use sea_orm_migration::prelude::*;

/// A non-null UTC timestamp (`timestamptz` on Postgres, text on SQLite).
pub(crate) fn ts<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

/// A nullable UTC timestamp.
pub(crate) fn ts_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .take()
}

/// A non-null JSON document (`jsonb` on Postgres, text on SQLite).
pub(crate) fn json<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().take()
}

/// A non-null text column.
pub(crate) fn text<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).text().not_null().take()
}

/// A nullable text column.
pub(crate) fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).text().null().take()
}

/// A text primary key (uuid strings, names, hashes).
pub(crate) fn text_pk<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).text().not_null().primary_key().take()
}

/// A non-null 32-bit integer with a default.
pub(crate) fn int<T: IntoIden>(name: T, default: i32) -> ColumnDef {
    ColumnDef::new(name)
        .integer()
        .not_null()
        .default(default)
        .take()
}

/// A non-null 64-bit integer.
pub(crate) fn bigint<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().take()
}

/// A non-null boolean with a default.
pub(crate) fn boolean<T: IntoIden>(name: T, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .take()
}

/// A plain (non-unique) index, created if missing.
pub(crate) fn index<T: IntoIden + 'static>(
    name: &str,
    table: T,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.if_not_exists().name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt.take()
}
