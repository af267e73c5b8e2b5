//! The typed context the templates render from. Tables come from the runtime's own table
//! model, so the deployed schema and the code that reads it cannot drift apart.

use bookstore_runtime::cdc::{LAKE_BATCH_SIZE, LAKE_BATCHING_WINDOW};
use bookstore_runtime::lake::catalog::{GlueTable, TableFormat, glue_tables};
use bookstore_runtime::store::Table;
use serde::Serialize;

use crate::stage::{BillingMode, Capacity, Stage};

#[derive(Debug, Serialize)]
pub struct TemplateContext {
    pub stage: StageNames,
    pub tables: Vec<TableSpec>,
    pub functions: Vec<FunctionSpec>,
    pub stream_mappings: Vec<StreamMapping>,
    /// The lake bucket's name as a `Fn::Sub` pattern (fixed, so a kept bucket can be adopted).
    pub lake_bucket: String,
    pub api: ApiSpec,
    pub auth: AuthSpec,
    pub search: SearchSpec,
    pub network: crate::stage::Network,
    pub lake: crate::stage::Lake,
    pub athena: AthenaSpec,
    pub logs: crate::stage::Logs,
    pub alarms: crate::stage::Alarms,
    /// What the dashboard plots per tenant from the functions' Embedded Metric Format lines.
    pub business_metrics: Vec<BusinessMetric>,
    /// Whether the stage has its own KMS key (`StageKey`) for data at rest.
    pub stage_key: bool,
    /// Tables, key and access logs are retained when the stack is deleted.
    pub keeps_data: bool,
}

#[derive(Debug, Serialize)]
pub struct BusinessMetric {
    pub name: &'static str,
    pub title: &'static str,
}

#[derive(Debug, Serialize)]
pub struct StageNames {
    pub name: String,
    pub region: String,
    pub prefix: String,
}

#[derive(Debug, Serialize)]
pub struct TableSpec {
    pub logical_id: String,
    pub base_name: &'static str,
    pub table_name: String,
    pub billing_mode: BillingMode,
    pub capacity: Option<Capacity>,
    pub stream: bool,
    pub point_in_time_recovery: bool,
    pub ttl_attribute: Option<&'static str>,
    pub indexes: Vec<IndexSpec>,
}

#[derive(Debug, Serialize)]
pub struct IndexSpec {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

#[derive(Debug, Serialize)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub name: &'static str,
    pub function_name: String,
    pub code_key_parameter: String,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub reserved_concurrency: Option<u32>,
    pub description: &'static str,
    pub in_vpc: bool,
    pub tables: Vec<String>,
    pub stream_table: Option<String>,
    pub writes_lake: bool,
    pub reads_jwt_secret: bool,
    /// A search consumer: finds each tenant's container from its placement row.
    pub reads_placements: bool,
    /// Runs analytics on Athena over the lake (the API).
    pub queries_lake: bool,
    pub administers_search_host: bool,
}

#[derive(Debug, Serialize)]
pub struct StreamMapping {
    pub logical_id: String,
    pub function: String,
    pub table: String,
    pub batch_size: u32,
    /// Zero, or how long a short batch gathers (the lake's: fewer, larger files).
    pub maximum_batching_window_seconds: u64,
    pub maximum_retry_attempts: i32,
    pub maximum_record_age_seconds: i32,
    pub bisect_batch_on_function_error: bool,
    pub parallelization_factor: u32,
}

#[derive(Debug, Serialize)]
pub struct ApiSpec {
    pub function: String,
    pub cors_origins: Vec<String>,
    pub token_ttl_seconds: i64,
    /// A decimal string (`0.21`), as the function parses it.
    pub tax_rate: String,
    pub rate_limits: bookstore_runtime::config::RateLimits,
    pub max_body_bytes: usize,
    pub throttling: crate::stage::GatewayThrottling,
    /// The routes API Gateway throttles as sign-in (each also a route of its own).
    pub sign_in_routes: [&'static str; 2],
}

#[derive(Debug, Serialize)]
pub struct AuthSpec {
    /// With `None` the secret is the template's NoEcho `JwtSecret` parameter.
    pub jwt_secret_ssm_parameter: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SearchSpec {
    pub instance_type: String,
    pub volume_gb: u32,
    pub docker_tls_ssm_path: String,
    /// `bookstore-search` or `elasticsearch`: what each tenant's container runs.
    pub node: &'static str,
    pub image: String,
    pub container_memory_mb: u32,
}

/// The lake's catalog: what `bookstore athena query` names on an AWS stage.
#[derive(Debug, Serialize)]
pub struct AthenaSpec {
    pub workgroup: String,
    pub glue_database: String,
    pub tables: Vec<GlueTableSpec>,
}

/// One Glue table over the lake (`lake::catalog`).
#[derive(Debug, Serialize)]
pub struct GlueTableSpec {
    pub logical_id: String,
    pub name: String,
    pub description: String,
    pub format: TableFormat,
    pub serde: &'static str,
    pub input_format: &'static str,
    pub output_format: &'static str,
    /// `[name, Hive type]`, from the schema the embedded engine reads.
    pub columns: Vec<[String; 2]>,
    /// The partition keys (strings); `tenant_id` first.
    pub partition_keys: Vec<&'static str>,
    /// A partition's prefix in the bucket, keys as `${key}`.
    pub location_template: String,
}

fn glue_table(table: GlueTable) -> GlueTableSpec {
    let description = match table.name.as_str() {
        "purchases" => "Every purchase once, by tenant and purchase day: the batches not yet compacted.",
        "books" => "Book snapshots, by tenant and snapshot day: the batches not yet compacted.",
        "purchases_compacted" => "Compacted purchases (closed days and months), as the compaction manifest names them.",
        "books_compacted" => {
            "Compacted book snapshots (closed days and months), as the compaction manifest names them."
        }
        _ => "Each closed day's purchases, revenue, copies sold and best sellers, written by compaction.",
    };
    let (input_format, output_format) = match table.format {
        TableFormat::Json => {
            ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
        }
        TableFormat::Parquet => (
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        ),
    };
    GlueTableSpec {
        logical_id: format!("Glue{}Table", pascal_case(&table.name)),
        description: description.to_owned(),
        format: table.format,
        serde: table.format.serde(),
        input_format,
        output_format,
        columns: table.columns,
        partition_keys: table.partition_keys,
        location_template: table.location_template,
        name: table.name,
    }
}

/// Every function of a stage (the runtime's list; one `bootstrap` serves them all).
pub use bookstore_runtime::functions::{FUNCTIONS as LAMBDAS, Function as Lambda};

/// `books-to-search` → `BooksToSearch`.
pub fn pascal_name(lambda: &Lambda) -> String {
    pascal_case(lambda.name)
}

/// The template parameter holding the S3 key of this function's zip.
pub fn code_key_parameter(lambda: &Lambda) -> String {
    format!("{}CodeKey", pascal_name(lambda))
}

fn pascal_case(name: &str) -> String {
    name.split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn table_logical_id(table: Table) -> String {
    format!("{}Table", pascal_case(table.name()))
}

impl TemplateContext {
    pub fn new(stage: &Stage) -> Self {
        let tables = Table::ALL
            .iter()
            .map(|&table| TableSpec {
                logical_id: table_logical_id(table),
                base_name: table.name(),
                table_name: table.stage_name(&stage.prefix),
                billing_mode: stage.tables.billing_mode,
                capacity: stage.tables.capacity,
                stream: table.has_stream(),
                point_in_time_recovery: stage.tables.point_in_time_recovery,
                ttl_attribute: table.ttl_attribute(),
                indexes: table
                    .indexes()
                    .iter()
                    .map(|index| IndexSpec { name: index.name(), pk: index.pk_attr(), sk: index.sk_attr() })
                    .collect(),
            })
            .collect();
        let functions = LAMBDAS
            .iter()
            .map(|lambda| {
                let size = if lambda.stream_table.is_some() { stage.functions.streams } else { stage.functions.api };
                // Placing a tenant waits for its container to become healthy (up to 90 s).
                let timeout_seconds =
                    if lambda.administers_search_host { size.timeout_seconds.max(120) } else { size.timeout_seconds };
                FunctionSpec {
                    logical_id: format!("{}Function", pascal_name(lambda)),
                    name: lambda.name,
                    function_name: format!("{}-{}", stage.prefix, lambda.name),
                    code_key_parameter: code_key_parameter(lambda),
                    memory_mb: size.memory_mb,
                    timeout_seconds,
                    // One placement at a time, where the stage reserves concurrency at all.
                    reserved_concurrency: if lambda.administers_search_host {
                        stage.functions.api.reserved_concurrency.map(|_| 1)
                    } else {
                        size.reserved_concurrency
                    },
                    description: lambda.description,
                    in_vpc: lambda.reaches_search,
                    tables: match lambda.stream_table {
                        _ if lambda.administers_search_host => vec![table_logical_id(Table::Tenants)],
                        None => Table::ALL.iter().map(|&table| table_logical_id(table)).collect(),
                        Some(_) => Vec::new(),
                    },
                    stream_table: lambda.stream_table.map(table_logical_id),
                    writes_lake: lambda.writes_lake,
                    reads_jwt_secret: lambda.serves_http(),
                    reads_placements: lambda.stream_table.is_some() && lambda.reaches_search,
                    queries_lake: lambda.serves_http(),
                    administers_search_host: lambda.administers_search_host,
                }
            })
            .collect();
        let stream_mappings = LAMBDAS
            .iter()
            .filter_map(|lambda| {
                let table = lambda.stream_table?;
                Some(StreamMapping {
                    logical_id: format!("{}Mapping", pascal_name(lambda)),
                    function: format!("{}Function", pascal_name(lambda)),
                    table: table_logical_id(table),
                    // The lake's consumers batch as `bookstore up` does: one file per
                    // tenant-day per gathered batch.
                    batch_size: if lambda.writes_lake {
                        u32::try_from(LAKE_BATCH_SIZE).unwrap_or(u32::MAX)
                    } else {
                        stage.functions.stream_batch_size
                    },
                    maximum_batching_window_seconds: if lambda.writes_lake {
                        LAKE_BATCHING_WINDOW.as_secs()
                    } else {
                        0
                    },
                    maximum_retry_attempts: stage.functions.stream_maximum_retry_attempts,
                    maximum_record_age_seconds: stage.functions.stream_maximum_record_age_seconds,
                    bisect_batch_on_function_error: true,
                    parallelization_factor: stage.functions.stream_parallelization_factor,
                })
            })
            .collect();
        Self {
            stage: StageNames { name: stage.name.clone(), region: stage.region.clone(), prefix: stage.prefix.clone() },
            tables,
            functions,
            stream_mappings,
            lake_bucket: format!("{}-lake-${{AWS::AccountId}}", stage.prefix),
            api: ApiSpec {
                function: "ApiFunction".to_owned(),
                cors_origins: stage.api.cors_origins.clone(),
                token_ttl_seconds: stage.auth.token_ttl_seconds,
                tax_rate: stage.api.tax_rate.to_string(),
                rate_limits: stage.api.rate_limits,
                max_body_bytes: stage.api.max_body_bytes,
                throttling: stage.api.gateway_throttling,
                sign_in_routes: ["POST /api/v1/users/login", "POST /api/v1/users/register"],
            },
            auth: AuthSpec { jwt_secret_ssm_parameter: stage.auth.jwt_secret.ssm_parameter.clone() },
            search: SearchSpec {
                instance_type: stage.search.instance_type.clone(),
                volume_gb: stage.search.volume_gb,
                docker_tls_ssm_path: stage.search.docker_tls_ssm_path(&stage.prefix),
                node: match stage.search.node {
                    crate::stage::SearchNode::BookstoreSearch => "bookstore-search",
                    crate::stage::SearchNode::Elasticsearch => "elasticsearch",
                },
                image: stage.search.image(),
                container_memory_mb: stage.search.container_memory_mb(),
            },
            network: stage.network.clone(),
            lake: stage.lake.clone(),
            athena: AthenaSpec {
                workgroup: stage.athena_workgroup(),
                glue_database: stage.glue_database(),
                tables: glue_tables().into_iter().map(glue_table).collect(),
            },
            logs: stage.logs.clone(),
            alarms: stage.alarms.clone(),
            business_metrics: bookstore_runtime::metrics::BUSINESS_METRICS
                .iter()
                .map(|&(name, title)| BusinessMetric { name, title })
                .collect(),
            stage_key: stage.encryption.customer_managed_key,
            keeps_data: stage.keeps_data_on_destroy(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_pascal_cased() {
        assert_eq!(pascal_case("books-to-search"), "BooksToSearch");
        assert_eq!(table_logical_id(Table::UserFavorites), "UserFavoritesTable");
    }
}
