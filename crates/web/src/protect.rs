//! Request protection: rate limits, client addressing, security headers and an origin check.
//!
//! These are the defences for endpoints that anyone on the internet can reach (sign-in and
//! public intake) and for every response the browser renders. This module decides *whether*
//! a request may proceed and which headers a response carries; it must not decide what a
//! refusal looks like to the user (the router renders that), must not log or print client
//! addresses (they are personal data), and must never panic on what a client sends.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// One key's state, kept as a GCRA "theoretical arrival time": the bucket is full again
/// once `tat <= now`, and each admitted request pushes `tat` one emission interval later.
/// Integer `Instant` arithmetic avoids the drift of fractional token counts.
#[derive(Clone, Copy)]
struct Bucket {
    tat: Instant,
    last_seen: Instant,
}

/// A keyed token bucket: `burst` requests at once, refilled at `per_minute`/60 per second.
/// Memory is bounded: at most `max_keys` keys are remembered; when full, buckets that are
/// already full again (idle) are dropped first, then the least recently seen.
pub struct RateLimiter {
    burst: u32,
    per_minute: u32,
    max_keys: usize,
    /// Time for one token to come back.
    interval: Duration,
    /// How far ahead of `now` the arrival time may run: the whole bucket's worth.
    capacity: Duration,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// Zero for any argument is treated as one: a limiter that never admits or never
    /// refills would lock a public endpoint shut for good, which no configuration means.
    pub fn new(burst: u32, per_minute: u32, max_keys: usize) -> RateLimiter {
        let burst = burst.max(1);
        let per_minute = per_minute.max(1);
        let max_keys = max_keys.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        let capacity = interval.checked_mul(burst).unwrap_or(Duration::MAX);
        RateLimiter {
            burst,
            per_minute,
            max_keys,
            interval,
            capacity,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Ok if this request from `key` may proceed now, else Err(how long until one token is back).
    pub fn check(&self, key: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.lock();
        if !buckets.contains_key(&key) && buckets.len() >= self.max_keys {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tat: now,
            last_seen: now,
        });
        if now > bucket.last_seen {
            bucket.last_seen = now;
        }
        let base = bucket.tat.max(now);
        let Some(new_tat) = base.checked_add(self.interval) else {
            // Only reachable with an Instant at the edge of the clock's range; refusing
            // would then be permanent, so admitting is the lesser harm.
            return Ok(());
        };
        let ahead = new_tat.saturating_duration_since(now);
        if ahead <= self.capacity {
            bucket.tat = new_tat;
            Ok(())
        } else {
            // A refusal does not move the arrival time: hammering must not extend the wait
            // beyond what the admitted requests already cost.
            Err(ahead - self.capacity)
        }
    }

    /// Makes room for one new key. Frees a tenth of the table at a time so that a stream
    /// of fresh addresses (an attacker rotating them) costs one full scan per many inserts,
    /// not one per request.
    fn evict(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let target = self.max_keys - (self.max_keys / 10).max(1);
        // An idle bucket is full again, so forgetting it changes no future decision.
        buckets.retain(|_, b| b.tat > now);
        if buckets.len() <= target {
            return;
        }
        let excess = buckets.len() - target;
        let mut by_age: Vec<(Instant, IpAddr)> =
            buckets.iter().map(|(k, b)| (b.last_seen, *k)).collect();
        by_age.select_nth_unstable_by_key(excess - 1, |(seen, _)| *seen);
        for (_, key) in &by_age[..excess] {
            buckets.remove(key);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        // Each critical section leaves the map consistent, so a panic elsewhere while the
        // lock was held is no reason to stop limiting.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Shows the configuration and how many keys are held, never the addresses themselves.
impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("burst", &self.burst)
            .field("per_minute", &self.per_minute)
            .field("max_keys", &self.max_keys)
            .field("keys_held", &self.lock().len())
            .finish()
    }
}

/// Limits for the two classes of endpoint that anyone can reach: sign-in and public intake.
#[derive(Clone, Debug)]
pub struct RateLimits {
    pub login: Arc<RateLimiter>,
    pub intake: Arc<RateLimiter>,
}

impl RateLimits {
    /// Keys remembered per limiter: a few megabytes at most, far more than the distinct
    /// clients a bureau sees within one refill period.
    const MAX_KEYS: usize = 100_000;

    /// Each limiter allows a burst of one minute's allowance (at least one request).
    pub fn new(login_per_minute: u32, intake_per_minute: u32) -> RateLimits {
        let make = |per_minute: u32| {
            Arc::new(RateLimiter::new(
                per_minute.max(1),
                per_minute,
                Self::MAX_KEYS,
            ))
        };
        RateLimits {
            login: make(login_per_minute),
            intake: make(intake_per_minute),
        }
    }
}

/// The client address for rate limiting: the TCP peer, unless `trust_forwarded` (minyi
/// runs behind the bureau's reverse proxy) in which case the LAST address of X-Forwarded-For
/// that parses (the one the trusted proxy appended). IPv6 addresses are grouped by /64 (mask
/// the rest to zero) so one host cannot rotate addresses to escape the limit.
///
/// Earlier X-Forwarded-For entries are ignored because the client wrote them. When trusted
/// but no entry parses, the peer (the proxy) is used: all such requests then share one
/// bucket, which fails safe rather than letting them go unlimited.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded: bool,
) -> Option<IpAddr> {
    let forwarded = if trust_forwarded {
        last_forwarded(headers)
    } else {
        None
    };
    forwarded.or(peer.map(|p| p.ip())).map(group)
}

/// The last parseable entry across all X-Forwarded-For lines, in order of arrival.
fn last_forwarded(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all(HeaderName::from_static("x-forwarded-for"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .rev()
        .find_map(parse_forwarded_entry)
}

/// Accepts a bare address, or one with a port (`1.2.3.4:5`, `[2001:db8::1]:5`) as some
/// proxies write it.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// One bucket per IPv4 address and per IPv6 /64. IPv4-mapped IPv6 addresses are unwrapped
/// first so a dual-stack listener does not give each IPv4 client a /64 of its own neighbours.
fn group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response (axum middleware: `axum::middleware::from_fn(security_headers)`):
///  Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'
///  X-Content-Type-Options: nosniff; X-Frame-Options: DENY; Referrer-Policy: no-referrer; Cross-Origin-Opener-Policy: same-origin; Permissions-Policy: camera=(), microphone=(), geolocation=(self)
///  Cache-Control: no-store — unless the handler already set a Cache-Control (static assets set their own)
/// Handlers never set these; a header the handler did set is left alone (except CSP, always ours).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    // The policy is overwritten, not merged: a handler loosening it would undo the one
    // control that contains an injection bug.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    let defaults: [(HeaderName, &'static str); 6] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(self)",
        ),
        // Pages can carry residents' reports; shared kiosks and proxies must not keep them.
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    response
}

/// Whether the request comes from this site, for use on state-changing methods (the caller
/// decides which methods): Sec-Fetch-Site must be `same-origin` or `none` when present;
/// otherwise Origin, when present, must name the same host[:port] as the Host header.
/// Returns false for a cross-site POST. With neither header (curl, Open311 clients) it
/// returns true: those are not browsers carrying a victim's cookies. Defence in depth
/// beside the CSRF token.
///
/// The Host header is compared as received, so a reverse proxy in front must pass it
/// through unchanged. Only browsers too old to send Sec-Fetch-Site reach that comparison.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get(HeaderName::from_static("sec-fetch-site")) {
        // `same-site` is refused too: a sibling subdomain is not this application.
        return matches!(site.to_str(), Ok(s) if s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    // `Origin: null` (sandboxed frames, some redirects) fails here: it has no scheme.
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
        return false;
    }
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    // Browsers omit a default port from Origin, while some clients write it into Host.
    let strip = |s: &str| -> String {
        let s = s.trim().to_ascii_lowercase();
        match s.strip_suffix(default_port) {
            Some(bare) => bare.to_owned(),
            None => s,
        }
    };
    strip(authority) == strip(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use axum::routing::get;
    use std::net::Ipv4Addr;
    use tower::ServiceExt;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn bucket_allows_burst_then_refuses_with_retry_after() {
        // 60 per minute: one token per second.
        let limiter = RateLimiter::new(5, 60, 100);
        let t0 = Instant::now();
        let ip = v4(192, 0, 2, 1);
        for i in 0..5 {
            assert_eq!(limiter.check(ip, t0), Ok(()), "request {i} within burst");
        }
        assert_eq!(limiter.check(ip, t0), Err(secs(1)));
        // Refusals do not push the wait further out.
        assert_eq!(limiter.check(ip, t0), Err(secs(1)));
        assert_eq!(
            limiter.check(ip, t0 + Duration::from_millis(400)),
            Err(Duration::from_millis(600))
        );
    }

    #[test]
    fn bucket_refills_over_time() {
        let limiter = RateLimiter::new(3, 6, 100); // one token per 10 s
        let t0 = Instant::now();
        let ip = v4(192, 0, 2, 2);
        for _ in 0..3 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        assert_eq!(limiter.check(ip, t0 + secs(5)), Err(secs(5)));
        assert!(limiter.check(ip, t0 + secs(10)).is_ok());
        assert!(limiter.check(ip, t0 + secs(10)).is_err());
        // A long pause refills to `burst`, never beyond it.
        let later = t0 + secs(3600);
        for _ in 0..3 {
            assert!(limiter.check(ip, later).is_ok());
        }
        assert_eq!(limiter.check(ip, later), Err(secs(10)));
    }

    #[test]
    fn earlier_instant_than_last_seen_does_not_panic_or_grant_extra() {
        let limiter = RateLimiter::new(1, 60, 10);
        let t0 = Instant::now() + secs(10);
        let ip = v4(192, 0, 2, 3);
        assert!(limiter.check(ip, t0).is_ok());
        assert!(limiter.check(ip, t0 - secs(5)).is_err());
    }

    #[test]
    fn keys_are_independent() {
        let limiter = RateLimiter::new(2, 60, 100);
        let t0 = Instant::now();
        let a = v4(192, 0, 2, 10);
        let b = v4(192, 0, 2, 11);
        assert!(limiter.check(a, t0).is_ok());
        assert!(limiter.check(a, t0).is_ok());
        assert!(limiter.check(a, t0).is_err());
        assert!(limiter.check(b, t0).is_ok());
        assert!(limiter.check(b, t0).is_ok());
        assert!(limiter.check(b, t0).is_err());
    }

    #[test]
    fn max_keys_bound_holds_under_many_keys() {
        let limiter = RateLimiter::new(1, 1, 100);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            // Each key is drained, so none is idle: eviction has to fall back to age.
            assert!(
                limiter
                    .check(ip, t0 + Duration::from_millis(i.into()))
                    .is_ok()
            );
            assert!(limiter.lock().len() <= 100, "bound exceeded at key {i}");
        }
        // The most recent key is still remembered and still limited.
        let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 9_999));
        assert!(limiter.check(last, t0 + secs(10)).is_err());
    }

    #[test]
    fn eviction_drops_idle_buckets_before_recent_busy_ones() {
        // One token per second, burst 2, room for 10 keys.
        let limiter = RateLimiter::new(2, 60, 10);
        let t0 = Instant::now();
        let idle = v4(198, 51, 100, 1);
        assert!(limiter.check(idle, t0).is_ok()); // full again by t0 + 1 s
        let t1 = t0 + secs(5);
        let busy: Vec<IpAddr> = (0..9).map(|i| v4(198, 51, 100, 10 + i)).collect();
        for ip in &busy {
            assert!(limiter.check(*ip, t1).is_ok());
            assert!(limiter.check(*ip, t1).is_ok());
        }
        assert_eq!(limiter.lock().len(), 10);
        let newcomer = v4(203, 0, 113, 1);
        assert!(limiter.check(newcomer, t1).is_ok());
        let held = limiter.lock();
        assert!(held.len() <= 10);
        assert!(!held.contains_key(&idle), "idle bucket should go first");
        for ip in &busy {
            assert!(
                held.contains_key(ip),
                "busy bucket evicted while idle one existed"
            );
        }
        drop(held);
        for ip in &busy {
            assert!(limiter.check(*ip, t1).is_err(), "busy key lost its limit");
        }
    }

    #[test]
    fn idle_bucket_is_evicted_even_when_seen_more_recently_than_busy_ones() {
        // burst 2, one token per 60 s, room for 10 keys.
        let limiter = RateLimiter::new(2, 1, 10);
        let t0 = Instant::now();
        let busy: Vec<IpAddr> = (0..9).map(|i| v4(198, 51, 100, 10 + i)).collect();
        for ip in &busy {
            // Drained: full again only at t0 + 120 s.
            assert!(limiter.check(*ip, t0).is_ok());
            assert!(limiter.check(*ip, t0).is_ok());
        }
        // Seen after every busy key, but one token used: full again at t0 + 70 s.
        let recent_idle = v4(198, 51, 100, 1);
        assert!(limiter.check(recent_idle, t0 + secs(10)).is_ok());
        // At t0 + 70 s plain least-recently-seen would drop a busy key; idleness wins.
        assert!(limiter.check(v4(203, 0, 113, 2), t0 + secs(70)).is_ok());
        let held = limiter.lock();
        assert!(
            !held.contains_key(&recent_idle),
            "idle bucket should go first"
        );
        assert!(busy.iter().all(|ip| held.contains_key(ip)));
    }

    #[test]
    fn least_recently_seen_goes_when_nothing_is_idle() {
        let limiter = RateLimiter::new(1, 1, 10);
        let t0 = Instant::now();
        let keys: Vec<IpAddr> = (0..10).map(|i| v4(198, 51, 100, i)).collect();
        for (i, ip) in keys.iter().enumerate() {
            assert!(limiter.check(*ip, t0 + secs(i as u64)).is_ok());
        }
        // Touch the first key again (refused, but seen) so the second becomes the oldest.
        assert!(limiter.check(keys[0], t0 + secs(10)).is_err());
        assert!(limiter.check(v4(203, 0, 113, 1), t0 + secs(11)).is_ok());
        let held = limiter.lock();
        assert_eq!(held.len(), 10);
        assert!(
            !held.contains_key(&keys[1]),
            "oldest-seen key should be evicted"
        );
        assert!(held.contains_key(&keys[0]));
        assert!(keys[2..].iter().all(|ip| held.contains_key(ip)));
    }

    #[test]
    fn zero_arguments_do_not_lock_out_or_panic() {
        let limiter = RateLimiter::new(0, 0, 0);
        let t0 = Instant::now();
        assert!(limiter.check(v4(192, 0, 2, 1), t0).is_ok());
        assert_eq!(limiter.check(v4(192, 0, 2, 1), t0), Err(secs(60)));
        assert!(limiter.check(v4(192, 0, 2, 2), t0).is_ok());
        assert!(limiter.lock().len() <= 1);
    }

    #[test]
    fn rate_limits_use_per_minute_as_burst() {
        let limits = RateLimits::new(3, 0);
        let t0 = Instant::now();
        let ip = v4(192, 0, 2, 1);
        for _ in 0..3 {
            assert!(limits.login.check(ip, t0).is_ok());
        }
        assert_eq!(limits.login.check(ip, t0), Err(secs(20)));
        assert!(limits.intake.check(ip, t0).is_ok());
        assert!(limits.intake.check(ip, t0).is_err());
        assert!(!format!("{limits:?}").contains("192.0.2.1"));
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                "x-forwarded-for",
                HeaderValue::from_str(v).expect("test header"),
            );
        }
        h
    }

    fn peer() -> Option<SocketAddr> {
        Some(SocketAddr::new(v4(10, 0, 0, 1), 40000))
    }

    #[test]
    fn client_ip_uses_peer_unless_trusted() {
        let h = xff(&["203.0.113.7"]);
        assert_eq!(client_ip(&h, peer(), false), Some(v4(10, 0, 0, 1)));
        assert_eq!(client_ip(&h, peer(), true), Some(v4(203, 0, 113, 7)));
        assert_eq!(
            client_ip(&HeaderMap::new(), peer(), true),
            Some(v4(10, 0, 0, 1))
        );
        assert_eq!(client_ip(&HeaderMap::new(), None, false), None);
    }

    #[test]
    fn client_ip_takes_last_forwarded_entry() {
        // The client forged the first entry; the proxy appended the last.
        let h = xff(&["1.1.1.1, 203.0.113.7"]);
        assert_eq!(client_ip(&h, peer(), true), Some(v4(203, 0, 113, 7)));
        let h = xff(&["1.1.1.1", "198.51.100.4, 203.0.113.8"]);
        assert_eq!(client_ip(&h, peer(), true), Some(v4(203, 0, 113, 8)));
        let h = xff(&["203.0.113.9:5123"]);
        assert_eq!(client_ip(&h, peer(), true), Some(v4(203, 0, 113, 9)));
    }

    #[test]
    fn client_ip_skips_malformed_forwarded_entries() {
        let h = xff(&["203.0.113.7, garbage, 999.1.1.1,"]);
        assert_eq!(client_ip(&h, peer(), true), Some(v4(203, 0, 113, 7)));
        let h = xff(&["unknown, ,,"]);
        assert_eq!(client_ip(&h, peer(), true), Some(v4(10, 0, 0, 1)));
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe").expect("opaque bytes are a valid value"),
        );
        assert_eq!(client_ip(&h, peer(), true), Some(v4(10, 0, 0, 1)));
        assert_eq!(client_ip(&h, None, true), None);
    }

    #[test]
    fn client_ip_groups_ipv6_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().expect("addr");
        let b: IpAddr = "2001:db8:1:2::1".parse().expect("addr");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("addr");
        let want: IpAddr = "2001:db8:1:2::".parse().expect("addr");
        let p = |ip| Some(SocketAddr::new(ip, 443));
        assert_eq!(client_ip(&HeaderMap::new(), p(a), false), Some(want));
        assert_eq!(client_ip(&HeaderMap::new(), p(b), false), Some(want));
        assert_ne!(client_ip(&HeaderMap::new(), p(other), false), Some(want));
        let h = xff(&["[2001:db8:1:2::99]:8080"]);
        assert_eq!(client_ip(&h, peer(), true), Some(want));
        // IPv4 via a dual-stack socket stays one IPv4 address.
        let mapped: IpAddr = "::ffff:192.0.2.5".parse().expect("addr");
        assert_eq!(
            client_ip(&HeaderMap::new(), p(mapped), false),
            Some(v4(192, 0, 2, 5))
        );
    }

    fn app() -> Router {
        Router::new()
            .route("/", get(|| async { "hello" }))
            .route(
                "/asset",
                get(|| async {
                    (
                        [
                            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                            (header::CONTENT_SECURITY_POLICY, "default-src *"),
                        ],
                        "body{}",
                    )
                }),
            )
            .layer(axum::middleware::from_fn(security_headers))
    }

    async fn get_headers(path: &str) -> HeaderMap {
        let req = HttpRequest::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let res = app().oneshot(req).await.expect("infallible");
        assert_eq!(res.status(), StatusCode::OK);
        res.headers().clone()
    }

    #[tokio::test]
    async fn security_headers_are_all_set() {
        let h = get_headers("/").await;
        let want = [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cross-origin-opener-policy", "same-origin"),
            (
                "permissions-policy",
                "camera=(), microphone=(), geolocation=(self)",
            ),
            ("cache-control", "no-store"),
        ];
        for (name, value) in want {
            assert_eq!(
                h.get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{name}"
            );
        }
        assert!(CSP.contains("frame-ancestors 'none'") && CSP.contains("img-src 'self' data:"));
    }

    #[tokio::test]
    async fn preset_cache_control_survives_but_csp_is_ours() {
        let h = get_headers("/asset").await;
        assert_eq!(
            h.get_all(header::CACHE_CONTROL).iter().collect::<Vec<_>>(),
            vec!["public, max-age=31536000, immutable"]
        );
        assert_eq!(
            h.get_all(header::CONTENT_SECURITY_POLICY)
                .iter()
                .collect::<Vec<_>>(),
            vec![CSP]
        );
        assert_eq!(
            h.get(header::X_FRAME_OPTIONS).and_then(|v| v.to_str().ok()),
            Some("DENY")
        );
    }

    fn hdrs(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("test header"));
        }
        h
    }

    #[test]
    fn same_origin_trusts_fetch_metadata() {
        assert!(same_origin(&hdrs(&[("sec-fetch-site", "same-origin")])));
        assert!(same_origin(&hdrs(&[("sec-fetch-site", "none")])));
        assert!(!same_origin(&hdrs(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&hdrs(&[("sec-fetch-site", "same-site")])));
        // Fetch metadata wins over a matching Origin: a cross-site request is refused.
        assert!(!same_origin(&hdrs(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://minyi.example"),
            ("host", "minyi.example"),
        ])));
    }

    #[test]
    fn same_origin_falls_back_to_origin_against_host() {
        assert!(same_origin(&hdrs(&[
            ("origin", "https://minyi.example"),
            ("host", "minyi.example"),
        ])));
        assert!(same_origin(&hdrs(&[
            ("origin", "http://localhost:8080"),
            ("host", "localhost:8080"),
        ])));
        assert!(same_origin(&hdrs(&[
            ("origin", "https://Minyi.Example"),
            ("host", "minyi.example:443"),
        ])));
        assert!(!same_origin(&hdrs(&[
            ("origin", "https://evil.example"),
            ("host", "minyi.example"),
        ])));
        assert!(!same_origin(&hdrs(&[
            ("origin", "http://localhost:8081"),
            ("host", "localhost:8080"),
        ])));
        assert!(!same_origin(&hdrs(&[
            ("origin", "null"),
            ("host", "minyi.example"),
        ])));
        assert!(!same_origin(&hdrs(&[("origin", "https://minyi.example")])));
        assert!(!same_origin(&hdrs(&[
            ("origin", "https://minyi.example@evil.example"),
            ("host", "minyi.example@evil.example"),
        ])));
    }

    #[test]
    fn same_origin_allows_non_browser_clients() {
        assert!(same_origin(&HeaderMap::new()));
        assert!(same_origin(&hdrs(&[("host", "minyi.example")])));
    }
}
