//! Integration tests of the `bookstore` binary: one binary, one module per command.

mod crash;
mod fuzz;
mod server;
mod stage_files;
mod tenant;
mod up;
