use super::*;
use crate::registry::Ports;
use crate::testutil::TempDir;

fn info(ip: &str, shell: u16) -> ConnectionInfo {
    ConnectionInfo {
        shell_port: shell,
        iopub_port: shell + 1,
        stdin_port: shell + 2,
        control_port: shell + 3,
        hb_port: shell + 4,
        ip: ip.into(),
        key: "secret".into(),
        transport: Transport::Tcp,
        signature_scheme: "hmac-sha256".into(),
        kernel_name: "llmspell".into(),
    }
}

/// A record with its connection file written in `dir`.
fn record(dir: &Path, id: &str, ip: &str, shell: u16) -> KernelRecord {
    let conn = dir.join(format!("kernel-{id}.json"));
    connfile::write(&conn, &info(ip, shell)).unwrap();
    KernelRecord {
        id: id.into(),
        pid: 1,
        connection_file: conn,
        log_file: None,
        ip: ip.into(),
        transport: Transport::Tcp,
        ports: Ports {
            shell,
            iopub: shell + 1,
            stdin: shell + 2,
            control: shell + 3,
            hb: shell + 4,
        },
        started_unix_ms: 0,
        created_connection_file: true,
    }
}

#[test]
fn host_port_forms() {
    assert_eq!(host_port("localhost:59000"), Some(("localhost", 59000)));
    assert_eq!(host_port("[::1]:5"), Some(("::1", 5)));
    assert_eq!(host_port("10.0.0.2:70000"), None);
    assert_eq!(host_port(":5"), None);
    assert_eq!(host_port("/tmp/a:5"), None);
    assert_eq!(host_port("ab12cd"), None);
    assert!(same_host("localhost", "127.0.0.1"));
    assert!(same_host("127.0.0.1", "0.0.0.0"));
    assert!(same_host("10.0.0.2", "10.0.0.2"));
    assert!(!same_host("10.0.0.2", "127.0.0.1"));
}

#[test]
fn connection_files_ids_and_host_ports_resolve() {
    let tmp = TempDir::new("target");
    let records = [
        record(tmp.path(), "ab12cd34", "127.0.0.1", 59000),
        record(tmp.path(), "ff000000", "0.0.0.0", 60000),
    ];
    let by_file = resolve_among(records[0].connection_file.to_str().unwrap(), &records).unwrap();
    assert_eq!(by_file.info.key, "secret");
    assert_eq!(
        by_file.record.as_ref().map(|r| r.id.as_str()),
        Some("ab12cd34")
    );

    let by_id = resolve_among("AB12", &records).unwrap();
    assert_eq!(by_id.connection_file, records[0].connection_file);
    assert_eq!(by_id.endpoint(), "tcp://127.0.0.1:59000");

    let by_host = resolve_among("localhost:60000", &records).unwrap();
    assert_eq!(
        by_host.record.as_ref().map(|r| r.id.as_str()),
        Some("ff000000")
    );
    assert_eq!(
        by_host.endpoint(),
        "tcp://localhost:60000",
        "the host typed is dialled"
    );
    assert_eq!(
        by_host.info.iopub_port, 60001,
        "the other ports come from the file"
    );
}

#[test]
fn unknown_targets_say_what_is_running() {
    let tmp = TempDir::new("target");
    let records = [record(tmp.path(), "ab12cd34", "127.0.0.1", 59000)];
    let err = resolve_among("localhost:59001", &records).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("ab12cd34 on 127.0.0.1:59000"), "{err}");
    assert!(err.message.contains("connection file"), "{err}");
    let err = resolve_among("ee", &records).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("ab12cd34"), "{err}");
    let err = resolve_among("./no/such/file.json", &records).unwrap_err();
    assert!(err.message.contains("not a connection file"), "{err}");
    // A file that is not a connection file is invalid data, named.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "[]").unwrap();
    let err = resolve_among(junk.to_str().unwrap(), &records).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidData);
    assert!(err.message.contains("junk.json"));
}
