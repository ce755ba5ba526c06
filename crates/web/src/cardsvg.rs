//! Contact cards (A6) and boards (A4) drawn as print-ready SVG: one user unit is one
//! millimetre, text sized to fit its line, the QR code's modules drawn as one path.
//!
//! Only presentation lives here: what a card says comes from `minyi_app::cards`. Every
//! piece of text is escaped; there are no style attributes or scripts, so the CSP holds
//! when the file is opened on its own.

use minyi_app::cards::CardContent;
use minyi_store::ScanTarget;
use qrcode::{Color, EcLevel, QrCode};

use crate::html::esc;
use crate::i18n::{Lang, t};

/// Modules of white around the code, as the QR standard asks.
pub const QUIET_ZONE: usize = 4;

const ACCENT: &str = "#0b4f8a";
const INK: &str = "#1d2733";
const MUTED: &str = "#5b6673";
const FONT: &str = "Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif";

/// A QR code's dark modules, row by row.
pub struct QrMatrix {
    pub width: usize,
    pub dark: Vec<bool>,
}

/// Encodes `data` with error correction Q (a quarter of the code may be dirty or torn:
/// cards live in wallets and boards outdoors).
pub fn qr_matrix(data: &str) -> Result<QrMatrix, String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::Q)
        .map_err(|e| format!("QR code for {data}: {e}"))?;
    Ok(QrMatrix {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    })
}

/// The QR code as a group `size` mm wide at (`x`, `y`), quiet zone included: a white
/// square and one path of the dark modules in module units, runs of a row merged.
fn qr_group(m: &QrMatrix, x: f64, y: f64, size: f64) -> String {
    let n = m.width + 2 * QUIET_ZONE;
    let scale = size / n as f64;
    let mut d = String::new();
    for row in 0..m.width {
        let mut col = 0;
        while col < m.width {
            if !m.dark[row * m.width + col] {
                col += 1;
                continue;
            }
            let start = col;
            while col < m.width && m.dark[row * m.width + col] {
                col += 1;
            }
            let run = col - start;
            d.push_str(&format!(
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                row + QUIET_ZONE
            ));
        }
    }
    format!(
        "<g data-qr-modules=\"{w}\" data-qr-quiet=\"{QUIET_ZONE}\" transform=\"translate({x:.2} {y:.2}) scale({scale:.5})\">\
         <rect width=\"{n}\" height=\"{n}\" fill=\"#fff\"/>\
         <path d=\"{d}\" fill=\"#000\" shape-rendering=\"crispEdges\"/></g>",
        w = m.width,
    )
}

/// Width of `s` in ems, estimated: CJK and full-width characters take a whole em, Latin
/// letters and digits a little over half. Browsers' fonts differ, so the estimate leans
/// wide — a line may end up a little short, never clipped.
fn ems(s: &str) -> f64 {
    s.chars()
        .map(|c| match c {
            ' ' => 0.32,
            '-' | '.' | ',' | ':' | '/' | '(' | ')' | 'i' | 'l' | 'j' | 'I' | '1' => 0.4,
            'M' | 'W' | 'm' | 'w' => 0.9,
            c if c.is_ascii() => 0.62,
            _ => 1.0,
        })
        .sum()
}

/// A line of text: a run of spans (`size`, `bold`, `colour`, `text`) on one baseline,
/// centred on `cx` and scaled down together until it fits `max_width`.
struct Line<'a> {
    spans: Vec<(f64, bool, &'a str, String)>,
    /// Space before each span after the first, in ems of the span before it.
    gap: f64,
}

impl<'a> Line<'a> {
    fn new() -> Line<'a> {
        Line {
            spans: Vec::new(),
            gap: 0.35,
        }
    }

    fn span(mut self, size: f64, bold: bool, colour: &'a str, text: impl Into<String>) -> Self {
        self.spans.push((size, bold, colour, text.into()));
        self
    }

    fn gaps(&self) -> Vec<f64> {
        let mut out = vec![0.0];
        out.extend(self.spans.windows(2).map(|w| w[0].0 * self.gap));
        out
    }

    fn width(&self) -> f64 {
        let text: f64 = self.spans.iter().map(|(size, _, _, s)| size * ems(s)).sum();
        text + self.gaps().iter().sum::<f64>()
    }

    fn draw(&self, cx: f64, y: f64, max_width: f64) -> String {
        let w = self.width();
        let k = if w > max_width { max_width / w } else { 1.0 };
        let mut out = format!("<text x=\"{cx:.2}\" y=\"{y:.2}\" text-anchor=\"middle\">");
        for ((size, bold, colour, text), gap) in self.spans.iter().zip(self.gaps()) {
            let dx = if gap > 0.0 {
                format!(" dx=\"{:.2}\"", gap * k)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "<tspan{dx} font-size=\"{:.2}\" fill=\"{colour}\"{}>{}</tspan>",
                size * k,
                if *bold { " font-weight=\"bold\"" } else { "" },
                esc(text)
            ));
        }
        out.push_str("</text>");
        out
    }
}

/// The scan address without its scheme, printed under the code for those who type it.
fn shown_url(url: &str) -> &str {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
}

fn open(width: f64, height: f64, title: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}mm\" height=\"{height}mm\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"{FONT}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>\
         <rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>",
        t = esc(title)
    )
}

fn subline(lang: Lang, c: &CardContent) -> String {
    match c.target {
        ScanTarget::Area => c.station.name.clone(),
        ScanTarget::Unit => c
            .county_bureau
            .clone()
            .unwrap_or_else(|| t(lang, "cards.station").to_owned()),
    }
}

fn footer(lang: Lang, c: &CardContent) -> String {
    if c.synthetic {
        format!("{} · {}", c.bureau, t(lang, "cards.synthetic"))
    } else {
        c.bureau.clone()
    }
}

fn chief_name(lang: Lang, c: &CardContent) -> String {
    c.chief
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_else(|| t(lang, "cards.not_registered").to_owned())
}

fn phone(lang: Lang, c: &CardContent) -> String {
    c.duty_phone
        .clone()
        .unwrap_or_else(|| t(lang, "cards.not_registered").to_owned())
}

fn promise(lang: Lang, c: &CardContent) -> String {
    t(lang, "cards.promise").replace("{days}", &c.reply_days.to_string())
}

/// The A6 card (105 × 148 mm, portrait).
pub fn card(lang: Lang, c: &CardContent) -> Result<String, String> {
    let (w, h) = (105.0, 148.0);
    let cx = w / 2.0;
    let inner = w - 12.0;
    let qr = qr_matrix(&c.scan_url)?;
    let title = t(lang, "cards.card_title");
    let mut s = open(w, h, &format!("{title} · {}", c.name));
    s.push_str(&format!(
        "<rect x=\"1.5\" y=\"1.5\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"none\" stroke=\"{ACCENT}\" stroke-width=\"0.6\"/>",
        w - 3.0,
        h - 3.0
    ));
    s.push_str(&format!(
        "<path d=\"M1.5 4.5a3 3 0 0 1 3-3h{}a3 3 0 0 1 3 3v19h-{}z\" fill=\"{ACCENT}\"/>",
        w - 9.0,
        w - 3.0
    ));
    s.push_str(
        &Line::new()
            .span(4.2, false, "#fff", c.bureau.clone())
            .draw(cx, 10.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(7.5, true, "#fff", title)
            .draw(cx, 20.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(8.0, true, INK, c.name.clone())
            .draw(cx, 35.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(4.4, false, MUTED, subline(lang, c))
            .draw(cx, 42.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(4.6, false, MUTED, t(lang, "cards.chief"))
            .span(9.0, true, INK, chief_name(lang, c))
            .draw(cx, 54.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(4.6, false, MUTED, t(lang, "cards.duty_phone"))
            .span(8.0, true, INK, phone(lang, c))
            .draw(cx, 65.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(5.0, true, ACCENT, t(lang, "cards.invite"))
            .draw(cx, 74.5, inner),
    );
    let size = 50.0;
    s.push_str(&qr_group(&qr, cx - size / 2.0, 77.0, size));
    s.push_str(
        &Line::new()
            .span(3.0, false, MUTED, shown_url(&c.scan_url))
            .draw(cx, 131.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(3.4, false, INK, promise(lang, c))
            .draw(cx, 137.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(3.0, false, MUTED, footer(lang, c))
            .draw(cx, 143.5, inner),
    );
    s.push_str("</svg>\n");
    Ok(s)
}

/// The A4 board (210 × 297 mm, portrait).
pub fn board(lang: Lang, c: &CardContent) -> Result<String, String> {
    let (w, h) = (210.0, 297.0);
    let cx = w / 2.0;
    let inner = w - 24.0;
    let qr = qr_matrix(&c.scan_url)?;
    let title = t(lang, "cards.board_title");
    let mut s = open(w, h, &format!("{title} · {}", c.name));
    s.push_str(&format!(
        "<rect x=\"3\" y=\"3\" width=\"{}\" height=\"{}\" rx=\"5\" fill=\"none\" stroke=\"{ACCENT}\" stroke-width=\"1.2\"/>",
        w - 6.0,
        h - 6.0
    ));
    s.push_str(&format!(
        "<path d=\"M3 8a5 5 0 0 1 5-5h{}a5 5 0 0 1 5 5v34h-{}z\" fill=\"{ACCENT}\"/>",
        w - 16.0,
        w - 6.0
    ));
    s.push_str(
        &Line::new()
            .span(7.0, false, "#fff", c.bureau.clone())
            .draw(cx, 17.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(14.0, true, "#fff", title)
            .draw(cx, 35.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(14.0, true, INK, c.name.clone())
            .draw(cx, 62.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(7.0, false, MUTED, subline(lang, c))
            .draw(cx, 74.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(7.5, false, MUTED, t(lang, "cards.chief"))
            .span(15.0, true, INK, chief_name(lang, c))
            .draw(cx, 96.0, inner),
    );
    let mut y = 110.0;
    if let Some(i) = &c.instructor {
        s.push_str(
            &Line::new()
                .span(6.5, false, MUTED, t(lang, "cards.instructor"))
                .span(9.0, true, INK, i.name.clone())
                .draw(cx, y, inner),
        );
        y += 14.0;
    }
    s.push_str(
        &Line::new()
            .span(7.5, false, MUTED, t(lang, "cards.duty_phone"))
            .span(14.0, true, INK, phone(lang, c))
            .draw(cx, y + 2.0, inner),
    );
    y += 14.0;
    if c.target == ScanTarget::Unit && !c.community_officers.is_empty() {
        s.push_str(
            &Line::new()
                .span(
                    6.0,
                    false,
                    MUTED,
                    format!(
                        "{}：{}",
                        t(lang, "cards.community_officers"),
                        c.community_officers.join("、")
                    ),
                )
                .draw(cx, y, inner),
        );
    }
    s.push_str(
        &Line::new()
            .span(9.0, true, ACCENT, t(lang, "cards.invite"))
            .draw(cx, 164.0, inner),
    );
    let size = 88.0;
    s.push_str(&qr_group(&qr, cx - size / 2.0, 169.0, size));
    s.push_str(
        &Line::new()
            .span(4.5, false, MUTED, shown_url(&c.scan_url))
            .draw(cx, 264.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(5.5, false, INK, promise(lang, c))
            .draw(cx, 274.0, inner),
    );
    s.push_str(
        &Line::new()
            .span(4.5, false, MUTED, footer(lang, c))
            .draw(cx, 287.0, inner),
    );
    s.push_str("</svg>\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_matrix_is_square_with_finder_corners() {
        let m = qr_matrix("http://127.0.0.1:8080/q/a/A-LY-01-003").unwrap();
        assert_eq!(m.dark.len(), m.width * m.width);
        // The top-left finder pattern: a dark 7×7 ring.
        assert!((0..7).all(|i| m.dark[i] && m.dark[i * m.width]));
        assert!(!m.dark[7]);
    }

    #[test]
    fn long_lines_shrink_to_fit() {
        let long = "很长的名字".repeat(10);
        let line = Line::new().span(8.0, true, INK, long.clone());
        let svg = line.draw(50.0, 10.0, 90.0);
        let size: f64 = svg
            .split("font-size=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(size * ems(&long) <= 90.0 + 1e-6, "{size}");
        assert!(
            Line::new()
                .span(8.0, false, INK, "<&>")
                .draw(0.0, 0.0, 90.0)
                .contains("&lt;&amp;&gt;")
        );
    }
}
