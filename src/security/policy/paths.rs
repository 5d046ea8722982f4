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

/// The canonical form of a directory the kernel owns or a policy names (a workspace, an
/// allowed or blocked root), remembered once it exists: such directories do not move, so each
/// path check pays for the requested path's resolution only.
fn canonical_root(dir: &Path) -> Result<PathBuf, String> {
    static ROOTS: std::sync::OnceLock<dashmap::DashMap<PathBuf, PathBuf>> =
        std::sync::OnceLock::new();
    let roots = ROOTS.get_or_init(dashmap::DashMap::new);
    if let Some(root) = roots.get(dir) {
        return Ok(root.clone());
    }
    let root = canonical(dir)?;
    if dir.exists() {
        if roots.len() >= 100_000 {
            roots.clear();
        }
        roots.insert(dir.to_path_buf(), root.clone());
    }
    Ok(root)
}

/// Symlinks followed in one resolution before it is refused (Linux's own limit).
const MAX_LINKS: u32 = 40;

/// Resolves `parts` from the canonical directory `base` the way the kernel would: component by
/// component, each symlink replaced by its target (an absolute one restarts from `/`), `..`
/// going up the real path. Once a component does not exist the rest is lexical, and `..`
/// there is refused: a path that does not exist yet cannot be resolved safely.
fn walk(base: &Path, parts: &Path) -> Result<PathBuf, String> {
    let mut out = base.to_path_buf();
    let mut pending: std::collections::VecDeque<std::ffi::OsString> = parts
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let (mut links, mut missing) = (0_u32, false);
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            if missing {
                return Err(format!(
                    "`{}` goes up with `..` through a path that does not exist",
                    parts.display()
                ));
            }
            out.pop();
            continue;
        }
        out.push(&part);
        if missing {
            continue;
        }
        match std::fs::symlink_metadata(&out) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(format!("`{}`: too many symlinks", parts.display()));
                }
                let target =
                    std::fs::read_link(&out).map_err(|e| format!("`{}`: {e}", out.display()))?;
                out.pop();
                if target.is_absolute() {
                    out = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(name) => pending.push_front(name.to_owned()),
                        Component::ParentDir => pending.push_front("..".into()),
                        _ => {}
                    }
                }
            }
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::NotADirectory =>
            {
                missing = true;
            }
            Err(e) => return Err(format!("`{}`: {e}", out.display())),
        }
    }
    Ok(out)
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
    let home = canonical_root(workspace)?;
    let path = Path::new(requested);
    // The workspace's canonical form holds no symlink, so a path inside it (lexically, with no
    // `..`) needs only its remaining components resolved.
    let real = match path.strip_prefix(&home) {
        Ok(rest) if path.is_absolute() && !rest.components().any(|c| c == Component::ParentDir) => {
            walk(&home, rest)?
        }
        _ if path.is_absolute() => walk(Path::new("/"), path)?,
        _ => walk(&home, path)?,
    };
    for b in &rules.blocked {
        let b = canonical_root(b).unwrap_or_else(|_| b.clone());
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
        .filter_map(|a| canonical_root(a).ok())
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

    #[test]
    fn symlinks_are_followed_wherever_they_point() {
        let (d, ws) = setup();
        let rules = PathRules::default();
        std::os::unix::fs::symlink("sub", ws.join("inner")).unwrap();
        let p = resolve(&ws, "inner/a.txt", false, &rules).unwrap();
        assert_eq!(p, std::fs::canonicalize(ws.join("sub/a.txt")).unwrap());
        // The same file named absolutely, through the workspace's canonical form.
        let abs = std::fs::canonicalize(&ws).unwrap().join("inner/a.txt");
        assert_eq!(
            resolve(&ws, abs.to_str().unwrap(), false, &rules).unwrap(),
            p
        );
        // A link that climbs out by `..` is caught like any escape.
        std::os::unix::fs::symlink("../..", ws.join("up")).unwrap();
        assert!(resolve(&ws, "up/etc/passwd", false, &rules).is_err());
        std::os::unix::fs::symlink(d.path(), ws.join("tmpdir")).unwrap();
        assert!(resolve(&ws, "tmpdir/ws/sub/a.txt", false, &rules).is_ok());
        // A loop is refused, not followed forever.
        std::os::unix::fs::symlink("loop-b", ws.join("loop-a")).unwrap();
        std::os::unix::fs::symlink("loop-a", ws.join("loop-b")).unwrap();
        let err = resolve(&ws, "loop-a/x", false, &rules).unwrap_err();
        assert!(err.contains("too many symlinks"), "{err}");
    }
}
