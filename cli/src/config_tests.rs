use super::*;
use crate::testutil::TempDir;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const FULL: &str = r#"
[kernel]
max_message_size_mb = 10
max_concurrent_clients = 4
idle_timeout_seconds = 30
metrics_port = 9090
runtime = "glommio"

[transport.zeromq]
sndbuf = 1048576
rcvbuf = 1048576
linger = 0
sndhwm = 2000
rcvhwm = 3000

[tools]
cache_enabled = false
cache_size_mb = 8
cache_ttl_seconds = 60
default_timeout_ms = 5000
allowed_paths = ["/srv/data", "rel/dir"]
process_enabled = true
process_allowlist = ["echo", "ls"]
http_allowed_hosts = ["example.com:8080"]
env_allowlist = ["HOME"]
max_params_bytes = 4096
workers = 3

[tools.timeouts]
http-requester = 10000
calculator = 50
"#;

#[test]
fn no_file_gives_the_defaults() {
    let c = Config::load(None, vars(&[])).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.kernel.max_message_size_mb, 100);
    assert!(c.tools.cache_enabled);
    assert_eq!(c.max_params_bytes(), 100 << 20);
    let h = c.host_config();
    assert_eq!(h.cache, CacheConfig::default());
    assert_eq!(h.default_timeout_ms, 30_000);
    assert!(h.policy.allowed_paths.is_empty() && !h.policy.process_enabled);
    assert!(h.workers >= 1);
    // An empty file is the defaults too.
    assert_eq!(Config::parse("").unwrap(), Config::default());
}

#[test]
fn every_setting_parses() {
    let tmp = TempDir::new("config");
    let path = tmp.path().join("llmspell.toml");
    std::fs::write(&path, FULL).unwrap();
    let c = Config::load(Some(&path), vars(&[])).unwrap();
    assert_eq!(
        c.kernel,
        KernelConfig {
            max_message_size_mb: 10,
            max_concurrent_clients: 4,
            idle_timeout_seconds: 30,
            metrics_port: 9090,
            runtime: crate::cli::RuntimeArg::Glommio,
        }
    );
    assert_eq!(
        c.transport.zeromq,
        ZeromqConfig {
            sndbuf: Some(1 << 20),
            rcvbuf: Some(1 << 20),
            linger: Some(0),
            sndhwm: Some(2000),
            rcvhwm: Some(3000)
        }
    );
    assert_eq!(
        c.tools.allowed_paths,
        [PathBuf::from("/srv/data"), tmp.path().join("rel/dir")],
        "relative paths are relative to the file"
    );
    let h = c.host_config();
    assert_eq!(
        h.cache,
        CacheConfig {
            enabled: false,
            max_bytes: 8 << 20,
            ttl_secs: 60
        }
    );
    assert_eq!(h.default_timeout_ms, 5000);
    assert_eq!(h.tool_timeouts_ms["http-requester"], 10_000);
    assert_eq!(h.tool_timeouts_ms["calculator"], 50);
    assert_eq!(h.max_params_bytes, 4096);
    assert_eq!(h.workers, 3);
    assert!(h.policy.process_enabled);
    assert_eq!(h.policy.process_allowlist, ["echo", "ls"]);
    assert_eq!(h.policy.http_allowed_hosts, ["example.com:8080"]);
    assert_eq!(h.policy.env_allowlist, ["HOME"]);
}

#[test]
fn the_runtime_comes_from_the_file_or_the_environment() {
    use crate::cli::RuntimeArg;
    assert_eq!(Config::default().kernel.runtime, RuntimeArg::Tokio);
    let c = Config::load(None, vars(&[("LLMSPELL_KERNEL_RUNTIME", "glommio")])).unwrap();
    assert_eq!(c.kernel.runtime, RuntimeArg::Glommio);
    let e = Config::load(None, vars(&[("LLMSPELL_KERNEL_RUNTIME", "uring")])).unwrap_err();
    assert!(e.to_string().contains("tokio or glommio"), "{e}");
    assert!(Config::parse("[kernel]\nruntime = \"uring\"\n").is_err());
}

#[test]
fn max_params_follows_the_message_size_unless_set() {
    let c = Config::parse("[kernel]\nmax_message_size_mb = 5\n").unwrap();
    assert_eq!(c.max_params_bytes(), 5 << 20);
}

#[test]
fn environment_overrides_the_file() {
    let tmp = TempDir::new("config");
    let path = tmp.path().join("llmspell.toml");
    std::fs::write(&path, FULL).unwrap();
    let env = vars(&[
        ("LLMSPELL_TOOLS_CACHE_ENABLED", "true"),
        ("LLMSPELL_TOOLS_ALLOWED_PATHS", "/a:/b"),
        ("LLMSPELL_KERNEL_MAX_MESSAGE_SIZE_MB", "5"),
        ("LLMSPELL_TRANSPORT_ZEROMQ_LINGER", "-1"),
        ("LLMSPELL_TOOLS_HTTP_ALLOWED_HOSTS", "a.com:80, b.org"),
        ("LLMSPELL_TOOLS_TIMEOUTS_HTTP_REQUESTER", "2_000"),
        ("LLMSPELL_TOOLS_PROCESS_ENABLED", "off"),
        // Not settings: left alone.
        ("LLMSPELL_RUNTIME_DIR", "/run/x"),
        ("LLMSPELL_CONFIG", "/x.toml"),
        ("PATH", "/bin"),
    ]);
    let c = Config::load(Some(&path), env).unwrap();
    assert!(c.tools.cache_enabled);
    assert_eq!(
        c.tools.allowed_paths,
        [PathBuf::from("/a"), PathBuf::from("/b")]
    );
    assert_eq!(c.kernel.max_message_size_mb, 5);
    assert_eq!(c.transport.zeromq.linger, Some(-1));
    assert_eq!(c.tools.http_allowed_hosts, ["a.com:80", "b.org"]);
    assert_eq!(c.tools.timeouts["http-requester"], 2000);
    assert_eq!(
        c.tools.timeouts["calculator"], 50,
        "the file's other entries stay"
    );
    assert!(!c.tools.process_enabled);
    // Without a file, the environment alone.
    let c = Config::load(None, vars(&[("LLMSPELL_TOOLS_CACHE_ENABLED", "false")])).unwrap();
    assert!(!c.tools.cache_enabled);
}

#[test]
fn unknown_keys_name_the_key_and_the_file() {
    let tmp = TempDir::new("config");
    let path = tmp.path().join("bad.toml");
    std::fs::write(
        &path,
        "[tools]\ncache_enabled = true\ncache_enabld = false\n",
    )
    .unwrap();
    let err = Config::load(Some(&path), vars(&[])).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert_eq!(err.exit_code(), 2);
    assert!(err.message.contains("bad.toml"), "{err}");
    assert!(err.message.contains("cache_enabld"), "{err}");
    for text in ["[kernal]\n", "[transport.zmq]\nlinger = 0\n", "top = 1\n"] {
        let err = Config::parse(text).unwrap_err();
        assert!(err.contains("unknown field"), "{text}: {err}");
    }
    let err = Config::load(None, vars(&[("LLMSPELL_TOOLS_CACHE_ENABLD", "1")])).unwrap_err();
    assert!(err.message.contains("LLMSPELL_TOOLS_CACHE_ENABLD"), "{err}");
    assert!(
        err.message.contains("unknown setting tools.cache_enabld"),
        "{err}"
    );
}

#[test]
fn bad_values_give_line_and_column() {
    let err = Config::parse("[tools]\ncache_enabled = \"yes\"\n").unwrap_err();
    assert!(err.contains("line 2, column 17"), "{err}");
    assert!(err.contains("bool"), "{err}");
    let err = Config::parse("[tools.timeouts]\ncalculator = -5\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    let err = Config::parse("[kernel\n").unwrap_err();
    assert!(err.contains("line 1"), "{err}");
    let err = Config::load(
        None,
        vars(&[("LLMSPELL_KERNEL_MAX_MESSAGE_SIZE_MB", "big")]),
    )
    .unwrap_err();
    assert!(
        err.message.contains("expected a non-negative integer"),
        "{err}"
    );
    let err = Config::load(None, vars(&[("LLMSPELL_TOOLS_CACHE_ENABLED", "maybe")])).unwrap_err();
    assert!(err.message.contains("true or false"), "{err}");
}

#[test]
fn ranges_are_checked_after_overrides() {
    let zero = vars(&[("LLMSPELL_KERNEL_MAX_MESSAGE_SIZE_MB", "0")]);
    let err = Config::load(None, zero).unwrap_err();
    assert!(err.message.contains("max_message_size_mb"), "{err}");
    let err = Config::load(None, vars(&[("LLMSPELL_TOOLS_DEFAULT_TIMEOUT_MS", "0")])).unwrap_err();
    assert!(err.message.contains("default_timeout_ms"), "{err}");
    let err = Config::load(None, vars(&[("LLMSPELL_TOOLS_TIMEOUTS_CALCULATOR", "0")])).unwrap_err();
    assert!(err.message.contains("timeouts.calculator"), "{err}");
    let huge = u64::MAX.to_string();
    let err = Config::load(None, vars(&[("LLMSPELL_TOOLS_CACHE_SIZE_MB", &huge)])).unwrap_err();
    assert!(err.message.contains("cache_size_mb"), "{err}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = Config::load(Some(Path::new("/nonexistent/llmspell.toml")), vars(&[])).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("/nonexistent/llmspell.toml"), "{err}");
}

#[test]
fn kernel_and_transport_settings_become_runtime_bounds() {
    let c = Config::parse(
        "[kernel]\nmax_concurrent_clients = 8\nidle_timeout_seconds = 30\n\
         [transport.zeromq]\nsndbuf = 0\nrcvbuf = 262144\nlinger = -1\nsndhwm = 1000\nrcvhwm = 0\n",
    )
    .unwrap();
    let limits = c.limits();
    assert_eq!(limits.max_clients, 8);
    assert_eq!(limits.sndhwm, 1000);
    assert_eq!(limits.idle_timeout_micros, Some(30_000_000));
    let sockets = c.socket_options();
    assert_eq!((sockets.sndbuf, sockets.rcvbuf), (None, Some(262_144)));
    assert_eq!(sockets.linger(), std::time::Duration::from_secs(60));
    assert_eq!(c.max_queue(), Some(usize::MAX));
    let defaults = Config::default();
    assert_eq!(defaults.limits(), llmspell_core::hub::Limits::default());
    assert_eq!(defaults.max_queue(), None);
    assert_eq!(
        defaults.socket_options().linger(),
        std::time::Duration::from_millis(500)
    );
}
