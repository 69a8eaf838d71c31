//! Tests of the plots of a run: which charts exist, their lines, and the files written.

use super::*;
use crate::report::tests::sweep_run;
use crate::svg::tests::check_xml;

#[test]
fn slugs_are_file_safe() {
    assert_eq!(slug("kernel-info"), "kernel-info");
    assert_eq!(slug("libzmq floor"), "libzmq-floor");
    assert_eq!(slug(" My Kernel/2.0 "), "my-kernel-2-0");
    assert_eq!(slug("../x"), "x");
}

#[test]
fn charts_of_a_run_with_the_sweep() {
    let r = sweep_run();
    let charts = charts(&r);
    let names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "latency-kernel-info.svg",
            "latency-execute.svg",
            "latency-clients-echo-libzmq-floor-native.svg",
            "latency-clients-kernel-info-llmspell-native.svg",
            "latency-clients-execute-llmspell-native.svg",
            "throughput-clients-kernel-info.svg",
            "throughput-clients-execute.svg",
        ]
    );
    let chart = |name: &str| &charts.iter().find(|(n, _)| n == name).unwrap().1;
    // Round trips: the floor dashed, then the kernels that have data.
    let execute = chart("latency-execute.svg");
    let lines: Vec<(&str, bool)> = execute
        .series
        .iter()
        .map(|s| (s.name.as_str(), s.dashed))
        .collect();
    assert_eq!(
        lines,
        [
            ("libzmq floor (native)", true),
            ("llmspell (native)", false),
            ("ipykernel (native)", false)
        ]
    );
    assert_eq!(execute.series[2].points[0], (50.0, 3000.0));
    // Throughput: the floor and llmspell, x = clients, only steps that completed.
    let t = chart("throughput-clients-kernel-info.svg");
    assert_eq!(t.x.ticks.as_deref(), Some(&[1.0, 2.0, 4.0][..]));
    assert_eq!(t.series.len(), 2);
    assert_eq!(
        t.series[0].points,
        [(1.0, 100_000.0), (2.0, 150_000.0), (4.0, 200_000.0)]
    );
    assert_eq!(t.series[1].points, [(1.0, 25_000.0), (2.0, 37_500.0)]);
    // Sweep latency: one line per client count.
    let floor = chart("latency-clients-echo-libzmq-floor-native.svg");
    let names: Vec<&str> = floor.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "1 client, 8 in flight",
            "2 clients, 16 in flight",
            "4 clients, 32 in flight"
        ]
    );
}

#[test]
fn no_sweep_no_sweep_charts() {
    let mut r = sweep_run();
    r.sweep.clear();
    r.settings.scenarios.retain(|s| s != "clients");
    let names: Vec<String> = charts(&r).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["latency-kernel-info.svg", "latency-execute.svg"]);
    // A scenario where only the floor has data makes no chart.
    r.kernels.iter_mut().for_each(|k| k.kernel_info = None);
    let names: Vec<String> = charts(&r).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["latency-execute.svg"]);
}

#[test]
fn writes_well_formed_files() {
    let dir = std::env::temp_dir().join(format!("llmspell-plots-{}", std::process::id()));
    let written = write_all(&sweep_run(), &dir.join("nested")).unwrap();
    assert_eq!(written.len(), 7);
    for path in &written {
        let doc = std::fs::read_to_string(path).unwrap();
        check_xml(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            doc.contains("<polyline") || doc.contains("<circle"),
            "{}",
            path.display()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_saved_run_plots_the_same() {
    let dir = std::env::temp_dir().join(format!("llmspell-replot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.json");
    crate::report::write_json(&sweep_run(), &path).unwrap();
    let back = crate::report::read_json(&path).unwrap();
    assert_eq!(charts(&back), charts(&sweep_run()));
    // A file from before the sweep and the curves still reads, with no sweep charts and
    // no latency curves to draw.
    let mut old = serde_json::to_value(sweep_run()).unwrap();
    let root = old.as_object_mut().unwrap();
    root.remove("sweep");
    for key in ["clients", "sweep_requests", "sweep_depth", "sweep_total"] {
        root["settings"].as_object_mut().unwrap().remove(key);
    }
    for k in root["kernels"].as_array_mut().unwrap() {
        if let Some(summary) = k["execute"].as_object_mut() {
            summary.remove("curve");
        }
    }
    std::fs::write(&path, old.to_string()).unwrap();
    let old = crate::report::read_json(&path).unwrap();
    assert!(old.sweep.is_empty() && old.settings.clients.is_empty());
    assert!(old.kernels[0].execute.as_ref().unwrap().curve.is_empty());
    std::fs::write(&path, "{").unwrap();
    assert!(crate::report::read_json(&path).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
