//! `minyi user|apikey|audit|retention` as an operator uses them: passwords and keys
//! printed once on the last line and never listed, one clear line for each mistake, and
//! an audit chain that `minyi audit verify` finds edited, deleted or reordered after the
//! database was tampered with behind minyi's back (SQLite, and PostgreSQL when
//! MINYI_TEST_DATABASE_URL is set).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use minyi_core::Code;
use minyi_core::org::{NewUnit, UnitKind};
use minyi_store::Store;
use minyi_store::testing::TestDb;
use sqlx::{AnyConnection, Connection, Row};

use super::{command, one_line_error, scratch, stderr, stdout};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

/// A data directory with a store holding one root unit `bureau`, on SQLite or on a
/// PostgreSQL test database.
struct Site {
    dir: PathBuf,
    database_url: String,
    pg: Option<TestDb>,
}

impl Site {
    fn sqlite(name: &str) -> Site {
        let dir = scratch(&format!("sec-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let database_url = format!("sqlite://{}", dir.join("minyi.db").display());
        let site = Site {
            dir,
            database_url,
            pg: None,
        };
        site.add_root_unit();
        site
    }

    /// None when no PostgreSQL is configured (outside CI).
    fn postgres(name: &str) -> Option<Site> {
        let db = block_on(TestDb::postgres())?;
        let dir = scratch(&format!("sec-pg-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let site = Site {
            dir,
            database_url: db.url.clone(),
            pg: Some(db),
        };
        site.add_root_unit();
        Some(site)
    }

    fn add_root_unit(&self) {
        block_on(async {
            let store = Store::open(&self.database_url).await.unwrap();
            store
                .insert_units(&[NewUnit {
                    code: Code::parse("bureau").unwrap(),
                    kind: UnitKind::CityBureau,
                    name: "测试市公安局".into(),
                    parent: None,
                    window: None,
                    department: None,
                    synthetic: true,
                }])
                .await
                .unwrap();
            store.close().await;
        });
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        all.extend(["--data-dir", self.dir.to_str().unwrap()]);
        if self.pg.is_some() {
            all.extend(["--database-url", &self.database_url]);
        }
        all
    }

    fn minyi(&self, args: &[&str]) -> Output {
        command().args(self.args(args)).output().expect("run minyi")
    }

    fn minyi_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = command()
            .args(self.args(args))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn minyi");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().expect("run minyi")
    }

    /// Runs a command that must succeed and returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.minyi(args);
        assert!(
            out.status.success(),
            "minyi {args:?} failed: {}",
            stderr(&out)
        );
        stdout(&out)
    }

    fn account_must_change(&self, username: &str) -> bool {
        block_on(async {
            let store = Store::open(&self.database_url).await.unwrap();
            let a = store.account_by_username(username).await.unwrap().unwrap();
            store.close().await;
            a.must_change_password
        })
    }

    fn finish(self) {
        if let Some(db) = self.pg {
            block_on(db.drop_db());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or_default()
}

/// The list line of one account, split into its columns.
fn user_row(list: &str, username: &str) -> Vec<String> {
    list.lines()
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols[0] == username)
        .unwrap_or_else(|| panic!("no `{username}` in:\n{list}"))
}

#[test]
fn user_add_list_disable_enable_reset() {
    let site = Site::sqlite("users");
    let out = site.ok(&[
        "user",
        "add",
        "alice",
        "--role",
        "station_staff",
        "--unit",
        "bureau",
        "--name",
        "Alice Li",
    ]);
    let first = last_line(&out).to_owned();
    assert_eq!(first.chars().count(), 16, "{out}");
    assert!(!first.contains(' '), "{out}");
    assert!(site.account_must_change("alice"));

    let list = site.ok(&["user", "list"]);
    assert_eq!(
        user_row(&list, "alice"),
        [
            "alice",
            "station_staff",
            "bureau",
            "Alice Li",
            "active",
            "-"
        ]
    );
    assert!(!list.contains("argon2") && !list.contains(&first), "{list}");

    site.ok(&["user", "disable", "alice"]);
    assert_eq!(
        user_row(&site.ok(&["user", "list"]), "alice")[4],
        "disabled"
    );
    site.ok(&["user", "enable", "ALICE"]);
    assert_eq!(user_row(&site.ok(&["user", "list"]), "alice")[4], "active");

    let out = site.ok(&["user", "reset-password", "alice"]);
    let second = last_line(&out);
    assert_eq!(second.chars().count(), 16, "{out}");
    assert_ne!(second, first);

    // A password the operator chose: checked, never echoed, no forced change.
    one_line_error(
        &site.minyi_with_stdin(
            &[
                "user",
                "add",
                "bob",
                "--role",
                "leader",
                "--unit",
                "bureau",
                "--password-stdin",
            ],
            "short\n",
        ),
        &["too short", "10 characters"],
    );
    let chosen = "correct horse battery";
    let out = site.minyi_with_stdin(
        &[
            "user",
            "add",
            "bob",
            "--role",
            "leader",
            "--unit",
            "bureau",
            "--password-stdin",
        ],
        &format!("{chosen}\nignored second line\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(chosen), "{}", stdout(&out));
    assert!(!site.account_must_change("bob"));
    assert_eq!(user_row(&site.ok(&["user", "list"]), "bob")[3], "bob");

    one_line_error(
        &site.minyi(&[
            "user", "add", "carol", "--role", "sheriff", "--unit", "bureau",
        ]),
        &[
            "sheriff",
            "admin",
            "station_staff",
            "department_liaison",
            "leader",
        ],
    );
    one_line_error(
        &site.minyi(&[
            "user", "add", "carol", "--role", "leader", "--unit", "nowhere",
        ]),
        &["no unit with code `nowhere`"],
    );
    one_line_error(
        &site.minyi(&[
            "user", "add", "alice", "--role", "leader", "--unit", "bureau",
        ]),
        &["username `alice` is taken"],
    );
    one_line_error(
        &site.minyi(&[
            "user", "add", "9lives", "--role", "leader", "--unit", "bureau",
        ]),
        &["username `9lives`", "start with a letter"],
    );
    one_line_error(
        &site.minyi(&["user", "disable", "ghost"]),
        &["account `ghost` not found"],
    );
    one_line_error(
        &site.minyi(&["user", "reset-password", "ghost"]),
        &["account `ghost` not found"],
    );

    // A mistyped data directory is refused, and nothing is created there.
    let typo = site.dir.join("typo");
    one_line_error(
        &super::minyi(&["user", "list", "--data-dir", typo.to_str().unwrap()]),
        &["no minyi database"],
    );
    assert!(!typo.exists());
    site.finish();
}

#[test]
fn apikey_create_list_revoke() {
    let site = Site::sqlite("keys");
    let out = site.ok(&[
        "apikey",
        "create",
        "--unit",
        "bureau",
        "--purpose",
        "kiosk",
        "--label",
        "window 3",
    ]);
    assert!(out.lines().count() > 1, "explanation expected:\n{out}");
    let key = last_line(&out).to_owned();
    assert!(key.starts_with("mk_"), "{out}");
    assert_eq!(key.trim(), key);
    let prefix = &key[3..11];

    let list = site.ok(&["apikey", "list"]);
    let cols: Vec<&str> = list.lines().next().unwrap().split('\t').collect();
    assert_eq!(cols.len(), 8, "{list}");
    assert_eq!(&cols[1..5], [prefix, "kiosk", "bureau", "window 3"]);
    assert_eq!(cols[6], "-");
    assert_eq!(cols[7], "active");
    assert!(
        !list.contains(&key[11..]),
        "the secret part was listed:\n{list}"
    );
    let id = cols[0].to_owned();

    site.ok(&["apikey", "revoke", prefix]);
    let list = site.ok(&["apikey", "list"]);
    assert!(
        list.lines()
            .next()
            .unwrap()
            .split('\t')
            .nth(7)
            .unwrap()
            .starts_with("revoked ")
    );
    one_line_error(
        &site.minyi(&["apikey", "revoke", &id]),
        &["already revoked", prefix],
    );
    one_line_error(
        &site.minyi(&["apikey", "revoke", "zzzzzzzz"]),
        &["API key `zzzzzzzz` not found"],
    );
    one_line_error(
        &site.minyi(&[
            "apikey",
            "create",
            "--unit",
            "bureau",
            "--purpose",
            "mining",
        ]),
        &["mining", "open311", "kiosk", "import", "sms"],
    );
    one_line_error(
        &site.minyi(&["apikey", "create", "--unit", "nowhere", "--purpose", "sms"]),
        &["no unit with code `nowhere`"],
    );
    site.finish();
}

/// Five audited acts: account created, key created, disabled, enabled, password reset.
fn five_entries(site: &Site) {
    site.ok(&[
        "user", "add", "alice", "--role", "leader", "--unit", "bureau",
    ]);
    site.ok(&[
        "apikey",
        "create",
        "--unit",
        "bureau",
        "--purpose",
        "import",
    ]);
    site.ok(&["user", "disable", "alice"]);
    site.ok(&["user", "enable", "alice"]);
    site.ok(&["user", "reset-password", "alice"]);
    assert_eq!(
        site.ok(&["audit", "verify"]).trim(),
        "audit log intact: 5 entries"
    );
}

/// Runs `audit verify`, which must fail with one line containing `needle`.
fn verify_fails(site: &Site, needle: &str) {
    let out = site.minyi(&["audit", "verify"]);
    one_line_error(&out, &["audit log BROKEN", needle]);
}

async fn tamper(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url).await.unwrap()
}

fn set_detail(site: &Site, seq: i64, detail: &str) -> String {
    block_on(async {
        let mut c = tamper(&site.database_url).await;
        let old: String = sqlx::query("SELECT detail FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(&mut c)
            .await
            .unwrap()
            .get("detail");
        let n = sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = $2")
            .bind(detail.to_owned())
            .bind(seq)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1);
        c.close().await.unwrap();
        old
    })
}

fn edit_and_restore(site: &Site) {
    five_entries(site);
    let original = set_detail(site, 2, "purpose=import unit=elsewhere");
    verify_fails(site, "entry 2 was edited");
    set_detail(site, 2, &original);
    assert_eq!(
        site.ok(&["audit", "verify"]).trim(),
        "audit log intact: 5 entries"
    );
}

#[test]
fn audit_verify_finds_an_edit_and_accepts_the_restore() {
    let site = Site::sqlite("audit-edit");
    edit_and_restore(&site);
    let tail = site.ok(&["audit", "tail", "--limit", "2"]);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 2, "{tail}");
    let cols: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(cols.len(), 6, "{tail}");
    assert_eq!(
        (cols[0], cols[2], cols[3], cols[4]),
        ("5", "cli", "password_reset", "account:alice")
    );
    assert!(lines[0].starts_with("4\t"), "{tail}");
    site.finish();
}

#[test]
fn audit_verify_finds_an_edit_on_postgres() {
    let Some(site) = Site::postgres("audit-edit") else {
        return;
    };
    edit_and_restore(&site);
    site.finish();
}

#[test]
fn audit_verify_finds_a_deleted_entry() {
    let site = Site::sqlite("audit-delete");
    five_entries(&site);
    block_on(async {
        let mut c = tamper(&site.database_url).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = 3")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    verify_fails(&site, "entry 3 is missing");
    site.finish();
}

#[test]
fn audit_verify_finds_swapped_entries() {
    let site = Site::sqlite("audit-swap");
    five_entries(&site);
    block_on(async {
        let mut c = tamper(&site.database_url).await;
        let mut rows = Vec::new();
        for seq in [2i64, 3] {
            let r = sqlx::query(
                "SELECT at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq = $1",
            )
            .bind(seq)
            .fetch_one(&mut c)
            .await
            .unwrap();
            let texts: Vec<String> = ["actor", "action", "subject", "detail", "prev_hash", "hash"]
                .iter()
                .map(|k| r.get::<String, _>(*k))
                .collect();
            rows.push((r.get::<i64, _>("at"), texts));
        }
        for (seq, (at, t)) in [(3i64, &rows[0]), (2, &rows[1])] {
            sqlx::query(
                "UPDATE audit_log SET at = $1, actor = $2, action = $3, subject = $4, detail = $5, \
                 prev_hash = $6, hash = $7 WHERE seq = $8",
            )
            .bind(*at)
            .bind(t[0].clone())
            .bind(t[1].clone())
            .bind(t[2].clone())
            .bind(t[3].clone())
            .bind(t[4].clone())
            .bind(t[5].clone())
            .bind(seq)
            .execute(&mut c)
            .await
            .unwrap();
        }
        c.close().await.unwrap();
    });
    verify_fails(&site, "entry 2 is out of order");
    site.finish();
}

#[test]
fn retention_on_a_store_with_nothing_closed() {
    let site = Site::sqlite("retention");
    let out = site.ok(&["retention", "run"]);
    assert!(out.starts_with("anonymised 0 contacts"), "{out}");
    assert!(out.contains("retention 1095 days"), "{out}");
    // The run itself is on record.
    assert_eq!(
        site.ok(&["audit", "verify"]).trim(),
        "audit log intact: 1 entries"
    );
    let tail = site.ok(&["audit", "tail"]);
    assert!(
        tail.contains("\tretention\tcontacts\tanonymised=0"),
        "{tail}"
    );
    site.finish();
}
