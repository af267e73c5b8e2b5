//! The `books-to-search` function.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    bookstore_lambdas::run(bookstore_lambdas::Function { name: "books-to-search", needs: "Elasticsearch search" }).await
}
