//! Where llmspell keeps its files: the runtime directory, and path helpers.
//!
//! Lookups take the environment as a function so that tests never read the real one.

use std::ffi::OsString;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::error::{CliError, ErrorKind};

/// A view of the environment: `env("HOME")`.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process environment, ignoring empty values.
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// The home directory, from `HOME`.
pub fn home_dir(env: Env<'_>) -> Result<PathBuf, CliError> {
    env("HOME").map(PathBuf::from).ok_or_else(|| {
        CliError::new(
            ErrorKind::Environment,
            "HOME is not set: cannot locate the home directory",
        )
    })
}

/// The runtime directory: `$LLMSPELL_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/llmspell`,
/// else `~/.llmspell/run`.
pub fn runtime_dir(env: Env<'_>) -> Result<PathBuf, CliError> {
    if let Some(dir) = env("LLMSPELL_RUNTIME_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env("XDG_RUNTIME_DIR") {
        return Ok(PathBuf::from(dir).join("llmspell"));
    }
    Ok(home_dir(env)?.join(".llmspell").join("run"))
}

/// The runtime directory of this process, created (mode 0700) if missing.
pub fn ensure_runtime_dir() -> Result<PathBuf, CliError> {
    let dir = runtime_dir(&process_env)?;
    create_private_dir(&dir)?;
    Ok(dir)
}

/// Creates `dir` and its missing parents with mode 0700; an existing directory is kept as is.
pub fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CliError::io(format_args!("cannot create directory {}", dir.display()), e))
}

/// `path` made absolute against the current directory (without resolving links, so that
/// it names the same file from a child process with another working directory).
pub fn absolutize(path: &Path) -> Result<PathBuf, CliError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::io("cannot read the current directory", e))?;
    Ok(cwd.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::env_of;

    #[test]
    fn runtime_dir_order() {
        let all = env_of(&[
            ("LLMSPELL_RUNTIME_DIR", "/a"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
            ("HOME", "/h"),
        ]);
        assert_eq!(runtime_dir(&all).unwrap(), PathBuf::from("/a"));
        let xdg = env_of(&[("XDG_RUNTIME_DIR", "/run/user/1"), ("HOME", "/h")]);
        assert_eq!(
            runtime_dir(&xdg).unwrap(),
            PathBuf::from("/run/user/1/llmspell")
        );
        let home = env_of(&[("HOME", "/h")]);
        assert_eq!(
            runtime_dir(&home).unwrap(),
            PathBuf::from("/h/.llmspell/run")
        );
        let err = runtime_dir(&env_of(&[])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Environment);
    }

    #[test]
    fn private_dir_is_0700() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = crate::testutil::TempDir::new("paths");
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Creating it again is fine.
        create_private_dir(&dir).unwrap();
    }

    #[test]
    fn absolutize_keeps_absolute_paths() {
        assert_eq!(
            absolutize(Path::new("/x/y")).unwrap(),
            PathBuf::from("/x/y")
        );
        let rel = absolutize(Path::new("y.json")).unwrap();
        assert!(rel.is_absolute() && rel.ends_with("y.json"));
    }
}
