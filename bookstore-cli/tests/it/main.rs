//! Integration tests of the `bookstore` binary: one binary, one module per command.

mod athena;
mod athena_aws;
mod athena_tables;
mod crash;
mod deploy;
mod functions_aws;
mod fuzz;
mod lambda_functions;
mod render;
mod search_feed;
mod server;
mod stage_files;
mod tenant;
mod tenant_docker;
mod up;
mod up_dynamodb;
