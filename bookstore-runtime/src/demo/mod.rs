//! The demo data set of `bookstore up --seed demo`: 3 tenants, each with an admin,
//! 20 customers, 1,000 books and 500 purchases over the 18 months before
//! `DEMO_ANCHOR`. Everything goes through the same operations the API uses (so the
//! change log holds it all), and the same run always produces the same data: ids,
//! dates and quantities all come from a seeded generator.

mod catalog;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

pub use self::catalog::{DemoBook, DemoRng, demo_books, demo_tenants};
use crate::accounts::{self, Password, Registration};
use crate::domain::{
    BookId, Email, Isbn, KeyText, Money, NewBook, Price, PurchaseId, Quantity, Rating, Role, Tenant, TenantId, Text,
    UserId,
};
use crate::error::{Error, Result};
use crate::orders::{self, CheckoutRequest, PaymentMethod};
use crate::store::SharedStore;

/// Purchases are spread over the 18 months before this instant.
pub fn demo_anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap_or_default()
}

/// How much to load.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    pub books_per_tenant: usize,
    pub customers_per_tenant: usize,
    pub purchases_per_tenant: usize,
}

impl DemoSize {
    pub const FULL: DemoSize = DemoSize { books_per_tenant: 1000, customers_per_tenant: 20, purchases_per_tenant: 500 };
}

/// A login printed for people trying the demo.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub tenant: TenantId,
    pub tenant_name: String,
    pub admin_email: String,
    pub admin_password: String,
    pub customer_email: String,
    pub customer_password: String,
    /// False when the tenant already existed and was left as it was.
    pub seeded: bool,
}

pub const CUSTOMER_PASSWORD: &str = "demo-password";

pub fn admin_email(tenant: &TenantId) -> String {
    format!("admin@{tenant}.example")
}

pub fn admin_password(tenant: &TenantId) -> String {
    format!("demo-{tenant}-admin")
}

fn customer_email(tenant: &TenantId, n: usize) -> String {
    format!("customer{n:02}@{tenant}.example")
}

/// Loads the demo tenants that do not exist yet; existing ones are left untouched.
pub async fn seed(store: SharedStore, tax_rate: Decimal, size: DemoSize) -> Result<Vec<DemoLogin>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (id, name)) in demo_tenants().into_iter().enumerate() {
        let store = Arc::clone(&store);
        tasks.spawn(async move { seed_tenant(store, index as u64, id, name, tax_rate, size).await });
    }
    let mut logins = Vec::new();
    while let Some(done) = tasks.join_next().await {
        logins.push(done.map_err(|e| Error::Internal(format!("seed task failed: {e}")))??);
    }
    logins.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    Ok(logins)
}

fn seeded_uuid(rng: &mut DemoRng, at: DateTime<Utc>) -> Uuid {
    let mut random = [0u8; 10];
    for chunk in random.chunks_mut(8) {
        let bytes = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis().max(0) as u64, &random).into_uuid()
}

fn text<const MAX: usize>(field: &str, raw: &str) -> Result<Text<MAX>> {
    Text::parse(raw).map_err(|e| Error::invalid(field, e))
}

fn new_book(book: &DemoBook) -> Result<NewBook> {
    Ok(NewBook {
        isbn: Isbn::from_body(book.isbn_body),
        title: text("title", &book.title)?,
        author: KeyText::parse(&book.author).map_err(|e| Error::invalid("author", e))?,
        editorial: Some(text("editorial", book.editorial)?),
        category: KeyText::parse(book.category).map_err(|e| Error::invalid("category", e))?,
        price: Money::new(Decimal::new(i64::from(book.price_cents), 2))
            .and_then(Price::new)
            .map_err(|e| Error::invalid("price", e))?,
        description: Some(text("description", &book.description)?),
        cover_image_url: None,
        stock_quantity: book.stock,
        publication_year: book.publication_year,
        language: book.language.to_owned(),
        pages: Some(book.pages),
        rating: Rating::new(Decimal::new(i64::from(book.rating_tenths), 1)).map_err(|e| Error::invalid("rating", e))?,
    })
}

async fn seed_tenant(
    store: SharedStore,
    index: u64,
    id: &str,
    name: &str,
    tax_rate: Decimal,
    size: DemoSize,
) -> Result<DemoLogin> {
    let tenant = TenantId::parse(id).map_err(|e| Error::invalid("tenant", e))?;
    let login = DemoLogin {
        tenant: tenant.clone(),
        tenant_name: name.to_owned(),
        admin_email: admin_email(&tenant),
        admin_password: admin_password(&tenant),
        customer_email: customer_email(&tenant, 1),
        customer_password: CUSTOMER_PASSWORD.to_owned(),
        seeded: false,
    };
    if accounts::get_tenant(store.as_ref(), &tenant).await?.is_some() {
        return Ok(login);
    }
    let mut rng = DemoRng::new(0x5eed_0000 + index);
    let anchor = demo_anchor();
    let opened = anchor - Duration::days(18 * 31);
    let record = Tenant { tenant_id: tenant.clone(), name: text("name", name)?, is_active: true, created_at: opened };
    accounts::add_tenant(store.as_ref(), &record).await?;

    let mut people = Vec::new();
    people.push((admin_email(&tenant), admin_password(&tenant), Role::Admin, "Admin".to_owned()));
    for n in 1..=size.customers_per_tenant {
        people.push((customer_email(&tenant, n), CUSTOMER_PASSWORD.to_owned(), Role::Customer, format!("Cliente {n}")));
    }
    let mut customers = Vec::new();
    let mut registrations = tokio::task::JoinSet::new();
    for (email, password, role, first_name) in people {
        let user_id = UserId::from_uuid(seeded_uuid(&mut rng, opened));
        let registration = Registration {
            email: Email::parse(&email).map_err(|e| Error::invalid("email", e))?,
            password: Password::new(password).map_err(|e| Error::invalid("password", e))?,
            first_name: text("first_name", &first_name)?,
            last_name: None,
        };
        if role == Role::Customer {
            customers.push(user_id);
        }
        let (store, tenant) = (Arc::clone(&store), tenant.clone());
        registrations.spawn(async move {
            accounts::register(store.as_ref(), &tenant, user_id, &registration, role, opened).await
        });
    }
    while let Some(done) = registrations.join_next().await {
        done.map_err(|e| Error::Internal(format!("seed task failed: {e}")))??;
    }

    let books = demo_books(0xb00c_0000 + index, size.books_per_tenant);
    let mut saleable = Vec::new();
    let mut creations = tokio::task::JoinSet::new();
    for (n, book) in books.iter().enumerate() {
        let created = opened + Duration::minutes(n as i64);
        let book_id = BookId::from_uuid(seeded_uuid(&mut rng, created));
        if book.stock >= 20 {
            saleable.push(book_id);
        }
        let (store, tenant, new) = (Arc::clone(&store), tenant.clone(), new_book(book)?);
        creations
            .spawn(async move { crate::catalog::create_book(store.as_ref(), &tenant, book_id, new, created).await });
        if creations.len() >= 64 {
            creations.join_next().await.transpose().map_err(|e| Error::Internal(e.to_string()))?.transpose()?;
        }
    }
    while let Some(done) = creations.join_next().await {
        done.map_err(|e| Error::Internal(format!("seed task failed: {e}")))??;
    }

    // Purchases run one after another in time order, as they happened: concurrent
    // checkouts of one book would leave its `updated_at` to whichever committed last.
    let span_minutes = (anchor - opened).num_minutes().max(1) as u64;
    let mut times: Vec<DateTime<Utc>> =
        (0..size.purchases_per_tenant).map(|_| opened + Duration::minutes(rng.below(span_minutes) as i64)).collect();
    times.sort();
    let request = CheckoutRequest { payment_method: PaymentMethod::Card, shipping_address: None };
    if customers.is_empty() || saleable.is_empty() {
        times.clear();
    }
    for at in times {
        let customer = *rng.pick(&customers);
        let lines = 1 + rng.below(3) as usize;
        let mut basket: Vec<(BookId, Quantity)> = Vec::new();
        for _ in 0..lines {
            let book = *rng.pick(&saleable);
            let quantity = Quantity::new(1 + rng.below(2) as i64).map_err(|e| Error::invalid("quantity", e))?;
            if !basket.iter().any(|(b, _)| *b == book) {
                basket.push((book, quantity));
            }
        }
        let purchase_id = PurchaseId::from_uuid(seeded_uuid(&mut rng, at));
        for (book, quantity) in basket {
            orders::add_to_cart(store.as_ref(), &tenant, &customer, &book, quantity, at, tax_rate).await?;
        }
        orders::checkout(store.as_ref(), &tenant, &customer, &request, None, tax_rate, purchase_id, at).await?;
    }
    tracing::info!(tenant = %tenant, "demo tenant seeded");
    Ok(DemoLogin { seeded: true, ..login })
}
