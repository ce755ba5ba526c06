//! Masked forms of personal fields, for pages, exports and logs that must not show
//! them whole. They work on any text (already decrypted, possibly never validated) and
//! never panic; the rules match `minyi_core`'s `masked()` for parsed values.

/// First character, then a star for each other one: 张三丰 → 张**. A one-character
/// name is all star.
pub fn name(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    match (chars.next(), s.chars().count()) {
        (None, _) => String::new(),
        (Some(_), 1) => "*".to_owned(),
        (Some(first), n) => {
            let mut out = String::with_capacity(s.len());
            out.push(first);
            out.extend(std::iter::repeat_n('*', n - 1));
            out
        }
    }
}

/// As `PhoneNumber::masked`: a mobile shows 3 + `****` + 4 digits, a landline 4 +
/// `****` + 4, a service number of at most 5 digits is public and shown whole. Text
/// that is not a phone number keeps at most a quarter at each end.
pub fn phone(digits: &str) -> String {
    if let Ok(p) = minyi_core::PhoneNumber::parse(digits) {
        return p.masked();
    }
    let chars: Vec<char> = digits.trim().chars().collect();
    let keep = chars.len() / 4;
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}****{tail}")
}

/// First 6 (the region) + a star for each hidden character + last 4:
/// 530102199001011234 → 530102********1234. Ten characters or fewer are all stars.
pub fn id_number(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n <= 10 {
        return "*".repeat(n);
    }
    let mut out: String = chars[..6].iter().collect();
    out.extend(std::iter::repeat_n('*', n - 10));
    out.extend(&chars[n - 4..]);
    out
}

/// The first 6 characters (roughly the city and district) then `****`; an address of
/// 6 characters or fewer keeps its first half.
pub fn address(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let keep = if chars.len() > 6 { 6 } else { chars.len() / 2 };
    let mut out: String = chars[..keep].iter().collect();
    out.push_str("****");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use minyi_core::identity::{Address, IdNumber, ResidentName};
    use proptest::prelude::*;

    #[test]
    fn masks_names() {
        assert_eq!(name("张三丰"), "张**");
        assert_eq!(name("欧阳娜娜"), "欧***");
        assert_eq!(name("李"), "*");
        assert_eq!(name(""), "");
        assert_eq!(name(" 王五 "), "王*");
    }

    #[test]
    fn masks_phones_like_core() {
        assert_eq!(phone("13800005678"), "138****5678");
        assert_eq!(phone("08752123456"), "0875****3456");
        assert_eq!(phone("110"), "110");
        assert_eq!(phone("12345"), "12345");
        assert_eq!(phone("12345678"), "12****78");
        assert_eq!(phone(""), "****");
    }

    #[test]
    fn masks_id_numbers_and_addresses() {
        assert_eq!(id_number("53010219900101123X"), "530102********123X");
        assert_eq!(id_number("530102900101123"), "530102*****1123");
        assert_eq!(id_number("12345"), "*****");
        assert_eq!(
            address("云南省昆明市五华区华山南路12号"),
            "云南省昆明市****"
        );
        assert_eq!(address("华山南路"), "华山****");
        assert_eq!(address("a"), "****");
    }

    #[test]
    fn agrees_with_core_for_parsed_values() {
        let n = ResidentName::parse("欧阳娜娜").unwrap();
        assert_eq!(name(n.as_str()), n.masked());
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id_number(id.as_str()), id.masked());
        for a in ["云南省昆明市五华区华山南路12号", "华山南路", "北京"] {
            let a = Address::parse(a).unwrap();
            assert_eq!(address(a.as_str()), a.masked());
        }
    }

    proptest! {
        #[test]
        fn masking_never_panics_nor_shows_long_values_whole(s in "\\PC{0,40}") {
            prop_assume!(!s.contains('*'));
            for masked in [name(&s), phone(&s), id_number(&s), address(&s)] {
                if s.trim().chars().count() > 5 {
                    prop_assert_ne!(masked, s.trim());
                }
            }
        }
    }
}
