//! Serving a stored record as it is: the attributes a reader may see, cut out of the
//! item's JSON text without decoding the record into its type and encoding it again
//! (about a sixth of a book read's CPU went to that round trip).

use super::StoreError;

/// An attribute of a record as served, and the JSON to serve when an item written before
/// the attribute existed lacks it (`None`: the attribute is required).
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub when_absent: Option<&'static str>,
}

impl Attribute {
    pub const fn required(name: &'static str) -> Self {
        Self { name, when_absent: None }
    }

    pub const fn defaulted(name: &'static str, when_absent: &'static str) -> Self {
        Self { name, when_absent: Some(when_absent) }
    }
}

/// The JSON object of `attributes`, in their order, with the values as `item` holds them.
/// `item` is an item's JSON text as the store wrote it (an object whose member names have
/// no escapes); anything else, or a required attribute missing, is an error.
pub fn project(item: &[u8], attributes: &[Attribute]) -> Result<Vec<u8>, StoreError> {
    let members = top_level_members(item)?;
    // The store writes members sorted by name (serde_json's map is ordered); text in
    // another order is still served, found member by member.
    let sorted = members.is_sorted_by(|a, b| a.name < b.name);
    let find = |name: &[u8]| {
        if sorted {
            members.binary_search_by(|member| member.name.cmp(name)).ok().map(|at| &members[at])
        } else {
            members.iter().find(|member| member.name == name)
        }
    };
    let mut out = Vec::with_capacity(item.len());
    out.push(b'{');
    for (position, attribute) in attributes.iter().enumerate() {
        let value = match find(attribute.name.as_bytes()) {
            Some(member) => member.value,
            None => attribute
                .when_absent
                .map(str::as_bytes)
                .ok_or_else(|| StoreError::Unavailable(format!("stored item has no attribute {:?}", attribute.name)))?,
        };
        if position > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(attribute.name.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    }
    out.push(b'}');
    Ok(out)
}

/// A member of a JSON object: its name without quotes, and its value's text.
struct Member<'a> {
    name: &'a [u8],
    value: &'a [u8],
}

/// The members of a compact JSON object. Values are not validated beyond their nesting,
/// quoting and escapes: the text is the store's own.
fn top_level_members(json: &[u8]) -> Result<Vec<Member<'_>>, StoreError> {
    let corrupt = |why: &str| StoreError::Unavailable(format!("stored item is not a JSON object: {why}"));
    let inner = json
        .strip_prefix(b"{")
        .and_then(|rest| rest.strip_suffix(b"}"))
        .ok_or_else(|| corrupt("no enclosing braces"))?;
    let mut members = Vec::with_capacity(32);
    let mut rest = inner;
    while !rest.is_empty() {
        let name_end = string_end(rest).ok_or_else(|| corrupt("a member name is not a string"))?;
        let name = &rest[1..name_end - 1];
        if name.contains(&b'\\') {
            return Err(corrupt("a member name has escapes"));
        }
        let after_name = rest[name_end..].strip_prefix(b":").ok_or_else(|| corrupt("no ':' after a member name"))?;
        let value_end = value_end(after_name).ok_or_else(|| corrupt("a value is not closed"))?;
        if value_end == 0 {
            return Err(corrupt("a member has no value"));
        }
        members.push(Member { name, value: &after_name[..value_end] });
        rest = &after_name[value_end..];
        if let Some(next) = rest.strip_prefix(b",") {
            if next.is_empty() {
                return Err(corrupt("a trailing ','"));
            }
            rest = next;
        } else if !rest.is_empty() {
            return Err(corrupt("members are not separated by ','"));
        }
    }
    Ok(members)
}

/// The index just past the string that `text` starts with (its closing quote included).
fn string_end(text: &[u8]) -> Option<usize> {
    if text.first() != Some(&b'"') {
        return None;
    }
    let mut escaped = false;
    for (index, &byte) in text.iter().enumerate().skip(1) {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(index + 1),
            _ => {}
        }
    }
    None
}

/// The length of the value `text` starts with: up to the first ',' or the end outside any
/// string, array or object.
fn value_end(text: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut index = 0;
    while index < text.len() {
        match text[index] {
            b'"' => {
                index += string_end(&text[index..])?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => return Some(index),
            _ => {}
        }
        index += 1;
    }
    (depth == 0).then_some(text.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SERVED: &[Attribute] =
        &[Attribute::required("title"), Attribute::required("tags"), Attribute::defaulted("sales_count", "0")];

    fn project_value(item: &serde_json::Value) -> Result<serde_json::Value, StoreError> {
        let text = serde_json::to_vec(item).expect("serialises");
        let projected = project(&text, SERVED)?;
        Ok(serde_json::from_slice(&projected).expect("the projection is JSON"))
    }

    #[test]
    fn keeps_only_the_served_attributes_with_tricky_values_intact() {
        let title = "a \"quoted\", {braced} [title] \\ with , commas and \u{e9}";
        let item =
            json!({"pk": "T#a", "sk": "BOOK#1", "title": title, "tags": [{"a": [1, ","]}, "}"], "sales_count": 3});
        assert_eq!(
            project_value(&item).expect("projects"),
            json!({"title": title, "tags": [{"a": [1, ","]}, "}"], "sales_count": 3})
        );
    }

    #[test]
    fn members_in_any_order_are_found() {
        let unsorted = br#"{"title":"t","sales_count":2,"pk":"T#a","tags":[]}"#;
        let projected = project(unsorted, SERVED).expect("projects");
        assert_eq!(projected, br#"{"title":"t","tags":[],"sales_count":2}"#);
    }

    #[test]
    fn an_absent_attribute_gets_its_default_or_is_an_error() {
        let item = json!({"title": "t", "tags": []});
        assert_eq!(project_value(&item).expect("projects"), json!({"title": "t", "tags": [], "sales_count": 0}));
        assert!(project_value(&json!({"title": "t"})).is_err());
    }

    #[test]
    fn text_that_is_not_a_compact_object_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"title\"}",
            b"{\"title\":}",
            b"{\"title\":\"x}",
            b"{\"title\":1,}",
            b"{\"a\":]}",
            b"{\"t\\\"\":1}",
        ] {
            assert!(project(bad, SERVED).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
