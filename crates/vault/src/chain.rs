//! Verifying the audit log's hash chain: walks entries in stored (seq) order and names
//! the first one that was edited, deleted or moved. Each entry's stored hash is its
//! [`DataKey::audit_mac`], and each entry carries the hash of the one before it, so
//! without the key no entry can be changed, dropped or shuffled unnoticed; the head
//! (last seq and hash, recorded separately at each append) catches a cut-off tail.

use crate::{AuditFields, DataKey, GENESIS_HASH, constant_time_eq};

/// How far from its row's seq an entry's MAC is searched for, to tell an entry that was
/// moved (or renumbered after a deletion) from one whose contents were edited.
const MOVE_WINDOW: i64 = 3;

/// The first entry at which the chain is broken, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub kind: BreakKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakKind {
    /// The entry's MAC does not match its contents under any nearby seq, or it is
    /// genuine but does not chain to the entry stored before it.
    Edited,
    /// Entries `missing_from..=missing_to` are gone, either leaving a gap in seq or
    /// with the later entries renumbered to close it.
    Deleted { missing_from: i64, missing_to: i64 },
    /// The row holds a genuine entry that belongs at another position (two entries'
    /// contents exchanged, or a seq repeated or going backwards).
    Reordered,
    /// The log ends at `last_seen` (0: no entries) but the recorded head is later.
    TailDeleted { last_seen: i64 },
    /// The log's last entry does not match the separately recorded head.
    HeadMismatch,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seq = self.seq;
        match &self.kind {
            BreakKind::Edited => write!(
                f,
                "entry {seq} was edited (its MAC does not match its contents or the entry before it)"
            ),
            BreakKind::Deleted {
                missing_from,
                missing_to,
            } if missing_from == missing_to => {
                write!(f, "entry {missing_from} is missing (deleted)")
            }
            BreakKind::Deleted {
                missing_from,
                missing_to,
            } => write!(
                f,
                "entries {missing_from}–{missing_to} are missing (deleted)"
            ),
            BreakKind::Reordered => write!(
                f,
                "entry {seq} is out of order (it does not follow entry {})",
                seq - 1
            ),
            BreakKind::TailDeleted { last_seen: 0 } => write!(
                f,
                "entries from {seq} on are missing (the log is empty but its recorded head is later)"
            ),
            BreakKind::TailDeleted { last_seen } => write!(
                f,
                "entries from {seq} on are missing (the log ends at entry {last_seen} but its recorded head is later)"
            ),
            BreakKind::HeadMismatch => {
                write!(f, "entry {seq} does not match the recorded head of the log")
            }
        }
    }
}

impl std::error::Error for ChainBreak {}

/// A row whose MAC verifies only under a later seq: either two entries were swapped
/// or earlier ones were deleted and the rest renumbered. The next row tells which.
struct Displaced {
    seq: i64,
    belongs_at: i64,
}

/// Checks entries one at a time, in stored order. A displaced entry is judged when the
/// row after it (or [`Verifier::finish`]) arrives, so a break may surface one call late;
/// it always names the first bad entry. After a break every call returns that break.
pub struct Verifier {
    key: DataKey,
    audit_key: [u8; 32],
    next_seq: i64,
    prev_hash: String,
    checked: i64,
    displaced: Option<Displaced>,
    broken: Option<ChainBreak>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("next_seq", &self.next_seq)
            .field("checked", &self.checked)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(key: &DataKey) -> Verifier {
        Verifier {
            key: key.clone(),
            audit_key: key.audit_key(),
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
            displaced: None,
            broken: None,
        }
    }

    fn mac_at(&self, e: &AuditFields<'_>, seq: i64) -> String {
        self.key
            .audit_mac_with(&self.audit_key, &AuditFields { seq, ..*e })
    }

    /// The seq near `e.seq` (itself first) under which `stored_hash` is `e`'s MAC.
    fn genuine_at(&self, e: &AuditFields<'_>, stored_hash: &str) -> Option<i64> {
        if constant_time_eq(&self.mac_at(e, e.seq), stored_hash) {
            return Some(e.seq);
        }
        (1..=MOVE_WINDOW)
            .flat_map(|d| [e.seq.saturating_sub(d), e.seq.saturating_add(d)])
            .filter(|&t| t >= 1 && t != e.seq)
            .find(|&t| constant_time_eq(&self.mac_at(e, t), stored_hash))
    }

    fn fail(&mut self, seq: i64, kind: BreakKind) -> Result<(), ChainBreak> {
        let b = ChainBreak { seq, kind };
        self.broken = Some(b.clone());
        Err(b)
    }

    pub fn push(&mut self, e: &AuditFields<'_>, stored_hash: &str) -> Result<(), ChainBreak> {
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        if let Some(d) = self.displaced.take() {
            let shift = d.belongs_at - d.seq;
            let kind = match self.genuine_at(e, stored_hash) {
                // The rest moved down by the same amount: rows deleted, then renumbered.
                Some(t) if t - e.seq == shift => BreakKind::Deleted {
                    missing_from: d.seq,
                    missing_to: d.belongs_at - 1,
                },
                _ => BreakKind::Reordered,
            };
            return self.fail(d.seq, kind);
        }
        if e.seq < self.next_seq {
            return self.fail(e.seq, BreakKind::Reordered);
        }
        if e.seq > self.next_seq {
            let missing_from = self.next_seq;
            return self.fail(
                missing_from,
                BreakKind::Deleted {
                    missing_from,
                    missing_to: e.seq - 1,
                },
            );
        }
        match self.genuine_at(e, stored_hash) {
            Some(t) if t == e.seq => {
                if !constant_time_eq(e.prev_hash, &self.prev_hash) {
                    return self.fail(e.seq, BreakKind::Edited);
                }
                self.prev_hash = stored_hash.to_owned();
                self.next_seq += 1;
                self.checked += 1;
                Ok(())
            }
            Some(t) if t > e.seq => {
                self.displaced = Some(Displaced {
                    seq: e.seq,
                    belongs_at: t,
                });
                self.next_seq += 1;
                Ok(())
            }
            Some(_) => self.fail(e.seq, BreakKind::Reordered),
            None => self.fail(e.seq, BreakKind::Edited),
        }
    }

    /// Ends the walk. `head` is the (seq, hash) recorded at the last append, if the
    /// caller keeps one; it catches entries deleted from the end, which leave no gap.
    /// Returns how many entries were checked.
    pub fn finish(mut self, head: Option<(i64, &str)>) -> Result<i64, ChainBreak> {
        if let Some(b) = self.broken.take() {
            return Err(b);
        }
        if let Some(d) = self.displaced.take() {
            // The last row belongs later: the entries before its true place are gone.
            return Err(ChainBreak {
                seq: d.seq,
                kind: BreakKind::Deleted {
                    missing_from: d.seq,
                    missing_to: d.belongs_at - 1,
                },
            });
        }
        let last_seen = self.next_seq - 1;
        match head {
            None => Ok(self.checked),
            Some((head_seq, _)) if last_seen < head_seq => Err(ChainBreak {
                seq: last_seen + 1,
                kind: BreakKind::TailDeleted { last_seen },
            }),
            Some((head_seq, head_hash)) if last_seen == head_seq => {
                if constant_time_eq(head_hash, &self.prev_hash) {
                    Ok(self.checked)
                } else {
                    Err(ChainBreak {
                        seq: head_seq,
                        kind: BreakKind::HeadMismatch,
                    })
                }
            }
            // Entries beyond the recorded head: appended without the head being moved.
            Some((head_seq, _)) => Err(ChainBreak {
                seq: head_seq + 1,
                kind: BreakKind::HeadMismatch,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct Row {
        seq: i64,
        at_ms: i64,
        actor: String,
        action: String,
        subject: String,
        detail: String,
        prev_hash: String,
        hash: String,
    }

    impl Row {
        fn fields(&self) -> AuditFields<'_> {
            AuditFields {
                seq: self.seq,
                at_ms: self.at_ms,
                actor: &self.actor,
                action: &self.action,
                subject: &self.subject,
                detail: &self.detail,
                prev_hash: &self.prev_hash,
            }
        }
    }

    fn key() -> DataKey {
        DataKey::parse(&"5a".repeat(32)).unwrap()
    }

    fn log(k: &DataKey, n: i64) -> Vec<Row> {
        let mut rows: Vec<Row> = Vec::new();
        for seq in 1..=n {
            let prev_hash = rows
                .last()
                .map_or(GENESIS_HASH.to_owned(), |r| r.hash.clone());
            let mut row = Row {
                seq,
                at_ms: 1_700_000_000_000 + seq * 1000,
                actor: format!("officer{}", seq % 3),
                action: "contact.view".into(),
                subject: format!("opinion/{}", 100 + seq),
                detail: String::new(),
                prev_hash,
                hash: String::new(),
            };
            row.hash = k.audit_mac(&row.fields());
            rows.push(row);
        }
        rows
    }

    fn head(rows: &[Row]) -> Option<(i64, &str)> {
        rows.last().map(|r| (r.seq, r.hash.as_str()))
    }

    fn verify(k: &DataKey, rows: &[Row], head: Option<(i64, &str)>) -> Result<i64, ChainBreak> {
        let mut v = Verifier::new(k);
        for r in rows {
            v.push(&r.fields(), &r.hash)?;
        }
        v.finish(head)
    }

    /// Exchanges everything but seq between rows `a` and `b` (1-based seqs).
    fn swap_contents(rows: &mut [Row], a: i64, b: i64) {
        let (ia, ib) = ((a - 1) as usize, (b - 1) as usize);
        let (sa, sb) = (rows[ia].seq, rows[ib].seq);
        rows.swap(ia, ib);
        rows[ia].seq = sa;
        rows[ib].seq = sb;
    }

    #[test]
    fn untouched_chain_passes() {
        let k = key();
        let rows = log(&k, 8);
        assert_eq!(verify(&k, &rows, head(&rows)), Ok(8));
        assert_eq!(verify(&k, &rows, None), Ok(8));
        assert_eq!(verify(&k, &[], None), Ok(0));
        assert_eq!(verify(&k, &[], Some((0, GENESIS_HASH))), Ok(0));
    }

    #[test]
    fn wrong_key_names_entry_one() {
        let rows = log(&key(), 3);
        let b = verify(&DataKey::generate(), &rows, head(&rows)).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 1,
                kind: BreakKind::Edited
            }
        );
    }

    #[test]
    fn edit_is_named() {
        let k = key();
        for (which, change) in [
            (5, (|r: &mut Row| r.detail = "x".into()) as fn(&mut Row)),
            (1, |r: &mut Row| r.actor = "admin".into()),
            (8, |r: &mut Row| r.at_ms += 1),
            (3, |r: &mut Row| r.prev_hash = GENESIS_HASH.into()),
        ] {
            let mut rows = log(&k, 8);
            change(&mut rows[which - 1]);
            let b = verify(&k, &rows, head(&log(&k, 8))).unwrap_err();
            assert_eq!(
                b,
                ChainBreak {
                    seq: which as i64,
                    kind: BreakKind::Edited
                }
            );
            assert_eq!(
                b.to_string(),
                format!(
                    "entry {which} was edited (its MAC does not match its contents or the entry before it)"
                )
            );
        }
    }

    #[test]
    fn genuine_entry_from_another_chain_is_an_edit() {
        let k = key();
        let mut rows = log(&k, 5);
        let mut other = log(&k, 5);
        other[2].subject = "opinion/999".into();
        other[2].hash = k.audit_mac(&other[2].fields());
        other[3].prev_hash = other[2].hash.clone();
        other[3].hash = k.audit_mac(&other[3].fields());
        // Row 3 replaced by the other chain's genuine row 3: row 4 no longer links.
        rows[2] = other[2].clone();
        let b = verify(&k, &rows, None).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 4,
                kind: BreakKind::Edited
            }
        );
    }

    #[test]
    fn deletion_in_the_middle_is_named() {
        let k = key();
        let full = log(&k, 8);
        let mut rows = full.clone();
        rows.remove(4);
        let b = verify(&k, &rows, head(&full)).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 5,
                kind: BreakKind::Deleted {
                    missing_from: 5,
                    missing_to: 5
                }
            }
        );
        assert_eq!(b.to_string(), "entry 5 is missing (deleted)");

        let mut rows = full.clone();
        rows.drain(2..5);
        let b = verify(&k, &rows, head(&full)).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 3,
                kind: BreakKind::Deleted {
                    missing_from: 3,
                    missing_to: 5
                }
            }
        );
        assert_eq!(b.to_string(), "entries 3–5 are missing (deleted)");
    }

    #[test]
    fn deletion_of_the_first_entry_is_named() {
        let k = key();
        let full = log(&k, 4);
        let b = verify(&k, &full[1..], head(&full)).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 1,
                kind: BreakKind::Deleted {
                    missing_from: 1,
                    missing_to: 1
                }
            }
        );
    }

    #[test]
    fn deletion_hidden_by_renumbering_is_still_a_deletion() {
        let k = key();
        let full = log(&k, 8);
        for gone in [1usize, 5, 7] {
            let mut rows = full.clone();
            rows.remove(gone - 1);
            for r in rows.iter_mut().skip(gone - 1) {
                r.seq -= 1;
            }
            let b = verify(&k, &rows, Some((7, &rows[6].hash))).unwrap_err();
            let g = gone as i64;
            assert_eq!(
                b,
                ChainBreak {
                    seq: g,
                    kind: BreakKind::Deleted {
                        missing_from: g,
                        missing_to: g
                    }
                },
                "deleted {gone}"
            );
        }
    }

    #[test]
    fn swap_is_named_reordered() {
        let k = key();
        let full = log(&k, 8);
        for (a, b) in [(5, 6), (1, 2), (7, 8), (3, 5)] {
            let mut rows = full.clone();
            swap_contents(&mut rows, a, b);
            let got = verify(&k, &rows, head(&full)).unwrap_err();
            assert_eq!(
                got,
                ChainBreak {
                    seq: a,
                    kind: BreakKind::Reordered
                },
                "swap {a}<->{b}"
            );
        }
        let mut rows = full.clone();
        swap_contents(&mut rows, 5, 6);
        assert_eq!(
            verify(&k, &rows, None).unwrap_err().to_string(),
            "entry 5 is out of order (it does not follow entry 4)"
        );
    }

    #[test]
    fn seq_going_backwards_is_reordered() {
        let k = key();
        let full = log(&k, 5);
        let rows = [full[0].clone(), full[1].clone(), full[1].clone()];
        let b = verify(&k, &rows, None).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 2,
                kind: BreakKind::Reordered
            }
        );
    }

    #[test]
    fn tail_truncation_is_caught_by_the_head() {
        let k = key();
        let full = log(&k, 8);
        let h = head(&full);
        assert_eq!(verify(&k, &full[..6], None), Ok(6));
        let b = verify(&k, &full[..6], h).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 7,
                kind: BreakKind::TailDeleted { last_seen: 6 }
            }
        );
        assert_eq!(
            b.to_string(),
            "entries from 7 on are missing (the log ends at entry 6 but its recorded head is later)"
        );
        let b = verify(&k, &[], h).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 1,
                kind: BreakKind::TailDeleted { last_seen: 0 }
            }
        );
    }

    #[test]
    fn head_that_does_not_match_is_named() {
        let k = key();
        let full = log(&k, 4);
        let b = verify(&k, &full, Some((4, GENESIS_HASH))).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 4,
                kind: BreakKind::HeadMismatch
            }
        );
        let b = verify(&k, &full, Some((3, &full[2].hash))).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 4,
                kind: BreakKind::HeadMismatch
            }
        );
    }

    #[test]
    fn a_break_sticks() {
        let k = key();
        let mut rows = log(&k, 4);
        rows[1].detail = "x".into();
        let mut v = Verifier::new(&k);
        v.push(&rows[0].fields(), &rows[0].hash).unwrap();
        let first = v.push(&rows[1].fields(), &rows[1].hash).unwrap_err();
        assert_eq!(v.push(&rows[2].fields(), &rows[2].hash), Err(first.clone()));
        assert_eq!(v.finish(None), Err(first));
    }
}
