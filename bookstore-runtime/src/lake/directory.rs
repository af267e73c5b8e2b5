//! The lake's objects in a local directory (the local stage's stand-in for S3): a key is
//! a path under the root. A put writes a hidden temporary file and renames it, so a
//! reader never sees half an object; hidden files are no objects.

use std::path::{Component, Path, PathBuf};

use super::LakeError;
use super::objects::{LakeObject, LakeObjects};

/// Objects under a root directory.
pub struct LakeDirectory {
    root: PathBuf,
}

impl LakeDirectory {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The key's path; a key that would leave the root (`..`, absolute) is refused.
    fn path_of(&self, key: &str) -> Result<PathBuf, LakeError> {
        let relative = Path::new(key);
        if key.is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(LakeError::Unavailable(format!("{key:?} is not a lake key (a relative path, no `..`)")));
        }
        Ok(self.root.join(relative))
    }
}

fn unavailable(path: &Path) -> impl Fn(std::io::Error) -> LakeError + '_ {
    move |err| LakeError::Unavailable(format!("{}: {err}", path.display()))
}

/// File work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LakeError> + Send + 'static,
) -> Result<T, LakeError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| LakeError::Unavailable(format!("lake task failed: {err}")))?
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Every visible file under `dir`, as keys relative to `root`.
fn walk(root: &Path, dir: &Path, found: &mut Vec<LakeObject>) -> Result<(), LakeError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(unavailable(dir)(err)),
    };
    for entry in entries {
        let entry = entry.map_err(unavailable(dir))?;
        if is_hidden(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        let meta = entry.metadata().map_err(unavailable(&path))?;
        if meta.is_dir() {
            walk(root, &path, found)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let key = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            found.push(LakeObject { key, size: meta.len() });
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl LakeObjects for LakeDirectory {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), LakeError> {
        let path = self.path_of(key)?;
        blocking(move || {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(unavailable(dir))?;
            let temporary = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
            std::fs::write(&temporary, &body).map_err(unavailable(&temporary))?;
            std::fs::File::open(&temporary).and_then(|f| f.sync_all()).map_err(unavailable(&temporary))?;
            std::fs::rename(&temporary, &path).map_err(unavailable(&path))
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, LakeError> {
        let path = self.path_of(key)?;
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(unavailable(&path)(err)),
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<LakeObject>, LakeError> {
        let root = self.root.clone();
        // Walk from the deepest whole directory the prefix names.
        let start = match prefix.rfind('/') {
            Some(at) => self.path_of(&prefix[..at])?,
            None => root.clone(),
        };
        let prefix = prefix.to_owned();
        blocking(move || {
            let mut found = Vec::new();
            walk(&root, &start, &mut found)?;
            found.retain(|object| object.key.starts_with(&prefix));
            found.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(found)
        })
        .await
    }

    async fn children(&self, prefix: &str) -> Result<Vec<String>, LakeError> {
        let dir = match prefix.strip_suffix('/') {
            Some(inner) => self.path_of(inner)?,
            None if prefix.is_empty() => self.root.clone(),
            None => return Err(LakeError::Unavailable(format!("{prefix:?}: children are listed under a `/`"))),
        };
        blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(err) => return Err(unavailable(&dir)(err)),
            };
            let mut found = Vec::new();
            for entry in entries {
                let entry = entry.map_err(unavailable(&dir))?;
                let path = entry.path();
                if is_hidden(&entry.file_name()) || !path.is_dir() {
                    continue;
                }
                let mut objects = Vec::new();
                walk(&path, &path, &mut objects)?;
                if !objects.is_empty() {
                    found.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
            found.sort();
            Ok(found)
        })
        .await
    }

    async fn delete(&self, keys: &[String]) -> Result<(), LakeError> {
        let paths = keys.iter().map(|key| self.path_of(key)).collect::<Result<Vec<_>, _>>()?;
        blocking(move || {
            for path in paths {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(unavailable(&path)(err)),
                }
            }
            Ok(())
        })
        .await
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}
