//! The `tenant-admin` function: runs `bookstore tenant …` commands inside the VPC, next to
//! the search host, whose Docker API it reaches over mutual TLS. Its logic is
//! `bookstore_runtime::tenancy::TenantAdmin::run`; wiring the runtime into the function
//! binaries comes with the Lambda functions issue, as for every other function.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    bookstore_lambdas::run(bookstore_lambdas::Function { name: "tenant-admin", needs: "search host (Docker API)" })
        .await
}
