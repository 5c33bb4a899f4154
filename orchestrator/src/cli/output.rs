//! Rendering API answers as JSON or as a plain text table (`-f table|json`).

use serde_json::Value;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// Pretty JSON, as the API returned it.
    Json,
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn grid(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(header)];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n") + "\n"
}

/// Renders `v`: pages as a table of their items (plus a total line), objects as
/// field/value rows, anything else as text.
pub fn render(v: &Value, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    }
    match v {
        Value::Object(map) if map.get("items").is_some_and(Value::is_array) => {
            let items = map["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            let mut header: Vec<String> = Vec::new();
            for item in items {
                if let Value::Object(o) = item {
                    for k in o.keys() {
                        if !header.contains(k) {
                            header.push(k.clone());
                        }
                    }
                }
            }
            // serde_json orders keys alphabetically; the id goes first.
            if let Some(i) = header.iter().position(|h| h == "id") {
                let id = header.remove(i);
                header.insert(0, id);
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| header.iter().map(|h| cell(&item[h])).collect())
                .collect();
            let mut out = if header.is_empty() {
                String::new()
            } else {
                grid(&header, &rows)
            };
            out.push_str(&format!(
                "({} of {} shown, offset {})\n",
                items.len(),
                cell(&map["total"]),
                cell(&map["offset"])
            ));
            out
        }
        Value::Object(map) => {
            let rows: Vec<Vec<String>> = map
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::Object(_) => v.to_string(),
                        _ => cell(v),
                    };
                    vec![k.clone(), text]
                })
                .collect();
            grid(&["field".to_owned(), "value".to_owned()], &rows)
        }
        Value::Null => String::new(),
        other => cell(other) + "\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_render_as_tables() {
        let v = serde_json::json!({"items": [{"id": "bob", "groups": ["a", "b"]}, {"id": "al", "role": "viewer"}], "total": 2, "limit": 50, "offset": 0});
        let t = render(&v, Format::Table);
        assert_eq!(
            t,
            "id   groups  role\n---  ------  ------\nbob  a,b\nal           viewer\n(2 of 2 shown, offset 0)\n"
        );
        let o = render(&serde_json::json!({"id": "bob"}), Format::Table);
        assert_eq!(o, "field  value\n-----  -----\nid     bob\n");
    }
}
