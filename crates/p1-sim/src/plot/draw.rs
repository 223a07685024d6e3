//! Drawing a [`Recording`] with plotters: one panel per quantity the data has, stacked
//! over one Belgian-time axis, into SVG text or an RGB bitmap encoded as PNG.
//!
//! Text is laid out and (in PNG) rasterised with DejaVu Sans embedded in the binary
//! (`assets/DejaVuSans.ttf`, Bitstream Vera licence in `assets/DejaVuSans.LICENSE`), so a
//! picture looks the same on a machine without any system font.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{LocalTimeAxis, dst_changes, month_starts};
use super::columns::{Column, Span};
use super::{Format, Mark, MarkKind, Recording};
use crate::error::CliError;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

const IMPORT: RGBColor = RGBColor(200, 40, 40);
const EXPORT: RGBColor = RGBColor(30, 140, 60);
const PHASE_IMPORT: [RGBColor; 3] = [
    RGBColor(240, 130, 110),
    RGBColor(200, 110, 170),
    RGBColor(150, 90, 60),
];
const PHASE_EXPORT: [RGBColor; 3] = [
    RGBColor(120, 200, 120),
    RGBColor(60, 170, 170),
    RGBColor(150, 170, 60),
];
const DEMAND: RGBColor = RGBColor(230, 130, 0);
const PEAK: RGBColor = RGBColor(110, 40, 160);
const NIGHT: RGBColor = RGBColor(215, 225, 240);
const CREDIT: RGBColor = RGBColor(0, 120, 130);
const GAS: RGBColor = RGBColor(200, 120, 0);
const WATER: RGBColor = RGBColor(20, 90, 200);
const DST_MARK: RGBColor = RGBColor(220, 0, 0);
const MONTH_MARK: RGBColor = RGBColor(0, 70, 200);
const EVENT_MARK: RGBColor = RGBColor(240, 140, 0);
const CONNECTED: RGBColor = RGBColor(120, 190, 120);
const READY: RGBColor = RGBColor(240, 200, 80);
const DISCONNECTED: RGBColor = RGBColor(220, 80, 80);

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; a failure here is a broken build, reported on drawing.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Renders `rec` as SVG text or PNG bytes of `size` pixels.
pub(crate) fn render(
    rec: &Recording,
    phases: bool,
    format: Format,
    size: (u32, u32),
) -> Result<Vec<u8>, CliError> {
    register_font();
    let failed = |e: String| CliError::Internal(format!("drawing the plot: {e}"));
    match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw(&root, rec, phases).map_err(failed)?;
                root.present().map_err(|e| failed(err(e)))?;
            }
            Ok(svg.into_bytes())
        }
        Format::Png => {
            let (w, h) = size;
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                draw(&root, rec, phases).map_err(failed)?;
                root.present().map_err(|e| failed(err(e)))?;
            }
            encode_png(&rgb, size).map_err(failed)
        }
    }
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// The panels a recording has data for, top to bottom, with their relative heights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Panel {
    Power,
    Demand,
    Breaker,
    Credit,
    Mbus(usize),
}

impl Panel {
    fn weight(self) -> u32 {
        match self {
            Panel::Power => 30,
            Panel::Demand => 22,
            Panel::Breaker => 8,
            Panel::Credit | Panel::Mbus(_) => 15,
        }
    }
}

fn any(rec: &Recording, f: impl Fn(&Column) -> bool) -> bool {
    rec.columns.iter().any(|(_, c)| f(c))
}

fn panels(rec: &Recording) -> Vec<Panel> {
    let mut out = vec![Panel::Power];
    if any(rec, |c| c.demand.range.is_some()) {
        out.push(Panel::Demand);
    }
    out.push(Panel::Breaker);
    if any(rec, |c| c.credit.range.is_some()) {
        out.push(Panel::Credit);
    }
    for i in 0..4 {
        if rec.mbus_kinds[i].is_some() && any(rec, |c| c.mbus[i].range.is_some()) {
            out.push(Panel::Mbus(i));
        }
    }
    out
}

/// Shared state of one drawing: the axis, the marks and what a gap is.
struct Frame<'a> {
    rec: &'a Recording,
    axis: LocalTimeAxis,
    marks: Vec<Mark>,
    /// Samples further apart than this are not joined by a line.
    gap_ms: i64,
}

impl Frame<'_> {
    /// The centre instants and values of `pick`'s columns, in runs without gaps, scaled
    /// by `scale` (W to kW and so on).
    fn runs(&self, pick: impl Fn(&Column) -> Span, scale: f64) -> Vec<Vec<(i64, f64)>> {
        self.runs_joined(pick, scale, self.gap_ms)
    }

    /// [`Frame::runs`] with its own gap: M-Bus captures are minutes apart.
    fn runs_joined(
        &self,
        pick: impl Fn(&Column) -> Span,
        scale: f64,
        gap_ms: i64,
    ) -> Vec<Vec<(i64, f64)>> {
        let half = self.rec.columns.width_ms() / 2;
        let mut runs: Vec<Vec<(i64, f64)>> = Vec::new();
        let mut last: Option<i64> = None;
        for (t, c) in self.rec.columns.iter() {
            let Some((lo, hi)) = pick(c).range else {
                continue;
            };
            let x = t + half;
            if last.is_none_or(|l| x - l > gap_ms) {
                runs.push(Vec::new());
            }
            last = Some(x);
            if let Some(run) = runs.last_mut() {
                run.push((x, lo as f64 * scale));
                if hi != lo {
                    run.push((x, hi as f64 * scale));
                }
            }
        }
        runs
    }

    /// Column runs `[start, end)` where `pick` holds, carried over empty columns that are
    /// not a gap.
    fn bands(&self, pick: impl Fn(&Column) -> Option<bool>) -> Vec<(i64, i64)> {
        let w = self.rec.columns.width_ms();
        let mut out: Vec<(i64, i64)> = Vec::new();
        let mut state: Option<(bool, i64)> = None; // (holds, last seen)
        for (t, c) in self.rec.columns.iter() {
            let holds = match pick(c) {
                Some(h) => {
                    state = Some((h, t));
                    h
                }
                None => match state {
                    Some((h, seen)) if t - seen <= self.gap_ms => h,
                    _ => false,
                },
            };
            if holds {
                match out.last_mut() {
                    Some(last) if last.1 == t => last.1 = t + w,
                    _ => out.push((t, t + w)),
                }
            }
        }
        out
    }
}

fn max_of(runs: &[Vec<(i64, f64)>]) -> f64 {
    runs.iter()
        .flatten()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max)
}

fn min_of(runs: &[Vec<(i64, f64)>]) -> f64 {
    runs.iter()
        .flatten()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
}

fn calendar_marks(rec: &Recording) -> Vec<Mark> {
    let mut marks: Vec<Mark> = dst_changes(rec.from_ms, rec.to_ms)
        .into_iter()
        .map(|(at_ms, summer)| Mark {
            at_ms,
            kind: MarkKind::Dst,
            label: if summer {
                "summer time begins (+1 h)".to_owned()
            } else {
                "winter time begins (-1 h)".to_owned()
            },
        })
        .collect();
    for at_ms in month_starts(rec.from_ms, rec.to_ms, 1) {
        let label = p1_meter::SimTime(at_ms)
            .local()
            .0
            .format("month %Y-%m")
            .to_string();
        marks.push(Mark {
            at_ms,
            kind: MarkKind::Month,
            label,
        });
    }
    marks.extend(rec.marks.iter().cloned());
    marks.sort_by_key(|m| m.at_ms);
    marks
}

/// Draws the whole picture on `root`. One function per panel keeps each panel's axes,
/// series and legend together.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rec: &Recording,
    phases: bool,
) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let (_, height) = root.dim_in_pixel();
    let title_h = 34;
    let (title, body) = root.split_vertically(title_h);
    title
        .draw(&Text::new(
            rec.title.clone(),
            (12, 10),
            (FAMILY, 18).into_font().color(&BLACK),
        ))
        .map_err(err)?;
    let step = rec.columns.width_ms();
    let frame = Frame {
        rec,
        axis: LocalTimeAxis {
            from_ms: rec.from_ms,
            to_ms: rec.to_ms,
        },
        marks: calendar_marks(rec),
        gap_ms: 3 * step.max(rec_step(rec)),
    };
    let list = panels(rec);
    let total: u32 = list.iter().map(|p| p.weight()).sum();
    let x_label_h = 56;
    let avail = height.saturating_sub(title_h + x_label_h);
    let mut rest = body;
    for (i, panel) in list.iter().enumerate() {
        let bottom = i + 1 == list.len();
        let h = avail * panel.weight() / total.max(1) + if bottom { x_label_h } else { 0 };
        let (area, below) = if bottom {
            (rest.clone(), rest.clone())
        } else {
            rest.split_vertically(h)
        };
        match *panel {
            Panel::Power => draw_power(&area, &frame, phases, bottom, i == 0)?,
            Panel::Demand => draw_demand(&area, &frame, bottom)?,
            Panel::Breaker => draw_breaker(&area, &frame, bottom)?,
            Panel::Credit => draw_credit(&area, &frame, bottom)?,
            Panel::Mbus(ch) => draw_mbus(&area, &frame, ch, bottom)?,
        }
        rest = below;
    }
    Ok(())
}

/// The smallest distance between samples, estimated from the columns: one column when
/// every column has a sample, more when samples are sparser than columns.
fn rec_step(rec: &Recording) -> i64 {
    let span = (rec.to_ms - rec.from_ms).max(1);
    let samples = i64::try_from(rec.samples.max(1)).unwrap_or(i64::MAX);
    span / samples
}

type Chart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<LocalTimeAxis, plotters::coord::types::RangedCoordf64>>;

fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    frame: &Frame<'_>,
    y: (f64, f64),
    y_desc: &str,
    bottom: bool,
    y_labels: usize,
) -> Result<Chart<'a, DB>, String> {
    let mut c = ChartBuilder::on(area)
        .margin_left(8)
        .margin_right(16)
        .margin_top(6)
        .x_label_area_size(if bottom { 56 } else { 0 })
        .y_label_area_size(72)
        .build_cartesian_2d(frame.axis.clone(), y.0..y.1)
        .map_err(err)?;
    let mut mesh = c.configure_mesh();
    mesh.y_desc(y_desc)
        .y_labels(y_labels)
        .x_labels(12)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .light_line_style(WHITE.mix(0.0));
    if bottom {
        let mut desc = frame.axis.description();
        if let Some((interval, step)) = frame.rec.sampling.filter(|(i, s)| s > i) {
            desc.push_str(&format!(
                "; 1 telegram in {} drawn (one per {})",
                step / interval,
                crate::summary::duration(step)
            ));
        }
        mesh.x_desc(desc);
    }
    mesh.draw().map_err(err)?;
    Ok(c)
}

fn draw_marks<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    frame: &Frame<'_>,
    y: (f64, f64),
    labels: bool,
) -> DrawResult {
    for m in &frame.marks {
        let color = match m.kind {
            MarkKind::Dst => DST_MARK,
            MarkKind::Month => MONTH_MARK,
            MarkKind::Event => EVENT_MARK,
        };
        c.draw_series(LineSeries::new(
            [(m.at_ms, y.0), (m.at_ms, y.1)],
            color.stroke_width(1),
        ))
        .map_err(err)?;
        if labels {
            let style = (FAMILY, 12)
                .into_font()
                .transform(FontTransform::Rotate90)
                .color(&color);
            // A few pixels right of the line, reading downwards from the top.
            c.draw_series(std::iter::once(
                EmptyElement::at((m.at_ms, y.1)) + Text::new(m.label.clone(), (14, 4), style),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

fn draw_night<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    frame: &Frame<'_>,
    y: (f64, f64),
    legend: bool,
) -> DrawResult {
    // Full shade where a column saw only the night tariff, light where it saw both (a
    // switch, or on long spans a column holding day and night).
    let night = frame.bands(|col| (col.tariffs != 0).then_some(col.tariffs == 1 << 2));
    let mixed = frame.bands(|col| {
        (col.tariffs != 0).then_some(col.tariffs & (1 << 2) != 0 && col.tariffs != 1 << 2)
    });
    c.draw_series(
        mixed
            .iter()
            .map(|&(a, b)| Rectangle::new([(a, y.0), (b, y.1)], NIGHT.mix(0.45).filled())),
    )
    .map_err(err)?;
    let series = c
        .draw_series(
            night
                .iter()
                .map(|&(a, b)| Rectangle::new([(a, y.0), (b, y.1)], NIGHT.filled())),
        )
        .map_err(err)?;
    if legend && !(night.is_empty() && mixed.is_empty()) {
        series
            .label("tariff 2 (night), 0-0:96.14.0")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], NIGHT.filled()));
    }
    Ok(())
}

fn line<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    runs: &[Vec<(i64, f64)>],
    color: RGBColor,
    label: &str,
) -> DrawResult {
    let mut first = true;
    for run in runs {
        // Dense min/max zig-zags stay one pixel wide: thick joins at sharp angles spike.
        let width = if run.len() > 400 { 1 } else { 2 };
        let s = c
            .draw_series(LineSeries::new(
                run.iter().copied(),
                color.stroke_width(width),
            ))
            .map_err(err)?;
        if first {
            s.label(label.to_owned()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 18, y)], color.stroke_width(3))
            });
            first = false;
        }
    }
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a>(c: &mut Chart<'a, DB>) -> DrawResult {
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)
}

fn upper(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.15
    } else {
        0.1
    }
}

fn draw_power<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame<'_>,
    phases: bool,
    bottom: bool,
    top: bool,
) -> DrawResult {
    let kw = 1e-3;
    let import = frame.runs(|c| c.import, kw);
    // Export is drawn below zero so the two never hide each other.
    let export = frame.runs(|c| c.export, -kw);
    let n = if phases { frame.rec.phases } else { 0 };
    let ph_imp: Vec<_> = (0..n)
        .map(|i| frame.runs(|c| c.phase_import[i], kw))
        .collect();
    let ph_exp: Vec<_> = (0..n)
        .map(|i| frame.runs(|c| c.phase_export[i], -kw))
        .collect();
    let low = min_of(&export);
    let y = (
        if low.is_finite() && low < 0.0 {
            low * 1.15
        } else {
            0.0
        },
        upper(max_of(&import)),
    );
    let mut c = chart(area, frame, y, "power (kW), export below 0", bottom, 6)?;
    draw_night(&mut c, frame, y, true)?;
    for i in 0..n {
        let l = i + 1;
        let codes = [(21, 22), (41, 42), (61, 62)][i];
        line(
            &mut c,
            &ph_imp[i],
            PHASE_IMPORT[i],
            &format!("L{l} import 1-0:{}.7.0", codes.0),
        )?;
        line(
            &mut c,
            &ph_exp[i],
            PHASE_EXPORT[i],
            &format!("L{l} export 1-0:{}.7.0", codes.1),
        )?;
    }
    line(&mut c, &import, IMPORT, "import 1-0:1.7.0")?;
    line(&mut c, &export, EXPORT, "export 1-0:2.7.0")?;
    draw_marks(&mut c, frame, y, top)?;
    legend(&mut c)
}

fn draw_demand<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame<'_>,
    bottom: bool,
) -> DrawResult {
    let kw = 1e-3;
    let demand = frame.runs(|c| c.demand, kw);
    let peak = frame.runs(|c| c.peak, kw);
    let marks_max = frame
        .rec
        .peaks
        .iter()
        .map(|p| f64::from(p.w) * kw)
        .fold(0.0, f64::max);
    let y = (
        0.0,
        upper(max_of(&demand).max(max_of(&peak)).max(marks_max)),
    );
    let mut c = chart(area, frame, y, "demand (kW)", bottom, 5)?;
    draw_night(&mut c, frame, y, false)?;
    let (from, to) = (frame.rec.from_ms, frame.rec.to_ms);
    let shown = |p: &&super::PeakMark| p.quarter.1 > from && p.quarter.0 < to;
    let crowded = frame.rec.peaks.iter().filter(shown).count() > 3;
    for p in frame.rec.peaks.iter().filter(shown) {
        let (a, b) = (p.quarter.0.max(from), p.quarter.1.min(to));
        c.draw_series(std::iter::once(Rectangle::new(
            [(a, y.0), (b, y.1)],
            PEAK.mix(0.18).filled(),
        )))
        .map_err(err)?;
        let v = f64::from(p.w) * kw;
        let at = p.stamp_ms.clamp(from, to);
        let when = p1_meter::SimTime(p.quarter.0).local().0;
        let until = p1_meter::SimTime(p.quarter.1).local().0;
        // A few peaks are named in full; on long spans only their values fit.
        let label = if crowded {
            format!("{}.{:03}", p.w / 1000, p.w % 1000)
        } else {
            format!(
                "peak {}.{:03} kW, quarter {}-{}",
                p.w / 1000,
                p.w % 1000,
                when.format("%d %b %H:%M"),
                until.format("%H:%M")
            )
        };
        c.draw_series(std::iter::once(TriangleMarker::new(
            (at, v),
            7,
            PEAK.filled(),
        )))
        .map_err(err)?;
        // Labels in the right third read leftwards, so they stay inside the picture.
        let side = if (at - from) * 3 > (to - from) * 2 {
            HPos::Right
        } else {
            HPos::Left
        };
        let style = (FAMILY, 12)
            .into_font()
            .color(&PEAK)
            .pos(Pos::new(side, VPos::Bottom));
        c.draw_series(std::iter::once(Text::new(label, (at, v), style)))
            .map_err(err)?;
    }
    line(&mut c, &demand, DEMAND, "quarter demand 1-0:1.4.0")?;
    line(&mut c, &peak, PEAK, "month peak 1-0:1.6.0")?;
    draw_marks(&mut c, frame, y, false)?;
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FAMILY, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)
}

fn draw_breaker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame<'_>,
    bottom: bool,
) -> DrawResult {
    let y = (0.0, 1.0);
    let mut c = chart(area, frame, y, "breaker", bottom, 0)?;
    for (code, color, label) in [
        (1, CONNECTED, "breaker 1 connected, 0-0:96.3.10"),
        (2, READY, "breaker 2 ready for reconnection"),
        (0, DISCONNECTED, "breaker 0 disconnected"),
    ] {
        let bands = frame.bands(|col| (col.breaker != 0).then_some(col.breaker & (1 << code) != 0));
        if bands.is_empty() {
            continue;
        }
        c.draw_series(
            bands
                .iter()
                .map(|&(a, b)| Rectangle::new([(a, 0.15), (b, 0.85)], color.filled())),
        )
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    draw_marks(&mut c, frame, y, false)?;
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 11))
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(err)
}

fn padded(runs: &[Vec<(i64, f64)>]) -> (f64, f64) {
    let (lo, hi) = (min_of(runs), max_of(runs));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(0.001);
    (lo - pad, hi + pad)
}

fn draw_credit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame<'_>,
    bottom: bool,
) -> DrawResult {
    let credit = frame.runs(|c| c.credit, 1e-6);
    let y = padded(&credit);
    let mut c = chart(area, frame, y, "credit (EUR)", bottom, 4)?;
    c.draw_series(LineSeries::new(
        [(frame.rec.from_ms, 0.0), (frame.rec.to_ms, 0.0)],
        BLACK.mix(0.3),
    ))
    .map_err(err)?;
    line(&mut c, &credit, CREDIT, "prepaid credit")?;
    draw_marks(&mut c, frame, y, false)?;
    legend(&mut c)
}

fn draw_mbus<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame<'_>,
    ch: usize,
    bottom: bool,
) -> DrawResult {
    let readings = frame.runs_joined(|c| c.mbus[ch], 1e-3, i64::MAX);
    let kind = frame.rec.mbus_kinds[ch].unwrap_or(0);
    let n = ch + 1;
    let (name, color, code) = match kind {
        p1_wire::MbusReadout::GAS => ("gas", GAS, format!("0-{n}:24.2.3")),
        p1_wire::MbusReadout::WATER => ("water", WATER, format!("0-{n}:24.2.1")),
        _ => ("M-Bus", WATER, format!("0-{n}:24.2.1")),
    };
    let y = padded(&readings);
    let mut c = chart(area, frame, y, &format!("{name} (m³)"), bottom, 4)?;
    line(
        &mut c,
        &readings,
        color,
        &format!("{name} {code}, at its captures"),
    )?;
    c.draw_series(
        readings
            .iter()
            .flatten()
            .map(|&p| Circle::new(p, 2, color.filled())),
    )
    .map_err(err)?;
    draw_marks(&mut c, frame, y, false)?;
    legend(&mut c)
}
