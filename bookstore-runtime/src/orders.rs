//! Carts, checkout and purchases.
//!
//! Checkout is one store transaction: every book's stock is decremented under the
//! condition that enough is left and the price is the one charged, every cart line is
//! deleted under the condition it is unchanged, the purchase is written, and the
//! idempotency record is claimed. So concurrent checkouts never oversell, a retried
//! checkout never charges twice, and a failed one writes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::catalog::{self, Freshness};
use crate::domain::{
    Book, BookId, CartLine, Isbn, Money, Purchase, PurchaseId, PurchaseItem, PurchaseStatus, Quantity, ShippingAddress,
    TenantId, UserId,
};
use crate::error::{Error, Result};
use crate::store::{
    self, Condition, FailedCondition, Index, Item, Query, SortKeyRange, Store, StoreError, Table, UpdateAction,
    WriteAction, keys,
};

/// Distinct books one cart may hold: a checkout writes two actions per line plus two,
/// and one store transaction holds at most 100 actions.
pub const MAX_CART_LINES: usize = (store::MAX_TRANSACTION_ACTIONS - 2) / 2;

/// How long a checkout's idempotency key is remembered.
const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;

pub async fn cart_lines(store: &dyn Store, tenant: &TenantId, user: &UserId) -> Result<Vec<CartLine>> {
    read_cart(store, tenant, user, Freshness::Latest).await
}

async fn read_cart(store: &dyn Store, tenant: &TenantId, user: &UserId, freshness: Freshness) -> Result<Vec<CartLine>> {
    let query = Query::table(
        Table::ShoppingCart,
        keys::user_partition(tenant, user),
        SortKeyRange::BeginsWith(keys::CART_SK_PREFIX.into()),
    );
    let query = if freshness == Freshness::Recent { query.eventually_consistent() } else { query };
    Ok(store::query_all(store, query)
        .await?
        .into_iter()
        .map(store::item_record)
        .collect::<std::result::Result<_, _>>()?)
}

/// A cart line priced with the book's current price.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartItemView {
    pub book_id: BookId,
    pub title: String,
    pub author: String,
    pub unit_price: Money,
    pub quantity: Quantity,
    pub line_total: Money,
    pub available: bool,
}

/// The cart as the client sees it, with totals computed here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartView {
    pub items: Vec<CartItemView>,
    pub item_count: u32,
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
}

fn tax_on(subtotal: Money, tax_rate: Decimal) -> Money {
    Money::rounded(subtotal.amount() * tax_rate)
}

/// The book of each cart line (`None`: no longer sold), read in one batch.
async fn books_of(
    store: &dyn Store,
    tenant: &TenantId,
    lines: &[CartLine],
    freshness: Freshness,
) -> Result<Vec<Option<Book>>> {
    let wanted: Vec<(BookId, Option<Isbn>)> = lines.iter().map(|line| (line.book_id, line.isbn.clone())).collect();
    catalog::find_books(store, tenant, &wanted, freshness).await
}

pub async fn view_cart(store: &dyn Store, tenant: &TenantId, user: &UserId, tax_rate: Decimal) -> Result<CartView> {
    let lines = cart_lines(store, tenant, user).await?;
    let books = books_of(store, tenant, &lines, Freshness::Latest).await?;
    Ok(priced_cart(lines.into_iter().zip(books), tax_rate))
}

/// Prices each line with its book; lines whose book is no longer sold are left out.
fn priced_cart(lines: impl IntoIterator<Item = (CartLine, Option<Book>)>, tax_rate: Decimal) -> CartView {
    let items: Vec<CartItemView> = lines
        .into_iter()
        .filter_map(|(line, book)| book.map(|book| (line, book)))
        .map(|(line, book)| CartItemView {
            book_id: book.book_id,
            title: book.title.to_string(),
            author: book.author.to_string(),
            unit_price: book.price.money(),
            quantity: line.quantity,
            line_total: book.price.money().times(line.quantity),
            available: book.is_active && book.stock_quantity >= line.quantity.get(),
        })
        .collect();
    let subtotal: Money = items.iter().map(|i| i.line_total).sum();
    let tax = tax_on(subtotal, tax_rate);
    CartView { item_count: items.iter().map(|i| i.quantity.get()).sum(), items, subtotal, tax, total: subtotal + tax }
}

fn require_stock(book: &Book, quantity: Quantity) -> Result<()> {
    if !book.is_active {
        return Err(Error::conflict("book_unavailable", format!("\"{}\" is not for sale", book.title)));
    }
    if book.stock_quantity < quantity.get() {
        return Err(Error::conflict(
            "insufficient_stock",
            format!("only {} copies of \"{}\" are left", book.stock_quantity, book.title),
        ));
    }
    Ok(())
}

fn line_item(line: &CartLine) -> Result<Item> {
    Ok(store::record_item(line, &keys::cart_line(&line.tenant_id, &line.user_id, &line.book_id), &[])?)
}

/// A line adding `quantity` copies of `book` to the cart as read, and the condition that
/// the line is still as read when it is written.
fn added_line(
    user: &UserId,
    lines: &[CartLine],
    book: &Book,
    quantity: Quantity,
    now: DateTime<Utc>,
) -> Result<(CartLine, Condition)> {
    let isbn = Some(book.isbn.clone());
    match lines.iter().find(|l| l.book_id == book.book_id) {
        Some(line) => {
            let total = Quantity::new(i64::from(line.quantity.get()) + i64::from(quantity.get())).map_err(|_| {
                Error::conflict("cart_line_full", format!("a cart line holds at most {} copies", Quantity::MAX))
            })?;
            let condition = Condition::Equals("quantity".into(), line.quantity.get().into());
            Ok((CartLine { quantity: total, isbn, updated_at: now, ..line.clone() }, condition))
        }
        None if lines.len() >= MAX_CART_LINES => {
            Err(Error::conflict("cart_full", format!("a cart holds at most {MAX_CART_LINES} different books")))
        }
        None => {
            let line = CartLine {
                tenant_id: book.tenant_id.clone(),
                user_id: *user,
                book_id: book.book_id,
                isbn,
                quantity,
                added_at: now,
                updated_at: now,
            };
            Ok((line, Condition::NotExists))
        }
    }
}

/// Adds copies of a book to the cart (adding to the line if it is there already) and
/// answers with the cart priced.
///
/// The book and the cart are read a moment behind, at half the cost on DynamoDB: the
/// line is written on condition it is as read, so a stale cart only fails that
/// condition, and then the latest cart is read and the write tried once more. Stock is
/// checked again, under a condition, at checkout.
pub async fn add_to_cart(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    book_id: &BookId,
    quantity: Quantity,
    now: DateTime<Utc>,
    tax_rate: Decimal,
) -> Result<CartView> {
    let book = catalog::find_book_as_fresh(store, tenant, book_id, Freshness::Recent)
        .await?
        .ok_or_else(|| Error::not_found("book"))?;
    for freshness in [Freshness::Recent, Freshness::Latest] {
        let mut lines = read_cart(store, tenant, user, freshness).await?;
        let (line, condition) = added_line(user, &lines, &book, quantity, now)?;
        require_stock(&book, line.quantity)?;
        match store.put(Table::ShoppingCart, line_item(&line)?, Some(condition)).await {
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(other) => return Err(other.into()),
            Ok(()) => {
                lines.retain(|l| l.book_id != book.book_id);
                let mut books = books_of(store, tenant, &lines, Freshness::Recent).await?;
                let at = lines.partition_point(|l| l.book_id < book.book_id);
                lines.insert(at, line);
                books.insert(at, Some(book));
                return Ok(priced_cart(lines.into_iter().zip(books), tax_rate));
            }
        }
    }
    Err(Error::conflict("cart_changed", "the cart changed meanwhile; try again"))
}

/// Sets the quantity of a line already in the cart.
pub async fn set_cart_quantity(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    book_id: &BookId,
    quantity: Quantity,
    now: DateTime<Utc>,
) -> Result<()> {
    let key = keys::cart_line(tenant, user, book_id);
    let current: CartLine = store
        .get(Table::ShoppingCart, &key)
        .await?
        .map(store::item_record)
        .transpose()?
        .ok_or_else(|| Error::not_found("book in your cart"))?;
    let book = catalog::get_book(store, tenant, book_id).await?;
    require_stock(&book, quantity)?;
    let line = CartLine { quantity, updated_at: now, ..current };
    match store.put(Table::ShoppingCart, line_item(&line)?, Some(Condition::Exists)).await {
        Err(StoreError::ConditionFailed { .. }) => Err(Error::not_found("book in your cart")),
        other => Ok(other?),
    }
}

pub async fn remove_from_cart(store: &dyn Store, tenant: &TenantId, user: &UserId, book_id: &BookId) -> Result<()> {
    match store.delete(Table::ShoppingCart, &keys::cart_line(tenant, user, book_id), Some(Condition::Exists)).await {
        Err(StoreError::ConditionFailed { .. }) => Err(Error::not_found("book in your cart")),
        other => other.map(|_| ()).map_err(Error::from),
    }
}

pub async fn clear_cart(store: &dyn Store, tenant: &TenantId, user: &UserId) -> Result<()> {
    let lines = cart_lines(store, tenant, user).await?;
    for chunk in lines.chunks(store::MAX_TRANSACTION_ACTIONS) {
        let actions = chunk
            .iter()
            .map(|l| WriteAction::Delete {
                table: Table::ShoppingCart,
                key: keys::cart_line(tenant, user, &l.book_id),
                condition: None,
            })
            .collect();
        store.transact_write(actions).await?;
    }
    Ok(())
}

/// How the customer pays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    #[default]
    Card,
    Paypal,
    BankTransfer,
}

/// The body of `POST /api/v1/purchases/checkout`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    #[serde(default)]
    pub payment_method: PaymentMethod,
    #[serde(default, deserialize_with = "crate::domain::optional_object")]
    pub shipping_address: Option<ShippingAddress>,
}

/// A client's `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self> {
        if (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Error::bad_request("invalid_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters"))
        }
    }
    fn digest(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }
}

/// The store's request token of a checkout (36 characters): the same for every retry of
/// one user's key in one tenant, and for no other.
fn request_token(tenant: &TenantId, user: &UserId, key: &IdempotencyKey) -> String {
    let record = keys::idempotency(tenant, user, &key.digest());
    let mut token = hex(&Sha256::digest(format!("{}\n{}", record.pk, record.sk).as_bytes()));
    token.truncate(36);
    token
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a checkout produced: the purchase, and whether it was made by an earlier call.
#[derive(Debug, Clone)]
pub struct CheckoutOutcome {
    pub purchase: Purchase,
    pub replayed: bool,
}

fn purchase_item(purchase: &Purchase) -> Result<Item> {
    let key = keys::purchase(&purchase.tenant_id, &purchase.user_id, &purchase.purchase_id);
    let by_time = (
        Index::Gsi1,
        keys::purchases_by_time(&purchase.tenant_id),
        keys::purchase_time_sort(purchase.created_at, &purchase.purchase_id),
    );
    Ok(store::record_item(purchase, &key, &[by_time])?)
}

/// The purchase an idempotency key already produced, if any. A key reused with a
/// different request is refused.
async fn replay(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<Purchase>> {
    let Some(record) = store.get(Table::Idempotency, &keys::idempotency(tenant, user, &key.digest())).await? else {
        return Ok(None);
    };
    if record.get("fingerprint").and_then(|v| v.as_str()) != Some(fingerprint) {
        return Err(Error::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        ));
    }
    let purchase_id = record
        .get("purchase_id")
        .and_then(|v| v.as_str())
        .and_then(|s| PurchaseId::parse(s).ok())
        .ok_or_else(|| Error::Internal("idempotency record without purchase".to_owned()))?;
    get_purchase(store, tenant, user, &purchase_id).await.map(Some)
}

/// Turns the cart into a purchase: prices, tax and totals computed here, stock
/// decremented, cart cleared, all in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn checkout(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    request: &CheckoutRequest,
    idempotency: Option<&IdempotencyKey>,
    tax_rate: Decimal,
    purchase_id: PurchaseId,
    now: DateTime<Utc>,
) -> Result<CheckoutOutcome> {
    let fingerprint = hex(&Sha256::digest(serde_json::to_vec(request).unwrap_or_default()));
    if let Some(key) = idempotency
        && let Some(purchase) = replay(store, tenant, user, key, &fingerprint).await?
    {
        return Ok(CheckoutOutcome { purchase, replayed: true });
    }
    let attempt =
        prepare_and_commit(store, tenant, user, request, idempotency, &fingerprint, tax_rate, purchase_id, now).await;
    match (attempt, idempotency) {
        (Ok(purchase), _) => Ok(CheckoutOutcome { purchase, replayed: false }),
        // A concurrent call with the same key may have won; it emptied the cart too.
        (Err(err @ Error::Conflict { .. }), Some(key)) => match replay(store, tenant, user, key, &fingerprint).await? {
            Some(purchase) => Ok(CheckoutOutcome { purchase, replayed: true }),
            None => Err(err),
        },
        (Err(err), _) => Err(err),
    }
}

#[allow(clippy::too_many_arguments)]
async fn prepare_and_commit(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    request: &CheckoutRequest,
    idempotency: Option<&IdempotencyKey>,
    fingerprint: &str,
    tax_rate: Decimal,
    purchase_id: PurchaseId,
    now: DateTime<Utc>,
) -> Result<Purchase> {
    let lines = cart_lines(store, tenant, user).await?;
    if lines.is_empty() {
        return Err(Error::conflict("cart_empty", "the cart is empty"));
    }
    // Two concurrent adds can each see room for one more line; refuse rather than build
    // a transaction the store cannot take.
    if lines.len() > MAX_CART_LINES {
        return Err(Error::conflict(
            "cart_too_large",
            format!("a checkout takes at most {MAX_CART_LINES} different books; remove some from the cart"),
        ));
    }
    let mut books = Vec::with_capacity(lines.len());
    for (line, book) in lines.iter().zip(books_of(store, tenant, &lines, Freshness::Latest).await?) {
        let book = book.ok_or_else(|| {
            Error::conflict(
                "book_unavailable",
                format!("book {} is no longer sold; remove it from the cart", line.book_id),
            )
        })?;
        require_stock(&book, line.quantity)?;
        books.push(book);
    }
    let items: Vec<PurchaseItem> = lines
        .iter()
        .zip(&books)
        .map(|(line, book)| PurchaseItem {
            book_id: book.book_id,
            title: book.title.to_string(),
            category: book.category.to_string(),
            author: book.author.to_string(),
            quantity: line.quantity,
            unit_price: book.price.money(),
            subtotal: book.price.money().times(line.quantity),
        })
        .collect();
    let subtotal: Money = items.iter().map(|i| i.subtotal).sum();
    let tax = tax_on(subtotal, tax_rate);
    let purchase = Purchase {
        purchase_id,
        tenant_id: tenant.clone(),
        user_id: *user,
        items,
        subtotal,
        tax,
        total_amount: subtotal + tax,
        status: PurchaseStatus::Pending,
        payment_method: serde_json::to_value(request.payment_method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        shipping_address: request.shipping_address.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    };

    let mut actions = Vec::with_capacity(lines.len() * 2 + 2);
    for (line, book) in lines.iter().zip(&books) {
        let q = i64::from(line.quantity.get());
        actions.push(WriteAction::Update {
            table: Table::Books,
            key: keys::book(tenant, &book.book_id, &book.isbn),
            actions: vec![
                UpdateAction::Add("stock_quantity".into(), -q),
                UpdateAction::Add("sales_count".into(), q),
                UpdateAction::Add("version".into(), 1),
                UpdateAction::Set("updated_at".into(), serde_json::to_value(now).unwrap_or_default()),
            ],
            condition: Some(Condition::All(vec![
                Condition::AtLeast("stock_quantity".into(), q),
                Condition::Equals("price".into(), serde_json::to_value(book.price).unwrap_or_default()),
                Condition::Equals("is_active".into(), true.into()),
            ])),
        });
        actions.push(WriteAction::Delete {
            table: Table::ShoppingCart,
            key: keys::cart_line(tenant, user, &line.book_id),
            condition: Some(Condition::Equals("quantity".into(), q.into())),
        });
    }
    actions.push(WriteAction::Put {
        table: Table::Purchases,
        item: purchase_item(&purchase)?,
        condition: Some(Condition::NotExists),
    });
    if let Some(key) = idempotency {
        let record_key = keys::idempotency(tenant, user, &key.digest());
        let mut record = Item::new();
        record.insert("pk".into(), record_key.pk.into());
        record.insert("sk".into(), record_key.sk.into());
        record.insert("purchase_id".into(), purchase_id.to_string().into());
        record.insert("fingerprint".into(), fingerprint.into());
        record.insert(crate::store::TTL_ATTRIBUTE.into(), (now.timestamp() + IDEMPOTENCY_TTL_SECONDS).into());
        actions.push(WriteAction::Put {
            table: Table::Idempotency,
            item: record,
            condition: Some(Condition::NotExists),
        });
    }

    let committed = match idempotency {
        Some(key) => store.transact_write_once(actions, &request_token(tenant, user, key)).await,
        None => store.transact_write(actions).await,
    };
    match committed {
        Ok(()) => Ok(purchase),
        Err(StoreError::TransactionCancelled { failed }) => Err(explain_cancellation(&lines, &books, &failed)),
        Err(err) => Err(err.into()),
    }
}

/// Names what made a checkout transaction fail (stock, price, or a changed cart) from
/// the books as the cancelled transaction found them: no second read.
fn explain_cancellation(lines: &[CartLine], books: &[Book], failed: &[FailedCondition]) -> Error {
    let mut short = Vec::new();
    let mut repriced = Vec::new();
    for failure in failed {
        let line_index = failure.position / 2;
        if failure.position % 2 != 0 || line_index >= lines.len() {
            continue;
        }
        let book = &books[line_index];
        let now = failure.current.clone().map(store::item_record::<Book>).transpose();
        match now {
            Ok(Some(now)) if now.stock_quantity < lines[line_index].quantity.get() || !now.is_active => {
                short.push(format!("\"{}\" ({} left)", now.title, now.stock_quantity))
            }
            Ok(Some(now)) => repriced.push(format!("\"{}\" (now {})", now.title, now.price)),
            _ => short.push(format!("\"{}\" (no longer sold)", book.title)),
        }
    }
    if !short.is_empty() {
        Error::conflict("insufficient_stock", format!("not enough stock for {}", short.join(", ")))
    } else if !repriced.is_empty() {
        Error::conflict("price_changed", format!("prices changed for {}; review the cart", repriced.join(", ")))
    } else {
        Error::conflict("cart_changed", "the cart changed during checkout; review it and try again")
    }
}

pub async fn get_purchase(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    purchase: &PurchaseId,
) -> Result<Purchase> {
    store
        .get(Table::Purchases, &keys::purchase(tenant, user, purchase))
        .await?
        .map(store::item_record)
        .transpose()?
        .ok_or_else(|| Error::not_found("purchase"))
}

/// The user's purchases, newest first.
pub async fn user_purchases(store: &dyn Store, tenant: &TenantId, user: &UserId) -> Result<Vec<Purchase>> {
    let query = Query::table(
        Table::Purchases,
        keys::user_partition(tenant, user),
        SortKeyRange::BeginsWith(keys::PURCHASE_SK_PREFIX.into()),
    )
    .backward();
    Ok(store::query_all(store, query)
        .await?
        .into_iter()
        .map(store::item_record)
        .collect::<std::result::Result<_, _>>()?)
}

/// A user's purchase history in figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurchaseSummary {
    pub purchase_count: usize,
    pub items_bought: u64,
    pub total_spent: Money,
    pub average_order: Money,
    pub first_purchase_at: Option<DateTime<Utc>>,
    pub last_purchase_at: Option<DateTime<Utc>>,
    pub by_status: BTreeMap<String, usize>,
    pub top_categories: Vec<CategorySpend>,
}

/// Money spent in one category.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategorySpend {
    pub category: String,
    pub items: u64,
    pub spent: Money,
}

pub async fn summary(store: &dyn Store, tenant: &TenantId, user: &UserId) -> Result<PurchaseSummary> {
    let purchases: Vec<Purchase> = user_purchases(store, tenant, user)
        .await?
        .into_iter()
        .filter(|p| !matches!(p.status, PurchaseStatus::Cancelled | PurchaseStatus::PaymentFailed))
        .collect();
    let total_spent: Money = purchases.iter().map(|p| p.total_amount).sum();
    let mut by_status = BTreeMap::new();
    let mut categories: BTreeMap<String, (u64, Money)> = BTreeMap::new();
    let mut items_bought = 0;
    for purchase in &purchases {
        let status =
            serde_json::to_value(purchase.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        *by_status.entry(status).or_insert(0) += 1;
        for item in &purchase.items {
            items_bought += u64::from(item.quantity.get());
            let entry = categories.entry(item.category.clone()).or_insert((0, Money::ZERO));
            entry.0 += u64::from(item.quantity.get());
            entry.1 = entry.1 + item.subtotal;
        }
    }
    let mut top_categories: Vec<CategorySpend> =
        categories.into_iter().map(|(category, (items, spent))| CategorySpend { category, items, spent }).collect();
    top_categories.sort_by(|a, b| b.spent.cmp(&a.spent).then(a.category.cmp(&b.category)));
    top_categories.truncate(5);
    let average_order = if purchases.is_empty() {
        Money::ZERO
    } else {
        Money::rounded(total_spent.amount() / Decimal::from(purchases.len()))
    };
    Ok(PurchaseSummary {
        purchase_count: purchases.len(),
        items_bought,
        total_spent,
        average_order,
        first_purchase_at: purchases.iter().map(|p| p.created_at).min(),
        last_purchase_at: purchases.iter().map(|p| p.created_at).max(),
        by_status,
        top_categories,
    })
}
