//! An acknowledged opinion survives the server being killed: `serve` is SIGKILLed while
//! several clients post to `/api/v1/opinions`, and every tracking code that came back
//! with a 201 must be in the store when it is opened again.
//!
//! SQLite only: with PostgreSQL the durability of a committed transaction is the
//! database server's, not minyi's. A process kill is what this can show; power loss
//! (the OS page cache) is out of its reach.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minyi_core::Code;
use minyi_core::opinion::TrackingCode;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_store::Store;

use super::{Server, command, scratch, stderr, stdout};

const CLIENTS: usize = 4;
/// Acknowledged requests to wait for before the kill.
const ACKED_BEFORE_KILL: usize = 300;
/// Bounds each client's loop by count, so a server that never dies cannot spin it forever.
const MAX_REQUESTS_PER_CLIENT: usize = 20_000;
/// Fails the test loudly rather than hanging when the server stops answering (a slow
/// debug build on a busy machine needs a few seconds; this is far beyond that).
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);
const AREA: &str = "dur-county";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

fn unit(code: &str, kind: UnitKind, parent: Option<&str>) -> NewUnit {
    NewUnit {
        code: Code::parse(code).unwrap(),
        kind,
        name: format!("测试单位{code}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: None,
        department: None,
        synthetic: true,
    }
}

/// The smallest store a keyed intake accepts: a city, a county, a station, and an area
/// the station answers for.
fn small_store(database_url: &str) {
    block_on(async {
        let store = Store::open(database_url).await.unwrap();
        store
            .insert_units(&[
                unit("dur-city", UnitKind::CityBureau, None),
                unit("dur-c1", UnitKind::CountyBureau, Some("dur-city")),
                unit("dur-s1", UnitKind::Station, Some("dur-c1")),
            ])
            .await
            .unwrap();
        store
            .insert_areas(&[NewArea {
                code: Code::parse(AREA).unwrap(),
                kind: AreaKind::County,
                name: "测试县".into(),
                parent: None,
                station: Some(Code::parse("dur-s1").unwrap()),
                population: 1000,
                centre: None,
                synthetic: true,
            }])
            .await
            .unwrap();
        store.close().await;
    });
}

/// One POST over its own connection. The tracking code when the answer was a complete
/// 201: what the client was told is what counts, even if the server died right after.
fn post_opinion(addr: &str, key: &str, n: usize) -> Option<String> {
    let body = serde_json::json!({"text": format!("耐久性测试意见 {n}"), "area": AREA}).to_string();
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let req = format!(
        "POST /api/v1/opinions HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = Vec::new();
    // A kill mid-answer ends the read with an error; whatever did arrive is still judged.
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp);
    let status: u16 = resp.split_whitespace().nth(1)?.parse().ok()?;
    if status != 201 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(resp.split("\r\n\r\n").nth(1)?).ok()?;
    json["tracking_code"].as_str().map(str::to_owned)
}

#[test]
fn every_acknowledged_opinion_survives_sigkill() {
    let dir = scratch("durability");
    std::fs::create_dir_all(&dir).unwrap();
    let database_url = format!("sqlite://{}", dir.join("minyi.db").display());
    small_store(&database_url);
    let data_dir = dir.to_str().unwrap();

    let out = command()
        .args([
            "apikey",
            "create",
            "--unit",
            "dur-city",
            "--purpose",
            "open311",
            "--data-dir",
            data_dir,
        ])
        .output()
        .expect("run minyi apikey create");
    assert!(out.status.success(), "apikey create: {}", stderr(&out));
    let key = stdout(&out)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(!key.is_empty(), "no key printed: {}", stdout(&out));

    let mut server = Server(
        command()
            .args(["serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0"])
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
    // Whatever serve prints later must not fill the pipe and stall it.
    std::thread::spawn(move || for _ in lines {});

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (acked, sent, stop) = (acked.clone(), sent.clone(), stop.clone());
            let (addr, key) = (addr.clone(), key.clone());
            std::thread::spawn(move || {
                for i in 0..MAX_REQUESTS_PER_CLIENT {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                    if let Some(code) = post_opinion(&addr, &key, c * MAX_REQUESTS_PER_CLIENT + i) {
                        acked.lock().unwrap().push(code);
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    while acked.lock().unwrap().len() < ACKED_BEFORE_KILL {
        if started.elapsed() > GIVE_UP_AFTER {
            stop.store(true, Ordering::SeqCst);
            panic!(
                "only {} of {} requests were acknowledged before giving up",
                acked.lock().unwrap().len(),
                sent.load(Ordering::SeqCst)
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // `Child::kill` is SIGKILL on Unix: no shutdown hook, no flush, no checkpoint.
    server.0.kill().expect("SIGKILL the server");
    server.0.wait().expect("reap the server");
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("a client thread panicked");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ACKED_BEFORE_KILL, "{} acked", acked.len());

    let missing: Vec<String> = block_on(async {
        let store = Store::open(&database_url).await.unwrap();
        let mut missing = Vec::new();
        for code in &acked {
            let tc = TrackingCode::parse(code).expect("the server answered a valid code");
            if store.opinion_by_tracking_code(&tc).await.unwrap().is_none() {
                missing.push(code.clone());
            }
        }
        store.close().await;
        missing
    });
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged opinions were lost after SIGKILL (of {} sent): {missing:?}",
        missing.len(),
        acked.len(),
        sent.load(Ordering::SeqCst)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
