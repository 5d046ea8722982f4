//! File access: paths are resolved and checked **after canonicalisation** (symlinks, `..`,
//! `/proc/self/root`), never by string prefix.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where an agent may read and write, besides its own workspace (always readable, writable
/// unless `read_only`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathRules {
    /// Extra directories it may read (never write).
    pub allowed: Vec<PathBuf>,
    /// Directories it may never touch, even inside the workspace.
    pub blocked: Vec<PathBuf>,
    /// No writes at all, not even in the workspace.
    pub read_only: bool,
}

/// Canonicalises `path`: its longest existing ancestor through the file system (following
/// every symlink), the rest lexically — where `..` is refused, since a component that does not
/// exist yet cannot be resolved safely.
pub(crate) fn canonical(path: &Path) -> Result<PathBuf, String> {
    let mut existing = path.to_path_buf();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(real) => {
                let mut out = real;
                for part in tail.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(_) => {
                let Some(name) = existing.file_name().map(ToOwned::to_owned) else {
                    return Err(format!("`{}` cannot be resolved", path.display()));
                };
                tail.push(name);
                if !existing.pop() {
                    return Err(format!("`{}` cannot be resolved", path.display()));
                }
            }
        }
    }
}

/// The canonical form of a workspace, remembered: workspaces are the kernel's own directories
/// and do not move, so each path check pays for the requested path's resolution only.
fn canonical_home(workspace: &Path) -> Result<PathBuf, String> {
    static HOMES: std::sync::OnceLock<dashmap::DashMap<PathBuf, PathBuf>> =
        std::sync::OnceLock::new();
    let homes = HOMES.get_or_init(dashmap::DashMap::new);
    if let Some(home) = homes.get(workspace) {
        return Ok(home.clone());
    }
    let home = canonical(workspace)?;
    if workspace.exists() {
        if homes.len() >= 100_000 {
            homes.clear();
        }
        homes.insert(workspace.to_path_buf(), home.clone());
    }
    Ok(home)
}

/// Resolves `requested` (relative to `workspace`, or absolute) and checks it against the
/// rules; the canonical path to use on success, why not otherwise.
pub(crate) fn resolve(
    workspace: &Path,
    requested: &str,
    write: bool,
    rules: &PathRules,
) -> Result<PathBuf, String> {
    if requested.contains('\0') {
        return Err("the path contains a NUL byte".into());
    }
    let joined = if Path::new(requested).is_absolute() {
        PathBuf::from(requested)
    } else {
        workspace.join(requested)
    };
    // `..` in a part that does not exist yet cannot be resolved by the file system; refuse it
    // rather than resolve it by hand.
    let has_parent = joined.components().any(|c| c == Component::ParentDir);
    let real = canonical(&joined)?;
    if has_parent && !joined.exists() {
        return Err(format!(
            "`{requested}` goes up with `..` through a path that does not exist"
        ));
    }
    let home = canonical_home(workspace)?;
    for b in &rules.blocked {
        let b = canonical(b).unwrap_or_else(|_| b.clone());
        if real.starts_with(&b) {
            return Err(format!(
                "`{requested}` resolves to `{}`, inside the blocked `{}`",
                real.display(),
                b.display()
            ));
        }
    }
    if real.starts_with(&home) {
        if write && rules.read_only {
            return Err(format!("`{requested}`: the agent's policy is read-only"));
        }
        return Ok(real);
    }
    let extra = rules
        .allowed
        .iter()
        .filter_map(|a| canonical(a).ok())
        .find(|a| real.starts_with(a));
    match (extra, write) {
        (Some(_), false) => Ok(real),
        (Some(root), true) => Err(format!(
            "`{requested}` resolves to `{}`, in `{}`, which is readable only",
            real.display(),
            root.display()
        )),
        (None, _) => Err(format!(
            "`{requested}` resolves to `{}`, outside the workspace `{}`",
            real.display(),
            home.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::fs::write(ws.join("sub/a.txt"), "a").unwrap();
        (dir, ws)
    }

    #[test]
    fn inside_the_workspace_is_allowed_and_canonical() {
        let (_d, ws) = setup();
        let rules = PathRules::default();
        let p = resolve(&ws, "sub/a.txt", false, &rules).unwrap();
        assert!(p.ends_with("ws/sub/a.txt"));
        let new = resolve(&ws, "sub/new/file.txt", true, &rules).unwrap();
        assert!(new.ends_with("ws/sub/new/file.txt"));
        assert!(resolve(&ws, "sub/../sub/a.txt", false, &rules).is_ok());
    }

    #[test]
    fn escapes_are_refused() {
        let (d, ws) = setup();
        let rules = PathRules::default();
        assert!(resolve(&ws, "../outside.txt", true, &rules).is_err());
        assert!(resolve(&ws, "sub/../../..", false, &rules).is_err());
        assert!(resolve(&ws, "/etc/passwd", false, &rules).is_err());
        assert!(resolve(&ws, "/proc/self/root/etc/passwd", false, &rules).is_err());
        assert!(resolve(&ws, "missing/../../x", true, &rules).is_err());
        std::os::unix::fs::symlink("/etc", ws.join("etc-link")).unwrap();
        let err = resolve(&ws, "etc-link/passwd", false, &rules).unwrap_err();
        assert!(err.contains("outside the workspace"), "{err}");
        std::fs::write(d.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), ws.join("s")).unwrap();
        assert!(resolve(&ws, "s", false, &rules).is_err());
        assert!(resolve(&ws, "a\0b", false, &rules).is_err());
    }

    #[test]
    fn read_only_allowed_and_blocked_roots() {
        let (d, ws) = setup();
        let shared = d.path().join("shared");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::write(shared.join("doc"), "x").unwrap();
        let rules = PathRules {
            allowed: vec![shared.clone()],
            blocked: vec![ws.join("sub")],
            read_only: false,
        };
        assert!(resolve(&ws, shared.join("doc").to_str().unwrap(), false, &rules).is_ok());
        assert!(resolve(&ws, shared.join("doc").to_str().unwrap(), true, &rules).is_err());
        assert!(
            resolve(&ws, "sub/a.txt", false, &rules)
                .unwrap_err()
                .contains("blocked")
        );
        let ro = PathRules {
            read_only: true,
            ..PathRules::default()
        };
        assert!(
            resolve(&ws, "x.txt", true, &ro)
                .unwrap_err()
                .contains("read-only")
        );
        assert!(resolve(&ws, "sub/a.txt", false, &ro).is_ok());
    }
}
