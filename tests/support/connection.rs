//! The connection info of a test server: ports chosen at bind time, our usual key scheme.

use llmspell_core::connection::{ConnectionInfo, Transport};

/// A connection on `ip` over `transport`, signed with `key`, every port 0 (chosen at bind).
pub fn any_ports(transport: Transport, ip: &str, key: &str) -> ConnectionInfo {
    ConnectionInfo {
        shell_port: 0,
        iopub_port: 0,
        stdin_port: 0,
        control_port: 0,
        hb_port: 0,
        ip: ip.to_string(),
        key: key.to_string(),
        transport,
        signature_scheme: "hmac-sha256".into(),
        kernel_name: "llmspell".into(),
    }
}
