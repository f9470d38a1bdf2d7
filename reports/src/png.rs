//! PNG charts drawn with plotters into an RGB buffer, with the bundled DejaVu Sans font (so no
//! system font libraries are needed), then encoded with the `png` crate. Same chart, same bytes.

use crate::chart::{ticks, Chart};
use crate::fmt::fixed;
use crate::svg::Key;
use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::sync::Once;

/// Width of every PNG chart, pixels.
pub const WIDTH: u32 = 1200;
/// Height of every PNG chart, pixels.
pub const HEIGHT: u32 = 675;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FAMILY: &str = "capsim-sans";

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is known to parse; a failure would show as missing text, not a panic.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

fn rgb(hex: &str) -> RGBColor {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// The chart drawn as PNG bytes of [`WIDTH`] × [`HEIGHT`] pixels.
pub fn render(chart: &Chart) -> Result<Vec<u8>, String> {
    register();
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(chart, &mut buf).map_err(|e| format!("chart `{}`: cannot draw: {e}", chart.id))?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| format!("chart `{}`: cannot encode PNG: {e}", chart.id))?;
        w.write_image_data(&buf)
            .map_err(|e| format!("chart `{}`: cannot encode PNG: {e}", chart.id))?;
    }
    Ok(out)
}

/// The triangle of a point off the scale, around (0, 0), in pixels.
fn triangle() -> Vec<(i32, i32)> {
    vec![(0, -9), (-9, 7), (9, 7), (0, -9)]
}

/// Draws a point's mark: a filled circle (passed, or no verdict), a cross (failed), a triangle
/// pointing up (off the scale; hollow when it failed).
fn draw_mark<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    ch: &mut ChartContext<DB, CT>,
    at: (f64, f64),
    colour: RGBColor,
    verdict: Option<bool>,
    off: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let e = EmptyElement::at(at);
    match (off, verdict) {
        (true, Some(false)) => {
            ch.plotting_area()
                .draw(&(e + PathElement::new(triangle(), colour.stroke_width(3))))?;
        }
        (true, _) => {
            ch.plotting_area()
                .draw(&(e + Polygon::new(triangle(), colour.filled())))?;
        }
        (false, Some(false)) => {
            ch.plotting_area().draw(
                &(e + PathElement::new(vec![(-7, -7), (7, 7)], colour.stroke_width(3))
                    + PathElement::new(vec![(-7, 7), (7, -7)], colour.stroke_width(3))),
            )?;
        }
        (false, _) => {
            ch.plotting_area()
                .draw(&Circle::new(at, 5, colour.filled()))?;
        }
    }
    Ok(())
}

fn draw(chart: &Chart, buf: &mut [u8]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(buf, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let ((x0, x1), (y0, y1)) = chart.bounds();
    let (xt, xd) = ticks(x0, x1, 6);
    // Headroom above the data for the legend, drawn in the upper left (the lower right for a
    // scatter, whose upper left holds the best points): about 24 px an entry of a plot area
    // about 520 px high.
    let entries = crate::svg::legend_items(chart).len() as f64;
    let need = ((24.0 * entries + 30.0) / 520.0).min(0.6);
    let headroom = if chart.points.is_empty() {
        (need / (1.0 - need)).max(0.3)
    } else {
        0.0
    };
    let (yt, yd) = ticks(y0, y1 + (y1 - y0) * headroom, 5);
    let top_label = match chart.y_cap {
        Some(cap) if chart.has_off_scale() => cap,
        _ if chart.percent => 100.0,
        _ => f64::INFINITY,
    };
    let (x0, x1) = (xt[0], *xt.last().unwrap_or(&x1));
    let (y0, y1) = (yt[0], *yt.last().unwrap_or(&y1));
    let mut ch = ChartBuilder::on(&root)
        .caption(&chart.title, (FAMILY, 30))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let xf = move |v: &f64| fixed(*v, xd);
    // A percentage's axis has no ticks above 100, a cut axis none above its cap (the space
    // there holds the legend).
    let yf = move |v: &f64| {
        if *v > top_label + 1e-9 {
            String::new()
        } else {
            fixed(*v, yd)
        }
    };
    ch.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_labels(xt.len())
        .y_labels(yt.len())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style((FAMILY, 18))
        .axis_desc_style((FAMILY, 20))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(228, 228, 228))
        .draw()?;
    // Rollout windows, shaded behind the lines.
    ch.draw_series(chart.bands.iter().filter_map(|(from, to, _)| {
        let (a, b) = (from.max(x0), to.min(x1));
        (b > a).then(|| {
            Rectangle::new(
                [(a, y0), (b, y1)],
                RGBColor(243, 227, 181).mix(0.6).filled(),
            )
        })
    }))?;
    if chart.stacked {
        // Each band between a line and the one below it (the x axis for the first), filled.
        for (i, l) in chart.lines.iter().enumerate() {
            let colour = rgb(crate::svg::PALETTE[i % crate::svg::PALETTE.len()]);
            let below: Vec<(f64, f64)> = match i.checked_sub(1) {
                Some(j) => chart.lines[j]
                    .points
                    .iter()
                    .map(|&(x, y)| (x, y.unwrap_or(0.0)))
                    .collect(),
                None => l.points.iter().map(|&(x, _)| (x, y0.max(0.0))).collect(),
            };
            let pts: Vec<(f64, f64)> = l
                .points
                .iter()
                .map(|&(x, y)| (x, y.unwrap_or(0.0)))
                .chain(below.into_iter().rev())
                .filter(|(x, _)| x.is_finite())
                .collect();
            ch.draw_series(std::iter::once(Polygon::new(
                pts,
                colour.mix(0.35).filled(),
            )))?;
        }
    }
    for (i, l) in chart.lines.iter().enumerate() {
        let colour = rgb(crate::svg::PALETTE[i % crate::svg::PALETTE.len()]);
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for &(x, y) in &l.points {
            match y.and_then(|y| chart.shown(y)).map(|p| p.0) {
                Some(y) if x.is_finite() => segments.last_mut().expect("one segment").push((x, y)),
                _ if segments.last().is_some_and(|s| !s.is_empty()) => segments.push(Vec::new()),
                _ => {}
            }
        }
        let whiskers = l.points.iter().zip(&l.ci).filter_map(|(&(x, y), h)| {
            match (y.and_then(|y| chart.shown(y)), h) {
                (Some((y, false)), Some(h)) if x.is_finite() => Some(PathElement::new(
                    vec![
                        (x, y - h),
                        (x, chart.y_cap.map_or(y + h, |c| (y + h).min(c))),
                    ],
                    colour.stroke_width(2),
                )),
                _ => None,
            }
        });
        ch.draw_series(whiskers)?;
        if !l.ci.is_empty() || !l.verdicts.is_empty() {
            for (j, &(x, y)) in l.points.iter().enumerate() {
                let Some((y, off)) = y.and_then(|y| chart.shown(y)).filter(|_| x.is_finite())
                else {
                    continue;
                };
                let verdict = l.verdicts.get(j).copied().flatten();
                draw_mark(&mut ch, (x, y), colour, verdict, off)?;
            }
        }
        let mut first = true;
        for seg in segments.into_iter().filter(|s| !s.is_empty()) {
            if let [lone] = seg[..] {
                // A point between gaps: a dot, as a one-point line would not show.
                ch.draw_series(std::iter::once(Circle::new(lone, 3, colour.filled())))?;
            }
            let a = ch.draw_series(LineSeries::new(seg, colour.stroke_width(3)))?;
            if std::mem::take(&mut first) {
                a.label(l.name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(4))
                });
            }
        }
    }
    let red = rgb(crate::svg::TARGET);
    if let Some(cap) = chart.y_cap.filter(|_| chart.has_off_scale()) {
        // The cut: a grey line at the cap, where the triangles sit.
        let grey = RGBColor(120, 120, 120);
        ch.draw_series(std::iter::once(PathElement::new(
            vec![(x0, cap), (x1, cap)],
            grey.stroke_width(1),
        )))?;
    }
    for t in &chart.targets {
        let n = 60;
        let dashes = (0..n).step_by(2).map(|k| {
            let a = x0 + (x1 - x0) * k as f64 / n as f64;
            let b = x0 + (x1 - x0) * (k + 1) as f64 / n as f64;
            PathElement::new(vec![(a, t.y), (b, t.y)], red.stroke_width(2))
        });
        ch.draw_series(dashes)?
            .label(t.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], red.stroke_width(3)));
    }
    for &m in chart.markers.iter().filter(|&&m| m >= x0 && m <= x1) {
        let (ya, yb) = (y0, y1);
        let n = 30;
        let dashes = (0..n).step_by(2).map(move |k| {
            let a = ya + (yb - ya) * k as f64 / n as f64;
            let b = ya + (yb - ya) * (k + 1) as f64 / n as f64;
            PathElement::new(vec![(m, a), (m, b)], red.stroke_width(2))
        });
        ch.draw_series(dashes)?;
    }
    if !chart.points.is_empty() {
        let blue = rgb(crate::svg::PALETTE[0]);
        let mut front: Vec<(f64, f64)> = chart
            .points
            .iter()
            .filter(|p| p.on_front)
            .map(|p| (p.x, p.y))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        ch.draw_series(LineSeries::new(front, blue.stroke_width(2)))?
            .label("Pareto front (filled marks)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], blue.stroke_width(3))
            });
        // Labels moved apart where they would overlap (about 10 px a character at 18 px).
        let px: Vec<(i32, i32)> = chart
            .points
            .iter()
            .map(|p| ch.backend_coord(&(p.x, p.y)))
            .collect();
        let anchors: Vec<(f64, f64, f64)> = chart
            .points
            .iter()
            .zip(&px)
            .map(|(p, &(x, y))| (x as f64, y as f64, 10.0 * p.name.chars().count() as f64))
            .collect();
        let ((l, t), (r, b)) = (ch.backend_coord(&(x0, y1)), ch.backend_coord(&(x1, y0)));
        let labels =
            crate::chart::place_labels(&anchors, 22.0, (l as f64, t as f64, r as f64, b as f64));
        for ((p, &(bx, by)), (lx, ly)) in chart.points.iter().zip(&px).zip(labels) {
            let style = if p.on_front {
                blue.filled()
            } else {
                blue.stroke_width(2)
            };
            // Text is placed by its top left; the label's baseline is 18 px below that.
            let off = (lx as i32 - bx, ly as i32 - by - 18);
            ch.draw_series(std::iter::once(
                EmptyElement::at((p.x, p.y))
                    + Circle::new((0, 0), 7, style)
                    + Text::new(p.name.clone(), off, (FAMILY, 18).into_font()),
            ))?;
        }
    }
    let grey = RGBColor(85, 85, 85);
    for (name, _, key) in crate::svg::legend_items(chart) {
        let a = ch.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?;
        match key {
            Key::Pass => {
                a.label(name)
                    .legend(move |(x, y)| Circle::new((x + 12, y), 5, grey.filled()));
            }
            Key::Fail => {
                a.label(name).legend(move |(x, y)| {
                    EmptyElement::at((x + 12, y))
                        + PathElement::new(vec![(-7, -7), (7, 7)], grey.stroke_width(3))
                        + PathElement::new(vec![(-7, 7), (7, -7)], grey.stroke_width(3))
                });
            }
            Key::Off => {
                a.label(name).legend(move |(x, y)| {
                    EmptyElement::at((x + 12, y)) + Polygon::new(triangle(), grey.filled())
                });
            }
            _ => {}
        }
    }
    if let Some(a) = &chart.answer {
        let black = rgb(crate::svg::ANSWER);
        let (px, py) = (a.x, chart.shown(a.y).map_or(a.y, |p| p.0));
        let right = px > x0 + (x1 - x0) * 0.6;
        let label = a.label.clone();
        let width = 10 * label.chars().count() as i32;
        let dx = if right { -14 - width } else { 14 };
        // The name on a white box, readable over the lines.
        ch.draw_series(std::iter::once(
            EmptyElement::at((px, py))
                + Rectangle::new(
                    [(dx - 4, -38), (dx + width + 4, -12)],
                    WHITE.mix(0.85).filled(),
                )
                + Circle::new((0, 0), 12, black.stroke_width(3))
                + Text::new(label, (dx, -34), (FAMILY, 19).into_font().color(&black)),
        ))?
        .label(crate::svg::ANSWER_KEY)
        .legend(move |(x, y)| Circle::new((x + 12, y), 7, black.stroke_width(3)));
    }
    ch.configure_series_labels()
        .label_font((FAMILY, 18))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(150, 150, 150))
        .position(if chart.points.is_empty() {
            SeriesLabelPosition::UpperLeft
        } else {
            SeriesLabelPosition::LowerRight
        })
        .draw()?;
    root.present()?;
    Ok(())
}
