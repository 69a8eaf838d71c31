use std::fs;
use std::path::Path;

use super::*;
use crate::config::Config;
use crate::testutil::TempDir;

/// The repository's tuning/ directory.
fn tuning_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tuning")
}

/// Writes `value` at `root/rel`, creating directories.
fn put(root: &Path, rel: &str, value: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("a relative path has a parent")).expect("mkdir");
    fs::write(path, value).expect("write");
}

/// A fake root whose sysctls are those of a `sysctl.d` file (`key = value` lines).
fn root_from_sysctl_file(text: &str) -> TempDir {
    let dir = TempDir::new("tune");
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').expect("key = value");
        let rel = format!("proc/sys/{}", key.trim().replace('.', "/"));
        put(dir.path(), &rel, &format!("{}\n", value.trim()));
    }
    dir
}

fn find<'a>(findings: &'a [Finding], id: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

/// A machine as shipped by most distributions: everything below the guide's targets.
fn untuned() -> Facts {
    Facts {
        nofile: Some((1024, 4096)),
        memlock: Some(8 << 20),
        somaxconn: Some(128),
        rmem_max: Some(212_992),
        wmem_max: Some(212_992),
        tcp_rmem_max: Some(6_291_456),
        tcp_wmem_max: Some(4_194_304),
        swappiness: Some(60),
        overcommit: Some(0),
        io_uring_disabled: Some(0),
        kernel_release: Some("6.1.0-18-amd64".into()),
        io_uring_probe: Some(Ok(())),
        governors: vec!["powersave".into(), "powersave".into()],
        isolated: Some(String::new()),
        online: Some("0-1".into()),
        thp: Some("always".into()),
    }
}

#[test]
fn gather_reads_a_fake_root() {
    let dir = TempDir::new("tune");
    let root = dir.path();
    put(root, "proc/sys/net/core/somaxconn", "4096\n");
    put(
        root,
        "proc/sys/net/ipv4/tcp_rmem",
        "4096\t131072\t33554432\n",
    );
    put(root, "proc/sys/kernel/osrelease", "6.18.44-fc\n");
    put(
        root,
        "sys/kernel/mm/transparent_hugepage/enabled",
        "always [madvise] never\n",
    );
    put(
        root,
        "sys/devices/system/cpu/cpu10/cpufreq/scaling_governor",
        "powersave\n",
    );
    put(
        root,
        "sys/devices/system/cpu/cpu2/cpufreq/scaling_governor",
        "performance\n",
    );
    put(root, "sys/devices/system/cpu/isolated", "\n");
    put(root, "sys/devices/system/cpu/online", "0-11\n");
    let f = Facts::gather(root);
    assert_eq!(f.somaxconn, Some(4096));
    assert_eq!(f.tcp_rmem_max, Some(33_554_432));
    assert_eq!(f.tcp_wmem_max, None);
    assert_eq!(f.kernel_release.as_deref(), Some("6.18.44-fc"));
    assert_eq!(f.thp.as_deref(), Some("madvise"));
    // Numeric CPU order, not lexical: cpu2 before cpu10.
    assert_eq!(f.governors, ["performance", "powersave"]);
    assert_eq!(f.isolated.as_deref(), Some(""));
    // Limits and the io_uring probe are this process's, read only for the real root.
    assert_eq!((f.nofile, f.memlock, f.io_uring_probe), (None, None, None));
}

#[test]
fn an_untuned_machine_gets_advice_for_each_shortfall() {
    let findings = audit(&untuned());
    for id in [
        "ulimit.nofile",
        "net.core.somaxconn",
        "net.core.rmem_max",
        "net.core.wmem_max",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "vm.swappiness",
        "transparent_hugepage",
        "cpu.governor",
    ] {
        let f = find(&findings, id);
        assert_eq!(f.status, Status::Warn, "{id}: {f:?}");
        assert!(!f.advice.is_empty() && !f.why.is_empty(), "{id}: {f:?}");
    }
    assert!(find(&findings, "net.core.somaxconn")
        .advice
        .contains("somaxconn=1024"));
    assert!(find(&findings, "ulimit.nofile")
        .advice
        .contains("hard limit 4096"));
    assert_eq!(find(&findings, "io_uring").status, Status::Ok);
    assert_eq!(find(&findings, "cpu.isolated").status, Status::Info);
    assert!(find(&findings, "cpu.isolated")
        .advice
        .contains("online: 0-1"));
}

#[test]
fn the_sysctl_drop_in_satisfies_every_sysctl_check() {
    let text = fs::read_to_string(tuning_dir().join("sysctl.d/90-llmspell.conf")).expect("read");
    let dir = root_from_sysctl_file(&text);
    let findings = audit(&Facts::gather(dir.path()));
    for id in [
        "net.core.somaxconn",
        "net.core.rmem_max",
        "net.core.wmem_max",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "vm.swappiness",
    ] {
        assert_eq!(find(&findings, id).status, Status::Ok, "{id}");
    }
}

#[test]
fn io_uring_problems_name_the_tokio_runtime() {
    let cases = [
        (
            Some(Err("Operation not permitted (os error 1)".to_string())),
            Some(0),
            "6.1",
        ),
        (None, Some(2), "6.6.0"),
        (None, None, "5.4.0-150-generic"),
    ];
    for (probe, disabled, release) in cases {
        let facts = Facts {
            io_uring_probe: probe,
            io_uring_disabled: disabled,
            kernel_release: Some(release.into()),
            ..untuned()
        };
        let f = audit(&facts)
            .into_iter()
            .find(|f| f.id == "io_uring")
            .expect("io_uring");
        assert_eq!(f.status, Status::Warn, "{f:?}");
        assert!(f.advice.contains("--runtime tokio"), "{f:?}");
    }
    assert_eq!(kernel_version("5.4.0-150-generic"), Some((5, 4)));
    assert_eq!(kernel_version("6.18.44-fc-v657"), Some((6, 18)));
    assert_eq!(kernel_version("garbage"), None);
}

#[test]
fn unreadable_values_are_info_not_warnings() {
    let findings = audit(&Facts::default());
    assert!(
        findings.iter().all(|f| f.status == Status::Info),
        "{findings:?}"
    );
    assert_eq!(find(&findings, "net.core.somaxconn").value, "unreadable");
    assert!(find(&findings, "cpu.governor").value.contains("no cpufreq"));
}

#[test]
fn json_counts_match_the_findings() {
    let findings = audit(&untuned());
    let v = to_json(&findings);
    let checks = v["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), findings.len());
    let warn = findings.iter().filter(|f| f.status == Status::Warn).count() as u64;
    assert_eq!(v["summary"]["warn"], warn);
    assert_eq!(
        v["summary"]["ok"].as_u64().unwrap_or(0)
            + v["summary"]["warn"].as_u64().unwrap_or(0)
            + v["summary"]["info"].as_u64().unwrap_or(0),
        findings.len() as u64
    );
    assert!(checks
        .iter()
        .all(|c| c["why"].as_str().is_some_and(|w| !w.is_empty())));
    let text = to_text(&findings);
    assert!(text.starts_with("status  check"), "{text}");
    assert!(text.contains("\nnet.core.somaxconn: sysctl -w net.core.somaxconn=1024"));
}

#[test]
fn this_machine_can_be_audited() {
    let findings = audit(&Facts::gather(Path::new("/")));
    assert_eq!(findings.len(), audit(&Facts::default()).len());
    // The real root probes the process's own limits.
    assert_ne!(find(&findings, "ulimit.nofile").value, "unreadable");
    assert_ne!(find(&findings, "io_uring").value, "not probed");
}

#[test]
fn the_presets_are_valid_configurations() {
    for name in ["latency.toml", "throughput.toml"] {
        let text = fs::read_to_string(tuning_dir().join("presets").join(name)).expect("read");
        let config = Config::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(config.transport.zeromq.sndbuf.is_some(), "{name}");
        assert!(config.kernel.max_concurrent_clients > 0, "{name}");
    }
}
