//! Server-drawn SVG figures for the dashboards — monthly lines, stacked columns, ranked
//! horizontal bars and a choropleth map — returned as plain strings to embed in a page.
//!
//! Every figure is a pure function of its arguments so pages stay testable without a
//! browser. What this module must not do: emit `style` attributes or `<style>`/`<script>`
//! elements (the page CSP blocks them, so colours and sizes are presentation attributes and
//! the few hover/focus rules live under `.chart` in `assets/minyi.css`); print a non-finite
//! number; pass caller text or links through unescaped; follow a link with a script scheme.

use std::fmt::Write as _;

use crate::html::esc;

/// One line (or one stack layer) of a monthly figure. `values[i]` belongs to `x_labels[i]`;
/// missing or non-finite values are gaps, never zeros.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
    pub href: Option<&'a str>,
}

/// One row of a horizontal bar chart; `display` is the caller's formatted value text.
pub struct Bar<'a> {
    pub label: &'a str,
    pub value: f64,
    pub display: &'a str,
    pub href: Option<&'a str>,
}

/// One area of a map. `rings` are closed or open rings in planar units with y growing
/// north (see [`project`]); several rings draw with the even-odd rule so holes work.
pub struct Shape<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub rings: &'a [Vec<(f64, f64)>],
    pub value: Option<f64>,
    pub display: &'a str,
    pub href: Option<&'a str>,
}

/// A marked place on a map (e.g. a hotspot), in the same planar units as the shapes.
pub struct Point<'a> {
    pub x: f64,
    pub y: f64,
    pub label: &'a str,
    pub href: Option<&'a str>,
}

/// Okabe–Ito hues, each at least 3:1 against white (orange darkened to meet it, black
/// softened); series beyond six also change dash pattern so colour is never the only cue.
pub const SERIES_COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#9E6A00", "#333333",
];
const DASHES: [&str; 4] = ["", "7 3", "2 3", "9 3 2 3"];

/// ColorBrewer 5-class Blues: single-hue, so it reads the same under every common colour
/// deficiency. The light classes are below 3:1 on white, which is why every area also gets
/// a dark outline (the outline carries the non-text contrast).
pub const SEQUENTIAL: [&str; 5] = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"];

const W: f64 = 640.0;
const FONT: f64 = 12.0;
const SMALL: f64 = 11.0;
const INK: &str = "#1d2733";
const MUTED: &str = "#5b6673";
const GRID: &str = "#d8dee5";
const OUTLINE: &str = "#4d4d4d";
const NO_DATA_FILL: &str = "#f0f0f0";
const HATCH: &str = "#767676";
const POINT: &str = "#D55E00";
/// Beyond this magnitude a value is treated like a non-finite one: no dashboard count gets
/// near it, and it keeps sums of many series finite.
const MAX_ABS: f64 = 1e15;

fn usable(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_ABS
}

/// Ids end up in `id=` and `url(#…)`; anything outside `[A-Za-z0-9_-]` would break both.
fn safe_id(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "c-");
    }
    s
}

/// Relative links and http(s) pass; any other scheme (javascript:, data:, …) drops the link
/// but keeps the mark, so a bad href degrades to plain text instead of a hazard.
fn safe_href(h: Option<&str>) -> Option<&str> {
    let h = h?.trim();
    if h.is_empty() {
        return None;
    }
    match h.find([':', '/', '?', '#']) {
        Some(i) if h[i..].starts_with(':') => {
            let scheme = h[..i].to_ascii_lowercase();
            (scheme == "http" || scheme == "https").then_some(h)
        }
        _ => Some(h),
    }
}

/// A number for people: at most `max_dec` decimals, trailing zeros dropped, thousands
/// grouped with commas (the convention in both zh-CN and en). Non-finite gives "".
fn num(v: f64, max_dec: usize) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let raw = format!("{v:.max_dec$}");
    let trimmed = if raw.contains('.') {
        raw.trim_end_matches('0').trim_end_matches('.')
    } else {
        raw.as_str()
    };
    let (neg, body) = match trimmed.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, trimmed),
    };
    let (int, frac) = match body.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    let mut out = String::with_capacity(body.len() + body.len() / 3 + 2);
    // "-0" after rounding is just 0.
    if neg && (frac.is_some() || int.bytes().any(|b| b != b'0')) {
        out.push('-');
    }
    let digits = int.as_bytes();
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(char::from(*d));
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A coordinate: one decimal is finer than any screen needs at this viewBox size.
fn c(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let s = format!("{v:.1}");
    let s = s.strip_suffix(".0").unwrap_or(&s);
    if s == "-0" { "0".into() } else { s.into() }
}

/// The browser lays out the text, so widths are estimates: CJK and other wide characters
/// are about one em, Latin about 0.6 em. Erring wide only costs a little margin.
fn text_w(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|ch| {
            if u32::from(ch) >= 0x2E80 {
                1.0
            } else if ch.is_ascii_uppercase() || ch.is_ascii_digit() {
                0.62
            } else {
                0.56
            }
        })
        .sum::<f64>()
        * size
}

/// Cuts text to an estimated width with an ellipsis; the full text stays in a `<title>`.
fn fit_text(s: &str, max_w: f64, size: f64) -> String {
    if text_w(s, size) <= max_w {
        return s.to_string();
    }
    let budget = max_w - text_w("…", size);
    let mut out = String::new();
    let mut w = 0.0;
    for ch in s.chars() {
        let cw = text_w(ch.encode_utf8(&mut [0; 4]), size);
        if w + cw > budget {
            break;
        }
        w += cw;
        out.push(ch);
    }
    out.push('…');
    out
}

fn open(out: &mut String, id: &str, kind: &str, title: &str, desc: &str, h: f64) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart chart-{kind}\" role=\"img\" \
         aria-labelledby=\"{id}-title\" aria-describedby=\"{id}-desc\" viewBox=\"0 0 {w} {h}\" \
         width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" font-size=\"{FONT}\" fill=\"{INK}\">\
         <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{desc}</desc>",
        w = c(W),
        h = c(h),
        title = esc(title),
        desc = esc(desc),
    );
}

/// Wraps `inner` in a link when there is a usable href.
fn link(out: &mut String, href: Option<&str>, inner: &str) {
    match safe_href(href) {
        Some(h) => {
            let _ = write!(out, "<a href=\"{}\">{inner}</a>", esc(h));
        }
        None => out.push_str(inner),
    }
}

/// A figure with nothing to draw still says so, in the same frame as a full one.
fn empty(id: &str, kind: &str, title: &str, desc: &str, no_data: &str) -> String {
    let mut out = String::new();
    let h = 120.0;
    open(&mut out, id, &format!("{kind} chart-empty"), title, desc, h);
    let _ = write!(
        out,
        "<rect x=\"1\" y=\"1\" width=\"{w}\" height=\"{ih}\" fill=\"none\" stroke=\"{GRID}\" \
         stroke-dasharray=\"4 3\"/><text class=\"no-data\" x=\"{cx}\" y=\"{cy}\" \
         text-anchor=\"middle\" fill=\"{MUTED}\">{t}</text></svg>",
        w = c(W - 2.0),
        ih = c(h - 2.0),
        cx = c(W / 2.0),
        cy = c(h / 2.0 + FONT / 3.0),
        t = esc(no_data),
    );
    out
}

/// A y axis: bounds that include zero, a round step, and the ticks between.
struct Scale {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    decimals: usize,
}

/// Picks the smallest step in 1, 2, 2.5, 5 × 10ⁿ that covers the data in at most five
/// intervals. Each candidate is at most twice the previous one, so the chosen step always
/// leaves at least three intervals: 4–6 ticks.
fn nice_scale(min: f64, max: f64) -> Scale {
    let mut lo = min.min(0.0);
    let mut hi = max.max(0.0);
    if hi - lo <= 0.0 || !(hi - lo).is_finite() {
        lo = lo.min(0.0);
        hi = lo + 1.0;
    }
    let span = hi - lo;
    let mut mag = 10f64.powf((span / 10.0).log10().floor());
    let mut step = span;
    'search: for _ in 0..40 {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let s = m * mag;
            let n = (hi / s - 1e-9).ceil() - (lo / s + 1e-9).floor();
            if n <= 5.0 {
                step = s;
                break 'search;
            }
        }
        mag *= 10.0;
    }
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    let ticks: Vec<f64> = (first..=last).map(|i| i as f64 * step).collect();
    let decimals = (0..=10)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(10) as usize;
    Scale {
        lo: first as f64 * step,
        hi: last as f64 * step,
        ticks,
        decimals,
    }
}

/// How the x labels fit under their bands: level when they fit, else tilted and thinned.
struct XAxis {
    tilt: bool,
    every: usize,
    height: f64,
    /// Longest label after truncation, for the left overhang of tilted labels.
    widest: f64,
}

const TILT_MAX_W: f64 = 110.0;

fn x_axis(labels: &[String], band: f64) -> XAxis {
    let widest = labels.iter().map(|l| text_w(l, SMALL)).fold(0.0, f64::max);
    if widest + 6.0 <= band {
        return XAxis {
            tilt: false,
            every: 1,
            height: 24.0,
            widest,
        };
    }
    let widest = widest.min(TILT_MAX_W);
    let every = ((SMALL * 1.5) / band).ceil().max(1.0) as usize;
    XAxis {
        tilt: true,
        every,
        // sin 40° ≈ 0.643 of the label's length, plus the glyph height and a gap.
        height: widest * 0.643 + SMALL + 16.0,
        widest,
    }
}

fn draw_x_labels(
    out: &mut String,
    labels: &[String],
    ax: &XAxis,
    x_of: impl Fn(usize) -> f64,
    y: f64,
) {
    out.push_str("<g class=\"x-axis\" font-size=\"11\">");
    for (i, l) in labels.iter().enumerate() {
        if i % ax.every != 0 {
            continue;
        }
        let x = x_of(i);
        if ax.tilt {
            let shown = fit_text(l, TILT_MAX_W, SMALL);
            let ty = y + 12.0;
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\" transform=\"rotate(-40 {x} {ty})\">{t}</text>",
                x = c(x),
                ty = c(ty),
                t = esc(&shown),
            );
        } else {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                c(x),
                c(y + 16.0),
                esc(l)
            );
        }
    }
    out.push_str("</g>");
}

fn draw_y_axis(
    out: &mut String,
    s: &Scale,
    labels: &[String],
    left: f64,
    right: f64,
    y_of: impl Fn(f64) -> f64,
) {
    out.push_str("<g class=\"y-axis\">");
    for (t, l) in s.ticks.iter().zip(labels) {
        let y = y_of(*t);
        let _ = write!(
            out,
            "<line x1=\"{l0}\" y1=\"{y}\" x2=\"{r}\" y2=\"{y}\" stroke=\"{GRID}\"/>\
             <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\" fill=\"{MUTED}\">{lab}</text>",
            l0 = c(left),
            r = c(right),
            y = c(y),
            tx = c(left - 6.0),
            ty = c(y + FONT / 3.0),
            lab = esc(l),
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{x}\" y1=\"{t}\" x2=\"{x}\" y2=\"{b}\" stroke=\"{MUTED}\"/>\
         <line x1=\"{x}\" y1=\"{z}\" x2=\"{r}\" y2=\"{z}\" stroke=\"{MUTED}\"/></g>",
        x = c(left),
        t = c(y_of(s.hi)),
        b = c(y_of(s.lo)),
        z = c(y_of(0.0)),
        r = c(right),
    );
}

#[derive(Clone, Copy)]
enum Swatch {
    Line,
    Block,
}

/// Lays legend entries out in rows across `width`; returns (x, row, shown text) and rows.
fn legend_layout(series: &[Series<'_>], width: f64) -> (Vec<(f64, usize, String)>, usize) {
    let mut items = Vec::with_capacity(series.len());
    let (mut x, mut row) = (0.0, 0usize);
    for s in series {
        let shown = fit_text(s.label, width - 40.0, FONT);
        let w = 26.0 + text_w(&shown, FONT) + 16.0;
        if x > 0.0 && x + w > width {
            x = 0.0;
            row += 1;
        }
        items.push((x, row, shown));
        x += w;
    }
    let rows = if series.is_empty() { 0 } else { row + 1 };
    (items, rows)
}

const LEGEND_ROW: f64 = 20.0;

fn draw_legend(
    out: &mut String,
    series: &[Series<'_>],
    layout: &[(f64, usize, String)],
    x0: f64,
    y0: f64,
    swatch: Swatch,
) {
    out.push_str("<g class=\"legend\">");
    for (i, (s, (x, row, shown))) in series.iter().zip(layout).enumerate() {
        let (colour, dash) = style_of(i);
        let x = x0 + x;
        let y = y0 + *row as f64 * LEGEND_ROW;
        let mut item = format!("<g class=\"legend-item\"><title>{}</title>", esc(s.label));
        match swatch {
            Swatch::Line => {
                let _ = write!(
                    item,
                    "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>\
                     <circle cx=\"{cx}\" cy=\"{y}\" r=\"3.5\" fill=\"{colour}\"/>",
                    x1 = c(x),
                    x2 = c(x + 20.0),
                    cx = c(x + 10.0),
                    y = c(y),
                );
            }
            Swatch::Block => {
                let _ = write!(
                    item,
                    "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{colour}\"/>",
                    c(x + 3.0),
                    c(y - 7.0)
                );
            }
        }
        let _ = write!(
            item,
            "<text x=\"{}\" y=\"{}\">{}</text></g>",
            c(x + 26.0),
            c(y + FONT / 3.0),
            esc(shown)
        );
        link(out, s.href, &item);
    }
    out.push_str("</g>");
}

fn style_of(i: usize) -> (&'static str, String) {
    let colour = SERIES_COLOURS[i % SERIES_COLOURS.len()];
    let dash = DASHES[(i / SERIES_COLOURS.len() + i) % DASHES.len()];
    let dash = if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    };
    (colour, dash)
}

fn tick_labels(s: &Scale) -> Vec<String> {
    s.ticks.iter().map(|t| num(*t, s.decimals)).collect()
}

/// Plot geometry shared by the two monthly figures.
struct Frame {
    left: f64,
    right: f64,
    top: f64,
    plot_h: f64,
    band: f64,
    ax: XAxis,
    legend: (Vec<(f64, usize, String)>, usize),
}

const PLOT_H: f64 = 220.0;
const PAD: f64 = 8.0;

fn frame(x_labels: &[String], series: &[Series<'_>], ticks: &[String]) -> Frame {
    let tick_w = ticks.iter().map(|t| text_w(t, FONT)).fold(0.0, f64::max);
    let mut left = (tick_w + 14.0).max(30.0);
    let right = W - 16.0;
    let band = (right - left) / x_labels.len().max(1) as f64;
    let ax = x_axis(x_labels, band);
    if ax.tilt {
        // Tilted labels hang left of their tick; keep the first one inside the frame.
        let overhang = ax.widest * 0.766 - band / 2.0 + PAD;
        if overhang > left {
            left = overhang.min(W / 3.0);
        }
    }
    let band = (right - left) / x_labels.len().max(1) as f64;
    let legend = legend_layout(series, W - 2.0 * PAD);
    let top = PAD + legend.1 as f64 * LEGEND_ROW + 14.0;
    Frame {
        left,
        right,
        top,
        plot_h: PLOT_H,
        band,
        ax,
        legend,
    }
}

/// Monthly lines (e.g. opinions per channel over 12 months): x labels, one polyline plus
/// points per series, a legend and a y axis with 4–6 round ticks. Gaps break the line.
pub fn line_chart(
    id: &str,
    title: &str,
    desc: &str,
    x_labels: &[String],
    series: &[Series<'_>],
    no_data: &str,
) -> String {
    let sid = safe_id(id);
    let n = x_labels.len();
    let vals = || {
        series
            .iter()
            .flat_map(|s| s.values.iter().take(n).copied().filter(|v| usable(*v)))
    };
    if n == 0 || vals().next().is_none() {
        return empty(&sid, "line", title, desc, no_data);
    }
    let lo = vals().fold(f64::INFINITY, f64::min);
    let hi = vals().fold(f64::NEG_INFINITY, f64::max);
    let scale = nice_scale(lo, hi);
    let ticks = tick_labels(&scale);
    let f = frame(x_labels, series, &ticks);
    let h = f.top + f.plot_h + f.ax.height;
    let y_of = |v: f64| f.top + f.plot_h - (v - scale.lo) / (scale.hi - scale.lo) * f.plot_h;
    let x_of = |i: usize| f.left + f.band * (i as f64 + 0.5);

    let mut out = String::with_capacity(4096);
    open(&mut out, &sid, "line", title, desc, h);
    draw_y_axis(&mut out, &scale, &ticks, f.left, f.right, y_of);
    draw_x_labels(&mut out, x_labels, &f.ax, x_of, f.top + f.plot_h);
    for (si, s) in series.iter().enumerate() {
        let (colour, dash) = style_of(si);
        let mut g = format!("<g class=\"series s{si}\">");
        // Consecutive usable values form one polyline; a gap starts the next.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, v) in s.values.iter().take(n).enumerate() {
            if usable(*v) {
                if let Some(run) = runs.last_mut() {
                    run.push((x_of(i), y_of(*v)));
                }
            } else if runs.last().is_some_and(|r| !r.is_empty()) {
                runs.push(Vec::new());
            }
        }
        for run in runs.iter().filter(|r| r.len() > 1) {
            let pts: Vec<String> = run
                .iter()
                .map(|(x, y)| format!("{},{}", c(*x), c(*y)))
                .collect();
            let _ = write!(
                g,
                "<polyline class=\"mark\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-linejoin=\"round\"{dash}/>",
                pts.join(" ")
            );
        }
        for (i, v) in s.values.iter().take(n).enumerate() {
            if !usable(*v) {
                continue;
            }
            let _ = write!(
                g,
                "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"1\">\
                 <title>{} · {}: {}</title></circle>",
                c(x_of(i)),
                c(y_of(*v)),
                esc(s.label),
                esc(&x_labels[i]),
                num(*v, 2),
            );
        }
        g.push_str("</g>");
        link(&mut out, s.href, &g);
    }
    draw_legend(&mut out, series, &f.legend.0, PAD, PAD + 8.0, Swatch::Line);
    out.push_str("</svg>");
    out
}

/// Stacked columns per x label (e.g. opinions per category per month). Only positive
/// usable values stack; zero, negative and non-finite values draw nothing.
pub fn stacked_columns(
    id: &str,
    title: &str,
    desc: &str,
    x_labels: &[String],
    series: &[Series<'_>],
    no_data: &str,
) -> String {
    let sid = safe_id(id);
    let n = x_labels.len();
    let part = |v: f64| usable(v) && v > 0.0;
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            series
                .iter()
                .filter_map(|s| s.values.get(i).copied())
                .filter(|v| part(*v))
                .sum()
        })
        .collect();
    if totals.iter().all(|t| *t <= 0.0) {
        return empty(&sid, "stacked", title, desc, no_data);
    }
    let scale = nice_scale(0.0, totals.iter().copied().fold(0.0, f64::max));
    let ticks = tick_labels(&scale);
    let f = frame(x_labels, series, &ticks);
    let h = f.top + f.plot_h + f.ax.height;
    let y_of = |v: f64| f.top + f.plot_h - (v - scale.lo) / (scale.hi - scale.lo) * f.plot_h;
    let x_of = |i: usize| f.left + f.band * (i as f64 + 0.5);
    let col_w = (f.band * 0.7).min(48.0);

    let mut out = String::with_capacity(4096);
    open(&mut out, &sid, "stacked", title, desc, h);
    draw_y_axis(&mut out, &scale, &ticks, f.left, f.right, y_of);
    draw_x_labels(&mut out, x_labels, &f.ax, x_of, f.top + f.plot_h);
    let mut base = vec![0.0; n];
    for (si, s) in series.iter().enumerate() {
        let (colour, _) = style_of(si);
        let mut g = format!("<g class=\"series s{si}\">");
        for (i, v) in s.values.iter().take(n).enumerate() {
            if !part(*v) {
                continue;
            }
            let (y0, y1) = (y_of(base[i]), y_of(base[i] + v));
            base[i] += v;
            let _ = write!(
                g,
                "<rect class=\"mark\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"1\">\
                 <title>{} · {}: {}</title></rect>",
                c(x_of(i) - col_w / 2.0),
                c(y1),
                c(col_w),
                c((y0 - y1).max(0.0)),
                esc(s.label),
                esc(&x_labels[i]),
                num(*v, 2),
            );
        }
        g.push_str("</g>");
        link(&mut out, s.href, &g);
    }
    out.push_str("<g class=\"totals\" font-size=\"10\" fill=\"#5b6673\">");
    for (i, t) in totals.iter().enumerate() {
        let label = num(*t, 2);
        if *t > 0.0 && text_w(&label, 10.0) <= f.band {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                c(x_of(i)),
                c(y_of(*t) - 4.0),
                esc(&label)
            );
        }
    }
    out.push_str("</g>");
    draw_legend(&mut out, series, &f.legend.0, PAD, PAD + 8.0, Swatch::Block);
    out.push_str("</svg>");
    out
}

/// Horizontal labelled bars (e.g. stations ranked by on-time rate) in the given order, the
/// caller's `display` text at each bar's end. Bars scale to `max` when given (e.g. 100 for
/// percentages), else to the largest value; bars with a non-finite value are left out.
pub fn bar_chart(
    id: &str,
    title: &str,
    desc: &str,
    bars: &[Bar<'_>],
    max: Option<f64>,
    no_data: &str,
) -> String {
    let sid = safe_id(id);
    let rows: Vec<&Bar<'_>> = bars.iter().filter(|b| usable(b.value)).collect();
    if rows.is_empty() {
        return empty(&sid, "bar", title, desc, no_data);
    }
    let label_max = W * 0.35;
    let label_w = rows
        .iter()
        .map(|b| text_w(b.label, FONT))
        .fold(0.0, f64::max)
        .min(label_max);
    let disp_w = rows
        .iter()
        .map(|b| text_w(b.display, FONT))
        .fold(0.0, f64::max)
        .min(W * 0.25);
    let left = PAD + label_w + 8.0;
    let plot_w = (W - left - disp_w - 14.0).max(60.0);
    let top_value = rows.iter().map(|b| b.value).fold(0.0, f64::max);
    let m = max.filter(|m| usable(*m) && *m > 0.0).unwrap_or(top_value);
    let m = if m > 0.0 { m } else { 1.0 };
    let row_h = 26.0;
    let bar_h = 16.0;
    let h = 2.0 * PAD + rows.len() as f64 * row_h;

    let mut out = String::with_capacity(4096);
    open(&mut out, &sid, "bar", title, desc, h);
    for (i, b) in rows.iter().enumerate() {
        let y = PAD + i as f64 * row_h;
        let len = (b.value.max(0.0) / m).min(1.0) * plot_w;
        let mut g = format!(
            "<g class=\"bar\"><title>{}: {}</title>",
            esc(b.label),
            esc(b.display)
        );
        let _ = write!(
            g,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"mark\" x=\"{x}\" y=\"{by}\" width=\"{len}\" height=\"{bar_h}\" fill=\"{colour}\"/>\
             <text x=\"{vx}\" y=\"{ty}\">{disp}</text></g>",
            lx = c(left - 8.0),
            ty = c(y + row_h / 2.0 + FONT / 3.0),
            label = esc(&fit_text(b.label, label_max, FONT)),
            x = c(left),
            by = c(y + (row_h - bar_h) / 2.0),
            len = c(len),
            colour = SERIES_COLOURS[0],
            vx = c(left + len + 6.0),
            disp = esc(&fit_text(b.display, W * 0.25, FONT)),
        );
        link(&mut out, b.href, &g);
    }
    let _ = write!(
        out,
        "<line x1=\"{x}\" y1=\"{t}\" x2=\"{x}\" y2=\"{b}\" stroke=\"{MUTED}\"/></svg>",
        x = c(left),
        t = c(PAD),
        b = c(h - PAD)
    );
    out
}

/// Quantile class breaks of the usable values: the minimum, the interior quantiles
/// (linear interpolation, as numpy's default) and the maximum, strictly increasing, so
/// `classes` classes give at most `classes + 1` numbers. All-equal or single values give
/// one number (one class); no usable values give none.
pub fn class_breaks(values: &[f64], classes: usize) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| usable(*x)).collect();
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_by(f64::total_cmp);
    let k = classes.max(1);
    let last = v.len() - 1;
    let mut out: Vec<f64> = Vec::with_capacity(k + 1);
    for i in 0..=k {
        // Position i·last/k split in integers, so exact quantiles stay exact.
        let (a, rem) = ((i * last) / k, (i * last) % k);
        let b = (a + 1).min(last);
        let q = v[a] + (v[b] - v[a]) * (rem as f64 / k as f64);
        // Interpolation can land a hair above an equal neighbour; that is not a new class.
        match out.last() {
            Some(l) if q - l <= 1e-9 * q.abs().max(1.0) => {}
            _ => out.push(q),
        }
    }
    if let (Some(l), Some(top)) = (out.last_mut(), v.last()) {
        *l = *top;
    }
    out
}

/// Class of `v` among `breaks`: class 0 is [b0, b1], class i is (bi, bi+1].
fn class_of(v: f64, breaks: &[f64]) -> usize {
    let classes = breaks.len().saturating_sub(1).max(1);
    let interior = breaks.get(1..breaks.len().saturating_sub(1)).unwrap_or(&[]);
    interior.iter().filter(|b| v > **b).count().min(classes - 1)
}

fn class_colour(class: usize, classes: usize) -> &'static str {
    if classes <= 1 {
        return SEQUENTIAL[2];
    }
    let i = (class as f64 * 4.0 / (classes - 1) as f64).round() as usize;
    SEQUENTIAL[i.min(4)]
}

/// Equirectangular projection around latitude `lat0` (degrees): x = lon·cos(lat0), y = lat,
/// with y growing north. Distortion stays negligible over a county.
pub fn project(lon: f64, lat: f64, lat0: f64) -> (f64, f64) {
    (lon * lat0.to_radians().cos(), lat)
}

/// Where the map goes in the viewBox: planar (x, y) → SVG (x, y) with y flipped.
struct Fit {
    min_x: f64,
    max_y: f64,
    k: f64,
    ox: f64,
    oy: f64,
    h: f64,
}

impl Fit {
    fn at(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.ox + (x - self.min_x) * self.k,
            self.oy + (self.max_y - y) * self.k,
        )
    }
}

const MAP_W: f64 = 440.0;
const LEGEND_W: f64 = 180.0;

/// Scales the bounds of everything drawn into a `MAP_W` box whose height follows the
/// data's aspect (clamped), centring it; degenerate spans (one place) still get a frame.
fn fit(bounds: (f64, f64, f64, f64), legend_h: f64) -> Fit {
    let (min_x, min_y, max_x, max_y) = bounds;
    let dx = max_x - min_x;
    let dy = max_y - min_y;
    let box_h = if dx > 0.0 && dy > 0.0 {
        (MAP_W * dy / dx).clamp(160.0, 560.0)
    } else {
        240.0
    };
    let kx = if dx > 0.0 { MAP_W / dx } else { f64::INFINITY };
    let ky = if dy > 0.0 { box_h / dy } else { f64::INFINITY };
    let k = if kx.min(ky).is_finite() {
        kx.min(ky)
    } else {
        1.0
    };
    let h = (box_h + 2.0 * PAD).max(legend_h + 2.0 * PAD);
    Fit {
        min_x,
        max_y,
        k,
        ox: PAD + (MAP_W - dx * k) / 2.0,
        oy: (h - dy * k) / 2.0,
        h,
    }
}

/// A choropleth: shapes filled by value on a 5-class quantile scale (see [`class_breaks`])
/// with a legend of the breaks; shapes without a usable value are hatched and listed as
/// `no_data`; optional points drawn on top. Values should be in the unit the legend
/// should show (the legend formats the breaks itself; `display` is for each shape's title).
pub fn choropleth(
    id: &str,
    title: &str,
    desc: &str,
    shapes: &[Shape<'_>],
    points: &[Point<'_>],
    legend_title: &str,
    no_data: &str,
) -> String {
    let sid = safe_id(id);
    let ring_ok =
        |r: &Vec<(f64, f64)>| r.iter().filter(|(x, y)| usable(*x) && usable(*y)).count() >= 3;
    let drawable: Vec<&Shape<'_>> = shapes
        .iter()
        .filter(|s| s.rings.iter().any(ring_ok))
        .collect();
    let pts: Vec<&Point<'_>> = points
        .iter()
        .filter(|p| usable(p.x) && usable(p.y))
        .collect();
    let mut bounds = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    let mut grow = |x: f64, y: f64| {
        bounds = (
            bounds.0.min(x),
            bounds.1.min(y),
            bounds.2.max(x),
            bounds.3.max(y),
        );
    };
    for s in &drawable {
        for r in s.rings.iter().filter(|r| ring_ok(r)) {
            for (x, y) in r.iter().filter(|(x, y)| usable(*x) && usable(*y)) {
                grow(*x, *y);
            }
        }
    }
    for p in &pts {
        grow(p.x, p.y);
    }
    if drawable.is_empty() && pts.is_empty() {
        return empty(&sid, "map", title, desc, no_data);
    }

    let value = |s: &Shape<'_>| s.value.filter(|v| usable(*v));
    let values: Vec<f64> = drawable.iter().filter_map(|s| value(s)).collect();
    let breaks = class_breaks(&values, 5);
    let classes = breaks.len().saturating_sub(1).max(1);
    let any_missing = drawable.iter().any(|s| value(s).is_none());
    let legend_rows = if breaks.is_empty() { 0 } else { classes } + usize::from(any_missing);
    let legend_h = 24.0 + legend_rows as f64 * LEGEND_ROW;
    let fit = fit(bounds, legend_h);

    let mut out = String::with_capacity(8192);
    open(&mut out, &sid, "map", title, desc, fit.h);
    let hatch = format!("{sid}-nodata");
    let _ = write!(
        out,
        "<defs><pattern id=\"{hatch}\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\" \
         patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"{NO_DATA_FILL}\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"{HATCH}\" stroke-width=\"1.5\"/></pattern></defs>\
         <g class=\"areas\" stroke=\"{OUTLINE}\" stroke-width=\"0.8\" stroke-linejoin=\"round\">"
    );
    for s in &drawable {
        let mut d = String::new();
        for r in s.rings.iter().filter(|r| ring_ok(r)) {
            let mut first = true;
            for (x, y) in r.iter().filter(|(x, y)| usable(*x) && usable(*y)) {
                let (sx, sy) = fit.at(*x, *y);
                let _ = write!(d, "{}{} {}", if first { "M" } else { "L" }, c(sx), c(sy));
                first = false;
            }
            d.push('Z');
        }
        let fill = match value(s) {
            Some(v) => class_colour(class_of(v, &breaks), classes).to_string(),
            None => format!("url(#{hatch})"),
        };
        let path = format!(
            "<path class=\"mark area\" data-code=\"{}\" d=\"{d}\" fill=\"{fill}\" fill-rule=\"evenodd\">\
             <title>{}: {}</title></path>",
            esc(s.code),
            esc(s.name),
            esc(s.display),
        );
        link(&mut out, s.href, &path);
    }
    out.push_str("</g><g class=\"points\">");
    for p in &pts {
        let (x, y) = fit.at(p.x, p.y);
        let circle = format!(
            "<circle class=\"mark point\" cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{POINT}\" stroke=\"#fff\" stroke-width=\"1.5\">\
             <title>{}</title></circle>",
            c(x),
            c(y),
            esc(p.label)
        );
        link(&mut out, p.href, &circle);
    }
    out.push_str("</g>");

    let lx = W - LEGEND_W + 4.0;
    let text_max = LEGEND_W - 34.0;
    let _ = write!(
        out,
        "<g class=\"legend\"><text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>",
        c(lx),
        c(PAD + FONT),
        esc(&fit_text(legend_title, LEGEND_W - 8.0, FONT))
    );
    let mut y = PAD + 24.0;
    if !breaks.is_empty() {
        for i in 0..classes {
            let label = match (breaks.get(i), breaks.get(i + 1)) {
                (Some(a), Some(b)) => format!("{} – {}", num(*a, 2), num(*b, 2)),
                (Some(a), None) => num(*a, 2),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"18\" height=\"14\" fill=\"{}\" stroke=\"{OUTLINE}\" stroke-width=\"0.8\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text>",
                c(lx),
                c(y),
                class_colour(i, classes),
                c(lx + 26.0),
                c(y + 11.0),
                esc(&fit_text(&label, text_max, FONT))
            );
            y += LEGEND_ROW;
        }
    }
    if any_missing {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"18\" height=\"14\" fill=\"url(#{hatch})\" stroke=\"{OUTLINE}\" stroke-width=\"0.8\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            c(lx),
            c(y),
            c(lx + 26.0),
            c(y + 11.0),
            esc(&fit_text(no_data, text_max, FONT))
        );
    }
    out.push_str("</g></svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small well-formedness check: balanced tags, quoted attributes, known entities,
    /// no raw `<` in text. Enough to catch a broken writer without an XML dependency.
    fn check_xml(s: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = s;
        let mut roots = 0;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let after = &rest[open + 1..];
            let close = after.find('>').ok_or("unclosed tag")?;
            let tag = &after[..close];
            rest = &after[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let top = stack.pop().ok_or(format!("stray </{name}>"))?;
                if top != name {
                    return Err(format!("</{name}> closes <{top}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
            let name = &body[..name_end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            {
                return Err(format!("bad tag name in <{tag}>"));
            }
            check_attrs(&body[name_end..])?;
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        check_text(rest)?;
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(())
    }

    fn check_text(t: &str) -> Result<(), String> {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').ok_or("bare &")?;
            let ent = &after[..end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "#39")
                || (ent.starts_with('#') && ent[1..].chars().all(|ch| ch.is_ascii_digit()));
            if !ok {
                return Err(format!("unknown entity &{ent};"));
            }
            rest = &after[end + 1..];
        }
        Ok(())
    }

    fn check_attrs(a: &str) -> Result<(), String> {
        let mut rest = a.trim();
        let mut seen = Vec::new();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or(format!("attribute without value: {rest}"))?;
            let name = rest[..eq].trim();
            if seen.contains(&name) {
                return Err(format!("duplicate attribute {name}"));
            }
            seen.push(name);
            let v = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or(format!("unquoted {name}"))?;
            let end = v.find('"').ok_or(format!("unterminated {name}"))?;
            if v[..end].contains('<') {
                return Err(format!("< in {name}"));
            }
            check_text(&v[..end])?;
            rest = v[end + 1..].trim_start();
        }
        Ok(())
    }

    /// Everything any figure must satisfy.
    fn assert_sound(svg: &str) {
        if let Err(e) = check_xml(svg) {
            panic!("not well-formed: {e}\n{svg}");
        }
        assert!(!svg.contains("style="), "style attribute: {svg}");
        assert!(!svg.contains("<style"), "style element");
        assert!(!svg.contains("<script"), "script element");
        assert!(
            !svg.contains("NaN") && !svg.contains("inf"),
            "non-finite number: {svg}"
        );
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert!(
            svg.contains("role=\"img\"")
                && svg.contains("width=\"100%\"")
                && svg.contains("viewBox=\"0 0 ")
        );
        assert!(svg.contains("class=\"chart "));
    }

    fn months() -> Vec<String> {
        (1..=12).map(|m| format!("2024-{m:02}")).collect()
    }

    #[test]
    fn checker_rejects_broken_xml() {
        assert!(check_xml("<svg><g></svg>").is_err());
        assert!(check_xml("<svg a=b/>").is_err());
        assert!(check_xml("<svg>a & b</svg>").is_err());
        assert!(check_xml("<svg/><svg/>").is_err());
        assert!(check_xml("<svg a=\"1\"><g/></svg>").is_ok());
    }

    #[test]
    fn line_chart_draws_series_points_legend_and_links() {
        let a = [120.0, 340.0, f64::NAN, 1234.0, 800.0];
        let b = [10.0, 20.0, 30.0, f64::INFINITY, 50.0];
        let series = [
            Series {
                label: "12345 热线",
                values: &a,
                href: Some("/opinions?channel=hotline&y=2024"),
            },
            Series {
                label: "Web",
                values: &b,
                href: None,
            },
        ];
        let x = months()[..5].to_vec();
        let svg = line_chart(
            "ch1",
            "每月意见",
            "Opinions per month",
            &x,
            &series,
            "无数据",
        );
        assert_sound(&svg);
        assert!(svg.contains("chart-line"));
        assert!(svg.contains("<title id=\"ch1-title\">每月意见</title>"));
        assert!(svg.contains("<desc id=\"ch1-desc\">"));
        // The NaN splits the first series into two runs of two; the second series'
        // infinity leaves a run of three and a lone point (a circle, no polyline).
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("<circle class=\"mark\"").count(), 8);
        assert!(svg.contains("1,234"), "thousands grouped");
        assert!(
            svg.contains(
                "<a href=\"/opinions?channel=hotline&amp;y=2024\"><g class=\"series s0\">"
            )
        );
        assert!(!svg.contains("<g class=\"series s1\"><a"));
        assert!(svg.contains("<g class=\"legend-item\"><title>12345 热线</title>"));
        // Link appears for the series and its legend entry, nowhere else.
        assert_eq!(svg.matches("<a href=").count(), 2);
    }

    #[test]
    fn y_axis_has_four_to_six_round_ticks() {
        for (lo, hi) in [
            (0.0, 1.0),
            (0.0, 7.0),
            (0.0, 10.0),
            (0.0, 99.0),
            (0.0, 100.0),
            (3.0, 1234.0),
            (-40.0, 75.0),
            (0.0, 0.003),
            (0.0, 1e12),
            (5.0, 5.0),
            (0.0, 0.0),
        ] {
            let s = nice_scale(lo, hi);
            assert!(
                (4..=6).contains(&s.ticks.len()),
                "{lo}..{hi}: {:?}",
                s.ticks
            );
            assert!(
                s.lo <= lo.min(0.0) && s.hi >= hi,
                "{lo}..{hi} not covered by {:?}",
                s.ticks
            );
        }
        let s = nice_scale(0.0, 1234.0);
        assert_eq!(
            tick_labels(&s),
            ["0", "250", "500", "750", "1,000", "1,250"]
        );
        let s = nice_scale(0.0, 1.0);
        assert_eq!(tick_labels(&s), ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
    }

    #[test]
    fn numbers_are_grouped_and_never_non_finite() {
        assert_eq!(num(1234567.0, 0), "1,234,567");
        assert_eq!(num(-1234.5, 2), "-1,234.5");
        assert_eq!(num(-0.0001, 2), "0");
        assert_eq!(num(999.0, 2), "999");
        assert_eq!(num(f64::NAN, 2), "");
        assert_eq!(num(f64::INFINITY, 2), "");
        assert_eq!(c(-0.01), "0");
        assert_eq!(c(12.0), "12");
    }

    #[test]
    fn labels_are_escaped() {
        let evil = "<script>alert(1)</script>";
        let v = [1.0, 2.0];
        let series = [Series {
            label: evil,
            values: &v,
            href: Some("/x?a=\"b\""),
        }];
        let x = vec![evil.to_string(), "b".into()];
        let bars = [Bar {
            label: evil,
            value: 3.0,
            display: evil,
            href: None,
        }];
        let ring = vec![vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]];
        let shapes = [Shape {
            code: evil,
            name: evil,
            rings: &ring,
            value: Some(1.0),
            display: evil,
            href: None,
        }];
        let pts = [Point {
            x: 0.5,
            y: 0.5,
            label: evil,
            href: None,
        }];
        for svg in [
            line_chart(evil, evil, evil, &x, &series, evil),
            stacked_columns(evil, evil, evil, &x, &series, evil),
            bar_chart(evil, evil, evil, &bars, None, evil),
            choropleth(evil, evil, evil, &shapes, &pts, evil, evil),
            line_chart(evil, evil, evil, &[], &[], evil),
        ] {
            assert_sound(&svg);
            assert!(svg.contains("&lt;script&gt;"), "{svg}");
            // A hostile id cannot break out of id= or url(#…).
            assert!(
                svg.contains("id=\"c--script-alert-1---script--title\""),
                "{svg}"
            );
        }
    }

    #[test]
    fn script_links_are_dropped_but_marks_kept() {
        assert_eq!(safe_href(Some("javascript:alert(1)")), None);
        assert_eq!(safe_href(Some(" JavaScript:alert(1)")), None);
        assert_eq!(safe_href(Some("java\tscript:alert(1)")), None);
        assert_eq!(safe_href(Some("data:text/html,x")), None);
        assert_eq!(safe_href(Some("")), None);
        assert_eq!(
            safe_href(Some("/opinions?at=12:30")),
            Some("/opinions?at=12:30")
        );
        assert_eq!(safe_href(Some("opinions?x=1")), Some("opinions?x=1"));
        assert_eq!(
            safe_href(Some("https://intra.example/x")),
            Some("https://intra.example/x")
        );
        let bars = [Bar {
            label: "a",
            value: 1.0,
            display: "1",
            href: Some("javascript:alert(1)"),
        }];
        let svg = bar_chart("b", "t", "d", &bars, None, "none");
        assert_sound(&svg);
        assert!(!svg.contains("<a ") && svg.contains("<rect class=\"mark\""));
    }

    #[test]
    fn empty_inputs_say_no_data() {
        let nan = [f64::NAN, f64::INFINITY];
        let series = [Series {
            label: "a",
            values: &nan,
            href: None,
        }];
        let zeros = [0.0, -3.0];
        let zero_series = [Series {
            label: "a",
            values: &zeros,
            href: None,
        }];
        let x = vec!["1".to_string(), "2".to_string()];
        let bars = [Bar {
            label: "a",
            value: f64::NAN,
            display: "—",
            href: None,
        }];
        let no_rings: Vec<Vec<(f64, f64)>> = vec![vec![(0.0, 0.0), (f64::NAN, 1.0)]];
        let shapes = [Shape {
            code: "1",
            name: "a",
            rings: &no_rings,
            value: Some(1.0),
            display: "1",
            href: None,
        }];
        for svg in [
            line_chart("e", "t", "d", &[], &[], "暂无数据"),
            line_chart("e", "t", "d", &x, &[], "暂无数据"),
            line_chart("e", "t", "d", &x, &series, "暂无数据"),
            line_chart("e", "t", "d", &[], &series, "暂无数据"),
            stacked_columns("e", "t", "d", &x, &series, "暂无数据"),
            stacked_columns("e", "t", "d", &x, &zero_series, "暂无数据"),
            bar_chart("e", "t", "d", &[], None, "暂无数据"),
            bar_chart("e", "t", "d", &bars, Some(100.0), "暂无数据"),
            choropleth("e", "t", "d", &[], &[], "legend", "暂无数据"),
            choropleth("e", "t", "d", &shapes, &[], "legend", "暂无数据"),
        ] {
            assert_sound(&svg);
            assert!(svg.contains("chart-empty"), "{svg}");
            assert!(svg.contains(">暂无数据</text>"), "{svg}");
        }
    }

    #[test]
    fn stacked_columns_stack_and_link() {
        let a = [10.0, 0.0, 5.0];
        let b = [2500.0, f64::NAN, -1.0];
        let series = [
            Series {
                label: "治安",
                values: &a,
                href: Some("/opinions?cat=1"),
            },
            Series {
                label: "交通",
                values: &b,
                href: Some("/opinions?cat=2"),
            },
        ];
        let x = months()[..3].to_vec();
        let svg = stacked_columns("st", "t", "d", &x, &series, "none");
        assert_sound(&svg);
        assert!(svg.contains("chart-stacked"));
        // Only 10, 5 and 2,500 are drawn.
        assert_eq!(svg.matches("<rect class=\"mark\"").count(), 3);
        assert!(svg.contains(">2,510</text>"), "column total");
        assert!(svg.contains("<a href=\"/opinions?cat=2\"><g class=\"series s1\">"));
        // Segments of a column touch: the second starts where the first ends.
        let rects = rect_ys(&svg);
        assert_eq!(rects.len(), 3);
        let (y10, h10) = rects[0];
        let (y2500, h2500) = rects[2];
        assert!((y2500 + h2500 - y10).abs() < 0.11, "{rects:?}");
        assert!(h2500 > h10 * 100.0);
    }

    fn attr(tag: &str, name: &str) -> Option<f64> {
        let key = format!(" {name}=\"");
        let i = tag.find(&key)? + key.len();
        let end = tag[i..].find('"')?;
        tag[i..i + end].parse().ok()
    }

    fn rect_ys(svg: &str) -> Vec<(f64, f64)> {
        svg.split("<rect class=\"mark\"")
            .skip(1)
            .filter_map(|t| Some((attr(t, "y")?, attr(t, "height")?)))
            .collect()
    }

    #[test]
    fn bar_chart_scales_to_max_and_links_rows() {
        let bars = [
            Bar {
                label: "城关派出所",
                value: 87.5,
                display: "87.5%",
                href: Some("/stations/1"),
            },
            Bar {
                label: "Riverside",
                value: 50.0,
                display: "50%",
                href: None,
            },
            Bar {
                label: "Over",
                value: 150.0,
                display: "150%",
                href: None,
            },
            Bar {
                label: "Skipped",
                value: f64::NAN,
                display: "—",
                href: None,
            },
        ];
        let svg = bar_chart("bars", "t", "d", &bars, Some(100.0), "none");
        assert_sound(&svg);
        assert!(svg.contains("chart-bar"));
        assert!(
            svg.contains(
                "<a href=\"/stations/1\"><g class=\"bar\"><title>城关派出所: 87.5%</title>"
            )
        );
        assert!(!svg.contains("Skipped"));
        let widths: Vec<f64> = svg
            .split("<rect class=\"mark\"")
            .skip(1)
            .filter_map(|t| attr(t, "width"))
            .collect();
        assert_eq!(widths.len(), 3);
        assert!((widths[0] / widths[1] - 1.75).abs() < 0.01, "{widths:?}");
        // Over the max is clamped to the full width, not drawn past the value text.
        assert!(
            (widths[2] / widths[0] - 1.0 / 0.875).abs() < 0.01,
            "{widths:?}"
        );
    }

    #[test]
    fn class_breaks_on_known_inputs() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(class_breaks(&v, 5), [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
        assert_eq!(
            class_breaks(&[4.0, 1.0, 3.0, 2.0, 5.0], 4),
            [1.0, 2.0, 3.0, 4.0, 5.0]
        );
        let two: Vec<f64> = class_breaks(&[1.0, 2.0], 5)
            .iter()
            .map(|b| (b * 10.0).round() / 10.0)
            .collect();
        assert_eq!(two, [1.0, 1.2, 1.4, 1.6, 1.8, 2.0]);
        assert_eq!(class_breaks(&[7.0, 7.0, 7.0], 5), [7.0]);
        assert_eq!(class_breaks(&[42.0], 5), [42.0]);
        assert_eq!(class_breaks(&[], 5), Vec::<f64>::new());
        assert_eq!(
            class_breaks(&[f64::NAN, f64::INFINITY], 5),
            Vec::<f64>::new()
        );
        assert_eq!(
            class_breaks(&[0.0, 0.0, 0.0, 0.0, 10.0], 5),
            [0.0, 2.0, 10.0]
        );
        assert_eq!(class_breaks(&[3.0, 1.0, f64::NAN, 2.0], 0), [1.0, 3.0]);
        // Class assignment matches the legend's intervals.
        let b = [0.0, 2.0, 10.0];
        assert_eq!([0.0, 2.0, 2.5, 10.0].map(|v| class_of(v, &b)), [0, 0, 1, 1]);
        assert_eq!(class_of(7.0, &[7.0]), 0);
    }

    fn square(x: f64, y: f64, s: f64) -> Vec<(f64, f64)> {
        vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)]
    }

    /// Every coordinate in path data and circles, in SVG units.
    fn map_coords(svg: &str) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        for part in svg.split(" d=\"").skip(1) {
            let d = &part[..part.find('"').unwrap_or(0)];
            for seg in d.split(['M', 'L', 'Z']).filter(|s| !s.is_empty()) {
                let mut it = seg.split(' ').filter_map(|n| n.parse::<f64>().ok());
                if let (Some(x), Some(y)) = (it.next(), it.next()) {
                    out.push((x, y));
                }
            }
        }
        for part in svg.split("<circle class=\"mark point\"").skip(1) {
            if let (Some(x), Some(y)) = (attr(part, "cx"), attr(part, "cy")) {
                out.push((x, y));
            }
        }
        out
    }

    fn view_box(svg: &str) -> (f64, f64) {
        let i = svg.find("viewBox=\"0 0 ").map(|i| i + 13).unwrap_or(0);
        let end = svg[i..].find('"').unwrap_or(0);
        let mut it = svg[i..i + end].split(' ').filter_map(|n| n.parse().ok());
        (it.next().unwrap_or(0.0), it.next().unwrap_or(0.0))
    }

    fn path_ys(svg: &str, code: &str) -> Vec<f64> {
        let key = format!("data-code=\"{code}\" d=\"");
        let i = svg.find(&key).map(|i| i + key.len()).unwrap_or(0);
        let d = &svg[i..i + svg[i..].find('"').unwrap_or(0)];
        d.split(['M', 'L', 'Z'])
            .filter_map(|s| s.split(' ').nth(1).and_then(|n| n.parse().ok()))
            .collect()
    }

    #[test]
    fn choropleth_fits_flips_classes_and_hatches() {
        let lat0 = 30.0;
        let north = vec![
            square(120.0, 31.0, 0.2)
                .into_iter()
                .map(|(x, y)| project(x, y, lat0))
                .collect::<Vec<_>>(),
        ];
        let south = vec![
            square(120.0, 30.0, 0.2)
                .into_iter()
                .map(|(x, y)| project(x, y, lat0))
                .collect::<Vec<_>>(),
        ];
        // A shape with a hole and a stray NaN vertex.
        let mut outer = square(121.0, 30.0, 1.0);
        outer.push((f64::NAN, 0.0));
        let holed = vec![
            outer
                .into_iter()
                .map(|(x, y)| project(x, y, lat0))
                .collect::<Vec<_>>(),
            square(121.4, 30.4, 0.2)
                .into_iter()
                .map(|(x, y)| project(x, y, lat0))
                .collect(),
        ];
        let missing = vec![
            square(119.0, 30.5, 0.3)
                .into_iter()
                .map(|(x, y)| project(x, y, lat0))
                .collect::<Vec<_>>(),
        ];
        let shapes = [
            Shape {
                code: "N",
                name: "北区",
                rings: &north,
                value: Some(10.0),
                display: "10",
                href: Some("/areas/N"),
            },
            Shape {
                code: "S",
                name: "南区",
                rings: &south,
                value: Some(1000.0),
                display: "1,000",
                href: None,
            },
            Shape {
                code: "H",
                name: "Holed",
                rings: &holed,
                value: Some(55.0),
                display: "55",
                href: None,
            },
            Shape {
                code: "M",
                name: "Missing",
                rings: &missing,
                value: None,
                display: "无数据",
                href: None,
            },
            Shape {
                code: "X",
                name: "Nan",
                rings: &missing,
                value: Some(f64::NAN),
                display: "无数据",
                href: None,
            },
        ];
        let (px, py) = project(122.5, 29.5, lat0);
        let pts = [Point {
            x: px,
            y: py,
            label: "热点 <1>",
            href: Some("/hotspots/1"),
        }];
        let svg = choropleth("map1", "Map", "d", &shapes, &pts, "意见数", "无数据");
        assert_sound(&svg);
        assert!(svg.contains("chart-map"));

        let (w, h) = view_box(&svg);
        let coords = map_coords(&svg);
        assert_eq!(
            coords.len(),
            5 + 5 + 10 + 5 + 5 + 1,
            "every usable vertex drawn"
        );
        for (x, y) in &coords {
            assert!(
                (0.0..=w).contains(x) && (0.0..=h).contains(y),
                "({x}, {y}) outside 0 0 {w} {h}"
            );
        }
        // The map uses its box: the widest extent reaches near both sides of the map area.
        let min_x = coords.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let max_x = coords.iter().map(|p| p.0).fold(0.0, f64::max);
        assert!(max_x - min_x > MAP_W * 0.95, "{min_x}..{max_x}");
        assert!(max_x < W - LEGEND_W, "map overlaps legend");

        let n = path_ys(&svg, "N");
        let s = path_ys(&svg, "S");
        assert!(!n.is_empty() && !s.is_empty());
        assert!(
            n.iter().fold(0.0, |a: f64, b| a.max(*b))
                < s.iter().fold(f64::INFINITY, |a: f64, b| a.min(*b)),
            "north is up"
        );

        assert!(svg.contains("<title>北区: 10</title>"));
        assert!(svg.contains("<a href=\"/areas/N\"><path class=\"mark area\" data-code=\"N\""));
        assert!(svg.contains("<a href=\"/hotspots/1\"><circle"));
        assert!(svg.contains("<title>热点 &lt;1&gt;</title>"));
        assert!(svg.contains("fill-rule=\"evenodd\""));
        // Missing and NaN values are hatched and the legend lists "no data".
        assert_eq!(svg.matches("fill=\"url(#map1-nodata)\"").count(), 3);
        assert!(svg.contains(">无数据</text>"));
        // Three values → breaks [10, 32.5, 55, 527.5, 1000]... distinct classes, lowest and highest colours used.
        assert!(svg.contains(&format!("fill=\"{}\" fill-rule", SEQUENTIAL[0])));
        assert!(svg.contains(&format!("fill=\"{}\" fill-rule", SEQUENTIAL[4])));
        assert!(svg.contains("1,000</text>"), "legend break grouped");
    }

    #[test]
    fn single_place_map_still_frames() {
        let pts = [Point {
            x: 1.0,
            y: 2.0,
            label: "only",
            href: None,
        }];
        let svg = choropleth("one", "t", "d", &[], &pts, "l", "none");
        assert_sound(&svg);
        let (w, h) = view_box(&svg);
        for (x, y) in map_coords(&svg) {
            assert!((0.0..=w).contains(&x) && (0.0..=h).contains(&y));
        }
        assert!(!svg.contains("chart-empty"));
    }

    #[test]
    fn project_shrinks_longitude_by_cos_lat() {
        let (x, y) = project(120.0, 30.0, 60.0);
        assert!((x - 60.0).abs() < 1e-9 && (y - 30.0).abs() < 1e-9);
    }

    #[test]
    fn palettes_meet_contrast_on_white() {
        fn lum(hex: &str) -> f64 {
            let ch = |i: usize| {
                let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(255)) / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * ch(1) + 0.7152 * ch(3) + 0.0722 * ch(5)
        }
        for col in SERIES_COLOURS
            .iter()
            .chain([&POINT, &OUTLINE, &HATCH, &MUTED, &INK])
        {
            let ratio = 1.05 / (lum(col) + 0.05);
            assert!(ratio >= 3.0, "{col} is {ratio:.2}:1 on white");
        }
    }

    #[test]
    fn long_and_many_labels_stay_inside() {
        let x: Vec<String> = (1..=36)
            .map(|m| format!("二〇二四年第{m}个月份的很长标签"))
            .collect();
        let v: Vec<f64> = (0..36).map(f64::from).collect();
        let series: Vec<Series<'_>> = (0..9)
            .map(|_| Series {
                label: "一个相当长的系列名称用来测试图例换行",
                values: &v,
                href: None,
            })
            .collect();
        let svg = line_chart("long", "t", "d", &x, &series, "none");
        assert_sound(&svg);
        assert!(svg.contains("rotate(-40"));
        assert!(
            svg.contains("stroke-dasharray"),
            "series beyond the palette change dash"
        );
        let (w, _) = view_box(&svg);
        for part in svg.split("<text x=\"").skip(1) {
            let x: f64 = part[..part.find('"').unwrap_or(0)].parse().unwrap_or(-1.0);
            assert!((0.0..=w).contains(&x), "text at {x}");
        }
    }
}
