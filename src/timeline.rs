//! `inspect --timeline`: a picture of a trace. The top panel shows how many objects of each kind
//! were alive over time, with the trace's gaps (spans whose changes were not seen one by one)
//! shaded; the bottom one each pod's lifecycle as a bar, grouped by owner and coloured by pod hash
//! (bars that reach the right edge were still running).

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use sk_core::trace::summary::format_ts;
use sk_core::Trace;

/// Lifecycle rows drawn at most; a trace with more says how many were left out.
const MAX_ROWS: usize = 400;

/// Objects alive per kind after each event: `(seconds since the first event, count)`.
pub fn alive_per_kind(trace: &Trace) -> BTreeMap<String, Vec<(i64, usize)>> {
    let t0 = trace.events.first().map_or(0, |e| e.ts);
    let mut alive: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut series: BTreeMap<String, Vec<(i64, usize)>> = BTreeMap::new();
    for ev in &trace.events {
        for (objs, add) in [(&ev.applied_objs, true), (&ev.deleted_objs, false)] {
            for id in objs.iter().filter_map(|o| o.identity()) {
                let set = alive.entry(id.gvk.to_string()).or_default();
                if add {
                    set.insert(id.namespaced_name());
                } else {
                    set.remove(&id.namespaced_name());
                }
            }
        }
        for (kind, set) in &alive {
            series.entry(kind.clone()).or_default().push((ev.ts - t0, set.len()));
        }
    }
    series
}

/// One bar per pod: `(owner, hash index within the owner, start, end)` in seconds since the first
/// event; a running pod ends at `horizon`.
pub fn lifecycle_rows(trace: &Trace, horizon: i64) -> Vec<(String, usize, i64, i64)> {
    let t0 = trace.events.first().map_or(0, |e| e.ts);
    let mut rows = Vec::new();
    for (owner, by_hash) in &trace.pod_lifecycles {
        for (h, lcs) in by_hash.values().enumerate() {
            for lc in lcs {
                let end = lc.end_ts.map_or(horizon, |e| e - t0);
                rows.push((owner.name.clone(), h, lc.start_ts - t0, end.max(lc.start_ts - t0)));
            }
        }
    }
    rows
}

/// The gaps as `(kind, from, to)` in seconds since the first event, each at least a second wide
/// so that it shows.
pub fn gap_spans(trace: &Trace) -> Vec<(String, i64, i64)> {
    let t0 = trace.events.first().map_or(0, |e| e.ts);
    trace.gaps.iter().map(|g| (g.kind.to_string(), g.from - t0, (g.to - t0).max(g.from - t0 + 1))).collect()
}

pub fn write_svg(trace: &Trace, path: &Path) -> anyhow::Result<()> {
    if path.extension().and_then(|e| e.to_str()) != Some("svg") {
        anyhow::bail!("--timeline writes SVG: give a file name ending in .svg, not {}", path.display());
    }
    let t0 = trace.events.first().map_or(0, |e| e.ts);
    let last = trace.events.last().map_or(0, |e| e.ts) - t0;
    let latest_lifecycle = trace
        .pod_lifecycles
        .values()
        .flat_map(|m| m.values().flatten())
        .filter_map(|lc| lc.end_ts)
        .max()
        .map_or(0, |e| e - t0);
    let gaps = gap_spans(trace);
    let latest_gap = gaps.iter().map(|(_, _, to)| *to).max().unwrap_or(0);
    let horizon = last.max(latest_lifecycle).max(latest_gap).max(1);
    let series = alive_per_kind(trace);
    let all_rows = lifecycle_rows(trace, horizon);
    let rows = &all_rows[..all_rows.len().min(MAX_ROWS)];
    let lifecycle_height = (rows.len() as u32 * 14).clamp(120, 6000) + 80;
    let root = SVGBackend::new(path, (1200, 340 + lifecycle_height)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<std::io::Error>| anyhow::anyhow!("drawing the timeline: {e}");
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(340);

    let max_alive = series.values().flatten().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let caption = match gaps.len() {
        0 => format!("objects alive per kind, from {}", format_ts(t0)),
        n => format!("objects alive per kind, from {} ({n} gaps shaded)", format_ts(t0)),
    };
    let mut chart = ChartBuilder::on(&top)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0..horizon, 0..max_alive + 1)
        .map_err(err)?;
    chart.configure_mesh().x_desc("seconds").y_desc("objects").draw().map_err(err)?;
    if !gaps.is_empty() {
        let shade = RED.mix(0.2);
        chart
            .draw_series(
                gaps.iter().map(|(_, from, to)| Rectangle::new([(*from, 0), (*to, max_alive + 1)], shade.filled())),
            )
            .map_err(err)?
            .label("gap: changes not seen one by one")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], shade.filled()));
        chart
            .draw_series(gaps.iter().map(|(kind, from, _)| {
                Text::new(format!("gap: {kind}"), (*from, max_alive + 1), ("sans-serif", 12).into_font().color(&RED))
            }))
            .map_err(err)?;
    }
    for (i, (kind, points)) in series.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        // A step line: the count holds until the next event.
        let mut steps = Vec::new();
        for (j, (t, n)) in points.iter().enumerate() {
            steps.push((*t, *n));
            let next = points.get(j + 1).map_or(horizon, |(t, _)| *t);
            steps.push((next, *n));
        }
        chart
            .draw_series(LineSeries::new(steps, colour.stroke_width(2)))
            .map_err(err)?
            .label(kind.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;

    let caption = if all_rows.len() > rows.len() {
        format!("pod lifecycles by owner ({} of {} pods shown)", rows.len(), all_rows.len())
    } else {
        format!("pod lifecycles by owner ({} pods; colour: pod hash)", rows.len())
    };
    let mut chart = ChartBuilder::on(&bottom)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(260)
        .build_cartesian_2d(0..horizon, (0..rows.len().max(1)).into_segmented())
        .map_err(err)?;
    let labels: Vec<String> = rows.iter().map(|(owner, h, _, _)| format!("{owner} #{h}")).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("seconds")
        .y_labels(rows.len().clamp(1, 80))
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .map_err(err)?;
    let bar = |i: usize, start: i64, end: i64| {
        [(start, SegmentValue::Exact(i)), (end.max(start + 1), SegmentValue::Exact(i + 1))]
    };
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .map(|(i, (_, h, start, end))| Rectangle::new(bar(i, *start, *end), Palette99::pick(*h).filled())),
        )
        .map_err(err)?;
    // Outlines keep neighbouring pods of one template apart.
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .map(|(i, (_, _, start, end))| Rectangle::new(bar(i, *start, *end), WHITE.stroke_width(1))),
        )
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Trace {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/traces/demo.json");
        sk_core::trace::v1::from_json(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn counts_alive_objects_per_kind_over_time() {
        let series = alive_per_kind(&demo());
        assert_eq!(series["apps/v1.Deployment"], vec![(0, 2), (30, 2), (60, 2), (300, 1)]);
        assert_eq!(series["batch.volcano.sh/v1alpha1.Job"], vec![(30, 1), (60, 1), (300, 1)]);
    }

    #[test]
    fn a_bar_per_pod_running_ones_to_the_horizon() {
        let rows = lifecycle_rows(&demo(), 400);
        assert_eq!(rows.len(), 6);
        assert!(rows.contains(&("demo/web".to_string(), 0, 4, 400)), "{rows:?}");
        assert!(rows.iter().any(|r| r.0 == "ml/train" && r.2 == 35 && r.3 == 290));
    }

    #[test]
    fn writes_an_svg_and_refuses_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.svg");
        write_svg(&demo(), &out).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("apps/v1.Deployment") && svg.contains("ml/train #1"),
            "{}",
            &svg[..200]
        );
        assert!(write_svg(&demo(), &dir.path().join("t.png")).unwrap_err().to_string().contains("ending in .svg"));
        assert!(!svg.contains("gap:"), "a complete trace shows no gaps");
    }

    #[test]
    fn shades_the_gaps() {
        let mut trace = demo();
        let t0 = trace.events[0].ts;
        trace.gaps =
            vec![sk_core::trace::Gap { kind: "apps/v1.Deployment".parse().unwrap(), from: t0 + 40, to: t0 + 40 }];
        assert_eq!(gap_spans(&trace), [("apps/v1.Deployment".to_string(), 40, 41)], "at least a second wide");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.svg");
        write_svg(&trace, &out).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(svg.contains("gap: apps/v1.Deployment") && svg.contains("(1 gaps shaded)"), "{svg}");
    }
}
