//! `kill -9` in the middle of an ingest: the index still opens, and the
//! next ingest ends with exactly the records of a clean run. Commits are
//! atomic with the manifest that says how far each file was read, so a
//! killed run leaves the last commit, and the next run resumes from it.

mod common;

use std::path::Path;
use std::time::Duration;

use common::run_ok;
use serde_json::Value;

/// A bundle big enough that an ingest takes a while: three services, one
/// event id per 3 lines.
fn write_bundle(root: &Path, lines: usize) {
    std::fs::create_dir_all(root).unwrap();
    for (service, field) in [
        ("api", "request_id"),
        ("worker", "task_id"),
        ("ledger", "idem_key"),
    ] {
        let mut text = String::with_capacity(lines * 140);
        for i in 0..lines {
            text.push_str(&format!(
                "{{\"time\":{},\"level\":30,\"msg\":\"step {i} of {service}\",\"event_id\":\"evt_{:08}\",\"{field}\":\"{service}_{i:08}\"}}\n",
                1_795_165_200_000u64 + i as u64,
                i
            ));
        }
        std::fs::write(root.join(format!("{service}-5d7f8c9b4-k2x7p.log")), text).unwrap();
    }
}

fn ingest(cache: &Path, index: &Path, bundle: &Path) -> Value {
    serde_json::from_str(&run_ok(
        common::hopline(cache)
            .arg("--index")
            .arg(index)
            .args(["ingest", "--json"])
            .arg(bundle),
    ))
    .unwrap()
}

#[test]
fn kill_dash_nine_at_several_points_then_resume_to_a_clean_result() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    write_bundle(&bundle, 60_000);
    let cache = tmp.path().join("cache");
    let clean = ingest(&cache, &tmp.path().join("clean"), &bundle);
    let expected = clean["records_total"].as_u64().unwrap();
    assert_eq!(expected, 180_000);

    for (i, after_ms) in [5u64, 60, 250, 700].into_iter().enumerate() {
        let index = tmp.path().join(format!("killed-{i}"));
        let mut child = common::hopline(&cache)
            .arg("--index")
            .arg(&index)
            .arg("ingest")
            .arg(&bundle)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(after_ms));
        // SIGKILL: no destructor, no flush, no commit.
        let _ = child.kill();
        let _ = child.wait();
        let resumed = ingest(&cache, &index, &bundle);
        assert_eq!(
            resumed["records_total"].as_u64(),
            Some(expected),
            "killed after {after_ms} ms: {resumed}"
        );
        // And again adds nothing.
        let again = ingest(&cache, &index, &bundle);
        assert_eq!(again["records_added"], 0, "killed after {after_ms} ms");
        // A footprint is whole.
        let t: Value = serde_json::from_str(&run_ok(
            common::hopline(&cache).arg("--index").arg(&index).args([
                "timeline",
                "evt_00012345",
                "--json",
            ]),
        ))
        .unwrap();
        assert_eq!(t["entries"].as_array().unwrap().len(), 3);
    }
}
