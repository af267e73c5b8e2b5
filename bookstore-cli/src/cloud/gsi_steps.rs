//! CloudFormation lets one update create or delete only one global secondary index per
//! table. A deploy that changes more is split here into a sequence of templates, each one
//! GSI change per table further along, the last being the template asked for.

use std::collections::BTreeMap;

use serde_json::Value;

/// One update of a split deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub template: Value,
    /// What this step changes in indexes, e.g. `BooksTable: add GSI4`.
    pub index_changes: Vec<String>,
}

#[derive(Debug, Clone)]
enum IndexChange {
    Remove(String),
    Add(Value),
}

/// The updates that take `deployed` to `wanted`; a single step when no table changes
/// more than one index.
pub fn plan(deployed: &Value, wanted: &Value) -> Vec<Step> {
    let mut changes_by_table: BTreeMap<String, Vec<IndexChange>> = BTreeMap::new();
    for (id, new_table) in tables(wanted) {
        let Some(old_table) = tables(deployed).find(|(old_id, _)| *old_id == id).map(|(_, table)| table) else {
            continue; // a new table may be created with all its indexes at once
        };
        let old = indexes_by_name(old_table);
        let new = indexes_by_name(new_table);
        let mut changes = Vec::new();
        for (name, index) in &old {
            if !new.get(name).is_some_and(|wanted| same_index(index, wanted)) {
                changes.push(IndexChange::Remove(name.clone()));
            }
        }
        for (name, index) in &new {
            if !old.get(name).is_some_and(|deployed| same_index(deployed, index)) {
                changes.push(IndexChange::Add((*index).clone()));
            }
        }
        if !changes.is_empty() {
            changes_by_table.insert(id.to_owned(), changes);
        }
    }
    let steps = changes_by_table.values().map(Vec::len).max().unwrap_or(0);
    if steps <= 1 {
        let index_changes = changes_by_table.iter().flat_map(|(id, changes)| describe(id, changes)).collect();
        return vec![Step { template: wanted.clone(), index_changes }];
    }
    (1..=steps)
        .map(|step| {
            let mut template = wanted.clone();
            let mut index_changes = Vec::new();
            for (id, changes) in &changes_by_table {
                let done = step.min(changes.len());
                if step <= changes.len() {
                    index_changes.extend(describe(id, &changes[step - 1..step]));
                }
                if done < changes.len() {
                    let old_table = tables(deployed).find(|(old_id, _)| old_id == id).map(|(_, t)| t.clone());
                    if let (Some(old_table), Some(table)) =
                        (old_table, template.pointer_mut(&format!("/Resources/{id}")))
                    {
                        apply_partially(table, &old_table, &changes[..done]);
                    }
                }
            }
            Step { template, index_changes }
        })
        .collect()
}

/// Whether two definitions are the same index: a different key schema or projection means
/// deleting and recreating it, while throughput and the like are updated in place.
fn same_index(a: &Value, b: &Value) -> bool {
    ["KeySchema", "Projection"].iter().all(|field| a.get(field) == b.get(field))
}

fn describe(id: &str, changes: &[IndexChange]) -> Vec<String> {
    changes
        .iter()
        .map(|change| match change {
            IndexChange::Remove(name) => format!("{id}: remove {name}"),
            IndexChange::Add(index) => format!("{id}: add {}", index_name(index).unwrap_or("?")),
        })
        .collect()
}

fn tables(template: &Value) -> impl Iterator<Item = (&str, &Value)> {
    template.get("Resources").and_then(Value::as_object).into_iter().flatten().filter_map(|(id, resource)| {
        (resource.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table"))
            .then_some((id.as_str(), resource))
    })
}

fn index_name(index: &Value) -> Option<&str> {
    index.get("IndexName").and_then(Value::as_str)
}

fn indexes_by_name(table: &Value) -> BTreeMap<String, &Value> {
    table
        .pointer("/Properties/GlobalSecondaryIndexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|index| Some((index_name(index)?.to_owned(), index)))
        .collect()
}

/// Rewrites `table` (the wanted definition) to hold the deployed indexes with the first
/// `done` changes applied, and attribute definitions that match exactly those keys.
fn apply_partially(table: &mut Value, old_table: &Value, done: &[IndexChange]) {
    let mut indexes: Vec<Value> =
        old_table.pointer("/Properties/GlobalSecondaryIndexes").and_then(Value::as_array).cloned().unwrap_or_default();
    for change in done {
        match change {
            IndexChange::Remove(name) => indexes.retain(|index| index_name(index) != Some(name.as_str())),
            IndexChange::Add(index) => indexes.push(index.clone()),
        }
    }
    let mut definitions: BTreeMap<String, Value> = BTreeMap::new();
    for source in [old_table, &*table] {
        for definition in
            source.pointer("/Properties/AttributeDefinitions").and_then(Value::as_array).into_iter().flatten()
        {
            if let Some(name) = definition.get("AttributeName").and_then(Value::as_str) {
                definitions.insert(name.to_owned(), definition.clone());
            }
        }
    }
    let Some(properties) = table.get_mut("Properties").and_then(Value::as_object_mut) else { return };
    let mut used: Vec<String> = Vec::new();
    let key_schemas = properties.get("KeySchema").into_iter().chain(indexes.iter().filter_map(|i| i.get("KeySchema")));
    for schema in key_schemas {
        for key in schema.as_array().into_iter().flatten() {
            if let Some(name) = key.get("AttributeName").and_then(Value::as_str)
                && !used.iter().any(|u| u == name)
            {
                used.push(name.to_owned());
            }
        }
    }
    let attribute_definitions: Vec<Value> = used.iter().filter_map(|name| definitions.get(name).cloned()).collect();
    properties.insert("AttributeDefinitions".to_owned(), Value::Array(attribute_definitions));
    if indexes.is_empty() {
        properties.remove("GlobalSecondaryIndexes");
    } else {
        properties.insert("GlobalSecondaryIndexes".to_owned(), Value::Array(indexes));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn index(n: u32) -> Value {
        json!({"IndexName": format!("GSI{n}"), "KeySchema": [{"AttributeName": format!("gsi{n}pk"), "KeyType": "HASH"}],
               "Projection": {"ProjectionType": "ALL"}})
    }

    fn table(indexes: &[u32], extra: &str) -> Value {
        let mut definitions = vec![json!({"AttributeName": "pk", "AttributeType": "S"})];
        definitions.extend(indexes.iter().map(|n| json!({"AttributeName": format!("gsi{n}pk"), "AttributeType": "S"})));
        json!({"Resources": {
            "BooksTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": definitions,
                "GlobalSecondaryIndexes": indexes.iter().map(|n| index(*n)).collect::<Vec<_>>()}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": extra}}}})
    }

    fn index_names(step: &Step) -> Vec<String> {
        indexes_by_name(&step.template["Resources"]["BooksTable"]).into_keys().collect()
    }

    #[test]
    fn one_index_change_is_one_step() {
        let steps = plan(&table(&[1], "a"), &table(&[1, 2], "b"));
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].template, table(&[1, 2], "b"));
        assert_eq!(steps[0].index_changes, ["BooksTable: add GSI2"]);
    }

    #[test]
    fn two_new_indexes_become_two_updates_ending_at_the_wanted_template() {
        let wanted = table(&[1, 2, 3], "b");
        let steps = plan(&table(&[1], "a"), &wanted);
        assert_eq!(steps.len(), 2);
        assert_eq!(index_names(&steps[0]), ["GSI1", "GSI2"]);
        assert_eq!(steps[0].template["Resources"]["Queue"]["Properties"]["QueueName"], "b", "other changes go first");
        let definitions = steps[0].template["Resources"]["BooksTable"]["Properties"]["AttributeDefinitions"]
            .as_array()
            .expect("definitions")
            .len();
        assert_eq!(definitions, 3, "only the keys in use are defined: pk, gsi1pk, gsi2pk");
        assert_eq!(steps[1].template, wanted);
        assert_eq!(steps[1].index_changes, ["BooksTable: add GSI3"]);
    }

    #[test]
    fn throughput_changes_are_updates_in_place_not_index_changes() {
        let mut wanted = table(&[1, 2], "a");
        for index in
            wanted["Resources"]["BooksTable"]["Properties"]["GlobalSecondaryIndexes"].as_array_mut().expect("gsis")
        {
            index["ProvisionedThroughput"] = json!({"ReadCapacityUnits": 6, "WriteCapacityUnits": 5});
        }
        let steps = plan(&table(&[1, 2], "a"), &wanted);
        assert_eq!(steps.len(), 1);
        assert!(steps[0].index_changes.is_empty());
    }

    #[test]
    fn removals_come_before_additions() {
        let steps = plan(&table(&[1, 2], "a"), &table(&[3], "a"));
        assert_eq!(steps.len(), 3);
        assert_eq!(index_names(&steps[0]), ["GSI2"]);
        assert_eq!(index_names(&steps[1]), Vec::<String>::new());
        assert_eq!(index_names(&steps[2]), ["GSI3"]);
    }

    #[test]
    fn a_new_table_is_created_with_all_its_indexes() {
        let steps = plan(&json!({"Resources": {}}), &table(&[1, 2, 3], "a"));
        assert_eq!(steps.len(), 1);
    }
}
