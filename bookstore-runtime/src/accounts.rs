//! Tenants, users, sign-in, profiles, favourites and wishlists.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::{BookId, Email, Preferences, Role, Tenant, TenantId, Text, User, UserId, WishlistPriority};
use crate::error::{Error, Result};
use crate::store::{self, Condition, Index, Key, Query, SortKeyRange, Store, StoreError, Table, WriteAction, keys};

pub async fn get_tenant(store: &dyn Store, tenant: &TenantId) -> Result<Option<Tenant>> {
    let item = store.get(Table::Tenants, &keys::tenant(tenant)).await?;
    Ok(item.map(store::item_record).transpose()?)
}

/// Every tenant, for listings and the local stage's banner.
pub async fn list_tenants(store: &dyn Store) -> Result<Vec<Tenant>> {
    // One registry row per tenant under a single partition lists them without a scan.
    let rows = store::query_all(store, Query::table(Table::Tenants, keys::TENANT_REGISTRY, SortKeyRange::All)).await?;
    let mut tenants = Vec::new();
    for row in rows {
        if let Some(id) = row.get("tenant_id").and_then(Value::as_str).and_then(|s| TenantId::parse(s).ok())
            && let Some(tenant) = get_tenant(store, &id).await?
        {
            tenants.push(tenant);
        }
    }
    Ok(tenants)
}

/// Suspends (no one can log in or be served) or reactivates a tenant.
pub async fn set_tenant_active(store: &dyn Store, tenant: &TenantId, active: bool) -> Result<Tenant> {
    let mut record = get_tenant(store, tenant).await?.ok_or_else(|| Error::not_found(format!("tenant {tenant}")))?;
    record.is_active = active;
    let item = store::record_item(&record, &keys::tenant(tenant), &[])?;
    store.put(Table::Tenants, item, None).await?;
    Ok(record)
}

/// Creates a tenant and its registry row in one transaction.
pub async fn add_tenant(store: &dyn Store, tenant: &Tenant) -> Result<()> {
    let item = store::record_item(tenant, &keys::tenant(&tenant.tenant_id), &[])?;
    let registry_key = keys::tenant_registry_row(&tenant.tenant_id);
    let mut registry = store::Item::new();
    registry.insert("pk".into(), registry_key.pk.into());
    registry.insert("sk".into(), registry_key.sk.into());
    registry.insert("tenant_id".into(), tenant.tenant_id.as_str().into());
    let actions = vec![
        WriteAction::Put { table: Table::Tenants, item, condition: Some(Condition::NotExists) },
        WriteAction::Put { table: Table::Tenants, item: registry, condition: Some(Condition::NotExists) },
    ];
    match store.transact_write(actions).await {
        Err(StoreError::TransactionCancelled { .. }) => {
            Err(Error::conflict("tenant_exists", format!("tenant {} already exists", tenant.tenant_id)))
        }
        other => Ok(other?),
    }
}

/// Fails unless the tenant exists and is active. The tenant is read a moment behind
/// first (half the cost on DynamoDB); anything but an active tenant is read again at
/// its latest, so a shop added or reactivated a moment ago is not turned away.
pub async fn require_active_tenant(store: &dyn Store, tenant: &TenantId) -> Result<Tenant> {
    let key = keys::tenant(tenant);
    let recent = store.batch_get(Table::Tenants, std::slice::from_ref(&key), false).await?.pop().flatten();
    let found = match recent.map(store::item_record::<Tenant>).transpose()? {
        Some(active) if active.is_active => Some(active),
        _ => get_tenant(store, tenant).await?,
    };
    match found {
        Some(t) if t.is_active => Ok(t),
        Some(_) => Err(Error::Forbidden(format!("tenant {tenant} is suspended"))),
        None => Err(Error::not_found(format!("tenant {tenant}"))),
    }
}

/// The body of `POST /api/v1/users/register`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub email: Email,
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128)]
    pub password: Password,
    pub first_name: Text<100>,
    pub last_name: Option<Text<100>>,
}

/// A password as typed: 8–128 characters; `Debug` never shows it.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl TryFrom<String> for Password {
    type Error = String;
    fn try_from(value: String) -> std::result::Result<Self, String> {
        let n = value.chars().count();
        if (8..=128).contains(&n) { Ok(Password(value)) } else { Err("password must be 8-128 characters".to_owned()) }
    }
}

impl Password {
    pub fn new(value: impl Into<String>) -> std::result::Result<Self, String> {
        Self::try_from(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What clients see of a user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub first_name: String,
    pub last_name: Option<String>,
    pub role: Role,
    pub preferences: Preferences,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for Profile {
    fn from(user: &User) -> Self {
        Profile {
            user_id: user.user_id,
            tenant_id: user.tenant_id.clone(),
            email: user.email.clone(),
            first_name: user.first_name.to_string(),
            last_name: user.last_name.as_ref().map(ToString::to_string),
            role: user.role,
            preferences: user.preferences.clone(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Runs argon2 work on a blocking thread, at most one per core at a time: each hash holds
/// 19 MiB, and a burst of registrations or logins (or the demo seed) would otherwise run
/// as many at once as the blocking pool has threads, and hold that memory.
async fn argon2_work<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    static PERMITS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
    });
    let _permit = PERMITS.acquire().await.map_err(|e| Error::Internal(format!("password work refused: {e}")))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(format!("password work failed: {e}")))
}

/// Hashes a password with argon2id on a blocking thread (it takes tens of milliseconds).
pub async fn hash_password(password: &Password) -> Result<String> {
    let password = password.expose().to_owned();
    argon2_work(move || {
        use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    })
    .await?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    argon2_work(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// An argon2id hash of a random password: a login with an unknown e-mail is verified
/// against it, so it takes as long as one with a wrong password.
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(uuid::Uuid::new_v4().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Registers a user; the e-mail must be new in the tenant.
pub async fn register(
    store: &dyn Store,
    tenant: &TenantId,
    user_id: UserId,
    registration: &Registration,
    role: Role,
    now: DateTime<Utc>,
) -> Result<User> {
    let password_hash = hash_password(&registration.password).await?;
    let user = User {
        user_id,
        tenant_id: tenant.clone(),
        email: registration.email.clone(),
        password_hash,
        first_name: registration.first_name.clone(),
        last_name: registration.last_name.clone(),
        role,
        preferences: Preferences::default(),
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    let key = keys::user(tenant, &user_id, &user.email);
    let by_email = (Index::Gsi1, keys::users_by_email(tenant), user.email.to_string());
    let item = store::record_item(&user, &key, &[by_email])?;
    let mut claim = store::Item::new();
    let claim_key = keys::email_claim(tenant, &user.email);
    claim.insert("pk".into(), claim_key.pk.into());
    claim.insert("sk".into(), claim_key.sk.into());
    claim.insert("user_id".into(), user_id.to_string().into());
    let actions = vec![
        WriteAction::Put { table: Table::Users, item: claim, condition: Some(Condition::NotExists) },
        WriteAction::Put { table: Table::Users, item, condition: Some(Condition::NotExists) },
    ];
    match store.transact_write(actions).await {
        Err(StoreError::TransactionCancelled { .. }) => {
            Err(Error::conflict("email_taken", "an account with this email already exists in this shop"))
        }
        other => other.map(|()| user).map_err(Error::from),
    }
}

/// The user with this e-mail. The e-mail index is read first (one eventually consistent
/// read); an index that does not show the user yet (DynamoDB updates it after the write
/// is acknowledged) is checked against the e-mail's claim row, read consistently, so a
/// login right after registering finds the account.
async fn user_by_email(store: &dyn Store, tenant: &TenantId, email: &Email) -> Result<Option<User>> {
    let query = Query::index(
        Table::Users,
        Index::Gsi1,
        keys::users_by_email(tenant),
        SortKeyRange::Between(email.to_string(), email.to_string()),
    )
    .limit(1);
    let page = store.query(query).await?;
    if let Some(user) = page.items.into_iter().next() {
        return Ok(Some(store::item_record(user)?));
    }
    let Some(claim) = store.get(Table::Users, &keys::email_claim(tenant, email)).await? else {
        return Ok(None);
    };
    let user_id = claim
        .get("user_id")
        .and_then(|id| id.as_str())
        .and_then(|id| UserId::parse(id).ok())
        .ok_or_else(|| Error::Internal(format!("the e-mail claim of {email} names no user")))?;
    match get_user(store, tenant, &user_id).await {
        Ok(user) => Ok(Some(user)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Checks an e-mail and password; the same error for an unknown e-mail and a wrong password.
pub async fn login(store: &dyn Store, tenant: &TenantId, email: &Email, password: &str) -> Result<User> {
    let user = user_by_email(store, tenant, email).await?;
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => argon2_work(|| DECOY_HASH.clone()).await.unwrap_or_default(),
    };
    let matches = verify_password(password, &hash).await;
    match user {
        Some(user) if matches && user.is_active => Ok(user),
        _ => Err(Error::Unauthorized("email or password is wrong".to_owned())),
    }
}

/// Loads a user by id within the tenant.
pub async fn get_user(store: &dyn Store, tenant: &TenantId, user: &UserId) -> Result<User> {
    let query = Query::table(
        Table::Users,
        keys::user_partition(tenant, user),
        SortKeyRange::BeginsWith(keys::USER_SK_PREFIX.into()),
    )
    .limit(1);
    let page = store.query(query).await?;
    page.items.into_iter().next().map(store::item_record).transpose()?.ok_or_else(|| Error::not_found("user"))
}

/// The body of `PUT /api/v1/users/profile`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    pub first_name: Option<Text<100>>,
    pub last_name: Option<Text<100>>,
}

/// Rewrites the user's record with `change`, guarded by `updated_at` so concurrent
/// edits cannot silently overwrite each other.
async fn save_user(store: &dyn Store, before: &User, after: &User) -> Result<()> {
    let key = keys::user(&after.tenant_id, &after.user_id, &after.email);
    let by_email = (Index::Gsi1, keys::users_by_email(&after.tenant_id), after.email.to_string());
    let item = store::record_item(after, &key, &[by_email])?;
    let unchanged = Condition::Equals("updated_at".into(), serde_json::to_value(before.updated_at).unwrap_or_default());
    match store.put(Table::Users, item, Some(unchanged)).await {
        Err(StoreError::ConditionFailed { .. }) => {
            Err(Error::conflict("concurrent_update", "the profile changed meanwhile; read it and try again"))
        }
        other => Ok(other?),
    }
}

pub async fn update_profile(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    change: ProfileChange,
    now: DateTime<Utc>,
) -> Result<User> {
    let before = get_user(store, tenant, user).await?;
    let mut after = before.clone();
    if let Some(first) = change.first_name {
        after.first_name = first;
    }
    if let Some(last) = change.last_name {
        after.last_name = Some(last);
    }
    after.updated_at = now.max(before.updated_at + chrono::Duration::microseconds(1));
    save_user(store, &before, &after).await?;
    Ok(after)
}

pub async fn update_preferences(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    preferences: Preferences,
    now: DateTime<Utc>,
) -> Result<User> {
    if preferences.categories.len() > 20 || preferences.authors.len() > 20 {
        return Err(Error::invalid("preferences", "at most 20 categories and 20 authors"));
    }
    if !crate::domain::valid_language(&preferences.language) {
        return Err(Error::invalid("preferences.language", "must be a two-letter language code like \"es\""));
    }
    let before = get_user(store, tenant, user).await?;
    let mut after = before.clone();
    after.preferences = preferences;
    after.updated_at = now.max(before.updated_at + chrono::Duration::microseconds(1));
    save_user(store, &before, &after).await?;
    Ok(after)
}

/// Which per-user list of books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookList {
    Favorites,
    Wishlist,
}

impl BookList {
    fn table(self) -> Table {
        match self {
            BookList::Favorites => Table::UserFavorites,
            BookList::Wishlist => Table::UserWishlist,
        }
    }
    fn key(self, tenant: &TenantId, user: &UserId, book: &BookId) -> Key {
        match self {
            BookList::Favorites => keys::favorite(tenant, user, book),
            BookList::Wishlist => keys::wishlist(tenant, user, book),
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            BookList::Favorites => keys::FAVORITE_SK_PREFIX,
            BookList::Wishlist => keys::WISHLIST_SK_PREFIX,
        }
    }
    fn name(self) -> &'static str {
        match self {
            BookList::Favorites => "favorites",
            BookList::Wishlist => "wishlist",
        }
    }
}

/// An entry of a user's favourites or wishlist.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListedBook {
    pub book_id: BookId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub added_at: DateTime<Utc>,
    /// Only on wishlist entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<WishlistPriority>,
}

/// Adds a book (which must exist in the tenant) to a list; adding twice is a 409.
pub async fn add_to_list(
    store: &dyn Store,
    list: BookList,
    tenant: &TenantId,
    user: &UserId,
    book: &BookId,
    priority: Option<WishlistPriority>,
    now: DateTime<Utc>,
) -> Result<ListedBook> {
    crate::catalog::get_book(store, tenant, book).await?;
    let entry = ListedBook { book_id: *book, tenant_id: tenant.clone(), user_id: *user, added_at: now, priority };
    let item = store::record_item(&entry, &list.key(tenant, user, book), &[])?;
    match store.put(list.table(), item, Some(Condition::NotExists)).await {
        Err(StoreError::ConditionFailed { .. }) => {
            Err(Error::conflict("already_listed", format!("the book is already in your {}", list.name())))
        }
        other => other.map(|()| entry).map_err(Error::from),
    }
}

pub async fn remove_from_list(
    store: &dyn Store,
    list: BookList,
    tenant: &TenantId,
    user: &UserId,
    book: &BookId,
) -> Result<()> {
    match store.delete(list.table(), &list.key(tenant, user, book), Some(Condition::Exists)).await {
        Err(StoreError::ConditionFailed { .. }) => Err(Error::not_found(format!("book in your {}", list.name()))),
        other => other.map(|_| ()).map_err(Error::from),
    }
}

/// The whole list, newest first (wishlists: by priority, then newest).
pub async fn list(store: &dyn Store, list: BookList, tenant: &TenantId, user: &UserId) -> Result<Vec<ListedBook>> {
    let query =
        Query::table(list.table(), keys::user_partition(tenant, user), SortKeyRange::BeginsWith(list.prefix().into()));
    let mut entries: Vec<ListedBook> = store::query_all(store, query)
        .await?
        .into_iter()
        .map(store::item_record)
        .collect::<std::result::Result<_, _>>()?;
    entries
        .sort_by(|a, b| a.priority.cmp(&b.priority).then(b.added_at.cmp(&a.added_at)).then(a.book_id.cmp(&b.book_id)));
    Ok(entries)
}
