//! The store conformance suite: every story runs on SQLite, and on PostgreSQL whenever
//! `MINYI_TEST_DATABASE_URL` is set (always in CI), each in a fresh database.

/// Generates `sqlite::story` and `postgres::story` tests for each story of module `m`
/// (`conformance!(m: a, b)`): each in a fresh database of its own, dropped afterwards.
macro_rules! conformance {
    ($m:ident: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = minyi_store::testing::TestDb::sqlite();
                    let store = minyi_store::Store::open(&db.url).await.expect("open sqlite");
                    crate::$m::$name(&store, &db).await;
                    store.close().await;
                    db.drop_db().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = minyi_store::testing::TestDb::postgres().await else { return };
                    let store = minyi_store::Store::open(&db.url).await.expect("open postgres");
                    crate::$m::$name(&store, &db).await;
                    store.close().await;
                    db.drop_db().await;
                }
            )*
        }
    };
}

mod analysis;
mod assess;
mod briefings;
mod callbacks;
mod cards;
mod dashboard;
mod geometry;
mod import;
mod kiosk;
mod merges;
mod outbox;
mod records;
mod security;
mod stories;
mod surveys;

use minyi_store::Store;
use minyi_store::testing::TestDb;

conformance!(
    stories:
    migrations_are_applied_once_and_marked,
    reopening_keeps_data,
    foreign_database_is_refused,
    newer_schema_is_refused,
    unit_and_area_trees,
    tree_errors_change_nothing,
    officers_by_unit,
    opinion_intake_is_idempotent,
    tracking_code_collision_is_reported,
    opinion_text_round_trips_exactly,
    lifecycle_writes_state_and_event_together,
    refused_transition_changes_nothing,
    ratings_are_counted_once,
    records_idempotent_on_external_id,
    impossible_case_is_rejected_whole,
    counts_and_unit_activity,
    bulk_insert_spans_many_chunks,
    duplicate_codes_in_one_batch,
    concurrent_transitions_never_half_apply,
);

/// Both dialects' migrations must produce the same tables and columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite();
    let a = Store::open(&lite.url).await.unwrap();
    let b = Store::open(&pg.url).await.unwrap();
    let sa = minyi_store::schema_columns(&a).await.unwrap();
    let sb = minyi_store::schema_columns(&b).await.unwrap();
    assert!(sa.len() > 50, "schema looks empty: {sa:?}");
    assert_eq!(sa, sb);
    a.close().await;
    b.close().await;
    lite.drop_db().await;
    pg.drop_db().await;
}

/// A file that is not SQLite is refused with a message naming it, and left untouched.
#[tokio::test]
async fn non_sqlite_file_is_refused_untouched() {
    let db = TestDb::sqlite();
    let path = db.dir().unwrap().join("minyi.db");
    std::fs::write(&path, b"these are someone's notes, not a database").unwrap();
    let err = Store::open(&db.url).await.unwrap_err().to_string();
    assert!(
        err.contains("not a SQLite database") && err.contains("minyi.db"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"these are someone's notes, not a database"
    );
    db.drop_db().await;
}

/// A file with a SQLite header but damaged pages: an error that names the file.
#[tokio::test]
async fn damaged_sqlite_file_is_named() {
    let db = TestDb::sqlite();
    let path = db.dir().unwrap().join("minyi.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(std::iter::repeat_n(0xA5u8, 8192));
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&db.url).await.unwrap_err().to_string();
    assert!(err.contains("minyi.db"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap()[..16], bytes[..16]);
    db.drop_db().await;
}

/// A missing directory is an error, not a silently created tree.
#[tokio::test]
async fn missing_directory_is_an_error() {
    let db = TestDb::sqlite();
    let url = format!(
        "sqlite://{}/no/such/dir/minyi.db",
        db.dir().unwrap().display()
    );
    let err = Store::open(&url).await.unwrap_err().to_string();
    assert!(
        err.contains("cannot create") && err.contains("no/such/dir"),
        "{err}"
    );
    assert!(!db.dir().unwrap().join("no").exists());
    db.drop_db().await;
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error() {
    let err = Store::open("postgres://nobody@127.0.0.1:1/none")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("127.0.0.1:1") && err.contains("PostgreSQL is running"),
        "{err}"
    );
}
