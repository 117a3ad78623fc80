//! The model report of `caregap model fit --table` (`report.html`): the
//! rows the validation describes, grouped by `--group COL` when given.

use anyhow::{Result, bail};

use caregap_models::report::BootstrapConfig;
use caregap_models::saved::FittedModel;

use super::{Column, Fitted, Table};
use crate::modelreport::{Coef, GroupKey, Importance, ModelReport, ModelSection, Predictions};

/// The most distinct values a `--group` column may have (bin a finer column first).
pub const MAX_GROUPS: usize = 50;

/// One [`GroupKey`] per row of `column`, for the rows `rows` of the table:
/// integers and text as they are, a missing value as `missing`. A column with
/// fractional numbers or more than [`MAX_GROUPS`] distinct values is refused.
pub fn group_keys(table: &Table, column: &str, rows: &[usize]) -> Result<Vec<GroupKey>> {
    let keys: Vec<GroupKey> = match table.get(column) {
        None => bail!(
            "--group {column}: the table has no such column (columns: {})",
            table.names.join(", ")
        ),
        Some(Column::Num(v)) => rows
            .iter()
            .map(|&i| {
                let x = v[i];
                if x.is_nan() {
                    Ok(GroupKey::Missing)
                } else if x.fract() == 0.0 && x.abs() < 9e15 {
                    Ok(GroupKey::Int(x as i64))
                } else {
                    bail!(
                        "--group {column}: row {i} is {x}; the group column must hold integers or \
                         text (cut a continuous column into bands first)"
                    )
                }
            })
            .collect::<Result<_>>()?,
        Some(Column::Str(v)) => rows
            .iter()
            .map(|&i| v[i].clone().map_or(GroupKey::Missing, GroupKey::Text))
            .collect(),
    };
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() > MAX_GROUPS {
        bail!(
            "--group {column}: {} distinct values, more than {MAX_GROUPS}; group a coarser column",
            distinct.len()
        );
    }
    Ok(keys)
}

/// The report of a table fit: one model, its validation rows (test rows,
/// out-of-fold or in-sample), by `group` when given.
pub fn model_report(
    fitted: &Fitted,
    table: &Table,
    table_name: &str,
    group: Option<&str>,
    boot: &BootstrapConfig,
) -> Result<ModelReport> {
    let ev = &fitted.evaluated;
    let r = &fitted.report;
    let keys = group.map(|g| group_keys(table, g, &ev.rows)).transpose()?;
    let binary = fitted.model.family().is_binary();
    let importance = match &fitted.model.model {
        FittedModel::Gbm(b) => r
            .encoding
            .feature_names()
            .into_iter()
            .zip(b.feature_importance())
            .map(|(feature, gain)| Importance { feature, gain })
            .collect(),
        _ => Vec::new(),
    };
    let section = ModelSection::build(
        Predictions {
            name: r.family,
            pred: &ev.pred,
            counts: (!binary).then_some(ev.y.as_slice()),
            labels: binary.then_some(ev.y.as_slice()),
            train_mean: ev.train_mean,
            coefficients: r
                .coefficients
                .iter()
                .map(|c| Coef {
                    name: c.name.clone(),
                    estimate: c.estimate,
                    ci_low: c.ci_low,
                    ci_high: c.ci_high,
                })
                .collect(),
            importance,
        },
        keys.as_deref(),
        boot,
    );
    Ok(ModelReport {
        title: format!("{} model of {} ({table_name})", r.family, r.label),
        context: vec![
            ("table".into(), table_name.into()),
            ("label".into(), r.label.clone()),
            ("family".into(), r.family.into()),
            ("fitted on".into(), format!("{} rows", r.rows)),
            (
                "rows described".into(),
                format!("{} ({})", ev.rows.len(), ev.what),
            ),
        ],
        unit: r.label.clone(),
        bootstrap: *boot,
        groups_by: group.map(str::to_string),
        groups_note: group.is_none().then(|| {
            "Omitted: no --group COL was given (observed against predicted per value of an \
             integer or text column)."
                .to_string()
        }),
        models: vec![section],
    })
}
