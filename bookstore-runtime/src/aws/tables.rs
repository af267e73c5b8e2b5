//! Creating a stage's tables on an emulator (DynamoDB Local) from the same `Table` model
//! the CloudFormation template renders: keys, indexes, streams, TTL. A deployed stage gets
//! its tables from the template, never from here.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification,
};

use super::store::DynamoStore;
use crate::store::{StoreError, Table};

fn key_schema(pk: &str, sk: &str) -> Result<Vec<KeySchemaElement>, BuildError> {
    Ok(vec![
        KeySchemaElement::builder().attribute_name(pk).key_type(KeyType::Hash).build()?,
        KeySchemaElement::builder().attribute_name(sk).key_type(KeyType::Range).build()?,
    ])
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, BuildError> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
}

impl DynamoStore {
    /// Creates every table of the stage that does not exist yet; tables that exist are
    /// left as they are. Returns the names of the tables it created.
    pub async fn create_missing_tables(&self) -> Result<Vec<String>, StoreError> {
        let mut created = Vec::new();
        for table in Table::ALL {
            if self.create_table(table).await? {
                created.push(self.table_name(table));
            }
        }
        Ok(created)
    }

    async fn create_table(&self, table: Table) -> Result<bool, StoreError> {
        let name = self.table_name(table);
        let invalid = |e: BuildError| StoreError::Invalid(format!("table {name}: {e}"));
        let mut attributes = vec![string_attribute("pk").map_err(invalid)?, string_attribute("sk").map_err(invalid)?];
        let mut indexes = Vec::new();
        for index in table.indexes() {
            attributes.push(string_attribute(index.pk_attr()).map_err(invalid)?);
            attributes.push(string_attribute(index.sk_attr()).map_err(invalid)?);
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name())
                    .set_key_schema(Some(key_schema(index.pk_attr(), index.sk_attr()).map_err(invalid)?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(invalid)?,
            );
        }
        let stream = table
            .has_stream()
            .then(|| {
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
            })
            .transpose()
            .map_err(invalid)?;
        let client: &Client = self.client();
        let sent = client
            .create_table()
            .table_name(&name)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema("pk", "sk").map_err(invalid)?))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .billing_mode(BillingMode::PayPerRequest)
            .set_stream_specification(stream)
            .send()
            .await;
        match sent {
            Ok(_) => {}
            Err(err) if err.code() == Some("ResourceInUseException") => return Ok(false),
            Err(err) => return Err(self.failure(Some(table), err)),
        }
        self.wait_until_active(table).await?;
        if let Some(attribute) = table.ttl_attribute() {
            let ttl =
                TimeToLiveSpecification::builder().enabled(true).attribute_name(attribute).build().map_err(invalid)?;
            client
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(ttl)
                .send()
                .await
                .map_err(|err| self.failure(Some(table), err))?;
        }
        Ok(true)
    }

    /// DynamoDB creates a table in the background (DynamoDB Local at once).
    async fn wait_until_active(&self, table: Table) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            let described = self
                .client()
                .describe_table()
                .table_name(self.table_name(table))
                .send()
                .await
                .map_err(|err| self.failure(Some(table), err))?;
            let status = described.table().and_then(|t| t.table_status());
            if status == Some(&TableStatus::Active) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(StoreError::Unavailable(format!(
                    "table {} is still {status:?} after five minutes",
                    self.table_name(table)
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}
