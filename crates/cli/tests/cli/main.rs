//! The `minyi` binary as an operator uses it: demo, units list, serve, and the clear
//! one-line errors for bad input; `stats` and `text` cover those subcommands.

mod assess;
mod briefing;
mod durability;
mod import;
mod import_opinions;
mod import_records;
mod security;
mod stats;
mod survey;
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
    http(addr, "GET", path, "", "")
}

/// One HTTP/1.1 exchange over a real socket: status and the whole response text.
fn http(addr: &str, method: &str, path: &str, cookie: &str, form: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        ));
    }
    write!(s, "{head}\r\n{form}").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, resp)
}

/// The value of a Set-Cookie header for `name` in a raw response.
fn set_cookie(resp: &str, name: &str) -> Option<String> {
    resp.lines().find_map(|l| {
        let v = l
            .strip_prefix("set-cookie: ")
            .or_else(|| l.strip_prefix("Set-Cookie: "))?;
        let kv = v.split(';').next()?;
        kv.strip_prefix(&format!("{name}=")).map(str::to_owned)
    })
}

/// What a probe of a running server saw.
struct Probe {
    /// Everything `serve` printed before its address.
    printed: String,
    health: u16,
    ready: u16,
    /// `/` signed out: where it sends you.
    signed_out_home: (u16, String),
    /// `/` after signing in with the first demo account printed, if any.
    signed_in_home: Option<(u16, String)>,
}

fn serve_and_probe(args: &[&str]) -> Probe {
    let mut server = Server(
        command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn minyi serve"),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches('/').to_owned();
        }
        printed.push_str(&line);
        printed.push('\n');
    };
    let (health, _) = http_get(&addr, "/healthz");
    let (ready, _) = http_get(&addr, "/readyz");
    let signed_out_home = http_get(&addr, "/");
    // "  city_analyst  demo_city  PASSWORD  unit (CODE)"
    let account = printed.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&"city_analyst")).then(|| (f[1].to_owned(), f[2].to_owned()))
    });
    let signed_in_home = account.map(|(user, password)| {
        let (_, login) = http_get(&addr, "/login");
        let form_cookie =
            set_cookie(&login, "minyi_form").expect("login page sets the form cookie");
        let i = login.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        let csrf = &login[i..i + login[i..].find('"').unwrap()];
        let (status, resp) = http(
            &addr,
            "POST",
            "/login",
            &format!("minyi_form={form_cookie}"),
            &format!("csrf={csrf}&username={user}&password={password}"),
        );
        assert_eq!(status, 303, "{resp}");
        let session = set_cookie(&resp, "minyi_session").expect("session cookie");
        let cookie = format!("minyi_session={session}");
        // Home sends each account to its own unit's dashboard.
        let (status, resp) = http(&addr, "GET", "/", &cookie, "");
        assert_eq!(status, 303, "{resp}");
        let location = resp
            .lines()
            .find_map(|l| {
                l.strip_prefix("location: ")
                    .or_else(|| l.strip_prefix("Location: "))
            })
            .expect("a redirect has a location")
            .trim()
            .to_owned();
        let (status, body) = http(&addr, "GET", &location, &cookie, "");
        (
            status,
            body.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned(),
        )
    });
    drop(server);
    Probe {
        printed,
        health,
        ready,
        signed_out_home,
        signed_in_home,
    }
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

    // The default assessment scheme ranks the demo's 72 stations, and the stored run
    // reruns to the same bytes.
    let out = minyi(&[
        "assess",
        "run",
        "--period",
        "2026",
        "--format",
        "json",
        "--data-dir",
        d,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let v: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(v["ranked"], 72);
    assert_eq!(v["scheme"]["id"], "baoshan_default");
    let units = v["units"].as_array().unwrap();
    assert_eq!(units.len(), 72);
    assert!(units.iter().all(|u| u["rank_interval"].is_array()));
    let again = minyi(&["assess", "rerun", "1", "--format", "json", "--data-dir", d]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout(&again), printed);

    // A second demo is refused, and says why.
    let out = minyi(&["demo", "--data-dir", d]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already has units"),
        "{}",
        stderr(&out)
    );

    // serve --demo on a filled store starts at once, prints the first administrator's and
    // one demo account per role's passwords, sends signed-out visitors to sign in, and
    // shows the live tree to a demo account signed in over real HTTP.
    let p = serve_and_probe(&[
        "serve",
        "--demo",
        "--data-dir",
        d,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!((p.health, p.ready), (200, 200));
    assert!(p.printed.contains("username admin"), "{}", p.printed);
    for role in [
        "admin",
        "city_analyst",
        "county_analyst",
        "station_staff",
        "department_liaison",
        "survey_agency",
        "leader",
    ] {
        assert!(
            p.printed.lines().any(|l| l.trim_start().starts_with(role)),
            "no demo account for {role}:\n{}",
            p.printed
        );
    }
    assert_eq!(p.signed_out_home.0, 303);
    assert!(p.signed_out_home.1.contains("/login?next=/"));
    let (status, body) = p.signed_in_home.expect("a demo account was printed");
    assert_eq!(status, 200);
    assert!(
        body.contains("保山市公安局") && body.contains("演示数据"),
        "{body}"
    );

    // A second start prints no passwords: they were shown once.
    let p = serve_and_probe(&[
        "serve",
        "--demo",
        "--data-dir",
        d,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!p.printed.contains("username admin"), "{}", p.printed);
    assert!(p.printed.contains("exist already"), "{}", p.printed);
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
