//! `llmspell kernel install`: the Jupyter kernelspec.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cli::{InstallArgs, OutputFormat};
use crate::error::{CliError, ErrorKind};
use crate::paths::{self, Env};
use crate::{fsutil, output};

/// Where a kernelspec goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The user's Jupyter data directory.
    User,
    /// `<dir>/share/jupyter`.
    Prefix(PathBuf),
    /// The active virtualenv's or conda environment's `share/jupyter`.
    SysPrefix,
}

impl Location {
    /// The location the flags ask for (`--user` when none is given).
    pub fn from_args(args: &InstallArgs) -> Location {
        match (&args.prefix, args.sys_prefix) {
            (Some(dir), _) => Location::Prefix(dir.clone()),
            (None, true) => Location::SysPrefix,
            (None, false) => Location::User,
        }
    }
}

/// The Jupyter data directory of `location`.
///
/// User: `$JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter` (as Jupyter itself does), else
/// `~/.local/share/jupyter` (`~/Library/Jupyter` on macOS).
pub fn data_dir(location: &Location, env: Env<'_>) -> Result<PathBuf, CliError> {
    match location {
        Location::User => {
            if let Some(dir) = env("JUPYTER_DATA_DIR") {
                return Ok(PathBuf::from(dir));
            }
            if cfg!(target_os = "macos") {
                return Ok(paths::home_dir(env)?.join("Library").join("Jupyter"));
            }
            if let Some(dir) = env("XDG_DATA_HOME") {
                return Ok(PathBuf::from(dir).join("jupyter"));
            }
            Ok(paths::home_dir(env)?.join(".local").join("share").join("jupyter"))
        }
        Location::Prefix(dir) => Ok(paths::absolutize(dir)?.join("share").join("jupyter")),
        Location::SysPrefix => env("VIRTUAL_ENV")
            .or_else(|| env("CONDA_PREFIX"))
            .map(|p| PathBuf::from(p).join("share").join("jupyter"))
            .ok_or_else(|| {
                CliError::new(
                    ErrorKind::Environment,
                    "--sys-prefix: neither VIRTUAL_ENV nor CONDA_PREFIX is set (activate an environment, or use --user or --prefix)",
                )
            }),
    }
}

/// Whether `name` is a valid kernelspec name (Jupyter allows letters, digits, `.`, `_`, `-`).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The contents of `kernel.json`.
pub fn kernel_json(exe: &Path, display_name: &str) -> Value {
    json!({
        "argv": [exe.display().to_string(), "kernel", "start", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "lua",
        "interrupt_mode": "message",
        "env": {},
        "metadata": {"debugger": true},
    })
}

/// Installs the kernelspec and prints the path of the `kernel.json` written.
pub fn run(args: &InstallArgs, format: OutputFormat) -> Result<i32, CliError> {
    if !is_valid_name(&args.name) {
        return Err(CliError::usage(format!(
            "--name {:?}: use only letters, digits, '.', '_' and '-'",
            args.name
        )));
    }
    let data = data_dir(&Location::from_args(args), &paths::process_env)?;
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| CliError::io("cannot locate the llmspell binary", e))?;
    let dir = data.join("kernels").join(&args.name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::io(format_args!("cannot create {}", dir.display()), e))?;
    let path = dir.join("kernel.json");
    let spec = kernel_json(&exe, &args.display_name);
    // A `Value` built by `json!` always serializes.
    let text = serde_json::to_string_pretty(&spec).unwrap_or_else(|_| spec.to_string());
    fsutil::write_atomic(&path, format!("{text}\n").as_bytes(), 0o644)
        .map_err(|e| CliError::io(format_args!("cannot write {}", path.display()), e))?;
    if format.is_json() {
        output::print_json(
            &json!({"name": args.name, "kernel_json": path.display().to_string(), "spec": spec}),
            format,
        );
    } else {
        output::print_text(&path.display().to_string());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::env_of;

    #[test]
    fn user_data_dir() {
        let jdd = env_of(&[("JUPYTER_DATA_DIR", "/j"), ("HOME", "/h")]);
        assert_eq!(
            data_dir(&Location::User, &jdd).unwrap(),
            PathBuf::from("/j")
        );
        let home = env_of(&[("HOME", "/h")]);
        let expected = if cfg!(target_os = "macos") {
            "/h/Library/Jupyter"
        } else {
            "/h/.local/share/jupyter"
        };
        assert_eq!(
            data_dir(&Location::User, &home).unwrap(),
            PathBuf::from(expected)
        );
        assert_eq!(
            data_dir(&Location::User, &env_of(&[])).unwrap_err().kind,
            ErrorKind::Environment
        );
    }

    #[test]
    fn prefix_and_sys_prefix() {
        let none = env_of(&[]);
        assert_eq!(
            data_dir(&Location::Prefix("/opt/x".into()), &none).unwrap(),
            PathBuf::from("/opt/x/share/jupyter")
        );
        let venv = env_of(&[("VIRTUAL_ENV", "/v"), ("CONDA_PREFIX", "/c")]);
        assert_eq!(
            data_dir(&Location::SysPrefix, &venv).unwrap(),
            PathBuf::from("/v/share/jupyter")
        );
        let conda = env_of(&[("CONDA_PREFIX", "/c")]);
        assert_eq!(
            data_dir(&Location::SysPrefix, &conda).unwrap(),
            PathBuf::from("/c/share/jupyter")
        );
        let err = data_dir(&Location::SysPrefix, &none).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Environment);
        assert!(err.message.contains("VIRTUAL_ENV"));
    }

    #[test]
    fn names() {
        assert!(is_valid_name("llmspell"));
        assert!(is_valid_name("lua-5.4_x"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(".."));
        assert!(!is_valid_name("a/b"));
        assert!(!is_valid_name("a b"));
    }

    #[test]
    fn spec_shape() {
        let spec = kernel_json(Path::new("/bin/llmspell"), "Lua (llmspell)");
        assert_eq!(
            spec["argv"],
            json!([
                "/bin/llmspell",
                "kernel",
                "start",
                "-f",
                "{connection_file}"
            ])
        );
        assert_eq!(spec["language"], "lua");
        assert_eq!(spec["interrupt_mode"], "message");
        assert_eq!(spec["metadata"]["debugger"], true);
        assert_eq!(spec["env"], json!({}));
    }
}
