//! One small file per dialect and wrapper, written here with its expected
//! reading: `sniff` names the dialect from content, and `ingest` gives the
//! fields, times and IDs of named records.

mod common;

use std::path::Path;

use common::run_ok;
use serde_json::Value;

struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new(files: &[(&str, &str)]) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join("bundle").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Bundle { dir }
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("bundle")
    }

    fn hop(&self) -> std::process::Command {
        let mut c = common::hopline(&self.dir.path().join("cache"));
        c.arg("--index").arg(self.dir.path().join("ix"));
        c
    }

    /// `hopline sniff --json`: path → dialect.
    fn sniffed(&self) -> Vec<(String, String)> {
        run_ok(self.hop().args(["sniff", "--json"]).arg(self.root()))
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["path"].as_str().unwrap().to_string(),
                    v["dialect"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn ingest(&self) -> Value {
        serde_json::from_str(&run_ok(
            self.hop().args(["ingest", "--json"]).arg(self.root()),
        ))
        .unwrap()
    }

    fn timeline(&self, id: &str) -> Value {
        serde_json::from_str(&run_ok(self.hop().args(["timeline", id, "--json"]))).unwrap()
    }
}

fn dialect_of<'a>(sniffed: &'a [(String, String)], path: &str) -> &'a str {
    sniffed
        .iter()
        .find(|(p, _)| Path::new(p).ends_with(path))
        .map(|(_, d)| d.as_str())
        .unwrap_or_else(|| panic!("{path} not sniffed: {sniffed:?}"))
}

#[test]
fn task_lifecycle_json_csv_and_metrics_join_the_timeline() {
    let b = Bundle::new(&[
        (
            "api.log",
            "{\"time\":1795165200000,\"level\":30,\"msg\":\"enqueue settle\",\"event_id\":\"evt_77\",\"task_id\":\"job-9\"}\n",
        ),
        (
            "tasks/lifecycle.jsonl",
            "{\"task_id\":\"job-9\",\"name\":\"settle\",\"state\":\"start\",\"time\":\"2026-11-20T09:00:01Z\",\"worker\":\"settle-worker-5d9c7b6f4-abcde\"}\n\
             {\"task_id\":\"job-9\",\"name\":\"settle\",\"state\":\"timeout\",\"time\":\"2026-11-20T09:00:31Z\",\"worker\":\"settle-worker-5d9c7b6f4-abcde\"}\n",
        ),
        (
            "tasks/history.csv",
            "task_id,name,state,time,event_id\njob-10,settle,complete,2026-11-20 09:01:00+00,evt_77\n",
        ),
        (
            "metrics/worker.prom",
            "# HELP tasks_total Tasks by state.\n# TYPE tasks_total counter\n\
             tasks_total{task=\"settle\",state=\"timeout\"} 1 1795165231000\n\
             tasks_total{task=\"settle\",state=\"complete\"} 41 1795165231000\n",
        ),
    ]);
    let s = b.sniffed();
    assert_eq!(dialect_of(&s, "tasks/lifecycle.jsonl"), "task_lifecycle");
    assert_eq!(dialect_of(&s, "tasks/history.csv"), "task_csv");
    assert_eq!(dialect_of(&s, "metrics/worker.prom"), "metrics");
    let ingest = b.ingest();
    assert_eq!(ingest["records_total"], 6, "{ingest}");
    assert_eq!(ingest["malformed_total"], 0, "{ingest}");

    let t = b.timeline("evt_77");
    // Task events, table rows and metrics log no message of their own:
    // every row still says something.
    for e in t["entries"].as_array().unwrap() {
        assert!(!e["text"].as_str().unwrap().trim().is_empty(), "{e}");
    }
    let entries = t["entries"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("log", "enqueue settle"),
            ("task_event", "task start settle"),
            ("task_event", "task timeout settle"),
            ("task_event", "task complete settle"),
        ],
        "metrics never join a footprint"
    );
    assert_eq!(entries[1]["service"], "settle-worker");
    assert_eq!(entries[2]["ts"], "2026-11-20T09:00:31.000000Z");
    assert_eq!(entries[3]["source"]["path"], "tasks/history.csv");
    assert_eq!(entries[3]["source"]["line"], 2);
}

/// One line per logger, each with an ID of its own to find it by.
const LOGGERS: &[(&str, &str)] = &[
    (
        "pino-api-5d7f8c9b4-k2x7p.log",
        r#"{"level":50,"time":1795165201123,"pid":1,"hostname":"pino-api-5d7f8c9b4-k2x7p","msg":"charge failed","reqId":"req_pino"}"#,
    ),
    (
        "structlog.log",
        r#"{"event":"charge failed","timestamp":"2026-11-20T09:00:01.123000Z","level":"error","logger":"pay","event_id":"evt_structlog"}"#,
    ),
    (
        "pyjson.log",
        r#"{"asctime":"2026-11-20 09:00:01,123","levelname":"ERROR","name":"pay","message":"charge failed","task_id":"task_pyjson"}"#,
    ),
    (
        "zap.log",
        r#"{"level":"error","ts":1795165201.123,"caller":"x.go:1","msg":"charge failed","idem_key":"idem_zap"}"#,
    ),
    (
        "zerolog.log",
        r#"{"level":"error","time":"2026-11-20T10:00:01.123+01:00","message":"charge failed","request_id":"req_zerolog"}"#,
    ),
    (
        "logrus.log",
        r#"{"level":"error","msg":"charge failed","time":"2026-11-20T09:00:01.123Z","event_id":"evt_logrus"}"#,
    ),
    (
        "ecs-nested.log",
        r#"{"@timestamp":"2026-11-20T09:00:01.123Z","log":{"level":"error"},"message":"charge failed","service":{"name":"ecs-svc"},"trace":{"id":"4bf92f3577b34da6a3ce929d0e0e4736"}}"#,
    ),
    (
        "ecs-flat.log",
        r#"{"@timestamp":"2026-11-20T09:00:01.123Z","log.level":"error","message":"charge failed","service.name":"ecs-svc","event.id":"x","http.request.id":"req_ecsflat"}"#,
    ),
    (
        "otel-flat.log",
        r#"{"timeUnixNano":"1795165201123000000","severityText":"ERROR","body":"charge failed","traceId":"5b8efff798038103d269b633813fc60c","resource":{"service.name":"otel-svc"}}"#,
    ),
    (
        "gcp.log",
        r#"{"insertId":"abc","jsonPayload":{"message":"charge failed","event_id":"evt_gcp"},"resource":{"type":"k8s_container","labels":{"container_name":"gcp-svc","pod_name":"gcp-svc-6d8f9b7c5-x2x9z"}},"timestamp":"2026-11-20T09:00:01.123Z","severity":"ERROR","logName":"projects/p/logs/stdout"}"#,
    ),
    (
        "docker-7f9c6d8b5-h3j6m.log",
        r#"{"log":"{\"level\":\"error\",\"msg\":\"charge failed\",\"event_id\":\"evt_docker\"}\n","stream":"stdout","time":"2026-11-20T09:00:01.123Z"}"#,
    ),
    (
        "logfmt.log",
        r#"time=2026-11-20T09:00:01.123Z level=error msg="charge failed" event_id=evt_logfmt"#,
    ),
];

fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let bytes: Vec<(&str, &[u8])> = files.iter().map(|(n, t)| (*n, t.as_bytes())).collect();
    tar_of_bytes(&bytes)
}

fn tar_of_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_795_165_200);
        h.set_entry_type(tar::EntryType::Regular);
        // Written raw: the builder refuses `..`, a hostile archive does not.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *text).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn every_logger_wrapper_and_container_gives_the_same_record() {
    let b = Bundle::new(&[]);
    let root = b.root();
    std::fs::create_dir_all(&root).unwrap();
    for (name, line) in LOGGERS {
        std::fs::write(root.join(name), format!("{line}\n")).unwrap();
    }
    // Containers: gzip, zstd, a plain tar, a tgz with a directory inside.
    let gz_line = r#"{"level":"error","msg":"charge failed","time":"2026-11-20T09:00:01.123Z","event_id":"evt_gz"}"#;
    std::fs::write(root.join("rotated.log.1.gz"), gzip(&format!("{gz_line}\n"))).unwrap();
    let zst_line = r#"{"level":"error","msg":"charge failed","time":"2026-11-20T09:00:01.123Z","event_id":"evt_zst"}"#;
    std::fs::write(
        root.join("archived.log.zst"),
        zstd::encode_all(format!("{zst_line}\n").as_bytes(), 3).unwrap(),
    )
    .unwrap();
    let tar_line = r#"{"level":"error","msg":"charge failed","time":"2026-11-20T09:00:01.123Z","event_id":"evt_tar"}"#;
    std::fs::write(
        root.join("plain.tar"),
        tar_of(&[("inner/app.log", &format!("{tar_line}\n"))]),
    )
    .unwrap();
    let tgz_line = r#"{"level":"error","msg":"charge failed","time":"2026-11-20T09:00:01.123Z","event_id":"evt_tgz"}"#;
    let tgz = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar_of(&[
            ("logs/worker-7f9c6d8b5-h3j6m.log", &format!("{tgz_line}\n")),
            ("../escape.log", "nope\n"),
        ]))
        .unwrap();
        gz.finish().unwrap()
    };
    std::fs::write(root.join("node-logs.tgz"), tgz).unwrap();
    // Kubernetes CRI with a long line split in two.
    std::fs::write(
        root.join("cri-6c8d7b5f9-q4w8n.log"),
        "2026-11-20T09:00:01.123Z stdout P {\"level\":\"error\",\"msg\":\"charge \n\
         2026-11-20T09:00:01.124Z stdout F failed\",\"event_id\":\"evt_cri\"}\n",
    )
    .unwrap();

    let ingest = b.ingest();
    let ids = [
        "req_pino",
        "evt_structlog",
        "task_pyjson",
        "idem_zap",
        "req_zerolog",
        "evt_logrus",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "req_ecsflat",
        "5b8efff798038103d269b633813fc60c",
        "evt_gcp",
        "evt_docker",
        "evt_logfmt",
        "evt_gz",
        "evt_zst",
        "evt_tar",
        "evt_tgz",
        "evt_cri",
    ];
    for id in ids {
        let t = b.timeline(id);
        let e = &t["entries"][0];
        assert_eq!(e["ts"], "2026-11-20T09:00:01.123000Z", "{id}: {e}");
        assert_eq!(e["level"], "error", "{id}: {e}");
        assert_eq!(e["message"], "charge failed", "{id}: {e}");
        assert_eq!(e["text"], "charge failed", "{id}: {e}");
    }
    let service = |id: &str| {
        b.timeline(id)["entries"][0]["service"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(service("req_pino"), "pino-api");
    assert_eq!(service("4bf92f3577b34da6a3ce929d0e0e4736"), "ecs-svc");
    assert_eq!(service("5b8efff798038103d269b633813fc60c"), "otel-svc");
    assert_eq!(service("evt_gcp"), "gcp-svc");
    assert_eq!(service("evt_tgz"), "worker");
    let path = |id: &str| {
        b.timeline(id)["entries"][0]["source"]["path"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        path("evt_tgz"),
        "node-logs.tgz!logs/worker-7f9c6d8b5-h3j6m.log"
    );
    assert_eq!(path("evt_tar"), "plain.tar!inner/app.log");
    let skipped: Vec<&str> = ingest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "skipped")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["node-logs.tgz!../escape.log"], "{ingest}");
    // Again: nothing new, archives included.
    let again = b.ingest();
    assert_eq!(again["records_added"], 0, "{again}");
}

#[test]
fn standard_input_is_a_source_too() {
    let b = Bundle::new(&[]);
    let mut child = b
        .hop()
        .args(["ingest", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(
                b"{\"time\":1795165201123,\"msg\":\"from a pipe\",\"event_id\":\"evt_stdin\"}\n",
            )
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let t = b.timeline("evt_stdin");
    assert_eq!(t["entries"][0]["message"], "from a pipe");
    assert_eq!(t["entries"][0]["source"]["path"], "stdin.log");
}

/// A text format only hopline.toml knows: sniffed as `text_format`, its
/// named groups read as fields, its naive times in the configured zone, a
/// Java stack trace attached to the line before it, and a line no format
/// matches counted, not fatal.
#[test]
fn a_text_format_from_hopline_toml() {
    let b = Bundle::new(&[
        (
            "hopline.toml",
            r#"[fields]
timezone = "+01:00"

[[formats]]
name = "logback"
pattern = '^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) +(?P<level>[A-Z]+) +\[(?P<thread>[^\]]*)\] (?P<logger>\S+) - (?P<msg>.*?)(?: event_id=(?P<event_id>\S+))?$'
"#,
        ),
        (
            "orders-7d9f8b6c5-x2x9q.log",
            "2026-11-20 10:00:01.123 INFO  [main] com.shop.Orders - order accepted event_id=evt_text1\n\
             2026-11-20 10:00:01.456 ERROR [exec-3] com.shop.Orders - charge failed event_id=evt_text1\n\
             java.lang.IllegalStateException: card declined\n\
             \tat com.shop.Charge.run(Charge.java:42)\n\
             this line is in no format\n\
             2026-11-20 10:00:02.000 WARN  [exec-3] com.shop.Orders - retry scheduled event_id=evt_text1\n",
        ),
        (
            "webhook-6b7c8d9e1-r5t6y.log",
            "time=2026-11-20T09:00:02.5Z level=info msg=\"webhook delivered\" event_id=evt_text1\n",
        ),
    ]);
    let sniffed = b.sniffed();
    assert_eq!(
        dialect_of(&sniffed, "orders-7d9f8b6c5-x2x9q.log"),
        "text_format"
    );
    assert_eq!(
        dialect_of(&sniffed, "webhook-6b7c8d9e1-r5t6y.log"),
        "logfmt"
    );
    let report = b.ingest();
    assert_eq!(report["malformed_total"], 1, "{report}");
    let t = b.timeline("evt_text1");
    let entries = t["entries"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["ts"].as_str().unwrap(),
                e["level"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("2026-11-20T09:00:01.123000Z", "info", "order accepted"),
            ("2026-11-20T09:00:01.456000Z", "error", "charge failed"),
            ("2026-11-20T09:00:02.000000Z", "warn", "retry scheduled"),
            ("2026-11-20T09:00:02.500000Z", "info", "webhook delivered"),
        ],
        "{t}"
    );
    assert_eq!(entries[0]["service"], "orders");
    assert_eq!(entries[1]["source"]["line"], 2);
    assert_eq!(entries[2]["source"]["line"], 6);
}

/// An archive inside an archive: when the outer one changes and the inner
/// one does not, the inner one's records stay, and each record is counted
/// once in the outer archive's report.
#[test]
fn a_nested_archive_survives_its_outer_archive_changing() {
    let line = |id: &str| {
        format!(
            "{{\"time\":\"2026-11-20T09:00:01Z\",\"level\":\"info\",\"msg\":\"m\",\"event_id\":\"{id}\"}}\n"
        )
    };
    let inner = tar_of(&[("a.log", &line("evt_nest_a"))]);
    let (b_log, c_log) = (line("evt_nest_b"), line("evt_nest_c"));
    let b = Bundle::new(&[]);
    std::fs::create_dir_all(b.root()).unwrap();
    let outer = b.root().join("outer.tar");
    let archive =
        |members: &[(&str, &[u8])]| std::fs::write(&outer, tar_of_bytes(members)).unwrap();
    archive(&[("inner.tar", &inner), ("b.log", b_log.as_bytes())]);
    let first = b.ingest();
    assert_eq!(first["records_total"], 2, "{first}");
    let row = |report: &Value| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "outer.tar")
            .map(|f| f["records"].clone())
            .unwrap()
    };
    assert_eq!(row(&first), 2, "{first}");
    archive(&[
        ("inner.tar", &inner),
        ("b.log", b_log.as_bytes()),
        ("c.log", c_log.as_bytes()),
    ]);
    let second = b.ingest();
    assert_eq!(second["records_total"], 3, "{second}");
    assert_eq!(
        b.timeline("evt_nest_a")["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
