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

fn c(v: f64) -> String {
    fixed(v, 1)
}

/// The chart as one `<svg>` element with id `chart-<id>`.
pub fn render(chart: &Chart) -> String {
    let ((x0, x1), (y0, y1)) = chart.bounds();
    let (xt, xd) = ticks(x0, x1, 6);
    let (yt, yd) = ticks(y0, y1, 5);
    let (x0, x1) = (xt[0], *xt.last().unwrap_or(&x1));
    let (y0, y1) = (yt[0], *yt.last().unwrap_or(&y1));
    let entries = chart.lines.len() + chart.targets.len() + usize::from(!chart.points.is_empty());
    let legend_rows = entries.div_ceil(2).max(1);
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
            match y {
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
        // Discrete measurements: a mark at each point, and the 95% confidence interval as a
        // vertical whisker with short caps.
        for (j, &(x, y)) in l.points.iter().enumerate() {
            if let (Some(y), false) = (y, l.ci.is_empty()) {
                let _ = write!(
                    s,
                    "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\"/>",
                    c(sx(x)),
                    c(sy(y)),
                    PALETTE[i % PALETTE.len()]
                );
            }
            if let (Some(y), Some(Some(h))) = (y, l.ci.get(j)) {
                let (px, lo, hi) = (sx(x), sy(y - h), sy(y + h));
                let _ = write!(
                    s,
                    "<path class=\"ci\" d=\"M{a},{lo} L{a},{hi} M{l},{lo} L{r},{lo} M{l},{hi} L{r},{hi}\" \
                     stroke=\"{}\" stroke-width=\"1.2\" fill=\"none\"/>",
                    PALETTE[i % PALETTE.len()],
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
        for p in &chart.points {
            let _ = write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.5\"/>\
                 <text x=\"{}\" y=\"{}\" fill=\"#333\">{}</text>",
                c(sx(p.x)),
                c(sy(p.y)),
                if p.on_front { PALETTE[0] } else { "#fff" },
                PALETTE[0],
                c(sx(p.x) + 8.0),
                c(sy(p.y) - 8.0),
                esc(&p.name)
            );
        }
    }
    // Legend: two entries a row under the x axis label.
    let mut items: Vec<(String, &str, bool)> = chart
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.clone(), PALETTE[i % PALETTE.len()], false))
        .collect();
    items.extend(chart.targets.iter().map(|t| (t.name.clone(), TARGET, true)));
    if !chart.points.is_empty() {
        items.push(("Pareto front (filled marks)".to_string(), PALETTE[0], false));
    }
    s.push_str("<g class=\"legend\">");
    for (i, (name, colour, dashed)) in items.iter().enumerate() {
        let x = LEFT + (i % 2) as f64 * (pw / 2.0);
        let y = TOP + ph + 52.0 + (i / 2) as f64 * LEGEND;
        let _ = write!(
            s,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{v}\" y2=\"{v}\" stroke=\"{colour}\" stroke-width=\"3\"{}/>\
             <text x=\"{}\" y=\"{}\" fill=\"#333\">{}</text>",
            c(x),
            c(x + 18.0),
            if *dashed { " stroke-dasharray=\"6 4\"" } else { "" },
            c(x + 24.0),
            c(y + 4.0),
            esc(name),
            v = c(y)
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
            }],
            targets: Vec::new(),
            markers: Vec::new(),
            points: Vec::new(),
            bands: Vec::new(),
            stacked: false,
        };
        let svg = render(&chart);
        let d = svg.split("class=\"series\" d=\"").nth(1).unwrap();
        let d = &d[..d.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert!(d.contains(" h0 M"), "{d}");
        assert_eq!(render(&chart), svg, "deterministic");
    }
}
