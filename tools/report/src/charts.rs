//! The report's two charts, drawn by plotters on its SVG backend into a `String`: the
//! phases as a Gantt-like chart, and propagation round by round. Times are plotted as
//! seconds after a first instant `t0` and labelled as UTC clock times at round steps.

use chrono::{DateTime, TimeDelta, Utc};
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const WIDTH: u32 = 1000;
const FONT: &str = "sans-serif";

const GREEN: RGBColor = RGBColor(0x1b, 0x7f, 0x3b);
const FAILED_RED: RGBColor = RGBColor(0xc0, 0x21, 0x2f);
const AMBER: RGBColor = RGBColor(0xd9, 0x8e, 0x04);
const PARENT_BLUE: RGBColor = RGBColor(0x1f, 0x5f, 0xbf);
const ORANGE: RGBColor = RGBColor(0xe0, 0x6c, 0x00);
const PURPLE: RGBColor = RGBColor(0x7b, 0x3f, 0xa8);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);

/// How a phase ended, which colours its bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhaseState {
    Succeeded,
    Failed,
    /// Not ended (or not known): drawn up to the end of the chart.
    Running,
}

/// One bar of the phases chart.
#[derive(Debug, Clone)]
pub(crate) struct PhaseBar {
    pub label: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub state: PhaseState,
}

/// One round of the propagation chart.
#[derive(Debug, Clone)]
pub(crate) struct RoundPoint {
    pub at: DateTime<Utc>,
    pub parent_on_new: Option<f64>,
    pub parent_total: Option<f64>,
    pub resolvers_on_new: Option<f64>,
    pub resolvers_total: Option<f64>,
}

/// What the propagation chart shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Propagation {
    pub rounds: Vec<RoundPoint>,
    pub safe_at: Option<DateTime<Utc>>,
    pub parent_switch: Option<DateTime<Utc>>,
}

type Error = String;

/// A linear `f64` axis whose ticks (and grid lines) are exactly `ticks`: round clock times,
/// one per phase, whole counts. (plotters' own `with_key_points` lacks a value formatter
/// for `f64` ranges, which the mesh needs even when it is given one.)
struct Ticked {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked {
            linear: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

fn err(e: impl std::fmt::Display) -> Error {
    e.to_string()
}

/// Seconds from `t0` to `t`.
fn secs(t0: DateTime<Utc>, t: DateTime<Utc>) -> f64 {
    (t - t0).num_milliseconds() as f64 / 1000.0
}

/// The time axis over `[from, to]` seconds after `t0`: bold key points at round clock
/// steps (about 6 to 12 of them), and a label formatter showing the clock time.
struct TimeAxis {
    t0: DateTime<Utc>,
    from: f64,
    to: f64,
    step: i64,
}

impl TimeAxis {
    fn new(t0: DateTime<Utc>, from: f64, to: f64) -> TimeAxis {
        // Never an empty range.
        let (from, to) = if to - from < 1.0 {
            (from - 0.5, from + 0.5)
        } else {
            (from, to)
        };
        const STEPS: [i64; 20] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600,
            43_200, 86_400, 172_800, 604_800,
        ];
        let span = to - from;
        let step = STEPS
            .iter()
            .copied()
            .find(|s| span / *s as f64 <= 10.0)
            .unwrap_or(604_800);
        TimeAxis { t0, from, to, step }
    }

    /// Key points on whole multiples of the step in clock time.
    fn key_points(&self) -> Vec<f64> {
        let base = self.t0.timestamp_millis() as f64 / 1000.0;
        let step = self.step as f64;
        let mut k = ((base + self.from) / step).ceil();
        let mut points = Vec::new();
        while k * step - base <= self.to && points.len() < 50 {
            points.push(k * step - base);
            k += 1.0;
        }
        points
    }

    fn range(&self) -> Ticked {
        Ticked::new(self.from..self.to, self.key_points())
    }

    fn label(&self, x: f64) -> String {
        let Some(at) = TimeDelta::try_milliseconds((x * 1000.0).round() as i64)
            .and_then(|d| self.t0.checked_add_signed(d))
        else {
            return String::new();
        };
        let format = if self.step >= 86_400 {
            "%m-%d"
        } else if self.step >= 3_600 || self.to - self.from > 86_400.0 {
            "%m-%d %H:%M"
        } else if self.step >= 60 {
            "%H:%M"
        } else {
            "%H:%M:%S"
        };
        at.format(format).to_string()
    }
}

/// The clock time of `t` for a marker's label.
fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

/// The phases as horizontal bars on a time axis, first phase on top. `None` without a
/// phase that has a start.
pub(crate) fn phases_svg(bars: &[PhaseBar]) -> Option<Result<String, Error>> {
    let t0 = bars.iter().map(|b| b.start).min()?;
    let last = bars
        .iter()
        .flat_map(|b| [Some(b.start), b.end])
        .flatten()
        .max()
        .unwrap_or(t0);
    Some(draw_phases(bars, t0, last))
}

fn draw_phases(bars: &[PhaseBar], t0: DateTime<Utc>, last: DateTime<Utc>) -> Result<String, Error> {
    let n = bars.len();
    let end = secs(t0, last);
    let axis = TimeAxis::new(t0, 0.0, end + (end * 0.02).max(0.5));
    let label_width = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 40) as u32
        * 8
        + 20;
    let height = 90 + 30 * n as u32;
    let rows = n as f64;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        // Row i (from the top) spans [rows - i - 1, rows - i]; its label sits at the middle.
        let centres: Vec<f64> = (0..n).map(|i| rows - i as f64 - 0.5).collect();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(30)
            .x_label_area_size(45)
            .y_label_area_size(label_width)
            .build_cartesian_2d(axis.range(), Ticked::new(0.0..rows.max(1.0), centres))
            .map_err(err)?;
        let x_label = |x: &f64| axis.label(*x);
        let y_label = |y: &f64| {
            let row = (rows - y - 0.5).round();
            if row >= 0.0 && (row as usize) < labels.len() {
                labels[row as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc("time (UTC)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .disable_y_mesh()
            .draw()
            .map_err(err)?;
        let right = axis.to;
        // At least 3 px wide, so that a phase of a few milliseconds still shows.
        let narrowest = (axis.to - axis.from) * 3.0 / f64::from(WIDTH);
        chart
            .draw_series(bars.iter().enumerate().map(|(i, bar)| {
                let top = rows - i as f64;
                let start = secs(t0, bar.start);
                let stop = bar
                    .end
                    .map_or(right, |e| secs(t0, e))
                    .max(start + narrowest);
                let colour = match bar.state {
                    PhaseState::Succeeded => GREEN,
                    PhaseState::Failed => FAILED_RED,
                    PhaseState::Running => AMBER,
                };
                Rectangle::new([(start, top - 0.18), (stop, top - 0.82)], colour.filled())
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Parent servers and resolvers on the new side per round, with the parent switch and
/// `safeAt` as vertical lines. `None` without a round.
pub(crate) fn propagation_svg(p: &Propagation) -> Option<Result<String, Error>> {
    let t0 = p.rounds.iter().map(|r| r.at).min()?;
    Some(draw_propagation(p, t0))
}

fn draw_propagation(p: &Propagation, t0: DateTime<Utc>) -> Result<String, Error> {
    let mut times: Vec<f64> = p.rounds.iter().map(|r| secs(t0, r.at)).collect();
    times.extend(p.safe_at.map(|t| secs(t0, t)));
    times.extend(p.parent_switch.map(|t| secs(t0, t)));
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let last = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((last - first) * 0.04).max(0.5);
    let axis = TimeAxis::new(t0, first - pad, last + pad);
    let most = p
        .rounds
        .iter()
        .flat_map(|r| {
            [
                r.parent_total,
                r.resolvers_total,
                r.parent_on_new,
                r.resolvers_on_new,
            ]
        })
        .flatten()
        .fold(1.0_f64, f64::max)
        .ceil()
        .min(1_000.0);
    // Room below 0 for the markers on the axis, and above the top count for the labels
    // of the vertical lines.
    let (bottom, top) = (-most * 0.06, most * 1.22);
    let counts: Vec<f64> = if most <= 12.0 {
        (0..=most as u32).map(f64::from).collect()
    } else {
        (0..=10)
            .map(|k| (most * f64::from(k) / 10.0).round())
            .collect()
    };
    let parent_total = totals(p.rounds.iter().map(|r| r.parent_total));
    let resolvers_total = totals(p.rounds.iter().map(|r| r.resolvers_total));
    let parent: Vec<(f64, f64)> = p
        .rounds
        .iter()
        .filter_map(|r| Some((secs(t0, r.at), r.parent_on_new?)))
        .collect();
    let resolvers: Vec<(f64, f64)> = p
        .rounds
        .iter()
        .filter_map(|r| Some((secs(t0, r.at), r.resolvers_on_new?)))
        .collect();
    let parent_style = ShapeStyle::from(PARENT_BLUE).stroke_width(2);
    let resolver_style = ShapeStyle::from(ORANGE).stroke_width(2);
    let switch_style = ShapeStyle::from(PURPLE).stroke_width(2);
    let safe_style = ShapeStyle::from(GREEN).stroke_width(3);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(420);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(12)
            .margin_right(30)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(axis.range(), Ticked::new(bottom..top, counts))
            .map_err(err)?;
        let x_label = |x: &f64| axis.label(*x);
        let y_label = |y: &f64| format!("{y:.0}");
        chart
            .configure_mesh()
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc("check-propagation rounds (UTC)")
            .y_desc("on the new side")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .draw()
            .map_err(err)?;

        // The vertical lines first, under the data; each labelled at its top, on the side
        // with room.
        let label = |x: f64, text: String, dy: i32, colour: &'static RGBColor| {
            let right_half = x - axis.from > (axis.to - axis.from) * 0.6;
            let (anchor, dx) = if right_half {
                (HPos::Right, -6)
            } else {
                (HPos::Left, 6)
            };
            let style = TextStyle::from((FONT, 15).into_font())
                .pos(Pos::new(anchor, VPos::Top))
                .color(colour);
            EmptyElement::at((x, top)) + Text::new(text, (dx, dy), style)
        };
        if let Some(switch) = p.parent_switch {
            let x = secs(t0, switch);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x, bottom), (x, top)],
                    6,
                    4,
                    switch_style,
                ))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(label(
                    x,
                    format!("parent switch {}", clock(switch)),
                    24,
                    &PURPLE,
                )))
                .map_err(err)?;
        }
        if let Some(safe) = p.safe_at {
            let x = secs(t0, safe);
            chart
                .draw_series(LineSeries::new([(x, bottom), (x, top)], safe_style))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(label(
                    x,
                    format!("safe at {}", clock(safe)),
                    4,
                    &GREEN,
                )))
                .map_err(err)?;
        }
        // The rounds: parent servers as dots, resolvers as rings around them.
        chart
            .draw_series(LineSeries::new(parent.iter().copied(), parent_style))
            .map_err(err)?;
        chart
            .draw_series(
                parent
                    .iter()
                    .map(|&at| Circle::new(at, 4, PARENT_BLUE.filled())),
            )
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(resolvers.iter().copied(), resolver_style))
            .map_err(err)?;
        chart
            .draw_series(
                resolvers
                    .iter()
                    .map(|&at| Circle::new(at, 7, resolver_style)),
            )
            .map_err(err)?;

        // The legend below the plot, in two columns: the series, then the lines.
        let (left, right) = legend_area
            .margin(0, 0, 70, 30)
            .split_horizontally(WIDTH / 2 - 20);
        let line = |style: ShapeStyle| {
            move |(x, y): (i32, i32)| PathElement::new([(x, y), (x + 26, y)], style)
        };
        legend(
            &left,
            &[
                (
                    format!("parent servers on the new side{parent_total}"),
                    line(parent_style.stroke_width(3)),
                ),
                (
                    format!("resolvers on the new side{resolvers_total}"),
                    line(resolver_style.stroke_width(3)),
                ),
            ],
        )?;
        let mut lines = Vec::new();
        if p.parent_switch.is_some() {
            lines.push((
                "parentSwitchSeenAt: the parent delegates to the new zone".to_owned(),
                line(switch_style),
            ));
        }
        if p.safe_at.is_some() {
            lines.push((
                "safeAt: the old side can be retired".to_owned(),
                line(safe_style),
            ));
        }
        legend(&right, &lines)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A legend of its own in `area`: plotters draws a chart's series labels inside its plot,
/// so the entries are given to an empty chart there.
fn legend<DB, F>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, F)],
) -> Result<(), Error>
where
    DB: DrawingBackend,
    F: Fn((i32, i32)) -> PathElement<(i32, i32)> + Clone + 'static,
{
    if entries.is_empty() {
        return Ok(());
    }
    let mut chart = ChartBuilder::on(area)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(err)?;
    for (text, glyph) in entries {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(err)?
            .label(text.clone())
            .legend(glyph.clone());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 15))
        .border_style(WHITE)
        .margin(4)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// ` (of N)` when every round has the same total, ` (of N..M)` when it changed, or nothing.
fn totals(values: impl Iterator<Item = Option<f64>>) -> String {
    let values: Vec<f64> = values.flatten().collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() {
        String::new()
    } else if low == high {
        format!(" (of {low:.0})")
    } else {
        format!(" (of {low:.0} to {high:.0})")
    }
}
