//! The `purchases-to-lake` function.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    bookstore_lambdas::run(bookstore_lambdas::Function { name: "purchases-to-lake", needs: "S3 lake" }).await
}
