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

/// Line colours of [`line_chart`], in series order.
const LINE_COLOURS: [RGBColor; 5] = [
    RGBColor(46, 110, 160),
    RGBColor(200, 90, 40),
    RGBColor(120, 120, 120),
    RGBColor(60, 150, 70),
    RGBColor(150, 60, 150),
];

/// A line chart with a legend as an SVG string: `series` of (name, points
/// (x, y)); the x axis is logarithmic when `log_x` (capacities 50..1000).
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError {
        title: title.to_string(),
        message: e.to_string(),
    };
    let pts = || series.iter().flat_map(|(_, p)| p.iter());
    let x_max = pts().map(|p| p.0).fold(1.0f64, f64::max);
    let x_min = pts().map(|p| p.0).fold(x_max, f64::min).max(1.0);
    let y_max = pts().map(|p| p.1).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x_min * 0.8..x_max * 1.25).log_scale(), 0f64..y_max)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (name, points)) in series.iter().enumerate() {
            let colour = LINE_COLOURS[i % LINE_COLOURS.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_line_chart_with_a_legend() {
        let series = vec![
            (
                "benefit".to_string(),
                vec![(50.0, 2.0), (200.0, 6.0), (1000.0, 15.0)],
            ),
            (
                "additive".to_string(),
                vec![(50.0, 1.0), (200.0, 4.0), (1000.0, 11.0)],
            ),
        ];
        let svg = line_chart("Capture", "capacity", "% of outcomes", &series).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("benefit") && svg.contains("additive"));
        assert!(svg.contains("Capture"));
    }

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
