//! `Condition`, `UpdateAction` and `SortKeyRange` as DynamoDB expressions. Every
//! attribute name is a `#n` placeholder and every value a `:v` placeholder: no text from
//! an item or a request is ever spliced into an expression.

use std::collections::HashMap;

use super::attributes::{Attributes, to_attribute};
use crate::store::{Condition, SortKeyRange, StoreError, UpdateAction};
use aws_sdk_dynamodb::types::AttributeValue;

/// The placeholders one request's expressions share.
#[derive(Debug, Default)]
pub struct Placeholders {
    names: HashMap<String, String>,
    values: Attributes,
}

impl Placeholders {
    /// The placeholder of an attribute name (one per name, however often it is used).
    pub fn name(&mut self, attribute: &str) -> String {
        let next = self.names.len();
        self.names.entry(attribute.to_owned()).or_insert_with(|| format!("#n{next}")).clone()
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// `ExpressionAttributeNames`, `None` when no expression named anything.
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().map(|(name, at)| (at.clone(), name.clone())).collect())
    }

    /// `ExpressionAttributeValues`, `None` when no expression used a value (DynamoDB
    /// refuses an empty map).
    pub fn values(&self) -> Option<Attributes> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    pub fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::Exists => format!("attribute_exists({})", self.name("pk")),
            Condition::NotExists => format!("attribute_not_exists({})", self.name("pk")),
            Condition::Equals(attribute, value) => {
                format!("{} = {}", self.name(attribute), self.value(to_attribute(value)))
            }
            Condition::AtLeast(attribute, min) => {
                let name = self.name(attribute);
                format!("{name} >= {}", self.value(AttributeValue::N(min.to_string())))
            }
            Condition::Below(attribute, max) => {
                let name = self.name(attribute);
                let below = format!("{name} < {}", self.value(AttributeValue::N(max.to_string())));
                // An absent counter is 0: below any positive value, as the port says.
                if *max > 0 { format!("(attribute_not_exists({name}) OR {below})") } else { below }
            }
            // Nothing to check holds for any item, present or not.
            Condition::All(all) if all.is_empty() => {
                let pk = self.name("pk");
                format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
            }
            Condition::All(all) => {
                let parts: Vec<String> = all.iter().map(|c| format!("({})", self.condition(c))).collect();
                parts.join(" AND ")
            }
        }
    }

    /// An update expression; `Add` counts an absent attribute as 0, as the port says.
    pub fn update(&mut self, actions: &[UpdateAction]) -> Result<String, StoreError> {
        let (mut set, mut add, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for action in actions {
            match action {
                UpdateAction::Set(attribute, value) => {
                    set.push(format!("{} = {}", self.name(attribute), self.value(to_attribute(value))))
                }
                UpdateAction::Add(attribute, delta) => {
                    add.push(format!("{} {}", self.name(attribute), self.value(AttributeValue::N(delta.to_string()))))
                }
                UpdateAction::Remove(attribute) => remove.push(self.name(attribute)),
            }
        }
        let mut clauses = Vec::new();
        for (keyword, parts) in [("SET", set), ("ADD", add), ("REMOVE", remove)] {
            if !parts.is_empty() {
                clauses.push(format!("{keyword} {}", parts.join(", ")));
            }
        }
        if clauses.is_empty() {
            return Err(StoreError::Invalid("an update needs at least one action".to_owned()));
        }
        Ok(clauses.join(" "))
    }

    /// A key condition on the partition and sort key attributes (the table's or an
    /// index's).
    pub fn key_condition(&mut self, pk_attr: &str, pk: &str, sk_attr: &str, range: &SortKeyRange) -> String {
        let partition = format!("{} = {}", self.name(pk_attr), self.value(AttributeValue::S(pk.to_owned())));
        match range {
            SortKeyRange::All => partition,
            // DynamoDB refuses an empty string in a key condition; an empty prefix is all.
            SortKeyRange::BeginsWith(prefix) if prefix.is_empty() => partition,
            SortKeyRange::BeginsWith(prefix) => {
                let sk = self.name(sk_attr);
                format!("{partition} AND begins_with({sk}, {})", self.value(AttributeValue::S(prefix.clone())))
            }
            SortKeyRange::Between(lo, hi) => {
                let sk = self.name(sk_attr);
                let lo = self.value(AttributeValue::S(lo.clone()));
                let hi = self.value(AttributeValue::S(hi.clone()));
                format!("{partition} AND {sk} BETWEEN {lo} AND {hi}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_and_values_are_placeholders_never_text() {
        let mut p = Placeholders::default();
        let hostile = "x) OR attribute_exists(pk";
        let condition = p.condition(&Condition::All(vec![
            Condition::Equals(hostile.into(), json!("y = :v0")),
            Condition::AtLeast("stock".into(), 2),
        ]));
        assert_eq!(condition, "(#n0 = :v0) AND (#n1 >= :v1)");
        assert_eq!(p.names().expect("names")["#n0"], hostile);
        assert_eq!(p.values().expect("values")[":v0"], AttributeValue::S("y = :v0".into()));
    }

    #[test]
    fn an_update_groups_its_clauses_and_reuses_a_names_placeholder() {
        let mut p = Placeholders::default();
        let update = p
            .update(&[
                UpdateAction::Add("stock".into(), -1),
                UpdateAction::Set("updated_at".into(), json!("now")),
                UpdateAction::Remove("old".into()),
                UpdateAction::Add("version".into(), 1),
            ])
            .expect("update");
        assert_eq!(update, "SET #n1 = :v1 ADD #n0 :v0, #n3 :v2 REMOVE #n2");
        let condition = p.condition(&Condition::AtLeast("stock".into(), 1));
        assert_eq!(condition, "#n0 >= :v3", "the same attribute, the same placeholder");
        assert!(Placeholders::default().update(&[]).is_err());
    }

    #[test]
    fn key_conditions_cover_every_range() {
        let mut p = Placeholders::default();
        assert_eq!(p.key_condition("pk", "t#u", "sk", &SortKeyRange::All), "#n0 = :v0");
        assert_eq!(p.key_condition("pk", "t#u", "sk", &SortKeyRange::BeginsWith(String::new())), "#n0 = :v1");
        assert_eq!(
            p.key_condition("gsi1pk", "t#C", "gsi1sk", &SortKeyRange::Between("a".into(), "b".into())),
            "#n1 = :v2 AND #n2 BETWEEN :v3 AND :v4"
        );
    }
}
