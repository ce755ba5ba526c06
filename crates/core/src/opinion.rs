//! Opinions (民意): what a resident says, on any channel, and the lifecycle that takes
//! it from receipt to the resident's verdict.

use chrono::{DateTime, Utc};

use crate::error::ParseError;
use crate::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency, Verdict, vocabulary};

/// The text of an opinion: trimmed, control characters other than line breaks and
/// tabs removed, 1 to [`OpinionText::MAX_CHARS`] characters. HTML is kept as text; it is
/// escaped on output, never interpreted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct OpinionText(String);

impl OpinionText {
    /// Long letters are real (a resident writing down a whole dispute); longer than
    /// this is a paste accident or abuse, and is refused with a clear error.
    pub const MAX_CHARS: usize = 5000;

    pub fn parse(input: &str) -> Result<OpinionText, ParseError> {
        let cleaned: String = input
            .chars()
            .filter(|&c| !c.is_control() || c == '\n' || c == '\t')
            .collect();
        let text = cleaned.trim();
        if text.is_empty() {
            return Err(ParseError::Empty {
                what: "opinion text",
            });
        }
        let len = text.chars().count();
        if len > Self::MAX_CHARS {
            return Err(ParseError::TooLong {
                what: "opinion text",
                len,
                max: Self::MAX_CHARS,
            });
        }
        Ok(OpinionText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The code a resident is given to follow an opinion: eight random Crockford base-32
/// symbols (40 bits, so codes cannot be guessed by counting) and a Luhn mod-32 check
/// symbol from the same alphabet (so no punctuation to read out over the phone, and
/// every single mistyped symbol and adjacent swap of different symbols is caught),
/// shown as `ABCD-EFGH-J`. Parsing forgives case, missing hyphens and the letters
/// people confuse with digits (O → 0, I/L → 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TrackingCode(String);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl TrackingCode {
    /// Makes a code from 40 random bits (the caller supplies randomness; core does no IO).
    pub fn from_bits(bits: u64) -> TrackingCode {
        let v = bits & ((1 << 40) - 1);
        let mut s = String::with_capacity(11);
        for i in (0..8).rev() {
            s.push(CROCKFORD[((v >> (i * 5)) & 31) as usize] as char);
            if i == 4 {
                s.push('-');
            }
        }
        s.push('-');
        s.push(check_symbol(v));
        TrackingCode(s)
    }

    pub fn parse(input: &str) -> Result<TrackingCode, ParseError> {
        let invalid = |why: &str| ParseError::Invalid {
            what: "tracking code",
            why: why.to_owned(),
        };
        let mut v: u64 = 0;
        let mut n = 0;
        let mut check = None;
        for c in input.trim().chars() {
            if c == '-' || c == ' ' {
                continue;
            }
            let c = c.to_ascii_uppercase();
            if n == 8 {
                if check.is_some() {
                    return Err(invalid("too long: expected 9 symbols, like ABCD-EFGH-J"));
                }
                check = Some(match c {
                    'O' => '0',
                    'I' | 'L' => '1',
                    c => c,
                });
                continue;
            }
            let d = match c {
                'O' => 0,
                'I' | 'L' => 1,
                c => CROCKFORD
                    .iter()
                    .position(|&x| x as char == c)
                    .ok_or_else(|| {
                        invalid("contains a character that is not in the code alphabet")
                    })? as u64,
            };
            v = (v << 5) | d;
            n += 1;
        }
        match check {
            None => Err(invalid("too short: expected 9 symbols, like ABCD-EFGH-J")),
            Some(c) if c != check_symbol(v) => Err(invalid(
                "check symbol does not match: a symbol was mistyped",
            )),
            Some(_) => Ok(TrackingCode::from_bits(v)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Luhn mod 32 over the eight symbols, rightmost doubled first.
fn check_symbol(v: u64) -> char {
    let mut sum = 0u64;
    for i in 0..8 {
        let d = (v >> (i * 5)) & 31;
        let a = if i % 2 == 0 { 2 * d } else { d };
        sum += a / 32 + a % 32;
    }
    CROCKFORD[((32 - sum % 32) % 32) as usize] as char
}

impl std::fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

vocabulary! {
    /// Where an opinion stands. Escalation level and deadline clocks are orthogonal.
    OpinionState, "opinion state" {
        Received => "received", "已受理";
        Triaged => "triaged", "已分拣";
        Assigned => "assigned", "已交办";
        Accepted => "accepted", "已签收";
        Responded => "responded", "已答复";
        Notified => "notified", "已回告";
        Closed => "closed", "已办结";
        Merged => "merged", "已合并";
        Withdrawn => "withdrawn", "已撤回";
        Invalid => "invalid", "无效";
    }
}

vocabulary! {
    /// What can be done to an opinion. Reasons, units and verdicts travel in the event.
    OpinionAction, "opinion action" {
        Triage => "triage", "分拣";
        Assign => "assign", "交办";
        Accept => "accept", "签收";
        Return => "return", "退回";
        Respond => "respond", "答复";
        Notify => "notify", "回告";
        Close => "close", "办结";
        Reopen => "reopen", "重新交办";
        Merge => "merge", "合并";
        Withdraw => "withdraw", "撤回";
        MarkInvalid => "mark_invalid", "认定无效";
        Appeal => "appeal", "申诉";
    }
}

vocabulary! {
    /// Which level is handling or supervising an opinion.
    Escalation, "escalation level" {
        Station => "station", "派出所";
        County => "county", "县（区）局";
        City => "city", "市局";
    }
}

impl OpinionState {
    /// Terminal states take no further action except an appeal of `invalid`.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            OpinionState::Closed
                | OpinionState::Merged
                | OpinionState::Withdrawn
                | OpinionState::Invalid
        )
    }
}

/// Refused transition: the action does not apply in that state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} an opinion that is {state}")]
pub struct TransitionError {
    pub state: OpinionState,
    pub action: OpinionAction,
}

/// The lifecycle as one total function: every (state, action) pair either gives the
/// next state or a [`TransitionError`].
///
/// Why these edges: a unit may hand a matter back (`return`) before or after signing
/// for it, so it can be re-routed; `close` is allowed straight from `responded` only
/// because an anonymous resident cannot be notified; a dissatisfied verdict reopens a
/// matter even after closing (a callback may bring it later); duplicates merge and
/// residents withdraw only before an answer exists; invalid (spam, malice) is
/// appealable back to triage.
pub fn transition(
    state: OpinionState,
    action: OpinionAction,
) -> Result<OpinionState, TransitionError> {
    use OpinionAction as A;
    use OpinionState as S;
    let next = match (state, action) {
        (S::Received, A::Triage) => S::Triaged,
        (S::Triaged, A::Assign) => S::Assigned,
        (S::Assigned, A::Accept) => S::Accepted,
        (S::Assigned | S::Accepted, A::Return) => S::Triaged,
        (S::Accepted, A::Respond) => S::Responded,
        (S::Responded, A::Notify) => S::Notified,
        (S::Responded | S::Notified, A::Close) => S::Closed,
        (S::Notified | S::Closed, A::Reopen) => S::Assigned,
        (S::Received | S::Triaged | S::Assigned | S::Accepted, A::Merge) => S::Merged,
        (S::Received | S::Triaged | S::Assigned | S::Accepted, A::Withdraw) => S::Withdrawn,
        (S::Received | S::Triaged, A::MarkInvalid) => S::Invalid,
        (S::Invalid, A::Appeal) => S::Triaged,
        _ => return Err(TransitionError { state, action }),
    };
    Ok(next)
}

/// Whether a matter appears in public listings (Open311's request list): withdrawn and
/// invalid matters do not.
pub fn publicly_listed(state: OpinionState) -> bool {
    !matches!(state, OpinionState::Withdrawn | OpinionState::Invalid)
}

/// Whether a matter's own words may be published. Only what a sender gave to Open311 — a
/// protocol public by design — and never a crime or drug tip-off, which could expose the
/// informant. Words sent by form, phone or SMS were written to the police, not to the public.
pub fn words_may_be_published(channel: Channel, category: Category) -> bool {
    channel == Channel::Open311 && !matches!(category, Category::CrimeReport | Category::Drugs)
}

/// Default response deadline in working days, from public practice: urgent matters the
/// same day, consultations 3, complaints and everything else 7 (15 at most with an
/// approved extension, see [`MAX_EXTENDED_WORKING_DAYS`]). Bureaus may configure their own.
pub fn default_response_working_days(category: Category, urgency: Urgency) -> u32 {
    if urgency == Urgency::Urgent || category == Category::Emergency110 {
        return 0;
    }
    match category {
        Category::Household
        | Category::ExitEntry
        | Category::VehicleAdmin
        | Category::CaseProgress => 3,
        _ => 7,
    }
}

/// The longest a complaint may run with an approved extension.
pub const MAX_EXTENDED_WORKING_DAYS: u32 = 15;

/// An opinion as it arrives, after parsing at the edge. References are database ids
/// resolved by the caller from codes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewOpinion {
    pub tracking_code: TrackingCode,
    /// The client's idempotency key: the same key twice is the same opinion.
    pub client_key: Option<String>,
    pub channel: Channel,
    pub text: OpinionText,
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    pub department: Option<DepartmentKind>,
    pub area_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub department_id: Option<i64>,
    pub state: OpinionState,
    pub escalation: Escalation,
    pub key_opinion: bool,
    pub received_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub verdict: Option<Verdict>,
    pub synthetic: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use OpinionAction as A;
    use OpinionState as S;

    /// The whole table, written out: every pair not listed must be refused.
    #[test]
    fn transition_table_covers_every_pair() {
        let allowed: &[(S, A, S)] = &[
            (S::Received, A::Triage, S::Triaged),
            (S::Received, A::Merge, S::Merged),
            (S::Received, A::Withdraw, S::Withdrawn),
            (S::Received, A::MarkInvalid, S::Invalid),
            (S::Triaged, A::Assign, S::Assigned),
            (S::Triaged, A::Merge, S::Merged),
            (S::Triaged, A::Withdraw, S::Withdrawn),
            (S::Triaged, A::MarkInvalid, S::Invalid),
            (S::Assigned, A::Accept, S::Accepted),
            (S::Assigned, A::Return, S::Triaged),
            (S::Assigned, A::Merge, S::Merged),
            (S::Assigned, A::Withdraw, S::Withdrawn),
            (S::Accepted, A::Return, S::Triaged),
            (S::Accepted, A::Respond, S::Responded),
            (S::Accepted, A::Merge, S::Merged),
            (S::Accepted, A::Withdraw, S::Withdrawn),
            (S::Responded, A::Notify, S::Notified),
            (S::Responded, A::Close, S::Closed),
            (S::Notified, A::Close, S::Closed),
            (S::Notified, A::Reopen, S::Assigned),
            (S::Closed, A::Reopen, S::Assigned),
            (S::Invalid, A::Appeal, S::Triaged),
        ];
        let mut checked = 0;
        for &s in S::ALL {
            for &a in A::ALL {
                let expect = allowed
                    .iter()
                    .find(|(fs, fa, _)| *fs == s && *fa == a)
                    .map(|t| t.2);
                match (transition(s, a), expect) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{s} --{a}->"),
                    (Err(e), None) => assert_eq!(
                        e,
                        TransitionError {
                            state: s,
                            action: a
                        }
                    ),
                    (got, want) => panic!("{s} --{a}-> gave {got:?}, table says {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, S::ALL.len() * A::ALL.len());
    }

    #[test]
    fn only_terminal_states_are_closed() {
        let open: Vec<_> = S::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open.len(), 6);
        assert!(!S::Invalid.is_open());
    }

    #[test]
    fn every_open_state_can_reach_closed_or_a_terminal_state() {
        for &s in S::ALL.iter().filter(|s| s.is_open()) {
            assert!(
                A::ALL.iter().any(|&a| transition(s, a).is_ok()),
                "{s} is stuck"
            );
        }
    }

    #[test]
    fn opinion_text_cleans_and_bounds() {
        assert_eq!(
            OpinionText::parse("  你好\u{0}\u{7}世界 ")
                .unwrap()
                .as_str(),
            "你好世界"
        );
        assert_eq!(OpinionText::parse("a\nb").unwrap().as_str(), "a\nb");
        assert!(OpinionText::parse(" \u{3000} \t").is_err());
        assert!(OpinionText::parse(&"字".repeat(5000)).is_ok());
        let err = OpinionText::parse(&"字".repeat(5001)).unwrap_err();
        assert!(err.to_string().contains("5001"), "{err}");
        assert_eq!(
            OpinionText::parse("<script>x</script>").unwrap().as_str(),
            "<script>x</script>"
        );
    }

    #[test]
    fn tracking_codes_round_trip_and_catch_typos() {
        for bits in [0u64, 1, 0xFF_FFFF_FFFF, 0x12_3456_789A, u64::MAX] {
            let c = TrackingCode::from_bits(bits);
            assert_eq!(c.as_str().len(), 11, "{c}");
            assert_eq!(TrackingCode::parse(c.as_str()).unwrap(), c);
            let sloppy = c.as_str().replace('-', "").to_lowercase();
            assert_eq!(TrackingCode::parse(&sloppy).unwrap(), c);
        }
        let c = TrackingCode::from_bits(0x12_3456_789A);
        let mut typo: Vec<char> = c.as_str().chars().collect();
        typo[0] = if typo[0] == '2' { '3' } else { '2' };
        let typo: String = typo.into_iter().collect();
        assert!(TrackingCode::parse(&typo).is_err());
        assert!(TrackingCode::parse("ABC").is_err());
        assert!(TrackingCode::parse("ABCD-EFGH-JK").is_err());
        assert!(TrackingCode::parse("中文").is_err());
    }

    #[test]
    fn only_open311_words_are_published_and_never_tip_offs() {
        assert!(words_may_be_published(Channel::Open311, Category::Traffic));
        assert!(!words_may_be_published(
            Channel::Open311,
            Category::CrimeReport
        ));
        assert!(!words_may_be_published(Channel::Open311, Category::Drugs));
        for ch in Channel::ALL.iter().filter(|c| **c != Channel::Open311) {
            assert!(!words_may_be_published(*ch, Category::Traffic), "{ch}");
        }
        assert!(publicly_listed(OpinionState::Closed));
        assert!(!publicly_listed(OpinionState::Withdrawn));
        assert!(!publicly_listed(OpinionState::Invalid));
    }

    /// Every code is letters and digits only, and every single mistyped symbol and every
    /// swap of two neighbouring different symbols is caught, over many random codes.
    #[test]
    fn tracking_code_checks_catch_every_typo_and_neighbour_swap() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let c = TrackingCode::from_bits(x);
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch == '-' || ch.is_ascii_alphanumeric()),
                "{c}"
            );
            let syms: Vec<char> = c.as_str().chars().filter(|&ch| ch != '-').collect();
            for i in 0..9 {
                for &alt in CROCKFORD {
                    let alt = alt as char;
                    if alt == syms[i] {
                        continue;
                    }
                    let mut t = syms.clone();
                    t[i] = alt;
                    let typed: String = t.into_iter().collect();
                    assert!(TrackingCode::parse(&typed).is_err(), "{c} vs {typed}");
                }
                if i < 8 && syms[i] != syms[i + 1] {
                    let mut t = syms.clone();
                    t.swap(i, i + 1);
                    let typed: String = t.into_iter().collect();
                    // Luhn's one blind spot is swapping two symbols whose doubled values
                    // sum the same way; with base 32 that is the pair 0 and Z (values 0 and 31).
                    let pair = [syms[i], syms[i + 1]];
                    if pair.contains(&'0') && pair.contains(&'Z') {
                        continue;
                    }
                    assert!(TrackingCode::parse(&typed).is_err(), "{c} vs {typed}");
                }
            }
        }
    }
}
