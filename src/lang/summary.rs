//! Facts about a checked library for people: which value sets are used, how
//! criteria spread over domains. Pure functions of the [`Library`].

use std::collections::BTreeMap;

use super::ir::{Expr, ExprKind, Library};

impl Expr {
    /// Visits this expression and its subexpressions, outermost first.
    pub fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Lit(_)
            | ExprKind::Age
            | ExprKind::Sex
            | ExprKind::Clinic
            | ExprKind::Def(_)
            | ExprKind::Agg(_) => {}
            ExprKind::Not(x)
            | ExprKind::Neg(x)
            | ExprKind::Abs(x)
            | ExprKind::Round(x)
            | ExprKind::IsNull { expr: x, .. } => x.visit(f),
            ExprKind::And(a, b)
            | ExprKind::Or(a, b)
            | ExprKind::Cmp(_, a, b)
            | ExprKind::Arith(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            ExprKind::Between(a, b, c) | ExprKind::If(a, b, c) => {
                a.visit(f);
                b.visit(f);
                c.visit(f);
            }
            ExprKind::In(x, items) => {
                x.visit(f);
                items.iter().for_each(|i| i.visit(f));
            }
            ExprKind::Coalesce(items) | ExprKind::Least(items) | ExprKind::Greatest(items) => {
                items.iter().for_each(|i| i.visit(f))
            }
        }
    }
}

impl Library {
    /// Every expression of the library: definitions, then each criterion's
    /// population, gap and exclude, then features.
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.definitions
            .iter()
            .map(|d| &d.expr)
            .chain(self.criteria.iter().flat_map(|c| {
                [Some(&c.population), Some(&c.gap), c.exclude.as_ref()]
                    .into_iter()
                    .flatten()
            }))
            .chain(self.features.iter().map(|f| &f.expr))
    }

    /// For each value set (by index), how many function calls in the library read it.
    pub fn value_set_uses(&self) -> Vec<usize> {
        let mut uses = vec![0; self.value_sets.len()];
        for e in self.expressions() {
            e.visit(&mut |x| {
                if let ExprKind::Agg(a) = &x.kind {
                    uses[a.value_set] += 1;
                }
            });
        }
        uses
    }

    /// Criteria per domain (`None`: no domain given), in domain order.
    pub fn criteria_per_domain(&self) -> BTreeMap<Option<&str>, usize> {
        let mut m = BTreeMap::new();
        for c in &self.criteria {
            *m.entry(c.domain.as_deref()).or_insert(0) += 1;
        }
        m
    }
}
