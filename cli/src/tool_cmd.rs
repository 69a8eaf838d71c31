//! `llmspell tool list|info|search|invoke`: in-process by default, or on a kernel.
//!
//! Each command becomes a [`ToolRequest`]. In-process, the built-in registry and a host
//! made from the configuration answer it (no kernel, no Lua engine, and no thread for a
//! pure tool); remotely, a kernel does, over `tool_request`. Either way the answer is a
//! `tool_reply` content, printed as text, or as that very JSON with `--output json|pretty`.
//! A reply with `"status": "error"` becomes the CLI's error: its kind, message and
//! suggestions, exit code 2 for the caller's mistakes and 1 for the tool's failures.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use llmspell_core::tools::{ToolErrorKind, ToolHost};
use serde_json::Value;

use crate::cli::{OutputFormat, ToolCommand};
use crate::config::Config;
use crate::error::{CliError, ErrorKind};
use crate::remote::Client;
use crate::target::{self, Target};
use crate::{host, output};
use llmspell_core::tools::protocol::{self, ToolRequest};

/// Where tool requests are answered.
pub enum Backend {
    /// In this process.
    Embedded(Arc<dyn ToolHost>),
    /// By a kernel.
    Remote(Box<(Client, Target)>),
}

impl Backend {
    /// The in-process host for `config`. `[tools.timeouts]` must name known tools.
    pub fn embedded(config: &Config) -> Result<Backend, CliError> {
        let host = host::embedded_host(config.host_config());
        for name in config.tools.timeouts.keys() {
            if host.registry().get(name).is_none() {
                return Err(CliError {
                    suggestions: host
                        .registry()
                        .suggest(name)
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    ..CliError::new(
                        ErrorKind::Config,
                        format!("[tools.timeouts] names an unknown tool {name:?}"),
                    )
                });
            }
        }
        Ok(Backend::Embedded(host))
    }

    /// A client of `target`.
    pub fn remote(target: Target, config: &Config) -> Result<Backend, CliError> {
        let client = target.client(&config.transport.zeromq)?;
        Ok(Backend::Remote(Box::new((client, target))))
    }

    /// The backend the command line asks for: `--connect`, the saved target, or in-process.
    pub fn from_command_line(connect: Option<&str>, config: &Config) -> Result<Backend, CliError> {
        match target::current(connect)? {
            Some(target) => Backend::remote(target, config),
            None => Backend::embedded(config),
        }
    }

    /// Answers one request: the `tool_reply` content (which may report an error). `Err`
    /// is for a transport failure only.
    pub fn call(&mut self, request: &ToolRequest) -> Result<Value, CliError> {
        match self {
            Backend::Embedded(host) => Ok(protocol::dispatch(host.as_ref(), request)),
            Backend::Remote(remote) => remote.0.tool_request(request),
        }
    }

    /// `in-process`, or the kernel's endpoint.
    pub fn describe(&self) -> String {
        match self {
            Backend::Embedded(_) => "in-process".to_string(),
            Backend::Remote(remote) => format!("kernel at {}", remote.1.endpoint()),
        }
    }

    /// The pid of the process that runs the tools, when it is on this machine.
    pub fn tool_pid(&self) -> Option<u32> {
        match self {
            Backend::Embedded(_) => Some(std::process::id()),
            Backend::Remote(remote) => remote.1.record.as_ref().map(|r| r.pid),
        }
    }
}

/// Runs a `tool` command; returns the exit code.
pub fn run(
    command: &ToolCommand,
    format: OutputFormat,
    config_path: Option<&Path>,
    connect: Option<&str>,
) -> Result<i32, CliError> {
    let request = request_of(command)?;
    let config = Config::load_from_process(config_path)?;
    let mut backend = Backend::from_command_line(connect, &config)?;
    let reply = backend.call(&request)?;
    // One command per process, which exits right after: the OS takes the host back faster
    // than dropping its twenty tools one by one (8% of the instructions of `tool invoke calculator`).
    std::mem::forget(backend);
    if !protocol::is_ok(&reply) {
        return Err(CliError::from_reply(&reply));
    }
    if format.is_json() {
        output::print_json(&reply, format);
    } else {
        output::print_text(&reply_text(&request, &reply));
    }
    Ok(0)
}

/// The request of a command line.
pub fn request_of(command: &ToolCommand) -> Result<ToolRequest, CliError> {
    Ok(match command {
        ToolCommand::List { category } => ToolRequest::List {
            category: category.clone(),
        },
        ToolCommand::Info { name } => ToolRequest::Info { name: name.clone() },
        ToolCommand::Search { query, limit } => ToolRequest::Search {
            query: query.join(" "),
            limit: *limit,
        },
        ToolCommand::Invoke(args) => ToolRequest::Invoke {
            name: args.name.clone(),
            params: parse_params(&args.params)?,
            timeout_ms: args.timeout_ms,
        },
    })
}

fn params_error(message: String) -> CliError {
    CliError::new(ErrorKind::Tool(ToolErrorKind::InvalidParams), message)
}

/// `--params`: JSON text, `-` for stdin, or `@FILE`. Invalid JSON is an `invalid_params`
/// error with serde_json's line and column.
pub fn parse_params(arg: &str) -> Result<Value, CliError> {
    let (text, source) = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::io("cannot read --params from stdin", e))?;
        (text, "--params from stdin".to_string())
    } else if let Some(file) = arg.strip_prefix('@') {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::usage(format!("cannot read --params file {file}: {e}")))?;
        (text, format!("--params file {file}"))
    } else {
        return serde_json::from_str(arg)
            .map_err(|e| params_error(format!("--params is not valid JSON: {e}")));
    };
    serde_json::from_str(&text)
        .map_err(|e| params_error(format!("{source} is not valid JSON: {e}")))
}

/// The text form of a successful reply.
pub fn reply_text(request: &ToolRequest, reply: &Value) -> String {
    let str_of = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
    let spec_row = |spec: &Value| {
        vec![
            str_of(spec, "name"),
            str_of(spec, "category"),
            str_of(spec, "description"),
        ]
    };
    let empty = Vec::new();
    match request {
        ToolRequest::List { category } => {
            let rows: Vec<Vec<String>> = reply["tools"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(spec_row)
                .collect();
            match (rows.is_empty(), category) {
                (true, Some(c)) => format!("no tools in category {c:?}"),
                (true, None) => "no tools".to_string(),
                (false, _) => output::table(&["NAME", "CATEGORY", "DESCRIPTION"], &rows),
            }
        }
        ToolRequest::Info { .. } => info_text(&reply["tool"]),
        ToolRequest::Search { query, .. } => {
            let rows: Vec<Vec<String>> = reply["results"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|r| {
                    let mut row = vec![format!("{:.2}", r["score"].as_f64().unwrap_or(0.0))];
                    row.extend(spec_row(&r["tool"]));
                    row
                })
                .collect();
            if rows.is_empty() {
                format!("no tools match {query:?}")
            } else {
                output::table(&["SCORE", "NAME", "CATEGORY", "DESCRIPTION"], &rows)
            }
        }
        ToolRequest::Invoke { .. } => str_of(reply, "text"),
        ToolRequest::Batch { .. } => reply["results"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|r| match r["success"].as_bool() {
                Some(true) => str_of(r, "text"),
                _ => format!("error: {}", str_of(&r["error"], "message")),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// `tool info` as text: the fields, then the parameters' schema, indented.
fn info_text(spec: &Value) -> String {
    let yes_no = |key: &str| {
        if spec[key].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        }
    };
    let field = |key: &str| spec[key].as_str().unwrap_or_default().to_string();
    let schema = serde_json::to_string_pretty(&spec["parameters"]).unwrap_or_default();
    format!(
        "name:        {}\ncategory:    {}\ndescription: {}\nsecurity:    {}\ncacheable:   {}\n\
         blocking:    {}\nparameters:\n{schema}\n",
        field("name"),
        field("category"),
        field("description"),
        field("security"),
        yes_no("cacheable"),
        yes_no("blocking"),
    )
}

#[cfg(test)]
#[path = "tool_cmd_tests.rs"]
mod tests;
