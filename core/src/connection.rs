//! Jupyter connection files: the five channels, the transport and the signing key.

use serde::{Deserialize, Serialize};

/// The five channels of a Jupyter kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Requests and replies for code, completion, inspection, history (ROUTER).
    Shell,
    /// Interrupt, shutdown and debug requests, answered while shell is busy (ROUTER).
    Control,
    /// `input_request` to the client and `input_reply` back (ROUTER).
    Stdin,
    /// Broadcast of status, streams, results and errors (XPUB).
    Iopub,
    /// Heartbeat echo (REP).
    Heartbeat,
}

impl Channel {
    /// All channels, in connection-file order.
    pub const ALL: [Channel; 5] = [
        Channel::Shell,
        Channel::Iopub,
        Channel::Stdin,
        Channel::Control,
        Channel::Heartbeat,
    ];

    /// The channel's name as Jupyter spells it.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Shell => "shell",
            Channel::Control => "control",
            Channel::Stdin => "stdin",
            Channel::Iopub => "iopub",
            Channel::Heartbeat => "hb",
        }
    }
}

/// The transport named in a connection file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP; `ip` is an address and each channel has a port.
    #[default]
    Tcp,
    /// Unix domain sockets; each channel lives at the path `{ip}-{port}`.
    Ipc,
}

/// The contents of a Jupyter connection file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// The shell channel's port.
    pub shell_port: u16,
    /// The iopub channel's port.
    pub iopub_port: u16,
    /// The stdin channel's port.
    pub stdin_port: u16,
    /// The control channel's port.
    pub control_port: u16,
    /// The heartbeat channel's port.
    pub hb_port: u16,
    /// The address to bind (tcp), or the path prefix of the sockets (ipc).
    pub ip: String,
    /// The HMAC key; empty disables signing.
    #[serde(default)]
    pub key: String,
    /// tcp or ipc.
    #[serde(default)]
    pub transport: Transport,
    /// Only `hmac-sha256` is supported.
    #[serde(default = "default_scheme")]
    pub signature_scheme: String,
    /// The kernel name, informational.
    #[serde(default)]
    pub kernel_name: String,
}

fn default_scheme() -> String {
    "hmac-sha256".to_string()
}

impl ConnectionInfo {
    /// The port of one channel.
    pub fn port(&self, channel: Channel) -> u16 {
        match channel {
            Channel::Shell => self.shell_port,
            Channel::Iopub => self.iopub_port,
            Channel::Stdin => self.stdin_port,
            Channel::Control => self.control_port,
            Channel::Heartbeat => self.hb_port,
        }
    }

    /// Sets the port of one channel.
    pub fn set_port(&mut self, channel: Channel, port: u16) {
        match channel {
            Channel::Shell => self.shell_port = port,
            Channel::Iopub => self.iopub_port = port,
            Channel::Stdin => self.stdin_port = port,
            Channel::Control => self.control_port = port,
            Channel::Heartbeat => self.hb_port = port,
        }
    }

    /// The ZeroMQ endpoint of one channel: `tcp://127.0.0.1:5555` or `ipc://path-5`.
    pub fn endpoint(&self, channel: Channel) -> String {
        match self.transport {
            Transport::Tcp => format!("tcp://{}:{}", self.ip, self.port(channel)),
            Transport::Ipc => format!("ipc://{}-{}", self.ip, self.port(channel)),
        }
    }

    /// Parses a connection file's JSON, checking the signature scheme.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let info: ConnectionInfo =
            serde_json::from_str(text).map_err(|e| format!("invalid connection file: {e}"))?;
        if info.signature_scheme != "hmac-sha256" {
            return Err(format!(
                "unsupported signature_scheme {:?}: only hmac-sha256 is supported",
                info.signature_scheme
            ));
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jupyter_connection_file() {
        let text = r#"{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4,
            "hb_port": 5, "ip": "127.0.0.1", "key": "k", "transport": "tcp",
            "signature_scheme": "hmac-sha256", "kernel_name": "llmspell"}"#;
        let info = ConnectionInfo::from_json(text).unwrap();
        assert_eq!(info.endpoint(Channel::Heartbeat), "tcp://127.0.0.1:5");
        assert_eq!(info.port(Channel::Stdin), 3);
        let bad = text.replace("hmac-sha256", "hmac-md5");
        assert!(ConnectionInfo::from_json(&bad)
            .unwrap_err()
            .contains("hmac-md5"));
    }
}
