//! A small seeded generator (SplitMix64) for shuffles and splits, so training and
//! evaluation are reproducible from a seed without pulling in a random-number crate.

/// SplitMix64: tiny, fast and good enough for shuffling.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias is irrelevant for shuffling.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Splits indices `0..labels.len()` into (kept, held out) so each label value keeps
/// about `fraction` of its members held out (at least one when it has two or more).
pub(crate) fn stratified_split(
    labels: &[usize],
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let max = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); max];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(v) = by_class.get_mut(l) {
            v.push(i);
        }
    }
    let mut kept = Vec::new();
    let mut held = Vec::new();
    for mut members in by_class {
        rng.shuffle(&mut members);
        let n = members.len();
        let mut h = (n as f64 * fraction).round() as usize;
        if n >= 2 {
            h = h.clamp(1, n - 1);
        } else {
            h = 0;
        }
        held.extend_from_slice(members.get(..h).unwrap_or(&[]));
        kept.extend_from_slice(members.get(h..).unwrap_or(&[]));
    }
    kept.sort_unstable();
    held.sort_unstable();
    (kept, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_disjoint_and_seeded() {
        let labels: Vec<usize> = (0..100).map(|i| i % 4).collect();
        let (k, h) = stratified_split(&labels, 0.2, 7);
        assert_eq!(k.len() + h.len(), 100);
        assert_eq!(h.len(), 20);
        for c in 0..4 {
            assert_eq!(h.iter().filter(|&&i| labels.get(i) == Some(&c)).count(), 5);
        }
        assert!(k.iter().all(|i| !h.contains(i)));
        assert_eq!(stratified_split(&labels, 0.2, 7), (k, h.clone()));
        assert_ne!(stratified_split(&labels, 0.2, 8).1, h);
    }
}
