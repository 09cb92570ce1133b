//! In-process latencies on an existing index, for `benches/compare.sh`:
//! the warm timeline of many IDs, the TUI's first frame and its
//! keypress-to-frame time (on ratatui's TestBackend, with requests answered
//! as the event loop answers them).
//!
//! ```text
//! cargo run --release --example bench_query -- --index IX --ids-from BUNDLE/.truth.jsonl [--samples 100]
//! ```
//!
//! Prints one JSON object per measurement: `{"bench": NAME, ...figures}`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hopline::config::Config;
use hopline::correlate::{HubRule, footprint};
use hopline::detect::footprint_findings;
use hopline::index::RecordIndex;
use hopline::index::marks::Marks;
use hopline::present::text;
use hopline::present::tui::render::render;
use hopline::present::tui::{Action, App, Message, Pane, serve};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

// The allocator the `hopline` binary runs with, so figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    index: PathBuf,
    ids_from: PathBuf,
    samples: usize,
}

fn args() -> Result<Args, String> {
    let mut index = None;
    let mut ids_from = None;
    let mut samples = 100;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--index" => index = Some(PathBuf::from(value()?)),
            "--ids-from" => ids_from = Some(PathBuf::from(value()?)),
            "--samples" => samples = value()?.parse().map_err(|e| format!("--samples: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        index: index.ok_or("--index is required")?,
        ids_from: ids_from.ok_or("--ids-from is required")?,
        samples,
    })
}

/// Milliseconds at the given quantile (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn figures(name: &str, mut times: Vec<Duration>) -> serde_json::Value {
    times.sort();
    json!({
        "bench": name,
        "n": times.len(),
        "p50_ms": quantile(&times, 0.5),
        "p99_ms": quantile(&times, 0.99),
        "max_ms": quantile(&times, 1.0),
    })
}

/// Event ids spread evenly over the truth file, so early and late events
/// (and every segment of the index) are asked for.
fn sample_ids(truth: &str, samples: usize) -> Vec<String> {
    let ids: Vec<String> = truth
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("event_id")?.as_str().map(str::to_string))
        .collect();
    let step = (ids.len() / samples.max(1)).max(1);
    ids.into_iter().step_by(step).take(samples).collect()
}

fn run(a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::default();
    let truth = std::fs::read_to_string(&a.ids_from)?;
    let ids = sample_ids(&truth, a.samples);
    if ids.is_empty() {
        return Err(format!("no event_id in {}", a.ids_from.display()).into());
    }

    // TUI first frame: open the index and draw, as `hopline open` does
    // before its analysis is back.
    let started = Instant::now();
    let index = RecordIndex::open_existing(&a.index)?;
    let mut app = App::new(a.index.display().to_string(), false);
    app.marks = Marks::load(index.dir()).unwrap_or_default();
    let mut terminal = Terminal::new(TestBackend::new(120, 36))?;
    terminal.draw(|f| render(&app, f))?;
    println!(
        "{}",
        json!({"bench": "tui_first_frame", "ms": started.elapsed().as_secs_f64() * 1e3})
    );

    // Warm timeline: what `hopline timeline ID` computes, in one process.
    let rule = HubRule::from_config(&config);
    let mut times = Vec::with_capacity(ids.len());
    for id in &ids {
        let t = Instant::now();
        let fp = footprint(&index, id, rule, &config)?;
        let found = footprint_findings(&fp, &config);
        std::hint::black_box(text::timeline_json(&fp, &found));
        times.push(t.elapsed());
        if fp.records.is_empty() {
            return Err(format!("{id}: no records").into());
        }
    }
    println!("{}", figures("timeline_warm", times));

    // The analysis the TUI waits for before its lists fill.
    let t = Instant::now();
    let analysis = hopline::analysis::analyse(&index, &config)?;
    println!(
        "{}",
        json!({"bench": "tui_analysis_ready", "ms": t.elapsed().as_secs_f64() * 1e3,
               "events": analysis.events.events.len(), "findings": analysis.findings.len()})
    );
    app.on_message(Message::Ready(Box::new(analysis)));
    serve(&mut app, &index, &config);
    terminal.draw(|f| render(&app, f))?;

    // Keypress to frame: stepping down the event list, each step opening
    // the next event's timeline (one index lookup) and drawing.
    app.focus = Pane::Events;
    let mut times = Vec::with_capacity(a.samples * 2);
    for i in 0..a.samples * 2 {
        let t = Instant::now();
        app.apply(if i % 10 == 9 {
            Action::PageDown
        } else {
            Action::Down
        });
        serve(&mut app, &index, &config);
        terminal.draw(|f| render(&app, f))?;
        times.push(t.elapsed());
    }
    println!("{}", figures("tui_keypress_to_frame", times));
    Ok(())
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_query: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_query: {e}");
            ExitCode::FAILURE
        }
    }
}
