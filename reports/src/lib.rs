//! capsim's reports: a results folder (written by `capsim run`) turned into one self-contained
//! HTML page with inline SVG charts, and PNG charts drawn with plotters.
//!
//! [`model`] reads the folder, [`chart`] decides what each chart shows, [`svg`] and [`png`] draw
//! it, [`html`] writes the page.

#![warn(missing_docs)]

pub mod batch;
pub mod chart;
pub mod fmt;
pub mod html;
pub mod mig;
pub mod model;
pub mod pack;
pub mod png;
pub mod services;
pub mod svg;
pub mod sweep;
pub mod sweep_checks;
pub mod sweep_page;
pub mod tenants;

pub use model::{fnv1a64, load, ReportError, Results};

/// The version of capsim that writes reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
