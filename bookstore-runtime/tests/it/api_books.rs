//! `/api/v1/books`: catalogue reads for users, writes for admins, listings and filters.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, isbn};

/// Title, author, category, price, year, rating, stock.
type Spec<'a> = (&'a str, &'a str, &'a str, &'a str, i32, &'a str, u32);

fn new_book(isbn: &str, (title, author, category, price, year, rating, stock): Spec) -> Value {
    json!({"isbn": isbn, "title": title, "author": author, "category": category, "price": price,
           "publication_year": year, "rating": rating, "stock_quantity": stock})
}

#[tokio::test]
async fn admin_creates_updates_and_deletes_a_book_and_customers_read_it() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let created = app.book(&shop.admin, "978-84-376-0494-7", "Cien años de soledad", 3, "19.90").await;
    assert_eq!(created["isbn"], "9788437604947");
    assert_eq!(created["price"], "19.90");
    assert_eq!(created["version"], 1);
    let id = created["book_id"].as_str().expect("id");

    let read = app.call(Method::GET, &format!("/api/v1/books/{id}"), Some(&shop.alice), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["title"], "Cien años de soledad");
    let by_isbn = app.call(Method::GET, "/api/v1/books/by-isbn/9788437604947", Some(&shop.alice), None).await;
    assert_eq!(by_isbn.body["book_id"], id);

    let updated = app
        .call(
            Method::PUT,
            &format!("/api/v1/books/{id}"),
            Some(&shop.admin),
            Some(json!({"price": "21.50", "stock_quantity": 10})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["price"], "21.50");
    assert_eq!(updated.body["version"], 2);

    let customer_write = app
        .call(Method::PUT, &format!("/api/v1/books/{id}"), Some(&shop.alice), Some(json!({"stock_quantity": 0})))
        .await;
    assert_eq!(customer_write.status, StatusCode::FORBIDDEN);
    let customer_create = app
        .call(
            Method::POST,
            "/api/v1/books",
            Some(&shop.alice),
            Some(new_book(&isbn(9), ("X", "Y", "Z", "1.00", 2000, "1", 1))),
        )
        .await;
    assert_eq!(customer_create.status, StatusCode::FORBIDDEN);

    let isbn_change =
        app.call(Method::PUT, &format!("/api/v1/books/{id}"), Some(&shop.admin), Some(json!({"isbn": isbn(1)}))).await;
    assert_eq!(isbn_change.status, StatusCode::UNPROCESSABLE_ENTITY, "the ISBN is fixed");

    let duplicate = app
        .call(
            Method::POST,
            "/api/v1/books",
            Some(&shop.admin),
            Some(new_book("9788437604947", ("Otra", "A", "B", "1.00", 2000, "1", 1))),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.code(), "isbn_taken");

    let deleted = app.call(Method::DELETE, &format!("/api/v1/books/{id}"), Some(&shop.admin), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.call(Method::GET, &format!("/api/v1/books/{id}"), Some(&shop.alice), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let reused = app
        .call(
            Method::POST,
            "/api/v1/books",
            Some(&shop.admin),
            Some(new_book("9788437604947", ("Otra", "A", "B", "1.00", 2000, "1", 1))),
        )
        .await;
    assert_eq!(reused.status, StatusCode::CREATED, "a deleted book frees its ISBN");
}

#[tokio::test]
async fn book_fields_are_validated_by_name() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let good = new_book(&isbn(1), ("T", "A", "C", "9.99", 2001, "4", 1));
    let cases = [
        ("isbn", json!("9788437604948")),
        ("price", json!("-1.00")),
        ("price", json!("1.001")),
        ("price", json!(true)),
        ("title", json!("")),
        ("author", json!("a#b")),
        ("category", json!("x\u{0007}")),
        ("rating", json!("5.5")),
        ("stock_quantity", json!(-1)),
        ("stock_quantity", json!(1.5)),
        ("publication_year", json!(3000)),
    ];
    for (field, value) in cases {
        let mut body = good.clone();
        body[field] = value.clone();
        let reply = app.call(Method::POST, "/api/v1/books", Some(&shop.admin), Some(body)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value}: {}", reply.body);
        assert!(
            reply.body["error"]["message"].as_str().expect("message").contains(field),
            "{field} not named: {}",
            reply.body
        );
    }
    let listed = app.call(Method::GET, "/api/v1/books", Some(&shop.admin), None).await;
    assert_eq!(listed.body["pagination"]["total_items"], 0, "no refused book was written");
}

#[tokio::test]
async fn listing_filters_sorts_and_pages_with_cursors() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let books = [
        ("Rayuela", "Julio Cortázar", "Ficción", "15.00", 1963, "4.2", 4),
        ("Ficciones", "Jorge Luis Borges", "Ficción", "12.50", 1944, "4.8", 0),
        ("El Aleph", "Jorge Luis Borges", "Ficción", "11.00", 1949, "4.6", 2),
        ("Sapiens", "Yuval Noah Harari", "Historia", "22.90", 2011, "4.4", 9),
        ("Rust en acción", "Tim McNamara", "Programación", "39.95", 2021, "4.1", 7),
    ];
    for (n, (title, author, category, price, year, rating, stock)) in books.iter().enumerate() {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/books",
                Some(&shop.admin),
                Some(new_book(&isbn(n as u64), (title, author, category, price, *year, rating, *stock))),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    // Sorted and filtered listings and counts come from the search index (fed by the
    // books' stream); one category or author alone comes from the store in key order.
    app.sync_search().await;
    let titles = |body: &Value| -> Vec<String> {
        body["data"].as_array().expect("data").iter().map(|b| b["title"].as_str().expect("t").to_owned()).collect()
    };

    let by_category =
        app.call(Method::GET, "/api/v1/books?category=ficci%C3%B3n&sort=-price", Some(&shop.alice), None).await;
    assert_eq!(titles(&by_category.body), vec!["Rayuela", "Ficciones", "El Aleph"]);
    let by_author = app
        .call(Method::GET, "/api/v1/books?author=Jorge%20Luis%20Borges&in_stock=true", Some(&shop.alice), None)
        .await;
    assert_eq!(titles(&by_author.body), vec!["El Aleph"]);
    let ranges = app
        .call(
            Method::GET,
            "/api/v1/books?min_price=12&max_price=25&min_year=1950&min_rating=4.3",
            Some(&shop.alice),
            None,
        )
        .await;
    assert_eq!(titles(&ranges.body), vec!["Sapiens"]);

    let first = app.call(Method::GET, "/api/v1/books?limit=2&sort=title", Some(&shop.alice), None).await;
    assert_eq!(titles(&first.body), vec!["El Aleph", "Ficciones"]);
    let p = &first.body["pagination"];
    assert_eq!(
        (p["current_page"].as_i64(), p["total_pages"].as_i64(), p["total_items"].as_i64()),
        (Some(1), Some(3), Some(5))
    );
    assert_eq!((p["has_next"].as_bool(), p["has_previous"].as_bool()), (Some(true), Some(false)));
    let cursor = p["next_cursor"].as_str().expect("cursor");
    let second = app
        .call(Method::GET, &format!("/api/v1/books?limit=2&sort=title&cursor={cursor}"), Some(&shop.alice), None)
        .await;
    assert_eq!(titles(&second.body), vec!["Rayuela", "Rust en acción"]);
    let page3 = app.call(Method::GET, "/api/v1/books?limit=2&sort=title&page=3", Some(&shop.alice), None).await;
    assert_eq!(titles(&page3.body), vec!["Sapiens"]);
    let other_filter = app
        .call(Method::GET, &format!("/api/v1/books?limit=2&sort=-price&cursor={cursor}"), Some(&shop.alice), None)
        .await;
    assert_eq!(other_filter.status, StatusCode::BAD_REQUEST, "a cursor is bound to its query");

    let categories = app.call(Method::GET, "/api/v1/books/categories", Some(&shop.alice), None).await;
    assert_eq!(categories.body["data"][0], json!({"category": "Ficción", "book_count": 3}));
    let authors = app.call(Method::GET, "/api/v1/books/authors?limit=2", Some(&shop.alice), None).await;
    assert_eq!(authors.body["data"][0], json!({"author": "Jorge Luis Borges", "book_count": 2}));
    assert_eq!(authors.body["pagination"]["total_items"], 4);

    for bad in [
        "sort=random",
        "min_price=abc",
        "in_stock=maybe",
        "min_rating=9",
        "page=0",
        "limit=0",
        "limit=-1",
        "limit=1e9",
        "cursor=garbage",
        "category=a%23b",
    ] {
        let reply = app.call(Method::GET, &format!("/api/v1/books?{bad}"), Some(&shop.alice), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.body);
    }
}

#[tokio::test]
async fn recommendations_follow_purchases_and_favorites_and_skip_what_was_bought() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let mut ids = Vec::new();
    for (n, (title, author, category, rating)) in [
        ("Ficciones", "Jorge Luis Borges", "Ficción", "4.8"),
        ("El Aleph", "Jorge Luis Borges", "Ficción", "4.6"),
        ("Rayuela", "Julio Cortázar", "Ficción", "4.2"),
        ("Sapiens", "Yuval Noah Harari", "Historia", "4.9"),
        ("Cosmos", "Carl Sagan", "Ciencia", "4.7"),
    ]
    .iter()
    .enumerate()
    {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/books",
                Some(&shop.admin),
                Some(new_book(&isbn(n as u64), (title, author, category, "10.00", 1990, rating, 5))),
            )
            .await;
        ids.push(reply.body["book_id"].as_str().expect("id").to_owned());
    }
    // Recommendations are drawn from the search index, which follows the books' stream.
    app.sync_search().await;
    let cold = app
        .call(Method::GET, &format!("/api/v1/books/recommendations/{}", shop.alice_id), Some(&shop.alice), None)
        .await;
    assert_eq!(cold.body["data"][0]["title"], "Sapiens", "no history: best rated first");

    app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(json!({"book_id": ids[0], "quantity": 1})))
        .await;
    let checkout = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
    assert_eq!(checkout.status, StatusCode::CREATED);
    app.call(Method::POST, &format!("/api/v1/users/favorites/{}", ids[4]), Some(&shop.alice), None).await;
    app.sync_search().await;

    let warm = app
        .call(Method::GET, &format!("/api/v1/books/recommendations/{}?limit=5", shop.alice_id), Some(&shop.alice), None)
        .await;
    let titles: Vec<&str> =
        warm.body["data"].as_array().expect("data").iter().map(|b| b["title"].as_str().expect("t")).collect();
    assert_eq!(titles, vec!["Cosmos", "El Aleph", "Rayuela"], "same categories/authors, best rated, not bought");

    let someone_else =
        app.call(Method::GET, &format!("/api/v1/books/recommendations/{}", shop.alice_id), Some(&shop.bob), None).await;
    assert_eq!(someone_else.status, StatusCode::FORBIDDEN);
    let as_admin = app
        .call(Method::GET, &format!("/api/v1/books/recommendations/{}", shop.alice_id), Some(&shop.admin), None)
        .await;
    assert_eq!(as_admin.status, StatusCode::OK);
}

#[tokio::test]
async fn one_category_pages_in_key_order_forward_and_back_with_store_cursors() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    for n in 0..7u64 {
        let body = new_book(&isbn(n), (&format!("Libro {n}"), "Autora", "Poesía", "10.00", 2000, "4.0", 1));
        let reply = app.call(Method::POST, "/api/v1/books", Some(&shop.admin), Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let other = new_book(&isbn(99), ("Otro", "Autora", "Historia", "10.00", 2000, "4.0", 1));
    app.call(Method::POST, "/api/v1/books", Some(&shop.admin), Some(other)).await;
    // Counts come from the index; the pages themselves from the store, at once.
    app.sync_search().await;
    let ids = |body: &Value| -> Vec<String> {
        body["data"].as_array().expect("data").iter().map(|b| b["book_id"].as_str().expect("id").to_owned()).collect()
    };
    let path = "/api/v1/books?category=poes%C3%ADa&limit=3";
    let first = app.call(Method::GET, path, Some(&shop.alice), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let p = &first.body["pagination"];
    assert_eq!(
        (p["total_items"].as_i64(), p["total_pages"].as_i64(), p["current_page"].as_i64()),
        (Some(7), Some(3), Some(1))
    );
    assert_eq!((p["has_next"].as_bool(), p["has_previous"].as_bool()), (Some(true), Some(false)));
    let mut pages = vec![ids(&first.body)];
    let mut next = p["next_cursor"].as_str().map(str::to_owned);
    let mut last = first.body.clone();
    while let Some(cursor) = next {
        last = app.call(Method::GET, &format!("{path}&cursor={cursor}"), Some(&shop.alice), None).await.body;
        pages.push(ids(&last));
        next = last["pagination"]["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1], "{pages:?}");
    let all: Vec<&String> = pages.iter().flatten().collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "key order: the category, then the book id");
    assert_eq!(last["pagination"]["current_page"], 3);
    let back_cursor = last["pagination"]["previous_cursor"].as_str().expect("previous");
    let back = app.call(Method::GET, &format!("{path}&cursor={back_cursor}"), Some(&shop.alice), None).await;
    assert_eq!(ids(&back.body), pages[1], "back one page");
    assert_eq!(back.body["pagination"]["current_page"], 2);
    let numbered = app.call(Method::GET, &format!("{path}&page=2"), Some(&shop.alice), None).await;
    assert_eq!(ids(&numbered.body), pages[1], "a page number walks to the same page");
    let by_author = app.call(Method::GET, "/api/v1/books?author=autora&limit=100", Some(&shop.alice), None).await;
    assert_eq!(ids(&by_author.body).len(), 8, "one author's books, in key order");
    let foreign = app
        .call(
            Method::GET,
            &format!("/api/v1/books?category=historia&limit=3&cursor={back_cursor}"),
            Some(&shop.alice),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST, "a cursor is bound to its listing");
}
