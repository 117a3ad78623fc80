//! The report's figures as standalone SVG documents (plotters' SVG backend):
//! each string is a complete `<svg xmlns=…>` element, written as its own
//! `.svg` file and inlined in `report.html` unchanged.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Coef, Importance, ModelSection};

/// A figure that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the figure {title:?}: {message}")]
pub struct FigureError {
    pub title: String,
    pub message: String,
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Drawn = Result<(), String>;

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The frame every figure shares: a white `size` canvas, the title, a
/// cartesian chart over `x × y` with `y_area` pixels for the y labels; `body`
/// draws the mesh and the data; the legend of the named series goes `legend`.
fn canvas(
    title: &str,
    size: (u32, u32),
    y_area: u32,
    legend: Option<SeriesLabelPosition>,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    body: impl FnOnce(&mut Chart) -> Drawn,
) -> Result<String, FigureError> {
    let mut svg = String::new();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(text)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(y_area)
            .build_cartesian_2d(x, y)
            .map_err(text)?;
        body(&mut chart)?;
        if let Some(at) = legend {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(at)
                .draw()
                .map_err(text)?;
        }
        root.present().map_err(text)
    })();
    drawn.map_err(|message| FigureError {
        title: title.to_string(),
        message,
    })?;
    Ok(svg)
}

fn colour(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

fn finite_max(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// A named line (with dots when `dots`) in the legend.
fn line(chart: &mut Chart, pts: &[(f64, f64)], style: ShapeStyle, name: &str, dots: bool) -> Drawn {
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), style))
        .map_err(text)?
        .label(name)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
    if dots {
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, style.color.filled())))
            .map_err(text)?;
    }
    Ok(())
}

/// Mean observed against mean predicted by decile of prediction, one line per
/// section, with the diagonal.
pub fn calibration(
    title: &str,
    unit: &str,
    sections: &[&ModelSection],
) -> Result<String, FigureError> {
    let max = finite_max(
        sections
            .iter()
            .flat_map(|s| s.calibration.iter().flat_map(|b| [b.mean_pred, b.mean_obs])),
    )
    .max(1e-9)
        * 1.05;
    canvas(
        title,
        (720, 540),
        60,
        Some(SeriesLabelPosition::UpperLeft),
        0.0..max,
        0.0..max,
        |chart| {
            chart
                .configure_mesh()
                .x_desc(format!("mean predicted {unit}"))
                .y_desc(format!("mean observed {unit}"))
                .draw()
                .map_err(text)?;
            let diagonal = BLACK.mix(0.4).stroke_width(1);
            line(
                chart,
                &[(0.0, 0.0), (max, max)],
                diagonal,
                "observed = predicted",
                false,
            )?;
            for (i, s) in sections.iter().enumerate() {
                let pts: Vec<(f64, f64)> = s
                    .calibration
                    .iter()
                    .map(|b| (b.mean_pred, b.mean_obs))
                    .collect();
                line(chart, &pts, colour(i).stroke_width(2), &s.name, true)?;
            }
            Ok(())
        },
    )
}

/// Observed (black) and each section's predicted mean per group, groups on a
/// categorical x axis in the order of the first section.
pub fn groups(
    title: &str,
    axis: &str,
    unit: &str,
    sections: &[&ModelSection],
) -> Result<String, FigureError> {
    let Some(first) = sections.first() else {
        return Err(FigureError {
            title: title.into(),
            message: "no model to draw".into(),
        });
    };
    let labels: Vec<String> = first.groups.iter().map(|g| g.group.clone()).collect();
    let n = labels.len().max(1);
    let max = finite_max(
        sections
            .iter()
            .flat_map(|s| s.groups.iter().flat_map(|g| [g.mean_obs, g.mean_pred])),
    )
    .max(1e-9)
        * 1.1;
    let width = (160 + 60 * n as u32).clamp(560, 1200);
    let x = -0.5..n as f64 - 0.5;
    canvas(
        title,
        (width, 420),
        60,
        Some(SeriesLabelPosition::UpperLeft),
        x,
        0.0..max,
        |chart| {
            chart
                .configure_mesh()
                .x_labels(n)
                .x_label_formatter(&|x| axis_label(&labels, *x))
                .x_desc(axis)
                .y_desc(format!("mean {unit}"))
                .draw()
                .map_err(text)?;
            let at = |s: &ModelSection, obs: bool| -> Vec<(f64, f64)> {
                let v = |g: &super::GroupRow| if obs { g.mean_obs } else { g.mean_pred };
                s.groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (i as f64, v(g)))
                    .collect()
            };
            line(
                chart,
                &at(first, true),
                BLACK.stroke_width(2),
                "observed",
                true,
            )?;
            for (i, s) in sections.iter().enumerate() {
                let name = format!("{} predicted", s.name);
                line(
                    chart,
                    &at(s, false),
                    colour(i).stroke_width(2),
                    &name,
                    false,
                )?;
            }
            Ok(())
        },
    )
}

/// The capture (cumulative gains) curve of each section, with random choice
/// as the diagonal and the top-10 % line.
pub fn capture(title: &str, what: &str, sections: &[&ModelSection]) -> Result<String, FigureError> {
    canvas(
        title,
        (720, 540),
        60,
        Some(SeriesLabelPosition::LowerRight),
        0.0..1.0,
        0.0..1.0,
        |chart| {
            chart
                .configure_mesh()
                .x_desc("share of people, highest prediction first")
                .y_desc(format!("share of {what} captured"))
                .draw()
                .map_err(text)?;
            line(
                chart,
                &[(0.0, 0.0), (1.0, 1.0)],
                BLACK.mix(0.4).stroke_width(1),
                "random",
                false,
            )?;
            line(
                chart,
                &[(0.1, 0.0), (0.1, 1.0)],
                BLACK.mix(0.2).stroke_width(1),
                "top 10 %",
                false,
            )?;
            for (i, s) in sections.iter().enumerate() {
                let pts: Vec<(f64, f64)> = s
                    .capture
                    .iter()
                    .filter(|p| p.captured.is_finite())
                    .map(|p| (p.fraction, p.captured))
                    .collect();
                line(chart, &pts, colour(i).stroke_width(2), &s.name, false)?;
            }
            Ok(())
        },
    )
}

/// The label of category `x` (0, 1, …) of `labels` on a categorical axis.
fn axis_label(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Height of one row of the forest plot and the importance chart.
const ROW_PX: u32 = 18;

/// A chart with one row per name (top row first) on the y axis.
fn rows_canvas(
    title: &str,
    names: &[String],
    x: std::ops::Range<f64>,
    x_desc: &str,
    body: impl FnOnce(&mut Chart, &dyn Fn(usize) -> f64) -> Drawn,
) -> Result<String, FigureError> {
    let n = names.len().max(1);
    let bottom_up: Vec<String> = names.iter().rev().cloned().collect();
    let size = (760, 140 + ROW_PX * n as u32);
    canvas(title, size, 260, None, x, -0.5..n as f64 - 0.5, |chart| {
        chart
            .configure_mesh()
            .y_labels(n)
            .y_label_formatter(&|y| axis_label(&bottom_up, *y))
            .x_desc(x_desc)
            .disable_y_mesh()
            .draw()
            .map_err(text)?;
        body(chart, &|i| (n - 1 - i) as f64)
    })
}

/// Forest plot: each coefficient but the intercept with its 95 % interval,
/// and the zero line.
pub fn forest(title: &str, coefs: &[Coef]) -> Result<String, FigureError> {
    let rows: Vec<&Coef> = coefs.iter().filter(|c| c.name != "intercept").collect();
    let names: Vec<String> = rows.iter().map(|c| c.name.clone()).collect();
    let lim =
        finite_max(rows.iter().flat_map(|c| [c.ci_low.abs(), c.ci_high.abs()])).max(1e-9) * 1.1;
    let x_desc = "estimate with 95 % CI (log scale of the outcome)";
    rows_canvas(title, &names, -lim..lim, x_desc, |chart, y| {
        let top = names.len() as f64 - 0.5;
        chart
            .draw_series(LineSeries::new([(0.0, -0.5), (0.0, top)], BLACK.mix(0.5)))
            .map_err(text)?;
        let style = colour(0).stroke_width(2);
        let finite = |c: &&&Coef| c.ci_low.is_finite() && c.ci_high.is_finite();
        chart
            .draw_series(
                rows.iter()
                    .enumerate()
                    .filter(|(_, c)| finite(c))
                    .map(|(i, c)| PathElement::new([(c.ci_low, y(i)), (c.ci_high, y(i))], style)),
            )
            .map_err(text)?;
        chart
            .draw_series(
                rows.iter()
                    .enumerate()
                    .filter(|(_, c)| c.estimate.is_finite())
                    .map(|(i, c)| Circle::new((c.estimate, y(i)), 3, colour(0).filled())),
            )
            .map_err(text)?;
        Ok(())
    })
}

/// Horizontal bars of total split gain, largest first (at most `top` rows).
pub fn importance(title: &str, imp: &[Importance], top: usize) -> Result<String, FigureError> {
    let rows = &imp[..imp.len().min(top)];
    let names: Vec<String> = rows.iter().map(|r| r.feature.clone()).collect();
    let max = finite_max(rows.iter().map(|r| r.gain)).max(1e-9) * 1.05;
    rows_canvas(title, &names, 0.0..max, "total split gain", |chart, y| {
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                Rectangle::new(
                    [(0.0, y(i) - 0.35), (r.gain, y(i) + 0.35)],
                    colour(0).filled(),
                )
            }))
            .map_err(text)?;
        Ok(())
    })
}
