//! Pictures of how the GPUs in use are shared: each MIG layout as its instances over the GPU's
//! eight memory slots (with their compute slices and memory), and time-sliced GPUs as their
//! shares. Whole GPUs get no picture.

use crate::fmt::{esc, fixed, NBSP};
use crate::model::{LayoutView, Results};
use crate::svg::PALETTE;
use std::fmt::Write as _;

/// One distinct way a GPU model is shared, and the runs (policies) that use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sharing {
    /// Stable id for the SVG element (`gpu-layout-<n>`).
    pub id: String,
    /// The pool's GPU model id.
    pub gpu: String,
    /// A MIG layout, or time-slicing with this many shares.
    pub kind: SharingKind,
    /// Runs using it: (run name, pool name).
    pub used_by: Vec<(String, String)>,
}

/// How the GPU is shared.
#[derive(Clone, Debug, PartialEq)]
pub enum SharingKind {
    /// MIG instances.
    Mig(LayoutView),
    /// Time-slicing into this many shares.
    TimeSliced(u32),
}

/// The distinct GPU sharings of the main run and every policy variant, in first-seen order.
pub fn sharings(res: &Results) -> Vec<Sharing> {
    let mut out: Vec<Sharing> = Vec::new();
    for run in std::iter::once(&res.main).chain(&res.policies) {
        let Some(c) = &run.summary.cluster else {
            continue;
        };
        for p in &c.pools {
            let Some(gpu) = &p.gpu else { continue };
            let kind = match (&p.mig_layout, p.time_slicing_replicas) {
                (Some(l), _) => SharingKind::Mig(l.clone()),
                (None, Some(n)) => SharingKind::TimeSliced(n),
                (None, None) => continue,
            };
            let user = (run.name.clone(), p.name.clone());
            match out.iter_mut().find(|s| s.gpu == *gpu && s.kind == kind) {
                Some(s) => {
                    if !s.used_by.contains(&user) {
                        s.used_by.push(user);
                    }
                }
                None => out.push(Sharing {
                    id: format!("gpu-layout-{}", out.len() + 1),
                    gpu: gpu.clone(),
                    kind,
                    used_by: vec![user],
                }),
            }
        }
    }
    out
}

const W: f64 = 720.0;
const SLOT: f64 = 80.0;
const LEFT: f64 = 40.0;

/// The picture of one sharing as an `<svg>` element with id `<id>`.
pub fn render(s: &Sharing) -> String {
    let mut o = String::with_capacity(2048);
    let h = 150.0;
    let title = match &s.kind {
        SharingKind::Mig(l) => format!("{} ({}) as MIG layout {}", l.gpu, s.gpu, l.layout),
        SharingKind::TimeSliced(n) => format!("{} time-sliced into {n} shares", s.gpu),
    };
    let _ = write!(
        o,
        "<svg id=\"{id}\" class=\"gpu-layout\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" \
         role=\"img\" aria-labelledby=\"{id}-title\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"13\">\
         <title id=\"{id}-title\">{t}</title>",
        id = esc(&s.id),
        t = esc(&title)
    );
    // The GPU's outline and its eight memory slots.
    let _ = write!(
        o,
        "<rect x=\"{LEFT}\" y=\"30\" width=\"{}\" height=\"80\" fill=\"#f4f4f4\" stroke=\"#999\"/>",
        SLOT * 8.0
    );
    match &s.kind {
        SharingKind::Mig(l) => {
            for k in 0..=8 {
                let x = LEFT + SLOT * k as f64;
                let _ = write!(
                    o,
                    "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" fill=\"#666\" font-size=\"11\">{}</text>",
                    fixed(x + SLOT / 2.0, 1),
                    if k < 8 { k.to_string() } else { String::new() }
                );
            }
            for (i, inst) in l.instances.iter().enumerate() {
                let x = LEFT + SLOT * f64::from(inst.start) + 2.0;
                let w = SLOT * f64::from(inst.memory_slices) - 4.0;
                let _ = write!(
                    o,
                    "<rect class=\"instance\" x=\"{}\" y=\"32\" width=\"{}\" height=\"76\" fill=\"{}\" fill-opacity=\"0.8\" stroke=\"#333\"/>\
                     <text x=\"{cx}\" y=\"64\" text-anchor=\"middle\" fill=\"#fff\" font-weight=\"bold\">{}</text>\
                     <text x=\"{cx}\" y=\"84\" text-anchor=\"middle\" fill=\"#fff\" font-size=\"11\">{}/7{NBSP}SM</text>\
                     <text x=\"{cx}\" y=\"100\" text-anchor=\"middle\" fill=\"#fff\" font-size=\"11\">{}{NBSP}GiB</text>",
                    fixed(x, 1),
                    fixed(w, 1),
                    PALETTE[i % 6],
                    esc(&inst.profile),
                    inst.compute_slices,
                    fixed(inst.memory_gib, 1),
                    cx = fixed(x + w / 2.0, 1)
                );
            }
            let _ = write!(
                o,
                "<text x=\"{LEFT}\" y=\"132\" fill=\"#333\">memory slots 0–7; each box is one GPU instance: profile, compute slices, memory</text>"
            );
        }
        SharingKind::TimeSliced(n) => {
            let w = SLOT * 8.0 / f64::from(*n);
            for k in 0..*n {
                let x = LEFT + w * f64::from(k) + 2.0;
                let _ = write!(
                    o,
                    "<rect class=\"share\" x=\"{}\" y=\"32\" width=\"{}\" height=\"76\" fill=\"{}\" fill-opacity=\"0.8\" stroke=\"#333\"/>\
                     <text x=\"{}\" y=\"74\" text-anchor=\"middle\" fill=\"#fff\" font-weight=\"bold\">1/{n}</text>",
                    fixed(x, 1),
                    fixed(w - 4.0, 1),
                    PALETTE[k as usize % 6],
                    fixed(x + (w - 4.0) / 2.0, 1)
                );
            }
            let _ = write!(
                o,
                "<text x=\"{LEFT}\" y=\"132\" fill=\"#333\">{n} pods take turns on the whole GPU; memory is shared, not isolated</text>"
            );
        }
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InstanceView;

    #[test]
    fn instances_sit_on_their_memory_slots() {
        let inst = |profile: &str, start, mem, sm| InstanceView {
            profile: profile.into(),
            start,
            memory_slices: mem,
            compute_slices: sm,
            memory_gib: 10.0 * f64::from(mem),
        };
        let s = Sharing {
            id: "gpu-layout-1".into(),
            gpu: "h100-sxm".into(),
            kind: SharingKind::Mig(LayoutView {
                layout: "all-balanced".into(),
                gpu: "H100 80GB".into(),
                instances: vec![inst("3g.40gb", 4, 4, 3), inst("1g.10gb", 0, 1, 1)],
            }),
            used_by: vec![],
        };
        let svg = render(&s);
        assert_eq!(svg.matches("class=\"instance\"").count(), 2);
        // 3g.40gb starts at slot 4: x = 40 + 4 × 80 + 2.
        assert!(
            svg.contains("x=\"362.0\" y=\"32\" width=\"316.0\""),
            "{svg}"
        );
        assert!(svg.contains(">3/7\u{a0}SM<"));
        let t = render(&Sharing {
            kind: SharingKind::TimeSliced(4),
            ..s
        });
        assert_eq!(t.matches("class=\"share\"").count(), 4);
    }
}
