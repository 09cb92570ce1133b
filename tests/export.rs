//! `hopline export`: golden files of both kinds on the sample bundle, every
//! export parsed as GFM with its tables and Mermaid block checked, and a
//! bundle of planted secrets of which none may survive.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{Ingested, run_ok};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use regex::Regex;

/// The sample, ingested once for every test here.
fn sample() -> &'static Ingested {
    static S: OnceLock<Ingested> = OnceLock::new();
    S.get_or_init(Ingested::sample)
}

fn export(ix: &Ingested, args: &[&str]) -> String {
    let out = run_ok(ix.cmd().arg("export").args(args));
    // The index lives in a temp dir and the checkout anywhere; golden files
    // must depend on neither.
    out.replace(&ix.index().display().to_string(), "<INDEX>")
        .replace(&common::sample().display().to_string(), "<BUNDLE>")
}

/// A GFM table row's cells: pipes not escaped by a backslash split them.
fn cells(line: &str) -> usize {
    let bytes = line.as_bytes();
    let pipes = (0..bytes.len())
        .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
        .count();
    pipes.saturating_sub(1)
}

/// Mermaid sequenceDiagram as hopline writes it: declared participants,
/// messages and notes whose text cannot end a statement, open an entity
/// or markup, or change an arrow.
fn check_mermaid(block: &str) {
    let text = r"[^;#:<>{}%\x22\s+>\-](?:[^;#:<>{}%\x22]|#\w+;)*";
    let participant = Regex::new(&format!(r"^    participant p(\d+) as ({text})$")).unwrap();
    let message = Regex::new(&format!(r"^    p(\d+)-?->>p(\d+): ({text})$")).unwrap();
    let note = Regex::new(&format!(r"^    Note over p(\d+): ({text})$")).unwrap();
    let mut lines = block.lines();
    assert_eq!(lines.next(), Some("sequenceDiagram"));
    let mut declared = Vec::new();
    for line in lines {
        if let Some(c) = participant.captures(line) {
            declared.push(c[1].to_string());
            continue;
        }
        let used: Vec<String> = if let Some(c) = message.captures(line) {
            vec![c[1].to_string(), c[2].to_string()]
        } else if let Some(c) = note.captures(line) {
            vec![c[1].to_string()]
        } else {
            panic!("not sequenceDiagram grammar: {line:?}");
        };
        for p in used {
            assert!(declared.contains(&p), "p{p} used before declared: {line}");
        }
    }
    assert!(!declared.is_empty());
}

/// Parses as CommonMark+GFM: no raw HTML anywhere, every table row has
/// its header's cell count, every Mermaid block follows the grammar.
/// Returns the tables' cell texts for content checks.
fn check_markdown(md: &str) -> Vec<Vec<String>> {
    let mut in_mermaid = false;
    let mut mermaid = String::new();
    let mut mermaid_blocks = 0;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cell: Option<String> = None;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML in export: {h}"),
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if &*lang == "mermaid" => {
                in_mermaid = true;
                mermaid.clear();
            }
            Event::End(TagEnd::CodeBlock) if in_mermaid => {
                check_mermaid(&mermaid);
                mermaid_blocks += 1;
                in_mermaid = false;
            }
            Event::Text(t) if in_mermaid => mermaid.push_str(&t),
            Event::Start(Tag::TableRow | Tag::TableHead) => rows.push(Vec::new()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                if let (Some(c), Some(row)) = (cell.take(), rows.last_mut()) {
                    row.push(c);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        mermaid_blocks,
        md.matches("```mermaid").count(),
        "a Mermaid fence did not parse as one code block"
    );
    // Source-level check: GFM pads or drops cells silently, so count them.
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cells(line);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(n, h, "row with {n} cells in a {h}-column table: {line}"),
            }
        } else {
            header = None;
        }
    }
    rows
}

#[test]
fn event_export_matches_its_golden_file_and_is_deterministic() {
    let ix = sample();
    let md = export(ix, &["evt_39febed3e92d"]);
    assert_eq!(md, export(ix, &["evt_39febed3e92d"]), "not deterministic");
    assert_eq!(md.matches("```mermaid").count(), 1);
    check_markdown(&md);
    insta::assert_snapshot!("event_export", md);
    let json: serde_json::Value =
        serde_json::from_str(&export(ix, &["evt_39febed3e92d", "--format", "json"])).unwrap();
    assert_eq!(json["findings"][0]["kind"], "duplicate_side_effect");
    assert_eq!(json["timeline"].as_array().unwrap().len(), 30);
    assert_eq!(json["redaction"]["enabled"], true);
}

#[test]
fn incident_export_matches_its_golden_file_and_is_deterministic() {
    let ix = sample();
    let md = export(ix, &["--incident"]);
    assert_eq!(md, export(ix, &["--incident"]), "not deterministic");
    let rows = check_markdown(&md);
    insta::assert_snapshot!("incident_export", md);
    assert!(
        rows.iter()
            .any(|r| r.first().map(String::as_str) == Some("critical")
                && r.get(1).map(String::as_str) == Some("duplicate_side_effect")),
        "findings-by-kind table"
    );
    // One event per finding kind, no event twice: a kind whose events were
    // all shown for a more severe kind is in that event's findings table.
    let shown: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("## Representative `"))
        .filter_map(|l| l.split("event `").nth(1))
        .collect();
    let mut distinct = shown.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        shown.len(),
        "an event shown twice: {shown:?}"
    );
    assert_eq!(shown.len(), 3, "{shown:?}");
    let representatives = md.split("## Representative").skip(1).collect::<String>();
    for kind in [
        "duplicate_side_effect",
        "partial_write",
        "key_conflict",
        "key_drift",
        "stuck_processing",
    ] {
        assert!(
            representatives.contains(&format!("| {kind} |")),
            "{kind} is in no representative's findings"
        );
    }
    for section in [
        "## Triage checklist",
        "## Metrics",
        "## Money impact",
        "## Action items",
    ] {
        assert!(md.contains(section), "{section}");
    }
    assert!(md.find("## Triage checklist") < md.find("## Summary"));
    // The gateway's 09:19 reload (no fingerprint logged, settings only) is
    // the incident's mitigation: it shows with what it changed.
    assert!(md.contains("**changed** retries: 1 → 0"), "config changes");
    let only = export(
        ix,
        &["--incident", "--kind", "partial_write", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&only).unwrap();
    let kinds: Vec<&str> = v["findings_by_kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["partial_write"]);
}

fn write(root: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join(name), text).unwrap();
}

const SECRETS: &[&str] = &[
    "tok_9fQ2xLm4Pz8sK1vR",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "AKIAZ7QX3N5M2KD4PL8R",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "Tr0ub4dor3",
    "maria.lopez@example.org",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "acct_552210",
];

#[test]
fn planted_secrets_never_reach_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let line = |ms: u64, msg: &str, extra: &str| {
        format!(
            "{{\"time\":{},\"level\":30,\"msg\":\"{msg}\",\"event_id\":\"evt_secret01\"{extra}}}\n",
            1_795_165_200_000u64 + ms
        )
    };
    let mut log = String::new();
    log += &line(
        0,
        "request from maria.lopez@example.org with Authorization: Bearer tok_9fQ2xLm4Pz8sK1vR",
        ",\"authorization\":\"Bearer tok_9fQ2xLm4Pz8sK1vR\"",
    );
    log += &line(
        5,
        "charge created card 4111 1111 1111 1111 key sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ",\"db\":\"postgres://billing:Tr0ub4dor3@db.internal:5432/pay\",\"aws\":\"AKIAZ7QX3N5M2KD4PL8R\"",
    );
    log += &line(
        9,
        "charge created card 5500-0000-0000-0004 for acct_552210",
        ",\"session\":\"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdXN0XzQyIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk\"",
    );
    write(&bundle, "payments-api-6c8d7b5f9-q4w8n.log", &log);
    write(
        &bundle,
        "hopline.toml",
        "[[redact]]\nname = \"internal account\"\npattern = 'acct_[0-9]{6}'\n",
    );
    let hop = || {
        let mut c = common::hopline(&dir.path().join("cache"));
        c.arg("--index").arg(dir.path().join("ix"));
        c
    };
    run_ok(hop().arg("ingest").arg(&bundle));
    let exports = [
        run_ok(hop().args(["export", "evt_secret01"])),
        run_ok(hop().args(["export", "evt_secret01", "--format", "json"])),
        run_ok(hop().args(["export", "--incident"])),
        run_ok(hop().args(["export", "--incident", "--format", "json"])),
    ];
    assert!(
        exports[0].contains("duplicate_side_effect"),
        "the evidence section (raw lines) must be in play"
    );
    for text in &exports {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
    }
    assert!(
        exports[0].contains("internal account"),
        "says what it removed"
    );
    // The same export without redaction shows them: the check above can fail.
    let raw = run_ok(hop().args(["export", "evt_secret01", "--no-redact", "--format", "json"]));
    for secret in SECRETS {
        assert!(
            raw.contains(secret),
            "{secret} not planted where exports look"
        );
    }
}

#[test]
fn hostile_names_and_text_cannot_break_tables_or_the_diagram() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let rec = |ms: u64, service: &str, msg: &str| {
        serde_json::json!({
            "time": 1_795_165_200_000u64 + ms,
            "level": 30,
            "service": service,
            "msg": msg,
            "request_id": "req_hostile1",
        })
        .to_string()
            + "\n"
    };
    let mut log = String::new();
    log += &rec(
        0,
        "edge;gw#1: \"quoted\" <b>",
        "a | b `code` <script>alert(1)</script>",
    );
    log += &rec(1, "-->>worker%%{init}", "->> end; Note over x: pwned");
    log += &rec(
        2,
        "edge;gw#1: \"quoted\" <b>",
        "row inserted | with *stars* and [link](x)\nsecond line",
    );
    write(&bundle, "mixed.log", &log);
    let hop = || {
        let mut c = common::hopline(&dir.path().join("cache"));
        c.arg("--index").arg(dir.path().join("ix"));
        c
    };
    run_ok(hop().arg("ingest").arg(&bundle));
    let md = run_ok(hop().args(["export", "req_hostile1"]));
    assert_eq!(md.matches("```mermaid").count(), 1);
    let rows = check_markdown(&md);
    // The cell holds the message as written: escaped, not interpreted.
    assert!(
        rows.iter().any(|r| r
            .iter()
            .any(|c| c == "a | b `code` <script>alert(1)</script>")),
        "{rows:?}"
    );
    check_markdown(&run_ok(hop().args(["export", "--incident"])));
}

#[test]
fn marks_and_notes_made_in_the_tui_appear_in_both_exports() {
    let ix = Ingested::sample();
    // The TUI's `m`/`c` write this file beside the index.
    std::fs::write(
        ix.index().join("marks.json"),
        r#"[{"source":{"path":"billing-worker-7f9c6d8b5-h3j6m.log","line":45},"note":"second charge: the retry after the gateway timeout"}]"#,
    )
    .unwrap();
    for args in [&["evt_39febed3e92d"][..], &["--incident"][..]] {
        let md = export(&ix, args);
        check_markdown(&md);
        assert!(md.contains("## Marks and notes"), "{args:?}");
        assert!(
            md.contains("second charge: the retry after the gateway timeout"),
            "{args:?}"
        );
    }
}
