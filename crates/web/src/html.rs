//! A tiny HTML writer: escaping in one place, the page frame in another. Issue-sized
//! pages move to askama templates as they grow.

use crate::i18n::{Lang, t};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The frame every page shares: language, title, header with the language switch, the
/// synthetic-data banner where it applies, and the footer.
pub fn page(lang: Lang, title: &str, synthetic: bool, path: &str, body: &str) -> String {
    let other = lang.other();
    let banner = if synthetic {
        format!(
            "<p class=\"banner\" role=\"note\">{}</p>",
            esc(t(lang, "synthetic_banner"))
        )
    } else {
        String::new()
    };
    format!(
        "<!doctype html>\n<html lang=\"{lang_tag}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · {app}</title>\n<link rel=\"stylesheet\" href=\"/assets/minyi.css\">\n<link rel=\"icon\" href=\"/assets/icon.svg\" type=\"image/svg+xml\">\n</head>\n<body>\n\
         <header><div><h1><a href=\"/\">{app}</a></h1><span class=\"tagline\">{tagline}</span></div>\
         <a href=\"{path}?lang={other_tag}\" lang=\"{other_tag}\">{switch}</a></header>\n\
         <main>\n{banner}{body}\n</main>\n<footer>{footer}</footer>\n</body>\n</html>\n",
        lang_tag = lang.tag(),
        title = esc(title),
        app = esc(t(lang, "app_name")),
        tagline = esc(t(lang, "app_tagline")),
        path = esc(path),
        other_tag = other.tag(),
        switch = esc(t(lang, "lang_switch")),
        footer = esc(t(lang, "footer")),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
