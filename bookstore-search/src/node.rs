//! The node: every index under one data directory (`indices/<name>/`), and aliases
//! (`aliases.json`) that name one index each (Elasticsearch's may name several), moved
//! atomically by one `_aliases` request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::http::StatusCode;
use serde_json::Value;

use crate::error::EsError;
use crate::index::EsIndex;

pub struct Node {
    pub data_dir: PathBuf,
    pub name: String,
    pub cluster_uuid: String,
    indices: RwLock<BTreeMap<String, Arc<EsIndex>>>,
    /// Alias → index.
    aliases: RwLock<BTreeMap<String, String>>,
}

const ALIASES_FILE: &str = "aliases.json";
const NODE_FILE: &str = "node.json";

/// Elasticsearch's rules for index (and alias) names.
pub fn check_index_name(name: &str) -> Result<(), EsError> {
    let invalid = |why: &str| {
        EsError::bad_request("invalid_index_name_exception", format!("Invalid index name [{name}], {why}"))
            .with("index", name)
    };
    if name.is_empty() || name == "." || name == ".." {
        return Err(invalid("must not be empty, '.' or '..'"));
    }
    if name.len() > 255 {
        return Err(invalid("index name is too long, (> 255)"));
    }
    if name.chars().any(|c| c.is_uppercase()) {
        return Err(invalid("must be lowercase"));
    }
    if name.starts_with(['-', '_', '+']) {
        return Err(invalid("must not start with '_', '-', or '+'"));
    }
    if let Some(c) =
        name.chars().find(|c| matches!(c, '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'))
    {
        return Err(invalid(&format!("must not contain '{c}'")));
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let staging = path.with_extension("tmp");
    let mut file = std::fs::File::create(&staging)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&staging, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

impl Node {
    /// Opens every index under `data_dir` (created if missing).
    pub fn open(data_dir: &Path) -> Result<Self, EsError> {
        let indices_dir = data_dir.join("indices");
        std::fs::create_dir_all(&indices_dir)?;
        let node_file = data_dir.join(NODE_FILE);
        let cluster_uuid = match std::fs::read_to_string(&node_file) {
            Ok(text) => {
                serde_json::from_str::<Value>(&text).ok().and_then(|v| v["cluster_uuid"].as_str().map(str::to_owned))
            }
            Err(_) => None,
        };
        let cluster_uuid = match cluster_uuid {
            Some(uuid) => uuid,
            None => {
                let uuid = crate::index::new_uuid();
                write_atomically(&node_file, serde_json::json!({ "cluster_uuid": uuid }).to_string().as_bytes())?;
                uuid
            }
        };
        let mut indices = BTreeMap::new();
        for entry in std::fs::read_dir(&indices_dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // A create or delete cut short leaves a staging directory: finish it.
            if name.ends_with(".creating") || name.ends_with(".deleting") {
                std::fs::remove_dir_all(&path)?;
                continue;
            }
            indices.insert(name.clone(), Arc::new(EsIndex::open(&path, &name)?));
        }
        let aliases = match std::fs::read(data_dir.join(ALIASES_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(EsError::internal)?,
            Err(_) => BTreeMap::new(),
        };
        Ok(Node {
            data_dir: data_dir.to_owned(),
            name: "bookstore-search".to_owned(),
            cluster_uuid,
            indices: RwLock::new(indices),
            aliases: RwLock::new(aliases),
        })
    }

    fn index_dir(&self, name: &str) -> PathBuf {
        self.data_dir.join("indices").join(name)
    }

    /// An index by its name or an alias's.
    pub fn index(&self, name: &str) -> Result<Arc<EsIndex>, EsError> {
        let target = self.aliases.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned();
        let indices = self.indices.read().unwrap_or_else(|p| p.into_inner());
        indices.get(target.as_deref().unwrap_or(name)).cloned().ok_or_else(|| EsError::index_not_found(name))
    }

    pub fn indices(&self) -> Vec<Arc<EsIndex>> {
        self.indices.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    pub fn aliases_of(&self, index: &str) -> Vec<String> {
        let aliases = self.aliases.read().unwrap_or_else(|p| p.into_inner());
        aliases.iter().filter(|(_, target)| target.as_str() == index).map(|(alias, _)| alias.clone()).collect()
    }

    pub fn create(&self, name: &str, body: &Value) -> Result<Arc<EsIndex>, EsError> {
        check_index_name(name)?;
        let mut indices = self.indices.write().unwrap_or_else(|p| p.into_inner());
        let taken_by_alias = self.aliases.read().unwrap_or_else(|p| p.into_inner()).contains_key(name);
        if indices.contains_key(name) || taken_by_alias {
            return Err(EsError::bad_request(
                "resource_already_exists_exception",
                format!("index [{name}/{}] already exists", indices.get(name).map_or("alias", |i| i.uuid.as_str())),
            )
            .with("index", name));
        }
        let index = Arc::new(EsIndex::create(&self.index_dir(name), name, body)?);
        indices.insert(name.to_owned(), index.clone());
        if let Some(aliases) = body.get("aliases").and_then(Value::as_object) {
            drop(indices);
            let actions =
                aliases.keys().map(|alias| AliasAction::Add { index: name.to_owned(), alias: alias.clone() }).collect();
            if let Err(err) = self.update_aliases(actions) {
                // All or nothing: an index whose alias was refused is not left behind.
                let _ = self.delete(name);
                return Err(err);
            }
        }
        Ok(index)
    }

    pub fn delete(&self, name: &str) -> Result<(), EsError> {
        let mut indices = self.indices.write().unwrap_or_else(|p| p.into_inner());
        let Some(index) = indices.remove(name) else { return Err(EsError::index_not_found(name)) };
        index.release_writer();
        drop(index);
        let dir = self.index_dir(name);
        let doomed = dir.with_extension("deleting");
        std::fs::rename(&dir, &doomed)?;
        std::fs::remove_dir_all(&doomed)?;
        let mut aliases = self.aliases.write().unwrap_or_else(|p| p.into_inner());
        let before = aliases.len();
        aliases.retain(|_, target| target != name);
        if aliases.len() != before {
            self.save_aliases(&aliases)?;
        }
        Ok(())
    }

    fn save_aliases(&self, aliases: &BTreeMap<String, String>) -> Result<(), EsError> {
        let bytes = serde_json::to_vec(aliases).map_err(EsError::internal)?;
        Ok(write_atomically(&self.data_dir.join(ALIASES_FILE), &bytes)?)
    }

    /// Applies `_aliases` actions all at once, or none.
    pub fn update_aliases(&self, actions: Vec<AliasAction>) -> Result<(), EsError> {
        let indices = self.indices.read().unwrap_or_else(|p| p.into_inner());
        let mut aliases = self.aliases.write().unwrap_or_else(|p| p.into_inner());
        let mut next = aliases.clone();
        for action in actions {
            match action {
                AliasAction::Add { index, alias } => {
                    check_index_name(&alias)?;
                    if !indices.contains_key(&index) {
                        return Err(EsError::index_not_found(&index));
                    }
                    if indices.contains_key(&alias) {
                        return Err(EsError::bad_request(
                            "invalid_alias_name_exception",
                            format!(
                                "Invalid alias name [{alias}]: an index or data stream exists with the same name as the alias"
                            ),
                        ));
                    }
                    if let Some(current) = next.get(&alias)
                        && *current != index
                    {
                        return Err(EsError::illegal_argument(format!(
                            "alias [{alias}] already names index [{current}]: remove it in the same request to move it (an alias of this node names one index)"
                        )));
                    }
                    next.insert(alias, index);
                }
                AliasAction::Remove { index, alias } => {
                    if next.get(&alias) != Some(&index) {
                        return Err(EsError::new(
                            StatusCode::NOT_FOUND,
                            "aliases_not_found_exception",
                            format!("aliases [{alias}] missing"),
                        ));
                    }
                    next.remove(&alias);
                }
            }
        }
        self.save_aliases(&next)?;
        *aliases = next;
        Ok(())
    }
}

pub enum AliasAction {
    Add { index: String, alias: String },
    Remove { index: String, alias: String },
}
