//! The `minyi` binary as an operator uses it: demo, units list, serve, and the clear
//! one-line errors for bad input; `stats` and `text` cover those subcommands.

mod security;
mod stats;
mod text;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use minyi_store::testing::TestDb;

/// The binary with a clean environment: nothing of the developer's shell leaks in.
fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_minyi"));
    c.env_clear();
    for keep in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(v) = std::env::var(keep) {
            c.env(keep, v);
        }
    }
    c
}

fn minyi(args: &[&str]) -> Output {
    command().args(args).output().expect("run minyi")
}

/// Kills the server even when an assertion fails first.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minyi-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The number printed after `label` in the demo's report.
fn count(out: &str, label: &str) -> i64 {
    out.lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.trim_start()[label.len()..].split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` in:\n{out}"))
}

fn check_demo_report(out: &str) {
    assert!(out.contains("SYNTHETIC"), "{out}");
    assert_eq!(count(out, "areas"), 948);
    assert!(count(out, "opinions") >= 50_000);
    assert!(count(out, "window ratings") >= 300_000);
    let incidents = count(out, "110 incidents");
    let line = out
        .lines()
        .find(|l| l.contains("not police matters"))
        .unwrap();
    let non_police: i64 = line
        .split('(')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(non_police * 100 > incidents * 40, "{line}");
    assert!(count(out, "cases") > 0 && count(out, "permit transactions") > 0);
}

/// GET over a plain TCP connection: the server under test is the only thing needed.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, resp)
}

fn serve_and_probe(args: &[&str]) -> (u16, String, u16) {
    let mut server = Server(
        command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn minyi serve"),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    let (health, _) = http_get(&addr, "/healthz");
    let (home, body) = http_get(&addr, "/");
    let (ready, _) = http_get(&addr, "/readyz");
    drop(server);
    (
        health,
        body.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned(),
        home.min(ready),
    )
}

#[test]
fn demo_then_units_then_serve_on_sqlite() {
    let dir = scratch("demo");
    let d = dir.to_str().unwrap();
    let out = minyi(&["demo", "--data-dir", d, "--seed", "2014"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_demo_report(&stdout(&out));

    let out = minyi(&["units", "list", "--data-dir", d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&out);
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines.contains(&"BS\tcity_bureau\t保山市公安局"), "{list}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.split('\t').nth(1) == Some("station"))
            .count(),
        72
    );
    assert!(lines.iter().all(|l| l.split('\t').count() == 3));

    // A second demo is refused, and says why.
    let out = minyi(&["demo", "--data-dir", d]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already has units"),
        "{}",
        stderr(&out)
    );

    // serve --demo on a filled store starts at once and shows the live tree.
    let (health, body, other) = serve_and_probe(&[
        "serve",
        "--demo",
        "--data-dir",
        d,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!((health, other), (200, 200));
    assert!(
        body.contains("保山市公安局") && body.contains("演示数据"),
        "{body}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_on_postgres() {
    let Some(db) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(TestDb::postgres())
    else {
        return;
    };
    let dir = scratch("pg");
    let out = minyi(&[
        "demo",
        "--data-dir",
        dir.to_str().unwrap(),
        "--database-url",
        &db.url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_demo_report(&stdout(&out));
    let out = minyi(&[
        "units",
        "list",
        "--database-url",
        &db.url,
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(stdout(&out).lines().count(), 211);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(db.drop_db());
    let _ = std::fs::remove_dir_all(&dir);
}

fn one_line_error(out: &Output, needles: &[&str]) {
    assert!(!out.status.success());
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let dir = scratch("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();

    one_line_error(
        &minyi(&[
            "units",
            "list",
            "--data-dir",
            d,
            "--database-url",
            "mysql://x/y",
        ]),
        &["unsupported database URL"],
    );
    one_line_error(
        &minyi(&[
            "units",
            "list",
            "--data-dir",
            d,
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ]),
        &["127.0.0.1:1", "PostgreSQL is running"],
    );

    let file = dir.join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    one_line_error(
        &minyi(&["units", "list", "--data-dir", file.to_str().unwrap()]),
        &["not a directory"],
    );

    // Someone else's file where the database should be: refused, untouched.
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(
        foreign.join("minyi.db"),
        b"quarterly report, not a database",
    )
    .unwrap();
    one_line_error(
        &minyi(&["units", "list", "--data-dir", foreign.to_str().unwrap()]),
        &["not a SQLite database", "minyi.db"],
    );
    assert_eq!(
        std::fs::read(foreign.join("minyi.db")).unwrap(),
        b"quarterly report, not a database"
    );

    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("minyi.toml"), "databse_url = \"sqlite://x\"\n").unwrap();
    one_line_error(
        &minyi(&["units", "list", "--data-dir", conf.to_str().unwrap()]),
        &["minyi.toml", "databse_url"],
    );

    one_line_error(
        &minyi(&["serve", "--data-dir", d, "--listen", "not-an-address"]),
        &["--listen", "not-an-address"],
    );

    // Reading from a mistyped data directory creates nothing.
    let typo = dir.join("typo");
    one_line_error(
        &minyi(&["units", "list", "--data-dir", typo.to_str().unwrap()]),
        &["no minyi database"],
    );
    assert!(!typo.exists());

    let cal = dir.join("cal.toml");
    std::fs::write(
        &cal,
        "[2026]\npublished = true\nsource = \"x\"\nmakeup_workdays = [\"2026-01-05\"]\n",
    )
    .unwrap();
    let out = minyi(&["calendar", cal.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cal.toml"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shipped_calendar_checks_out() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/calendar/cn-mainland.toml");
    let out = minyi(&["calendar", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("2026: official"), "{text}");
    assert!(text.contains("2027: not covered"), "{text}");
}
