//! A small deterministic SVG writer for [`Chart`]s: axes with ticks and units, a legend, lines with
//! gaps, dashed target lines, and a scatter with its Pareto front. Coordinates have one decimal.

use crate::chart::{ticks, Chart};
use crate::fmt::{esc, fixed};
use std::fmt::Write as _;

/// Colours for lines, in order (Okabe–Ito, readable with colour blindness).
pub const PALETTE: [&str; 7] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000",
];

/// Colour of target lines.
pub const TARGET: &str = "#c00000";

const W: f64 = 720.0;
const H: f64 = 380.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const LEGEND: f64 = 20.0;

/// Colour of the answer's ring and name.
pub const ANSWER: &str = "#000000";

/// The legend's words for the answer's ring.
pub const ANSWER_KEY: &str = "ringed: the cheapest point that passed every check";

/// Legend characters at 14 px that fit half the legend's width.
const HALF_ROW_CHARS: usize = 38;

fn c(v: f64) -> String {
    fixed(v, 1)
}

/// What a legend entry shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// A solid line.
    Line,
    /// A dashed line (a target).
    Dashed,
    /// A filled mark: a point that passed every check.
    Pass,
    /// A cross: a point that failed a check.
    Fail,
    /// A triangle: a point off the scale.
    Off,
    /// A ring: the answer.
    Ring,
}

/// The legend's entries: (text, colour, key), lines first, then targets, the Pareto front, the
/// marks' meanings and the answer.
pub(crate) fn legend_items(chart: &Chart) -> Vec<(String, &'static str, Key)> {
    let mut items: Vec<(String, &str, Key)> = chart
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.clone(), PALETTE[i % PALETTE.len()], Key::Line))
        .collect();
    items.extend(
        chart
            .targets
            .iter()
            .map(|t| (t.name.clone(), TARGET, Key::Dashed)),
    );
    if !chart.points.is_empty() {
        items.push((
            "Pareto front (filled marks)".to_string(),
            PALETTE[0],
            Key::Line,
        ));
    }
    let any = |v: bool| chart.lines.iter().any(|l| l.verdicts.contains(&Some(v)));
    if any(true) {
        items.push(("passed every check".to_string(), "#555555", Key::Pass));
    }
    if any(false) {
        items.push(("failed a check".to_string(), "#555555", Key::Fail));
    }
    // Lines of marks (a sweep) off the scale get triangles; a time series runs along the top,
    // which its caption says.
    let marks = chart
        .lines
        .iter()
        .any(|l| !l.ci.is_empty() || !l.verdicts.is_empty());
    if marks && chart.has_off_scale() {
        items.push((
            "off the scale, or nothing completed (drawn at the top)".to_string(),
            "#555555",
            Key::Off,
        ));
    }
    if chart.answer.is_some() {
        items.push((ANSWER_KEY.to_string(), ANSWER, Key::Ring));
    }
    items
}

/// (row, column) of each legend entry: two a row, an entry too long for half a row on a row of
/// its own.
fn legend_layout(items: &[(String, &str, Key)]) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(items.len());
    let (mut row, mut col) = (0usize, 0usize);
    for (name, _, _) in items {
        let long = name.chars().count() > HALF_ROW_CHARS;
        if col == 1 && long {
            row += 1;
            col = 0;
        }
        out.push((row, col));
        if long || col == 1 {
            row += 1;
            col = 0;
        } else {
            col = 1;
        }
    }
    out
}

/// A point's mark: a filled circle (`class="mark"`, `mark pass` when it passed its checks), a
/// cross when it failed one (`mark fail`), a triangle pointing up when off the scale
/// (`off-scale`, hollow when it failed).
fn mark(x: f64, y: f64, colour: &str, verdict: Option<bool>, off: bool) -> String {
    if off {
        let fill = if verdict == Some(false) {
            "#fff"
        } else {
            colour
        };
        return format!(
            "<polygon class=\"off-scale\" points=\"{},{} {},{} {},{}\" fill=\"{fill}\" stroke=\"{colour}\" stroke-width=\"1.8\"/>",
            c(x),
            c(y - 6.0),
            c(x - 6.0),
            c(y + 5.0),
            c(x + 6.0),
            c(y + 5.0)
        );
    }
    match verdict {
        Some(false) => format!(
            "<path class=\"mark fail\" d=\"M{l},{t} L{r},{b} M{l},{b} L{r},{t}\" stroke=\"{colour}\" stroke-width=\"2.2\" fill=\"none\"/>",
            l = c(x - 4.5),
            r = c(x + 4.5),
            t = c(y - 4.5),
            b = c(y + 4.5)
        ),
        Some(true) => format!(
            "<circle class=\"mark pass\" cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{colour}\"/>",
            c(x),
            c(y)
        ),
        None => format!(
            "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{colour}\"/>",
            c(x),
            c(y)
        ),
    }
}

/// The chart as one `<svg>` element with id `chart-<id>`.
pub fn render(chart: &Chart) -> String {
    let ((x0, x1), (y0, y1)) = chart.bounds();
    let (xt, xd) = ticks(x0, x1, 6);
    let (yt, yd) = ticks(y0, y1, 5);
    let (x0, x1) = (xt[0], *xt.last().unwrap_or(&x1));
    let (y0, y1) = (yt[0], *yt.last().unwrap_or(&y1));
    let items = legend_items(chart);
    let layout = legend_layout(&items);
    let legend_rows = layout.last().map_or(1, |p| p.0 + 1);
    let bottom = 56.0 + LEGEND * legend_rows as f64;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - bottom);
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
    let mut s = String::with_capacity(8192);
    let _ = write!(
        s,
        "<svg id=\"chart-{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-labelledby=\"chart-{id}-title\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"14\">\
         <title id=\"chart-{id}-title\">{title}</title>",
        id = esc(&chart.id),
        w = W,
        h = H,
        title = esc(&chart.title)
    );
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#999\"/>",
        c(LEFT),
        c(TOP),
        c(pw),
        c(ph)
    );
    for (from, to, label) in &chart.bands {
        let (a, b) = (sx(from.max(x0)), sx(to.min(x1)));
        if b > a {
            let _ = write!(
                s,
                "<rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f3e3b5\" fill-opacity=\"0.6\"><title>{}</title></rect>",
                c(a),
                c(TOP),
                c(b - a),
                c(ph),
                esc(label)
            );
        }
    }
    s.push_str("<g class=\"grid\" stroke=\"#e4e4e4\">");
    for &y in &yt[1..yt.len().saturating_sub(1)] {
        let _ = write!(
            s,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{v}\" y2=\"{v}\"/>",
            c(LEFT),
            c(LEFT + pw),
            v = c(sy(y))
        );
    }
    s.push_str("</g><g class=\"ticks\" fill=\"#333\">");
    for &y in &yt {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            c(LEFT - 6.0),
            c(sy(y) + 4.0),
            fixed(y, yd)
        );
    }
    for &x in &xt {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            c(sx(x)),
            c(TOP + ph + 16.0),
            fixed(x, xd)
        );
    }
    s.push_str("</g>");
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
        c(LEFT + pw / 2.0),
        c(TOP + ph + 34.0),
        esc(&chart.x_label)
    );
    let _ = write!(
        s,
        "<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
        c(TOP + ph / 2.0),
        esc(&chart.y_label)
    );
    if chart.stacked {
        // Each band between a line and the one below it (the x axis for the first), filled.
        for (i, l) in chart.lines.iter().enumerate() {
            let below: Vec<(f64, f64)> = match i.checked_sub(1) {
                Some(j) => chart.lines[j]
                    .points
                    .iter()
                    .map(|&(x, y)| (x, y.unwrap_or(0.0)))
                    .collect(),
                None => l.points.iter().map(|&(x, _)| (x, y0.max(0.0))).collect(),
            };
            let pts: Vec<String> = l
                .points
                .iter()
                .map(|&(x, y)| (x, y.unwrap_or(0.0)))
                .chain(below.into_iter().rev())
                .filter(|(x, _)| x.is_finite())
                .map(|(x, y)| format!("{},{}", c(sx(x)), c(sy(y))))
                .collect();
            let _ = write!(
                s,
                "<polygon class=\"area\" points=\"{}\" fill=\"{}\" fill-opacity=\"0.35\" stroke=\"none\"/>",
                pts.join(" "),
                PALETTE[i % PALETTE.len()]
            );
        }
    }
    for (i, l) in chart.lines.iter().enumerate() {
        let mut d = String::new();
        // Points in the current segment; a lone point between gaps is drawn as a dot (`h0` with a
        // round cap).
        let mut run = 0usize;
        for &(x, y) in &l.points {
            match y.and_then(|y| chart.shown(y)).map(|p| p.0) {
                Some(y) if x.is_finite() => {
                    let pen = if run > 0 { " L" } else { " M" };
                    let _ = write!(d, "{pen}{},{}", c(sx(x)), c(sy(y)));
                    run += 1;
                }
                _ => {
                    if run == 1 {
                        d.push_str(" h0");
                    }
                    run = 0;
                }
            }
        }
        if run == 1 {
            d.push_str(" h0");
        }
        let _ = write!(
            s,
            "<path class=\"series\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" \
             stroke-linecap=\"round\" stroke-linejoin=\"round\"/>",
            d.trim_start(),
            PALETTE[i % PALETTE.len()]
        );
        // Discrete measurements: a mark at each point (filled: passed every check; a cross:
        // failed one; a triangle at the top edge: off the scale), and the 95% confidence
        // interval as a vertical whisker with short caps.
        let colour = PALETTE[i % PALETTE.len()];
        for (j, &(x, y)) in l.points.iter().enumerate() {
            let shown = y.and_then(|y| chart.shown(y)).filter(|_| x.is_finite());
            if let (Some((y, off)), false) = (shown, l.ci.is_empty() && l.verdicts.is_empty()) {
                let verdict = l.verdicts.get(j).copied().flatten();
                s.push_str(&mark(sx(x), sy(y), colour, verdict, off));
            }
            if let (Some((y, false)), Some(Some(h))) = (shown, l.ci.get(j)) {
                let top = chart.y_cap.map_or(y + h, |cap| (y + h).min(cap));
                let (px, lo, hi) = (sx(x), sy(y - h), sy(top));
                let _ = write!(
                    s,
                    "<path class=\"ci\" d=\"M{a},{lo} L{a},{hi} M{l},{lo} L{r},{lo} M{l},{hi} L{r},{hi}\" \
                     stroke=\"{}\" stroke-width=\"1.2\" fill=\"none\"/>",
                    colour,
                    a = c(px),
                    l = c(px - 4.0),
                    r = c(px + 4.0),
                    lo = c(lo),
                    hi = c(hi),
                );
            }
        }
    }
    for t in &chart.targets {
        let _ = write!(
            s,
            "<line class=\"target\" x1=\"{}\" x2=\"{}\" y1=\"{v}\" y2=\"{v}\" stroke=\"{TARGET}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
            c(LEFT),
            c(LEFT + pw),
            v = c(sy(t.y))
        );
    }
    for &m in chart.markers.iter().filter(|&&m| m >= x0 && m <= x1) {
        let _ = write!(
            s,
            "<line class=\"failure\" x1=\"{v}\" x2=\"{v}\" y1=\"{}\" y2=\"{}\" stroke=\"{TARGET}\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"><title>failure at {m}</title></line>",
            c(sy(y0)),
            c(sy(y1)),
            v = c(sx(m))
        );
    }
    if !chart.points.is_empty() {
        let mut front: Vec<(f64, f64)> = chart
            .points
            .iter()
            .filter(|p| p.on_front)
            .map(|p| (p.x, p.y))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let d: Vec<String> = front
            .iter()
            .map(|&(x, y)| format!("{},{}", c(sx(x)), c(sy(y))))
            .collect();
        let _ = write!(
            s,
            "<polyline class=\"front\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
            d.join(" "),
            PALETTE[0]
        );
        // Labels moved apart where they would overlap (about 8 px a character at 14 px).
        let anchors: Vec<(f64, f64, f64)> = chart
            .points
            .iter()
            .map(|p| (sx(p.x), sy(p.y), 8.0 * p.name.chars().count() as f64))
            .collect();
        let labels = crate::chart::place_labels(&anchors, 16.0, (LEFT, TOP, LEFT + pw, TOP + ph));
        for (p, (lx, ly)) in chart.points.iter().zip(labels) {
            let _ = write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.5\"/>\
                 <text x=\"{}\" y=\"{}\" fill=\"#333\">{}</text>",
                c(sx(p.x)),
                c(sy(p.y)),
                if p.on_front { PALETTE[0] } else { "#fff" },
                PALETTE[0],
                c(lx),
                c(ly),
                esc(&p.name)
            );
        }
    }
    if let Some(a) = &chart.answer {
        let (px, py) = (sx(a.x), sy(chart.shown(a.y).map_or(a.y, |p| p.0)));
        // The name beside the ring, on the side with room.
        let right = px > LEFT + pw * 0.6;
        let ty = if py < TOP + 24.0 {
            py + 22.0
        } else {
            py - 12.0
        };
        // The name on a white box, readable over the lines (about 8.5 px a bold character).
        let w = 8.5 * a.label.chars().count() as f64;
        let tx = if right { px - 12.0 } else { px + 12.0 };
        let _ = write!(
            s,
            "<g class=\"answer\"><circle cx=\"{}\" cy=\"{}\" r=\"9\" fill=\"none\" stroke=\"{ANSWER}\" stroke-width=\"2.5\"/>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"20\" fill=\"#fff\" fill-opacity=\"0.85\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"{}\" font-weight=\"bold\" fill=\"{ANSWER}\">{}</text></g>",
            c(px),
            c(py),
            c(if right { tx - w - 3.0 } else { tx - 3.0 }),
            c(ty - 15.0),
            c(w + 6.0),
            c(tx),
            c(ty),
            if right { "end" } else { "start" },
            esc(&a.label)
        );
    }
    // Legend under the x axis label: two entries a row, a long one on a row of its own.
    s.push_str("<g class=\"legend\">");
    for ((name, colour, kind), &(row, col)) in items.iter().zip(&layout) {
        let x = LEFT + col as f64 * (pw / 2.0);
        let y = TOP + ph + 52.0 + row as f64 * LEGEND;
        match kind {
            Key::Line | Key::Dashed => {
                let _ = write!(
                    s,
                    "<line x1=\"{}\" x2=\"{}\" y1=\"{v}\" y2=\"{v}\" stroke=\"{colour}\" stroke-width=\"3\"{}/>",
                    c(x),
                    c(x + 18.0),
                    if *kind == Key::Dashed {
                        " stroke-dasharray=\"6 4\""
                    } else {
                        ""
                    },
                    v = c(y)
                );
            }
            Key::Pass => s.push_str(&mark(x + 9.0, y, colour, Some(true), false)),
            Key::Fail => s.push_str(&mark(x + 9.0, y, colour, Some(false), false)),
            Key::Off => s.push_str(&mark(x + 9.0, y, colour, None, true)),
            Key::Ring => {
                let _ = write!(
                    s,
                    "<circle cx=\"{}\" cy=\"{}\" r=\"7\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"/>",
                    c(x + 9.0),
                    c(y)
                );
            }
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"#333\">{}</text>",
            c(x + 24.0),
            c(y + 4.0),
            esc(name)
        );
    }
    s.push_str("</g></svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Line;

    #[test]
    fn gaps_break_lines_and_lone_points_are_dots() {
        let chart = Chart {
            id: "t".into(),
            title: "T".into(),
            caption: String::new(),
            x_label: "x (s)".into(),
            y_label: "y (ms)".into(),
            lines: vec![Line {
                name: "a".into(),
                points: vec![
                    (0.0, Some(1.0)),
                    (1.0, None),
                    (2.0, Some(2.0)),
                    (3.0, Some(3.0)),
                ],
                ci: Vec::new(),
                verdicts: Vec::new(),
            }],
            targets: Vec::new(),
            markers: Vec::new(),
            points: Vec::new(),
            bands: Vec::new(),
            stacked: false,
            ..Default::default()
        };
        let svg = render(&chart);
        let d = svg.split("class=\"series\" d=\"").nth(1).unwrap();
        let d = &d[..d.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert!(d.contains(" h0 M"), "{d}");
        assert_eq!(render(&chart), svg, "deterministic");
    }
}
