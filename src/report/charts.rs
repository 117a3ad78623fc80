//! Inline SVG bar charts (plotters). Suppressed values are never drawn: the
//! caller passes `None` for them and the bar is left out and labelled `<k`.

use plotters::prelude::*;

#[derive(Debug, thiserror::Error)]
#[error("drawing the chart {title:?} failed: {message}")]
pub struct ChartError {
    pub title: String,
    pub message: String,
}

/// A vertical bar chart as an SVG string. `bars`: (label, value or `None` when suppressed).
pub fn bar_chart(
    title: &str,
    bars: &[(String, Option<u64>)],
    k: u64,
) -> Result<String, ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError {
        title: title.to_string(),
        message: e.to_string(),
    };
    let mut svg = String::new();
    {
        let width = (120 + 70 * bars.len() as u32).clamp(360, 1100);
        let root = SVGBackend::with_string(&mut svg, (width, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let max = bars
            .iter()
            .filter_map(|(_, v)| *v)
            .max()
            .unwrap_or(1)
            .max(1);
        let n = bars.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, 0f64..(max as f64 * 1.1))
            .map_err(|e| err(&e))?;
        let labels: Vec<String> = bars
            .iter()
            .map(|(l, v)| match v {
                Some(_) => l.clone(),
                None => format!("{l} (<{k})"),
            })
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 1e-9 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, (_, v))| {
                v.map(|v| {
                    Rectangle::new(
                        [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, v as f64)],
                        RGBColor(46, 110, 160).filled(),
                    )
                })
            }))
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_without_suppressed_bars() {
        let svg = bar_chart(
            "Bands",
            &[("high".into(), Some(40)), ("very_high".into(), None)],
            5,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
        assert!(svg.contains("Bands"));
        // One data bar plus the background rectangle.
        let filled = svg.matches("fill=\"#2E6EA0\"").count();
        assert_eq!(filled, 1, "{svg}");
    }
}
