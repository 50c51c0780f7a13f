//! The failover plot: throughput over time of each path and of both
//! together, with the moments the path went down and came back, as a PNG.
//! Text is drawn by ab_glyph from a TrueType file read at run time (Debian:
//! fonts-dejavu-core), so no fontconfig or other system library is needed.

use crate::bench::failover::Failover;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;

pub fn failover(f: &Failover, out: &Path, font: &Path) -> Result<(), String> {
    let bytes = std::fs::read(font).map_err(|e| {
        format!(
            "cannot read the font {}: {e} (apt-get install fonts-dejavu-core, or pass --font)",
            font.display()
        )
    })?;
    register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| format!("{} is not a TrueType font", font.display()))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    draw(f, out).map_err(|e| format!("cannot draw {}: {e}", out.display()))
}

fn draw(f: &Failover, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(out, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = f.series.last().map_or(1.0, |(t, _)| *t);
    let y_max = f64::from(f.rate_mbit) * 2.4;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Failover under mptcpize-rs: 2 paths x {} Mbit/s, path {} down at {:.1} s, up at {:.1} s",
                f.rate_mbit, f.down_path, f.t_down, f.t_up
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("throughput received (Mbit/s, every 100 ms)")
        .label_style(("sans-serif", 14))
        .draw()?;
    let paths = f.series.first().map_or(0, |(_, r)| r.len());
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
    ];
    for p in 0..paths {
        let color = colors[p % colors.len()];
        chart
            .draw_series(LineSeries::new(
                f.series.iter().map(|(t, r)| (*t, r[p])),
                color.stroke_width(2),
            ))?
            .label(format!("path {p}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(LineSeries::new(
            f.series.iter().map(|(t, r)| (*t, r.iter().sum::<f64>())),
            BLACK.stroke_width(1),
        ))?
        .label("both paths")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    for (t, what) in [(f.t_down, "path down"), (f.t_up, "path up")] {
        let red = RGBColor(200, 0, 0);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(t, 0.0), (t, y_max)],
            red.stroke_width(1),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            what,
            (t + 0.1, y_max * 0.95),
            ("sans-serif", 14).into_font().color(&red),
        )))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}
