//! CSV loading with validation, and train/test splitting.

use crate::error::{ModelError, Result};
use ndarray::{Array1, Array2, Axis};
use std::path::{Path, PathBuf};
use tessera_tensor::Prg;

/// A table of numeric features, with labels if the file has a `label` column.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where it came from (for error messages).
    pub path: PathBuf,
    /// Feature column names.
    pub feature_names: Vec<String>,
    /// `[rows, features]`.
    pub features: Array2<f64>,
    /// One label per row, if the last column is named `label`.
    pub labels: Option<Array1<f64>>,
    /// 1-based line number in the file of each row.
    pub lines: Vec<usize>,
}

impl Dataset {
    /// Reads a CSV file: a header row, then one row of plain decimal numbers
    /// per sample. A last column named `label` holds the labels. Every
    /// malformed value is an error naming the file, line and column.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, &e))?;
        Self::parse(path, &text)
    }

    /// Parses CSV text (see [`Dataset::from_csv`]); `path` is used in errors.
    /// Standard CSV as spreadsheets and databases export it (see
    /// [`CsvTable::parse`]).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let t = CsvTable::parse(path, text)?;
        let width = t.names.len();
        let mut values = Vec::with_capacity(t.rows.len() * width);
        for (r, fields) in t.rows.iter().enumerate() {
            for c in 0..width {
                values.push(t.number(r, c, &fields[c])?);
            }
        }
        let (names, row_lines) = (t.names, t.lines);
        let table = Array2::from_shape_vec((row_lines.len(), width), values)
            .expect("rows were checked to have the header's width");
        let has_label = names
            .last()
            .is_some_and(|n| n.eq_ignore_ascii_case("label"));
        let (features, labels, feature_names) = if has_label {
            let f = table.slice(ndarray::s![.., ..width - 1]).to_owned();
            let l = table.column(width - 1).to_owned();
            (f, Some(l), names[..width - 1].to_vec())
        } else {
            (table, None, names)
        };
        Ok(Self {
            path: path.to_path_buf(),
            feature_names,
            features,
            labels,
            lines: row_lines,
        })
    }

    /// Writes the table as CSV (header, values in shortest round-trip form,
    /// `label` last if present).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut out = self.feature_names.join(",");
        if self.labels.is_some() {
            out.push_str(",label");
        }
        out.push('\n');
        for (i, row) in self.features.rows().into_iter().enumerate() {
            let mut cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            if let Some(l) = &self.labels {
                cells.push(l[i].to_string());
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        std::fs::write(path, out).map_err(|e| ModelError::io(path, &e))
    }

    /// This table's rows followed by `below`'s (the same columns).
    pub fn stack(&self, below: &Dataset) -> Result<Dataset> {
        if below.feature_names != self.feature_names
            || below.labels.is_some() != self.labels.is_some()
        {
            return Err(ModelError::Mismatch(format!(
                "{} and {} do not have the same columns",
                self.path.display(),
                below.path.display()
            )));
        }
        Ok(Dataset {
            path: self.path.clone(),
            feature_names: self.feature_names.clone(),
            features: ndarray::concatenate(Axis(0), &[self.features.view(), below.features.view()])
                .expect("same columns"),
            labels: match (&self.labels, &below.labels) {
                (Some(a), Some(b)) => {
                    Some(ndarray::concatenate(Axis(0), &[a.view(), b.view()]).expect("1-D"))
                }
                _ => None,
            },
            lines: self.lines.iter().chain(&below.lines).copied().collect(),
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.features.nrows()
    }

    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        Dataset {
            path: self.path.clone(),
            feature_names: self.feature_names.clone(),
            features: self.features.select(Axis(0), idx),
            labels: self.labels.as_ref().map(|l| l.select(Axis(0), idx)),
            lines: idx.iter().map(|&i| self.lines[i]).collect(),
        }
    }

    /// The columns at `cols`, in that order (labels kept).
    pub fn select_columns(&self, cols: &[usize]) -> Dataset {
        Dataset {
            path: self.path.clone(),
            feature_names: cols
                .iter()
                .map(|&c| self.feature_names[c].clone())
                .collect(),
            features: self.features.select(Axis(1), cols),
            labels: self.labels.clone(),
            lines: self.lines.clone(),
        }
    }

    /// Checks that labels exist and are 0 or 1 (for classification).
    pub fn check_binary_labels(&self) -> Result<()> {
        self.check_labels(
            |v| v == 0.0 || v == 1.0,
            |v| {
                format!(
                    "logistic regression needs labels 0 or 1, found {v}; for more classes use a softmax or MLP model"
                )
            },
        )
    }

    /// Checks that labels exist and are integers in `0..classes`.
    pub fn check_class_labels(&self, classes: usize) -> Result<()> {
        self.check_labels(
            |v| v >= 0.0 && v.fract() == 0.0 && (v as usize) < classes,
            |v| {
                format!(
                    "a model with {classes} classes needs integer labels 0 to {}, found {v}; set the number of classes",
                    classes.saturating_sub(1)
                )
            },
        )
    }

    /// The first label failing `ok` is an error naming its line.
    fn check_labels(&self, ok: impl Fn(f64) -> bool, why: impl Fn(f64) -> String) -> Result<()> {
        let labels = self.require_labels()?;
        match labels.iter().position(|&v| !ok(v)) {
            Some(i) => Err(ModelError::Value {
                path: self.path.clone(),
                line: self.lines[i],
                column: self.feature_names.len() + 1,
                name: "label".into(),
                reason: why(labels[i]),
            }),
            None => Ok(()),
        }
    }

    /// The labels, or an error saying the file has no `label` column.
    pub fn require_labels(&self) -> Result<&Array1<f64>> {
        self.labels.as_ref().ok_or_else(|| ModelError::Row {
            path: self.path.clone(),
            line: 1,
            reason: "no label column: the last header column must be named 'label'".into(),
        })
    }
}

/// A CSV file as text: a header row of names and rows of as many fields,
/// each with its line in the file. The one CSV reader of the project (the
/// `csv` crate underneath): quoted fields (with commas inside), surrounding
/// spaces, a byte-order mark, CRLF line ends and blank lines are all fine,
/// and every error names the file and line.
#[derive(Debug, Clone)]
pub struct CsvTable {
    /// The file, for errors.
    pub path: PathBuf,
    /// Column names from the header.
    pub names: Vec<String>,
    /// The data rows' fields, trimmed.
    pub rows: Vec<Vec<String>>,
    /// 1-based line of each data row.
    pub lines: Vec<usize>,
}

impl CsvTable {
    /// Reads a CSV file (see [`CsvTable::parse`]).
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, &e))?;
        Self::parse(path, &text)
    }

    /// Parses CSV text; `path` is used in errors. A header and at least one
    /// data row are required, every row as wide as the header.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let row_error = |line: usize, reason: String| ModelError::Row {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let mut next = || -> Result<Option<(usize, csv::StringRecord)>> {
            match records.next() {
                None => Ok(None),
                Some(Ok(r)) => Ok(Some((line_at(text, r.position()), r))),
                Some(Err(e)) => Err(row_error(
                    line_at(text, e.position()),
                    format!("not valid CSV: {e}"),
                )),
            }
        };
        let (_, header) = next()?
            .ok_or_else(|| row_error(1, "the file is empty; expected a header row".into()))?;
        let names: Vec<String> = header.iter().map(str::to_string).collect();
        if let Some(col) = names.iter().position(|n| n.is_empty()) {
            return Err(row_error(
                1,
                format!("header column {} has no name", col + 1),
            ));
        }
        let width = names.len();
        let (mut rows, mut lines) = (Vec::new(), Vec::new());
        while let Some((lineno, fields)) = next()? {
            if fields.len() == 1 && fields[0].is_empty() {
                // A line of spaces.
                continue;
            }
            if fields.len() != width {
                return Err(row_error(
                    lineno,
                    format!(
                        "expected {width} comma-separated values as in the header, found {}",
                        fields.len()
                    ),
                ));
            }
            rows.push(fields.iter().map(str::to_string).collect());
            lines.push(lineno);
        }
        if rows.is_empty() {
            return Err(row_error(
                2,
                "the file has a header but no data rows".into(),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            names,
            rows,
            lines,
        })
    }

    /// The index of the column named `name`, or an error naming the file and
    /// the columns it has.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            ModelError::Mismatch(format!(
                "{} has no column '{name}' (it has: {})",
                self.path.display(),
                self.names.join(", ")
            ))
        })
    }

    /// An error about row `r`'s field in column `c`, naming file, line and column.
    pub fn error(&self, r: usize, c: usize, reason: String) -> ModelError {
        ModelError::Value {
            path: self.path.clone(),
            line: self.lines[r],
            column: c + 1,
            name: self.names[c].clone(),
            reason,
        }
    }

    /// Row `r`'s `field` in column `c` as a finite number.
    pub fn number(&self, r: usize, c: usize, field: &str) -> Result<f64> {
        parse_value(field).map_err(|reason| self.error(r, c, reason))
    }
}

/// The file's line number of a record the CSV reader places at `pos`. The
/// reader's own line count skips blank lines and CRLF endings, and its byte
/// offset is where it resumed reading: the record starts at the first
/// character after the whitespace there.
fn line_at(text: &str, pos: Option<&csv::Position>) -> usize {
    let at = pos.map_or(0, |p| p.byte() as usize).min(text.len());
    let rest = text.get(at..).unwrap_or("");
    let start = at + rest.len() - rest.trim_start().len();
    text.as_bytes()[..start]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn parse_value(field: &str) -> std::result::Result<f64, String> {
    let s = field.trim();
    if s.is_empty() {
        return Err("the value is empty; every cell needs a number".into());
    }
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if !v.is_finite() {
        return Err(format!(
            "'{s}' is not a finite number (NaN and infinity are not allowed)"
        ));
    }
    Ok(v)
}

/// A shuffled split of `rows` row indices into train and test parts; the
/// first `round(rows * (1 - test_fraction))` shuffled rows are for training.
/// Depends only on the public seed and row count, so parties holding the
/// same rows (a split by columns) derive the same split.
pub fn train_test_indices(rows: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8] = 0x5f;
    let mut prg = Prg::from_seed(key);
    let mut idx: Vec<usize> = (0..rows).collect();
    prg.shuffle(&mut idx);
    let train = ((rows as f64) * (1.0 - test_fraction)).round() as usize;
    let test = idx.split_off(train.min(rows));
    (idx, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dataset> {
        Dataset::parse(Path::new("bank.csv"), text)
    }

    #[test]
    fn parses_features_and_labels() {
        let d = parse("a,b,label\n1,2.5,0\n-3,4e2,1\n").unwrap();
        assert_eq!(d.feature_names, vec!["a", "b"]);
        assert_eq!(d.features, ndarray::array![[1.0, 2.5], [-3.0, 400.0]]);
        assert_eq!(d.labels.unwrap().to_vec(), vec![0.0, 1.0]);
        assert_eq!(d.lines, vec![2, 3]);
        assert!(parse("a,b\n1,2\n").unwrap().labels.is_none());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("a,b,label\n1,2,0\n1,x,1\n").unwrap_err().to_string();
        assert_eq!(e, "bank.csv, line 3, column 2 ('b'): 'x' is not a number");
        let e = parse("a,b,label\n1,2,0\n1,2\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("found 2"), "{e}");
        let e = parse("a,b\n1,NaN\n").unwrap_err().to_string();
        assert!(e.contains("column 2") && e.contains("NaN"), "{e}");
        let e = parse("a,b\n1,inf\n").unwrap_err().to_string();
        assert!(e.contains("finite"), "{e}");
        let e = parse("a,b\n1,\n").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        assert!(parse("").is_err());
        assert!(parse("a,b\n")
            .unwrap_err()
            .to_string()
            .contains("no data rows"));
        let e = parse("a,label\n1,2\n")
            .unwrap()
            .check_binary_labels()
            .unwrap_err()
            .to_string();
        assert!(e.contains("labels 0 or 1"), "{e}");
    }

    #[test]
    fn spreadsheet_exports_parse_with_precise_errors() {
        // A byte-order mark, quoted names (one with a comma), quoted numbers,
        // Windows line ends, spaces and blank lines.
        let text =
            "\u{feff}\"income, net\",\"age\",label\r\n\"1,5\" , 2,0\r\n\r\n  \n 3 ,\"4\",1\r\n";
        let e = parse(text).unwrap_err().to_string();
        assert_eq!(
            e,
            "bank.csv, line 2, column 1 ('income, net'): '1,5' is not a number"
        );
        let d = parse(&text.replace("\"1,5\"", "\"1.5\"")).unwrap();
        assert_eq!(d.feature_names, vec!["income, net", "age"]);
        assert_eq!(d.features, ndarray::array![[1.5, 2.0], [3.0, 4.0]]);
        assert_eq!(d.labels.unwrap().to_vec(), vec![0.0, 1.0]);
        assert_eq!(d.lines, vec![2, 5]);
        // Line numbers stay those of the file after blank lines.
        let e = parse("a,label\n\n1,0\n\n2,x\n").unwrap_err().to_string();
        assert!(e.starts_with("bank.csv, line 5, column 2 ('label')"), "{e}");
    }

    #[test]
    fn split_is_deterministic_and_disjoint() {
        let (tr, te) = train_test_indices(100, 0.2, 7);
        assert_eq!((tr.len(), te.len()), (80, 20));
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(train_test_indices(100, 0.2, 7), (tr, te));
        assert_ne!(
            train_test_indices(100, 0.2, 8).0,
            train_test_indices(100, 0.2, 7).0
        );
    }
}
