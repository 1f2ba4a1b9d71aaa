//! What a training run leaves beside its model: a metrics JSON and a PNG of
//! the loss and held-out accuracy per epoch, each next to the plaintext twin.

use crate::models::{Evaluation, JobReport, JobSpec, ModelKind, PlainReport};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version tag of the metrics file.
pub const METRICS_FORMAT: &str = "tessera-metrics/1";

pub use crate::protocols::session::human_bytes;

/// One epoch of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss under MPC.
    pub loss: f64,
    /// Held-out accuracy (R² for linear regression) under MPC, if monitored.
    pub test_metric: Option<f64>,
    /// The same for the plaintext f32 twin, if it ran.
    pub plaintext_loss: Option<f64>,
    /// The plaintext twin's held-out metric.
    pub plaintext_test_metric: Option<f64>,
}

/// One party's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyCost {
    /// Party id.
    pub party: usize,
    /// Bytes sent to other parties.
    pub bytes_sent: u64,
    /// Bytes received from other parties.
    pub bytes_received: u64,
    /// Communication rounds.
    pub rounds: u64,
    /// Preprocessing bytes received: from the dealer, or from the other
    /// parties by OT.
    pub preprocessing_bytes_received: u64,
    /// Preprocessing bytes sent to the other parties (OT; 0 with a dealer).
    pub preprocessing_bytes_sent: u64,
    /// Seconds of computation.
    pub seconds: f64,
}

/// One kind of value opened during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenedValue {
    /// What it is.
    pub label: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Who learned it: `None` for every party.
    pub to: Option<usize>,
    /// How many times it was opened.
    pub count: usize,
}

/// Everything the metrics JSON holds (format [`METRICS_FORMAT`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetrics {
    /// Always [`METRICS_FORMAT`].
    pub format: String,
    /// The job as run.
    pub job: JobSpec,
    /// Who was trusted.
    pub trust: String,
    /// Wall time of the MPC run, seconds.
    pub wall_seconds: f64,
    /// Wall time of the plaintext twin, seconds.
    pub plaintext_seconds: Option<f64>,
    /// Per-epoch curves.
    pub epochs: Vec<EpochMetrics>,
    /// Final train quality under MPC.
    pub train: Evaluation,
    /// Final held-out quality under MPC.
    pub test: Option<Evaluation>,
    /// Final held-out quality of the plaintext twin.
    pub plaintext_test: Option<Evaluation>,
    /// Cost per party.
    pub parties: Vec<PartyCost>,
    /// Every kind of value opened, to whom, and how often.
    pub opened: Vec<OpenedValue>,
    /// Under active security: party 0's MAC checks (count, values checked,
    /// rounds, bytes sent for them).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub mac_checks: Option<crate::protocols::active::CheckStats>,
}

impl TrainingMetrics {
    /// Collects the metrics of an embedded run and its optional plaintext twin.
    pub fn new(spec: &JobSpec, report: &JobReport, plain: Option<&PlainReport>, wall: f64) -> Self {
        let p0 = &report.parties[0];
        let metric = |e: &Evaluation| e.accuracy.or(e.r2);
        let epochs = (0..p0.epoch_losses.len())
            .map(|i| EpochMetrics {
                epoch: i + 1,
                loss: p0.epoch_losses[i],
                test_metric: p0.epoch_test.get(i).and_then(metric),
                plaintext_loss: plain.and_then(|p| p.epoch_losses.get(i).copied()),
                plaintext_test_metric: plain.and_then(|p| p.epoch_test.get(i).and_then(metric)),
            })
            .collect();
        let mut opened: Vec<OpenedValue> = Vec::new();
        for o in &p0.openings {
            match opened
                .iter_mut()
                .find(|v| v.label == o.label && v.shape == o.shape && v.to == o.to)
            {
                Some(v) => v.count += 1,
                None => opened.push(OpenedValue {
                    label: o.label.clone(),
                    shape: o.shape.clone(),
                    to: o.to,
                    count: 1,
                }),
            }
        }
        TrainingMetrics {
            format: METRICS_FORMAT.into(),
            job: spec.clone(),
            trust: p0.trust.clone(),
            wall_seconds: wall,
            plaintext_seconds: plain.map(|p| p.seconds),
            epochs,
            train: p0.metrics.train.clone(),
            test: p0.metrics.test.clone(),
            plaintext_test: plain.and_then(|p| p.model.metrics.test.clone()),
            parties: report
                .cost
                .stats
                .iter()
                .zip(&report.cost.seconds)
                .map(|(s, &seconds)| PartyCost {
                    party: s.party,
                    bytes_sent: s.total_sent(),
                    bytes_received: s.total_received(),
                    rounds: s.rounds,
                    preprocessing_bytes_received: s.preprocessing_bytes,
                    preprocessing_bytes_sent: s.preprocessing_bytes_sent,
                    seconds,
                })
                .collect(),
            opened,
            mac_checks: p0.mac_checks,
        }
    }

    /// Writes the metrics as pretty JSON.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

/// `model.json` -> `model.metrics.json` and `model.png`.
pub fn sidecar_paths(model: &Path) -> (PathBuf, PathBuf) {
    (
        model.with_extension("metrics.json"),
        model.with_extension("png"),
    )
}

static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// A y-axis label that fits its margin: plain for ordinary numbers,
/// scientific beyond (a loss of 1.7e8 is not cut to its last digits).
fn axis_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.2e}")
    }
}

/// Draws the loss and held-out metric per epoch, MPC against plaintext, as
/// a 1200 x 480 PNG.
pub fn plot_training(m: &TrainingMetrics, path: &Path) -> Result<(), String> {
    // plotters renders text with the embedded font: no system fonts needed.
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    let root = BitMapBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(600);
    let n = m.epochs.len().max(1) as f64;
    let metric_name = if m.train.accuracy.is_some() {
        "held-out accuracy"
    } else {
        "held-out R^2"
    };
    let curves = [
        (
            &left,
            "training loss per epoch",
            m.epochs.iter().map(|e| Some(e.loss)).collect::<Vec<_>>(),
            m.epochs
                .iter()
                .map(|e| e.plaintext_loss)
                .collect::<Vec<_>>(),
        ),
        (
            &right,
            metric_name,
            m.epochs.iter().map(|e| e.test_metric).collect(),
            m.epochs.iter().map(|e| e.plaintext_test_metric).collect(),
        ),
    ];
    for (area, title, mpc, plain) in curves {
        let values: Vec<f64> = mpc.iter().chain(&plain).flatten().copied().collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (lo, hi) = if values.is_empty() {
            (0.0, 1.0)
        } else {
            let pad = ((hi - lo) * 0.08).max(1e-3);
            (lo - pad, hi + pad)
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(0.5..n + 0.5, lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| axis_label(*y))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        // The plaintext twin first and wider, so where the two agree it shows
        // as a band around the MPC curve instead of vanishing under it.
        for (series, colour, width, name) in
            [(&plain, &RED, 6, "plaintext f32"), (&mpc, &BLUE, 2, "MPC")]
        {
            let pts: Vec<(f64, f64)> = series
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as f64 + 1.0, v)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(
                    pts.clone(),
                    colour
                        .mix(if width > 2 { 0.45 } else { 1.0 })
                        .stroke_width(width),
                ))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
                });
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, width + 1, colour.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Which columns a predictions CSV has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// The class only (the value, for linear regression).
    Class,
    /// The probabilities only (the value, for linear regression).
    Scores,
    /// The class and the probabilities.
    Both,
}

/// The class of one prediction: the probability above 1/2, or the largest.
pub fn class_of(p: &[f64]) -> usize {
    if p.len() == 1 {
        (p[0] > 0.5) as usize
    } else {
        (0..p.len()).fold(0, |best, i| if p[i] > p[best] { i } else { best })
    }
}

/// Predictions as CSV with a header, the one format of `predict`, `infer`
/// and distributed inference. `preds` holds, per row, the class (for
/// [`Columns::Class`] under MPC) or the model's outputs; `classes` names
/// the probability columns of a multiclass model.
pub fn predictions_csv(
    kind: ModelKind,
    classes: usize,
    preds: &[Vec<f64>],
    what: Columns,
) -> String {
    let mut out = String::new();
    if kind == ModelKind::Linear {
        out.push_str("prediction\n");
        for p in preds {
            out.push_str(&format!("{:.6}\n", p[0]));
        }
        return out;
    }
    let prob_names: Vec<String> = if kind == ModelKind::Logistic {
        vec!["probability".into()]
    } else {
        (0..classes).map(|c| format!("p{c}")).collect()
    };
    let header = match what {
        Columns::Class => "class".to_string(),
        Columns::Scores => prob_names.join(","),
        Columns::Both => format!("class,{}", prob_names.join(",")),
    };
    out.push_str(&(header + "\n"));
    for p in preds {
        let probs = || {
            p.iter()
                .map(|v| format!("{v:.6}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let line = match what {
            Columns::Class => format!("{}", p[0] as i64),
            Columns::Scores => probs(),
            Columns::Both => format!("{},{}", class_of(p), probs()),
        };
        out.push_str(&(line + "\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::axis_label;

    #[test]
    fn axis_labels_stay_short_for_any_loss() {
        assert_eq!(axis_label(0.0), "0");
        assert_eq!(axis_label(0.25), "0.25");
        assert_eq!(axis_label(-1.5), "-1.5");
        assert_eq!(axis_label(171029428.2), "1.71e8");
        assert_eq!(axis_label(0.00001234), "1.23e-5");
        for v in [1e300, -3.3e17, 12345.678, 0.0012] {
            assert!(axis_label(v).len() <= 9, "{v}: {}", axis_label(v));
        }
    }
}
