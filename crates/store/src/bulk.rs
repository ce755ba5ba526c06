//! Multi-row INSERTs in chunks inside one transaction: the bulk path for imports and the
//! demo. One statement per chunk instead of one per row is what makes it fast on both
//! backends.

use sqlx::Arguments;
use sqlx::any::AnyArguments;

use crate::Backend;
use crate::error::{Result, StoreError};

/// Bind parameters per statement, under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 16_000;

/// One row's values, in column order.
pub(crate) type Binder<'a, T> =
    &'a (dyn Fn(&T, &mut AnyArguments) -> std::result::Result<(), sqlx::error::BoxDynError> + Sync);

/// Builds `INSERT INTO table (cols) VALUES ($1,…),(…) <tail>` for `rows` rows.
///
/// SQLite gets anonymous `?` placeholders: the driver resolves each named `$N` by
/// asking SQLite for its name, a linear scan, so thousands of `$N` in one statement
/// cost quadratic time (measured: over a second for a 16,000-parameter chunk).
///
/// On SQLite the verb is `INSERT OR FAIL`: a constraint that fails stops the statement but
/// keeps the rows it already wrote, instead of undoing them. Every caller runs its inserts
/// in a transaction that the error then rolls back whole, so nothing partial is ever
/// committed; in exchange SQLite keeps no statement journal — a copy of every page before
/// the statement first changes it — for a table without foreign keys. For a batch of
/// contacts, whose phone hashes land all over their index, that journal was a twelfth of
/// an import's time and a tenth of its disk writes.
pub(crate) fn insert_sql(
    backend: Backend,
    table: &str,
    cols: &[&str],
    rows: usize,
    tail: &str,
) -> String {
    let mut sql = String::with_capacity(64 + rows * cols.len() * 6);
    sql.push_str(match backend {
        Backend::Sqlite => "INSERT OR FAIL INTO ",
        Backend::Postgres => "INSERT INTO ",
    });
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(&cols.join(", "));
    sql.push_str(") VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            if backend == Backend::Sqlite {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&n.to_string());
            }
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(tail);
    sql
}

pub(crate) fn chunk_rows(cols: usize) -> usize {
    (MAX_PARAMS / cols.max(1)).max(1)
}

pub(crate) fn args_for<T>(rows: &[T], bind: Binder<'_, T>) -> Result<AnyArguments> {
    let mut args = AnyArguments::default();
    for row in rows {
        bind(row, &mut args)
            .map_err(|e| StoreError::Corrupt(format!("cannot bind a value: {e}")))?;
    }
    Ok(args)
}

/// Inserts all rows in one transaction; rows that conflict with a unique key are
/// skipped (`ON CONFLICT DO NOTHING`). Returns how many were inserted.
pub(crate) async fn insert_all<T>(
    store: &crate::Store,
    table: &str,
    cols: &[&str],
    rows: &[T],
    bind: Binder<'_, T>,
) -> Result<u64> {
    let mut tx = store.pool().begin().await?;
    let inserted = insert_in(&mut tx, store.backend(), table, cols, rows, bind).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// The same inside a transaction the caller owns, so several kinds of row can commit together.
pub(crate) async fn insert_in<T>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    table: &str,
    cols: &[&str],
    rows: &[T],
    bind: Binder<'_, T>,
) -> Result<u64> {
    let mut inserted = 0;
    for chunk in rows.chunks(chunk_rows(cols.len())) {
        let sql = insert_sql(backend, table, cols, chunk.len(), "ON CONFLICT DO NOTHING");
        let args = args_for(chunk, bind)?;
        inserted += sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(inserted)
}

/// Reserves `n` fresh ids of `table` for rows the caller's transaction then inserts with
/// these ids, so a batch knows every id before it writes and needs no `RETURNING` (which
/// streams every row back and has to be matched up again). SQLite: the transaction holds
/// the write lock (`BEGIN IMMEDIATE`), so nobody else can take an id above the current
/// largest before it commits. PostgreSQL: the identity column's own sequence hands them
/// out, as it would for rows inserted without an id.
pub(crate) async fn reserve_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    table: &'static str,
    n: usize,
) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    match backend {
        Backend::Sqlite => {
            let top: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM {table}"
            )))
            .fetch_one(&mut **tx)
            .await?;
            let last = top
                .checked_add(n as i64)
                .ok_or_else(|| StoreError::Corrupt(format!("{table}: no ids left above {top}")))?;
            Ok((top + 1..=last).collect())
        }
        Backend::Postgres => {
            let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)"
            )))
            .bind(n as i64)
            .fetch_all(&mut **tx)
            .await?;
            if ids.len() != n {
                return Err(StoreError::Corrupt(format!(
                    "{table}: asked for {n} ids, got {}",
                    ids.len()
                )));
            }
            Ok(ids)
        }
    }
}

/// Adds a value; a helper so binders read as one line a column.
pub(crate) fn add<'q, V>(
    args: &mut AnyArguments,
    v: V,
) -> std::result::Result<(), sqlx::error::BoxDynError>
where
    V: sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + 'q,
{
    args.add(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_numbered_placeholders() {
        assert_eq!(
            super::insert_sql(
                crate::Backend::Postgres,
                "t",
                &["a", "b"],
                2,
                "ON CONFLICT DO NOTHING"
            ),
            "INSERT INTO t (a, b) VALUES ($1,$2),($3,$4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            super::insert_sql(crate::Backend::Sqlite, "t", &["a", "b"], 2, ""),
            "INSERT OR FAIL INTO t (a, b) VALUES (?,?),(?,?) "
        );
    }
}
