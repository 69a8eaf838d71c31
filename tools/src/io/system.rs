//! `system-monitor`: CPU, memory, disks, load and the largest processes (sysinfo).
//!
//! Each call reads the system afresh, reading only what was asked for. CPU usage needs two
//! readings [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`] apart, so `cpu` takes about 200 ms.

use super::params::{opt_str, opt_u64};
use llmspell_core::tools::{
    SecurityLevel, Tool, ToolContext, ToolError, ToolOutput, ToolResult, ToolSpec,
};
use serde_json::{json, Value};
use sysinfo::{Disks, ProcessRefreshKind, ProcessesToUpdate, System};

/// The `system-monitor` tool.
pub struct SystemMonitor {
    spec: ToolSpec,
}

impl SystemMonitor {
    /// The tool with its spec.
    pub fn new() -> Self {
        let parameters = json!({
            "type": "object",
            "properties": {
                "what": {
                    "type": "string",
                    "enum": ["summary", "cpu", "memory", "disks", "load", "processes"],
                    "description": "Default summary: host, uptime, CPU count, load and memory"
                },
                "limit": {
                    "type": "integer", "minimum": 1, "maximum": 1000,
                    "description": "processes: how many, largest memory first (default 10)"
                }
            },
            "additionalProperties": false
        });
        SystemMonitor {
            spec: ToolSpec {
                name: "system-monitor",
                category: "system",
                description:
                    "Report CPU usage, memory, disks, load averages and the largest processes",
                parameters,
                security: SecurityLevel::Restricted,
                cacheable: false,
                blocking: true,
            },
        }
    }
}

impl Default for SystemMonitor {
    fn default() -> Self {
        Self::new()
    }
}

const MIB: u64 = 1 << 20;

fn memory() -> (String, Value) {
    let mut sys = System::new();
    sys.refresh_memory();
    let data = json!({
        "total_bytes": sys.total_memory(),
        "used_bytes": sys.used_memory(),
        "available_bytes": sys.available_memory(),
        "swap_total_bytes": sys.total_swap(),
        "swap_used_bytes": sys.used_swap(),
    });
    let text = format!(
        "memory: {} MiB used of {} MiB ({} MiB available); swap {} of {} MiB",
        sys.used_memory() / MIB,
        sys.total_memory() / MIB,
        sys.available_memory() / MIB,
        sys.used_swap() / MIB,
        sys.total_swap() / MIB
    );
    (text, data)
}

fn load() -> (String, Value) {
    let load = System::load_average();
    let data = json!({"one": load.one, "five": load.five, "fifteen": load.fifteen});
    let text = format!(
        "load average: {:.2} {:.2} {:.2}",
        load.one, load.five, load.fifteen
    );
    (text, data)
}

fn cpu() -> (String, Value) {
    let mut sys = System::new();
    sys.refresh_cpu_all();
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    sys.refresh_cpu_usage();
    let cores: Vec<Value> = sys
        .cpus()
        .iter()
        .map(|c| json!({"name": c.name(), "usage_percent": c.cpu_usage(), "frequency_mhz": c.frequency()}))
        .collect();
    let brand = sys.cpus().first().map(|c| c.brand().to_owned());
    let data = json!({
        "brand": brand,
        "logical_cores": sys.cpus().len(),
        "physical_cores": System::physical_core_count(),
        "usage_percent": sys.global_cpu_usage(),
        "cores": cores,
    });
    let text = format!(
        "cpu: {} cores, {:.1}% used",
        sys.cpus().len(),
        sys.global_cpu_usage()
    );
    (text, data)
}

fn disks() -> (String, Value) {
    let disks = Disks::new_with_refreshed_list();
    let mut text = String::new();
    let list: Vec<Value> = disks
        .list()
        .iter()
        .map(|d| {
            text.push_str(&format!(
                "{}: {} MiB free of {} MiB\n",
                d.mount_point().display(),
                d.available_space() / MIB,
                d.total_space() / MIB
            ));
            json!({
                "name": d.name().to_string_lossy(),
                "mount_point": d.mount_point(),
                "file_system": d.file_system().to_string_lossy(),
                "total_bytes": d.total_space(),
                "available_bytes": d.available_space(),
                "removable": d.is_removable(),
                "read_only": d.is_read_only(),
            })
        })
        .collect();
    (text, json!({"disks": list}))
}

fn processes(limit: usize) -> (String, Value) {
    let mut sys = System::new();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    let mut all: Vec<_> = sys.processes().values().collect();
    all.sort_by(|a, b| b.memory().cmp(&a.memory()).then(a.pid().cmp(&b.pid())));
    let mut text = String::new();
    let top: Vec<Value> = all
        .iter()
        .take(limit)
        .map(|p| {
            let name = p.name().to_string_lossy();
            text.push_str(&format!(
                "{:>8} {:>8} MiB {name}\n",
                p.pid(),
                p.memory() / MIB
            ));
            json!({
                "pid": p.pid().as_u32(),
                "name": name,
                "memory_bytes": p.memory(),
                "status": p.status().to_string(),
            })
        })
        .collect();
    (text, json!({"count": all.len(), "processes": top}))
}

fn summary() -> (String, Value) {
    let (memory_text, memory) = memory();
    let (load_text, load) = load();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let data = json!({
        "host_name": System::host_name(),
        "os": System::long_os_version(),
        "kernel": System::kernel_version(),
        "uptime_secs": System::uptime(),
        "logical_cores": cores,
        "load": load,
        "memory": memory,
    });
    let text = format!(
        "{} up {} s, {cores} cores\n{load_text}\n{memory_text}",
        System::host_name().unwrap_or_default(),
        System::uptime()
    );
    (text, data)
}

impl Tool for SystemMonitor {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke(&self, params: &Value, _ctx: &ToolContext<'_>) -> ToolResult {
        let limit = opt_u64(params, "limit", 10, 1000)? as usize;
        let (text, data) = match opt_str(params, "what")?.unwrap_or("summary") {
            "summary" => summary(),
            "cpu" => cpu(),
            "memory" => memory(),
            "disks" => disks(),
            "load" => load(),
            "processes" => processes(limit),
            other => return Err(ToolError::invalid(format!("unknown `what`: {other}"))),
        };
        Ok(ToolOutput { text, data })
    }
}
