//! Connection files: read Jupyter's, or generate our own and write it privately.

use std::io;
use std::path::Path;

use llmspell_core::connection::{Channel, ConnectionInfo, Transport};

use crate::error::{CliError, ErrorKind};
use crate::fsutil;

/// The default TCP address.
pub const DEFAULT_IP: &str = "127.0.0.1";

/// What the command line asks of a generated connection file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRequest {
    /// `--ip`, if given.
    pub ip: Option<String>,
    /// `--port`: the first of five consecutive ports, or 0.
    pub base_port: u16,
    /// `--transport`.
    pub transport: Transport,
}

/// Builds a new connection info.
///
/// Ports are `base..base+4` in the order shell, iopub, stdin, control, hb. A base of 0
/// leaves them 0 for TCP (the OS picks them at bind time) and makes them 1..5 for ipc.
/// For ipc, a missing `--ip` becomes the path prefix `<runtime_dir>/kernel-<id>`.
pub fn generate(
    req: &ConnectionRequest,
    runtime_dir: &Path,
    id: &str,
    key: String,
) -> Result<ConnectionInfo, CliError> {
    let base = match (req.transport, req.base_port) {
        (Transport::Ipc, 0) => 1,
        (_, base) => base,
    };
    if base > u16::MAX - 4 {
        return Err(CliError::usage(format!(
            "--port {base}: the five ports {base}..{} do not fit below 65536",
            u32::from(base) + 4
        )));
    }
    let ip = match (&req.ip, req.transport) {
        (Some(ip), _) => ip.clone(),
        (None, Transport::Tcp) => DEFAULT_IP.to_string(),
        (None, Transport::Ipc) => runtime_dir
            .join(format!("kernel-{id}"))
            .display()
            .to_string(),
    };
    let mut info = ConnectionInfo {
        shell_port: 0,
        iopub_port: 0,
        stdin_port: 0,
        control_port: 0,
        hb_port: 0,
        ip,
        key,
        transport: req.transport,
        signature_scheme: "hmac-sha256".to_string(),
        kernel_name: "llmspell".to_string(),
    };
    if base != 0 {
        for (offset, channel) in (0u16..).zip(Channel::ALL) {
            info.set_port(channel, base + offset);
        }
    }
    Ok(info)
}

/// A new signing key: 32 random bytes as 64 hex digits.
pub fn random_key() -> Result<String, CliError> {
    fsutil::random_hex(32).map_err(|e| CliError::new(ErrorKind::Runtime, e.to_string()))
}

/// Reads the connection file at `path`: `None` if there is none.
pub fn read_if_exists(path: &Path) -> Result<Option<ConnectionInfo>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::io(
                format_args!("cannot read connection file {}", path.display()),
                e,
            ))
        }
    };
    ConnectionInfo::from_json(&text)
        .map(Some)
        .map_err(|e| CliError::new(ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

/// Writes `info` to `path` atomically, readable by the owner only (0600).
pub fn write(path: &Path, info: &ConnectionInfo) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(info).map_err(|e| {
        CliError::new(
            ErrorKind::Runtime,
            format!("cannot serialize connection info: {e}"),
        )
    })?;
    fsutil::write_atomic(path, text.as_bytes(), 0o600)
        .map_err(|e| CliError::io(format_args!("cannot write {}", path.display()), e))
}

/// The five ports as `5000-5004` when consecutive, else `shell=..,iopub=..,...`.
pub fn describe_ports(info: &ConnectionInfo) -> String {
    let ports: Vec<u16> = Channel::ALL.iter().map(|c| info.port(*c)).collect();
    describe_port_list(&ports)
}

/// See [`describe_ports`]; `ports` are in the order of [`Channel::ALL`].
pub fn describe_port_list(ports: &[u16]) -> String {
    let consecutive = ports
        .windows(2)
        // `windows(2)` yields slices of exactly two ports.
        .all(|w| u32::from(w[1]) == u32::from(w[0]) + 1);
    match (ports.first(), ports.last()) {
        (Some(first), Some(last)) if consecutive => format!("{first}-{last}"),
        _ => Channel::ALL
            .iter()
            .zip(ports)
            .map(|(c, p)| format!("{}={p}", c.name()))
            .collect::<Vec<_>>()
            .join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::PermissionsExt;

    fn req(ip: Option<&str>, base_port: u16, transport: Transport) -> ConnectionRequest {
        ConnectionRequest {
            ip: ip.map(str::to_string),
            base_port,
            transport,
        }
    }

    #[test]
    fn tcp_ports_follow_the_base_in_connection_file_order() {
        let info = generate(
            &req(None, 59000, Transport::Tcp),
            Path::new("/r"),
            "ab",
            "k".into(),
        )
        .unwrap();
        assert_eq!(
            (
                info.shell_port,
                info.iopub_port,
                info.stdin_port,
                info.control_port,
                info.hb_port
            ),
            (59000, 59001, 59002, 59003, 59004)
        );
        assert_eq!(info.ip, "127.0.0.1");
        assert_eq!(info.signature_scheme, "hmac-sha256");
        assert_eq!(describe_ports(&info), "59000-59004");
    }

    #[test]
    fn tcp_port_zero_is_left_to_the_os() {
        let info = generate(
            &req(Some("0.0.0.0"), 0, Transport::Tcp),
            Path::new("/r"),
            "ab",
            "k".into(),
        )
        .unwrap();
        assert!(Channel::ALL.iter().all(|c| info.port(*c) == 0));
        assert_eq!(info.ip, "0.0.0.0");
    }

    #[test]
    fn ipc_defaults_to_a_runtime_dir_prefix_and_ports_1_to_5() {
        let info = generate(
            &req(None, 0, Transport::Ipc),
            Path::new("/r"),
            "ab12",
            "k".into(),
        )
        .unwrap();
        assert_eq!(info.ip, "/r/kernel-ab12");
        assert_eq!(info.endpoint(Channel::Heartbeat), "ipc:///r/kernel-ab12-5");
        assert_eq!(info.shell_port, 1);
        let given = generate(
            &req(Some("/tmp/s"), 10, Transport::Ipc),
            Path::new("/r"),
            "ab",
            "k".into(),
        )
        .unwrap();
        assert_eq!(given.endpoint(Channel::Shell), "ipc:///tmp/s-10");
    }

    #[test]
    fn base_port_too_high_is_a_usage_error() {
        let err = generate(
            &req(None, 65532, Transport::Tcp),
            Path::new("/r"),
            "a",
            "k".into(),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Usage);
        assert!(generate(
            &req(None, 65531, Transport::Tcp),
            Path::new("/r"),
            "a",
            "k".into()
        )
        .is_ok());
    }

    #[test]
    fn keys_are_random_64_hex_digits() {
        let (a, b) = (random_key().unwrap(), random_key().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn written_file_is_private_and_reads_back() {
        let tmp = TempDir::new("connfile");
        let path = tmp.path().join("kernel-x.json");
        assert_eq!(read_if_exists(&path).unwrap(), None);
        let info = generate(
            &req(None, 6000, Transport::Tcp),
            tmp.path(),
            "x",
            random_key().unwrap(),
        )
        .unwrap();
        write(&path, &info).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_if_exists(&path).unwrap(), Some(info));
        let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn invalid_connection_file_is_invalid_data() {
        let tmp = TempDir::new("connfile");
        let path = tmp.path().join("bad.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = read_if_exists(&path).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidData);
        assert!(err.message.contains("bad.json"));
    }

    #[test]
    fn non_consecutive_ports_are_named() {
        assert_eq!(
            describe_port_list(&[1, 2, 3, 9, 5]),
            "shell=1,iopub=2,stdin=3,control=9,hb=5"
        );
    }
}
