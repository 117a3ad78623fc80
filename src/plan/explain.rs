//! Human-readable rendering of a [`Plan`]: aggregates with their use counts,
//! definitions, and the flat program.

use std::fmt::{self, Write as _};

use super::{NodeId, Op, Plan};
use crate::lang::ir::{ArithOp, CmpOp};

impl Plan {
    /// A readable listing of the plan (what `caregap plan` prints).
    pub fn explain(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_explain(&mut out);
        out
    }

    fn write_explain(&self, out: &mut String) -> fmt::Result {
        writeln!(
            out,
            "plan: {} value sets, {} aggregates, {} definitions, {} criteria, {} features, {} program nodes",
            self.value_sets.len(),
            self.aggregates.len(),
            self.definitions.len(),
            self.criteria.len(),
            self.features.len(),
            self.nodes.len()
        )?;
        writeln!(
            out,
            "\naggregates (computed once each; uses = criteria + features reading it):"
        )?;
        for a in 0..self.aggregates.len() {
            writeln!(
                out,
                "  a{a:<5} {:<48} uses {}",
                self.aggregate_text(a as u32),
                self.aggregate_uses[a]
            )?;
        }
        writeln!(out, "\ndefinitions (compiled once, shared by reference):")?;
        for d in &self.definitions {
            writeln!(out, "  {} = n{}", d.name, d.root)?;
        }
        writeln!(out, "\nprogram:")?;
        for (i, op) in self.nodes.iter().enumerate() {
            writeln!(out, "  n{i:<6} {}", self.op_text(*op))?;
        }
        writeln!(out, "\ncriteria:")?;
        for c in &self.criteria {
            write!(
                out,
                "  {} (priority {}): population n{}, gap n{}",
                c.id, c.priority, c.population, c.gap
            )?;
            if let Some(e) = c.exclude {
                write!(out, ", exclude n{e}")?;
            }
            let ev: Vec<String> = c.evidence.iter().map(|a| format!("a{a}")).collect();
            writeln!(out, "; reads [{}]", ev.join(", "))?;
        }
        if !self.features.is_empty() {
            writeln!(out, "\nfeatures:")?;
            for f in &self.features {
                writeln!(out, "  {} ({:?}) = n{}", f.name, f.ty, f.root)?;
            }
        }
        Ok(())
    }

    fn op_text(&self, op: Op) -> String {
        let n = |id: NodeId| format!("n{id}");
        let list = |ids: &[NodeId]| ids.iter().map(|&i| n(i)).collect::<Vec<_>>().join(", ");
        match op {
            Op::Num(x) => format!("{x}"),
            Op::Str(s) => format!("'{}'", self.strings[s as usize]),
            Op::Bool(b) => format!("{b}"),
            Op::Null => "null".into(),
            Op::Age => "age".into(),
            Op::Sex => "sex".into(),
            Op::Clinic => "clinic".into(),
            Op::Agg(a) => format!("a{a} {}", self.aggregate_text(a)),
            Op::Not(a) => format!("not {}", n(a)),
            Op::Neg(a) => format!("-{}", n(a)),
            Op::And(a, b) => format!("{} and {}", n(a), n(b)),
            Op::Or(a, b) => format!("{} or {}", n(a), n(b)),
            Op::Cmp(c, a, b) => {
                let s = match c {
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                format!("{} {s} {}", n(a), n(b))
            }
            Op::Arith(o, a, b) => {
                let s = match o {
                    ArithOp::Add => "+",
                    ArithOp::Sub => "-",
                    ArithOp::Mul => "*",
                    ArithOp::Div => "/",
                };
                format!("{} {s} {}", n(a), n(b))
            }
            Op::IsNull { arg, negated } => {
                format!("{} is {}null", n(arg), if negated { "not " } else { "" })
            }
            Op::If(c, a, b) => format!("if({}, {}, {})", n(c), n(a), n(b)),
            Op::Coalesce(r) => format!("coalesce({})", list(self.args_of(r))),
            Op::Abs(a) => format!("abs({})", n(a)),
            Op::Round(a) => format!("round({})", n(a)),
            Op::Least(r) => format!("least({})", list(self.args_of(r))),
            Op::Greatest(r) => format!("greatest({})", list(self.args_of(r))),
        }
    }
}
