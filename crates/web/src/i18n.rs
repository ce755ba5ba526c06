//! Message catalogues: every user-facing string, zh-CN first with an English
//! translation. Templates and handlers name keys; they never hold prose.

use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    ZhCn,
    En,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::ZhCn => Lang::En,
            Lang::En => Lang::ZhCn,
        }
    }

    /// The language asked for: `?lang=` first, then the `lang` cookie; otherwise zh-CN.
    /// Accept-Language is deliberately not consulted: office browsers are often set up in
    /// English, and the bureau's working language is Chinese — English is a choice.
    pub fn negotiate(query: Option<&str>, cookie: Option<&str>) -> Lang {
        let parse = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::ZhCn),
            _ => None,
        };
        query
            .and_then(parse)
            .or_else(|| cookie.and_then(parse))
            .unwrap_or(Lang::ZhCn)
    }
}

pub type Catalogue = BTreeMap<String, String>;

const ZH_CN: &str = include_str!("../locales/zh-CN.toml");
const EN: &str = include_str!("../locales/en.toml");

fn parse(name: &str, text: &str) -> Catalogue {
    // The catalogues are compiled in and checked by tests; a broken one is a build defect.
    toml::from_str(text)
        .unwrap_or_else(|e| panic!("message catalogue {name} is not valid TOML: {e}"))
}

fn catalogues() -> &'static (Catalogue, Catalogue) {
    static C: OnceLock<(Catalogue, Catalogue)> = OnceLock::new();
    C.get_or_init(|| (parse("zh-CN.toml", ZH_CN), parse("en.toml", EN)))
}

/// The message for `key` in `lang`; a missing key shows as the key itself, so a gap is
/// visible rather than blank (and tests catch it first).
pub fn t(lang: Lang, key: &str) -> &str {
    let (zh, en) = catalogues();
    let c = if lang == Lang::En { en } else { zh };
    c.get(key).map(String::as_str).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_have_the_same_keys_and_no_blanks() {
        let (zh, en) = catalogues();
        let zk: Vec<_> = zh.keys().collect();
        let ek: Vec<_> = en.keys().collect();
        assert_eq!(zk, ek, "zh-CN.toml and en.toml must list the same keys");
        for (k, v) in zh.iter().chain(en.iter()) {
            assert!(!v.trim().is_empty(), "{k} is blank");
        }
    }

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate(None, None), Lang::ZhCn);
        assert_eq!(Lang::negotiate(Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("en")), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh-CN"), Some("en")), Lang::ZhCn);
        assert_eq!(Lang::negotiate(Some("fr"), None), Lang::ZhCn);
    }
}
