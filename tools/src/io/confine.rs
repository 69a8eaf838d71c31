//! Path confinement: every path a file tool is given must lie under one of the policy's
//! allowed paths once it is resolved the way the kernel would resolve it.
//!
//! Resolution walks the path one component at a time from a physical directory: `.` is
//! dropped, `..` goes to the parent of where the walk physically is, and a symbolic link
//! is replaced by its target (resolved the same way, at most [`MAX_LINKS`] links per path),
//! whether or not the target exists. Components that do not exist yet are taken as they
//! are, so a file about to be created resolves too. The result is compared, component by
//! component, with the allowed paths resolved the same way.
//!
//! What this does not cover: a directory swapped for a link between the check and the use
//! (the tools then act on the resolved path, so they follow no link the check did not see,
//! except one created in that window by someone who can already write inside).

use llmspell_core::tools::{Policy, ToolError};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// Most symbolic links followed while resolving one path (as Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: u32 = 40;

/// The allowed paths of a policy, resolved, against which paths are checked.
#[derive(Clone, Debug)]
pub struct Confinement {
    roots: Vec<PathBuf>,
}

impl Confinement {
    /// Resolves the allowed paths of `policy` (relative ones against the working
    /// directory). Refuses when there are none: no allowed paths means no file access.
    pub fn new(policy: &Policy) -> Result<Self, ToolError> {
        if policy.allowed_paths.is_empty() {
            return Err(ToolError::denied(
                "file access is disabled: no allowed paths are configured",
            ));
        }
        let cwd = std::env::current_dir()
            .map_err(|e| ToolError::failed(format!("cannot read the working directory: {e}")))?;
        let roots = policy
            .allowed_paths
            .iter()
            .map(|root| physical(&cwd, root, &mut 0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Confinement { roots })
    }

    /// The resolved allowed paths; relative paths are taken against the first.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Resolves `path` (relative to the first allowed path) and checks that it lies under an
    /// allowed path: PermissionDenied if not.
    pub fn resolve(&self, path: impl AsRef<Path>) -> Result<PathBuf, ToolError> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(ToolError::invalid("empty path"));
        }
        // `new` refuses an empty list, so there is a first root.
        let resolved = physical(&self.roots[0], path, &mut 0)?;
        if self.contains(&resolved) {
            Ok(resolved)
        } else {
            Err(ToolError::denied(format!(
                "{} is outside the allowed paths",
                path.display()
            )))
        }
    }

    /// Like [`Confinement::resolve`], but a last component that is a link is kept, not
    /// followed: what delete and move act on is the entry itself. The last component must
    /// be a name (not `.` or `..`), and an allowed path itself is refused: the allowed
    /// directories are not the tools' to remove.
    pub fn resolve_entry(&self, path: impl AsRef<Path>) -> Result<PathBuf, ToolError> {
        let path = path.as_ref();
        let (Some(parent), Some(Component::Normal(name))) =
            (path.parent(), path.components().next_back())
        else {
            return Err(ToolError::invalid(format!(
                "{} does not end in a file or directory name",
                path.display()
            )));
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let entry = self.resolve(parent)?.join(name);
        if self.roots.contains(&entry) {
            return Err(ToolError::denied(format!(
                "{} is an allowed path itself",
                path.display()
            )));
        }
        if self.contains(&entry) {
            Ok(entry)
        } else {
            Err(ToolError::denied(format!(
                "{} is outside the allowed paths",
                path.display()
            )))
        }
    }

    /// Whether an already resolved path lies under an allowed path.
    pub fn contains(&self, resolved: &Path) -> bool {
        self.roots.iter().any(|root| resolved.starts_with(root))
    }
}

/// Resolves `path` and checks it against `policy`: [`Confinement::new`] then
/// [`Confinement::resolve`].
pub fn resolve(path: impl AsRef<Path>, policy: &Policy) -> Result<PathBuf, ToolError> {
    Confinement::new(policy)?.resolve(path)
}

/// Resolves `path` from the physical directory `base` (used when `path` is relative),
/// following links, counting them in `links`.
fn physical(base: &Path, path: &Path, links: &mut u32) -> Result<PathBuf, ToolError> {
    let mut out = if path.is_absolute() {
        PathBuf::new()
    } else {
        base.to_path_buf()
    };
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                let candidate = out.join(name);
                let is_link = fs::symlink_metadata(&candidate)
                    .map(|meta| meta.file_type().is_symlink())
                    .unwrap_or(false);
                if !is_link {
                    out = candidate;
                    continue;
                }
                *links += 1;
                if *links > MAX_LINKS {
                    return Err(ToolError::denied(format!(
                        "{}: too many levels of symbolic links",
                        path.display()
                    )));
                }
                let target = fs::read_link(&candidate).map_err(|e| {
                    ToolError::failed(format!("cannot read link {}: {e}", candidate.display()))
                })?;
                // A relative target is relative to the directory holding the link.
                out = physical(&out, &target, links)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(root: &Path) -> Policy {
        Policy {
            allowed_paths: vec![root.to_path_buf()],
            ..Policy::default()
        }
    }

    #[test]
    fn no_allowed_paths_means_no_access() {
        let err = resolve("/tmp", &Policy::default()).unwrap_err();
        assert_eq!(
            err.kind,
            llmspell_core::tools::ToolErrorKind::PermissionDenied
        );
    }

    #[test]
    fn dot_dot_is_resolved_before_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        let p = policy(&root);
        let inside = resolve("a/../b/./c", &p).unwrap();
        assert!(inside.ends_with("root/b/c"));
        assert!(resolve("a/../../root2", &p).is_err());
        assert!(resolve(root.join("../x"), &p).is_err());
        // `..` that comes back inside is fine.
        assert!(resolve(root.join("../root/x"), &p).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_even_when_dangling() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), root.join("dangling")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("rel")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let p = policy(&root);
        assert!(resolve("dangling", &p).is_err());
        assert!(resolve("rel/x", &p).unwrap().ends_with("root/sub/x"));
        assert!(resolve("loop", &p).is_err());
    }
}
