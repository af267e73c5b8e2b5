//! The stage's Lambda functions, spelled once: the templates render one function per
//! entry, the local stage runs the stream consumers under the same names, and the one
//! `bootstrap` binary serves whichever entry its configuration names.

use crate::store::Table;

/// One function of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// The function's name after the stage prefix (`{prefix}-{name}`).
    pub name: &'static str,
    pub description: &'static str,
    /// The table whose stream it consumes; `None` for the HTTP API and the admin.
    pub stream_table: Option<Table>,
    pub reaches_search: bool,
    pub writes_lake: bool,
    /// Drives the search host's Docker API: reads its client TLS material from SSM and
    /// only the tenants table (tenants and their placements).
    pub administers_search_host: bool,
}

pub const API: &str = "api";
pub const BOOKS_TO_SEARCH: &str = "books-to-search";
pub const BOOKS_TO_LAKE: &str = "books-to-lake";
pub const PURCHASES_TO_SEARCH: &str = "purchases-to-search";
pub const PURCHASES_TO_LAKE: &str = "purchases-to-lake";
pub const TENANT_ADMIN: &str = "tenant-admin";

/// Every function of a stage.
pub const FUNCTIONS: [Function; 6] = [
    Function {
        name: API,
        description: "The HTTP API: users, books, cart, purchases, search",
        stream_table: None,
        reaches_search: true,
        writes_lake: false,
        administers_search_host: false,
    },
    Function {
        name: BOOKS_TO_SEARCH,
        description: "books stream to the tenant's search index",
        stream_table: Some(Table::Books),
        reaches_search: true,
        writes_lake: false,
        administers_search_host: false,
    },
    Function {
        name: BOOKS_TO_LAKE,
        description: "books stream to book snapshots in the lake",
        stream_table: Some(Table::Books),
        reaches_search: false,
        writes_lake: true,
        administers_search_host: false,
    },
    Function {
        name: PURCHASES_TO_SEARCH,
        description: "purchases stream to the tenant's purchase search",
        stream_table: Some(Table::Purchases),
        reaches_search: true,
        writes_lake: false,
        administers_search_host: false,
    },
    Function {
        name: PURCHASES_TO_LAKE,
        description: "purchases stream to the lake, each purchase once",
        stream_table: Some(Table::Purchases),
        reaches_search: false,
        writes_lake: true,
        administers_search_host: false,
    },
    Function {
        name: TENANT_ADMIN,
        description: "tenant containers on the search host: place, repair, remove, report, reindex",
        stream_table: None,
        reaches_search: true,
        writes_lake: false,
        administers_search_host: true,
    },
];

/// The function of that name.
pub fn named(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|function| function.name == name)
}

impl Function {
    /// Whether it serves the HTTP API (and so reads the JWT secret).
    pub fn serves_http(&self) -> bool {
        self.name == API
    }
}
