//! Notices to residents by SMS: queue a message in the durable outbox (phone encrypted
//! with the data key, text rendered from the configured zh-CN template), and send what is
//! due through the configured provider, retrying with back-off until it is sent or dead.
//!
//! Providers: `log` appends one JSON line per message to `DATA_DIR/outbox.log` with the
//! phone masked; `http` POSTs `{"to", "text", "id"}` as JSON to the bureau's gateway
//! (plain http:// — an https gateway is reached through the bureau's gateway proxy, which
//! keeps TLS and its certificates out of this binary).
//!
//! A message body carries only the tracking code and public wording; the phone number is
//! decrypted only to hand it to the provider, and never reaches a log or an error.

use std::io::Write;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Datelike, Duration, Utc};
use minyi_core::PhoneNumber;
use minyi_core::opinion::TrackingCode;
use minyi_store::{Backoff, NewOutbox, OutboxRow, OutboxState};
use minyi_vault::Field;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::SmsProvider;
use crate::privacy::phone_lookup;
use crate::{App, AppError, Result};

/// The log provider's file in the data directory.
pub const OUTBOX_LOG: &str = "outbox.log";
/// How long one gateway request may take, connection included.
pub const GATEWAY_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// Messages claimed per round.
pub const BATCH: i64 = 10;
/// How often the worker looks for due messages.
pub const TICK: StdDuration = StdDuration::from_secs(3);

/// A claim must outlast the sending of its whole batch, or another worker could claim a
/// message this one is still sending.
fn lease() -> Duration {
    Duration::seconds(BATCH * GATEWAY_TIMEOUT.as_secs() as i64 + 60)
}

/// The retry policy: 30 s doubling to at most an hour, `max_attempts` from the config.
pub fn backoff(app: &App) -> Backoff {
    Backoff {
        max_attempts: app.config.sms.max_attempts,
        ..Backoff::default()
    }
}

/// Fills `{code}` and `{due}` in a template.
pub fn render(template: &str, code: &str, due: &str) -> String {
    template.replace("{code}", code).replace("{due}", due)
}

/// A deadline as residents read it: the date in Asia/Shanghai (UTC+8, no daylight saving).
pub fn due_text(due: Option<DateTime<Utc>>) -> String {
    match due {
        None => "规定期限".to_owned(),
        Some(d) => {
            let local = d.naive_utc() + Duration::hours(8);
            format!("{}月{}日", local.month(), local.day())
        }
    }
}

/// Queues one SMS from a template. `dedup_key` makes a retried caller queue nothing new.
pub async fn enqueue(
    app: &App,
    template: &str,
    phone: &PhoneNumber,
    code: &TrackingCode,
    due: Option<DateTime<Utc>>,
    dedup_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let m = message(app, template, phone, code, due, dedup_key)?;
    Ok(app.store.enqueue_outbox(&m, now).await?)
}

/// Builds one SMS from a template without queueing it, for callers that queue it inside
/// their own transaction (intake's group commit).
pub fn message(
    app: &App,
    template: &str,
    phone: &PhoneNumber,
    code: &TrackingCode,
    due: Option<DateTime<Utc>>,
    dedup_key: Option<String>,
) -> Result<NewOutbox> {
    let text = app
        .config
        .sms
        .templates
        .get(template)
        .ok_or_else(|| AppError::Refused(format!("no SMS template `{template}`")))?;
    Ok(NewOutbox {
        kind: "sms".into(),
        recipient_enc: app.key.encrypt(Field::Phone, phone.as_str()),
        recipient_hash: phone_lookup(&app.key, phone),
        template: template.to_owned(),
        body: render(text, code.as_str(), &due_text(due)),
        subject: Some(format!("opinion:{code}")),
        dedup_key,
    })
}

/// The "received" notice with the tracking code and deadline, queued by intake in the
/// same transaction as the opinion. Its dedup key makes it once per opinion.
pub fn received_message(
    app: &App,
    code: &TrackingCode,
    due: Option<DateTime<Utc>>,
    phone: &PhoneNumber,
) -> Result<NewOutbox> {
    message(
        app,
        "received",
        phone,
        code,
        due,
        Some(format!("received:{code}")),
    )
}

/// Tells the resident their opinion was answered and invites a 1/2/3 reply: a reply
/// within seven days of the sending becomes their verdict (see the SMS webhook).
pub async fn enqueue_answered(
    app: &App,
    code: &TrackingCode,
    phone: &PhoneNumber,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    // No dedup key: a reopened matter answered again invites a new verdict.
    enqueue(app, "answered", phone, code, None, None, now).await
}

/// Queues a case-progress notice (回告) already rendered from its `[callbacks.notices]`
/// template: the text names the case's public reference and the milestone, never a
/// person. `dedup_key` (`notice:case:ID:MILESTONE`) makes each milestone go out once.
pub async fn enqueue_notice(
    app: &App,
    milestone: &str,
    phone: &PhoneNumber,
    text: &str,
    subject: &str,
    dedup_key: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let m = NewOutbox {
        kind: "sms".into(),
        recipient_enc: app.key.encrypt(Field::Phone, phone.as_str()),
        recipient_hash: phone_lookup(&app.key, phone),
        template: format!("notice_{milestone}"),
        body: text.to_owned(),
        subject: Some(subject.to_owned()),
        dedup_key: Some(dedup_key.to_owned()),
    };
    Ok(app.store.enqueue_outbox(&m, now).await?)
}

/// What one round of sending did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub sent: usize,
    pub retrying: usize,
    pub dead: usize,
}

/// Claims the messages due at `now` and sends them through the configured provider.
pub async fn process_due(app: &App, now: DateTime<Utc>) -> Result<Round> {
    let due = app.store.claim_outbox(now, lease(), BATCH).await?;
    let policy = backoff(app);
    let mut round = Round {
        claimed: due.len(),
        ..Round::default()
    };
    for m in &due {
        match deliver(app, m, now).await {
            Ok(()) => {
                app.store.mark_outbox_sent(m.id, now).await?;
                round.sent += 1;
                tracing::info!(id = m.id, template = %m.template, "sms sent");
            }
            Err(why) => {
                let st = app
                    .store
                    .mark_outbox_failed(m.id, m.attempts, &why, now, &policy)
                    .await?;
                if st == OutboxState::Dead {
                    round.dead += 1;
                    tracing::error!(id = m.id, attempts = m.attempts, error = %why, "sms given up");
                } else {
                    round.retrying += 1;
                    tracing::warn!(id = m.id, attempts = m.attempts, error = %why, "sms failed; will retry");
                }
            }
        }
    }
    Ok(round)
}

/// The background sender of `minyi serve`: a round every few seconds (more at once while
/// whole batches come back), until `shutdown` turns true or its sender is dropped.
pub async fn run_outbox(app: App, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() || shutdown.has_changed().is_err() {
            break;
        }
        loop {
            match process_due(&app, Utc::now()).await {
                Ok(r) if r.claimed as i64 == BATCH && !*shutdown.borrow() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox round failed; next tick retries");
                    break;
                }
            }
        }
    }
}

/// One attempt. The error says what went wrong with the provider, never whom it was for.
async fn deliver(app: &App, m: &OutboxRow, now: DateTime<Utc>) -> Result<(), String> {
    let phone = app
        .key
        .decrypt(Field::Phone, &m.recipient_enc)
        .map_err(|e| format!("cannot decrypt the recipient: {e}"))?;
    match app.config.sms.provider {
        SmsProvider::Log => {
            let masked = PhoneNumber::parse(&phone)
                .map(|p| p.masked())
                .unwrap_or_else(|_| "****".into());
            let line = serde_json::json!({
                "at": now.to_rfc3339(),
                "id": m.id,
                "kind": m.kind,
                "to": masked,
                "template": m.template,
                "subject": m.subject,
                "text": m.body,
            });
            let path = app.config.data_dir.join(OUTBOX_LOG);
            tokio::task::spawn_blocking(move || {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?;
                // One write per line, so concurrent writers never interleave within a line.
                f.write_all(format!("{line}\n").as_bytes())
            })
            .await
            .map_err(|e| format!("{OUTBOX_LOG}: {e}"))?
            .map_err(|e| format!("{OUTBOX_LOG}: {e}"))
        }
        SmsProvider::Http => {
            let url = app
                .config
                .sms
                .gateway_url
                .as_deref()
                .ok_or("sms_gateway_url is not set")?;
            let body = serde_json::json!({"to": phone, "text": m.body, "id": m.id}).to_string();
            let token = app.config.sms.gateway_token.as_ref().map(|s| s.expose());
            let status = http_post_json(url, token, &body, GATEWAY_TIMEOUT).await?;
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(format!("gateway answered {status}"))
            }
        }
    }
}

/// `http://host[:port][/path]` → (host, port, path).
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .trim()
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!(
            "`{url}`: give host[:port] without user information"
        ));
    }
    let bad_port = |p: &str| format!("`{url}`: `{p}` is not a port");
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (h, tail) = after
            .split_once(']')
            .ok_or_else(|| format!("`{url}`: unclosed [ in the host"))?;
        let port = match tail {
            "" => 80,
            t => t
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| bad_port(t))?,
        };
        (format!("[{h}]"), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad_port(p))?),
            None => (authority.to_owned(), 80),
        }
    };
    Ok((host, port, path.to_owned()))
}

/// A minimal HTTP/1.1 client: one POST of a JSON body, `Connection: close`, answering the
/// response's status code. Everything, connecting included, within `timeout`.
pub async fn http_post_json(
    url: &str,
    bearer: Option<&str>,
    body: &str,
    timeout: StdDuration,
) -> Result<u16, String> {
    let (host, port, path) = parse_http_url(url)?;
    let exchange = async {
        let connect_host = host.trim_start_matches('[').trim_end_matches(']');
        let mut stream = tokio::net::TcpStream::connect((connect_host, port))
            .await
            .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
        let auth = bearer
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: minyi\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n{auth}\
             Connection: close\r\n\r\n",
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| format!("sending to {host}:{port}: {e}"))?;
        stream
            .write_all(body.as_bytes())
            .await
            .map_err(|e| format!("sending to {host}:{port}: {e}"))?;
        // Only the status line matters; read until it is complete.
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 256];
        while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading from {host}:{port}: {e}"))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        parse_status_line(&buf).ok_or_else(|| format!("{host}:{port} did not answer HTTP"))
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| {
        format!(
            "{host}:{port} did not answer within {} s",
            timeout.as_secs()
        )
    })?
}

fn parse_status_line(buf: &[u8]) -> Option<u16> {
    let line = buf.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code: u16 = parts.next()?.parse().ok()?;
    (100..600).contains(&code).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn templates_fill_code_and_due() {
        let due = Utc.with_ymd_and_hms(2026, 3, 4, 17, 0, 0).single();
        // 17:00 UTC is already the next day in Shanghai.
        assert_eq!(due_text(due), "3月5日");
        assert_eq!(due_text(None), "规定期限");
        let s = render(
            crate::config::SMS_TEMPLATE_RECEIVED,
            "7K2M9Q",
            &due_text(due),
        );
        assert_eq!(s, "您的诉求已受理，查询码7K2M9Q，我们将在3月5日前答复。");
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:9000/sms/send?x=1").unwrap(),
            ("127.0.0.1".into(), 9000, "/sms/send?x=1".into())
        );
        assert_eq!(
            parse_http_url("http://gw.local").unwrap(),
            ("gw.local".into(), 80, "/".into())
        );
        assert_eq!(
            parse_http_url("http://[::1]:81/a").unwrap(),
            ("[::1]".into(), 81, "/a".into())
        );
        for bad in [
            "https://gw/x",
            "http://",
            "http://u:p@gw/x",
            "http://gw:port/x",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status_line(b"HTTP/1.0 500 Oops\r\nX: y"), Some(500));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 abc\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }
}
