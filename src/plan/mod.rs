//! The compiled plan: a whole checked [`Library`] turned into what the evaluator runs.
//!
//! # Layout
//!
//! - [`Plan::aggregates`]: every distinct event aggregate (value set × function ×
//!   window) exactly once, however many criteria, features and definitions use it.
//!   [`Plan::aggregate_uses`] says how many criteria and features read each one
//!   (directly or through definitions).
//! - [`Plan::nodes`]: ONE flat program, a table of [`Op`]s with index ids
//!   ([`NodeId`]). Every operand of node `i` has an id `< i`, so evaluating the
//!   table front to back evaluates everything. Identical sub-expressions are
//!   hash-consed into one node (so `has(dx.diabetes)` read by fifty criteria is one
//!   node, and so is `age >= 18`). A definition is compiled once into the table and
//!   every use of it refers to its root node: definitions are shared, never inlined
//!   into recomputation.
//! - [`Plan::criteria`] and [`Plan::features`] are roots into the table, plus, per
//!   criterion, the aggregates it reads (through its definitions too) for evidence.
//! - Value-set membership is not resolved here (the plan knows no population):
//!   [`Plan::resolve_codes`] maps every distinct [`CodeEntry`] of a population to the
//!   value sets it belongs to, once per evaluation, and [`Plan::unit_accepts`] decides
//!   per distinct unit string. The evaluator never matches a pattern per event.
//!
//! Lowering choices that are exact in three-valued logic:
//! `x between a and b` becomes `x >= a and x <= b` (with `x` one shared node) and
//! `x in (a, b, ...)` becomes `x == a or x == b or ...` (Kleene `or` of `==` gives
//! SQL's `IN`: true if some item equals, else null if `x` or an item is null, else
//! false).

mod explain;

use std::collections::HashMap;

use crate::data::{CodeEntry, EventKind};
use crate::lang::ir::{
    Aggregate, ArithOp, CmpOp, Expr, ExprKind, Library, Literal, Pattern, Type, ValueSetId, Window,
};

/// Index into [`Plan::nodes`].
pub type NodeId = u32;
/// Index into [`Plan::aggregates`].
pub type AggId = u32;
/// Index into [`Plan::strings`].
pub type StrId = u32;

/// One instruction of the flat program. Operands are ids of earlier nodes.
///
/// Every node yields a column of nullable values. Booleans are stored as
/// `0.0`/`1.0`, strings as [`StrId`]s; only equality is ever asked of strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Num(f64),
    Str(StrId),
    Bool(bool),
    Null,
    Age,
    Sex,
    Clinic,
    Agg(AggId),
    Not(NodeId),
    Neg(NodeId),
    And(NodeId, NodeId),
    Or(NodeId, NodeId),
    Cmp(CmpOp, NodeId, NodeId),
    Arith(ArithOp, NodeId, NodeId),
    /// `is null` (`negated`: `is not null`); never null itself.
    IsNull {
        arg: NodeId,
        negated: bool,
    },
    If(NodeId, NodeId, NodeId),
    /// First non-null of `args` (a slice of [`Plan::args`]).
    Coalesce(ArgRange),
    Abs(NodeId),
    Round(NodeId),
    Least(ArgRange),
    Greatest(ArgRange),
}

/// A range of [`Plan::args`] (variadic operands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArgRange {
    pub start: u32,
    pub len: u32,
}

/// A hashable image of an [`Op`] for hash-consing (floats by bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum OpKey {
    Num(u64),
    Other(OpTag, u32, u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum OpTag {
    Str,
    Bool,
    Null,
    Age,
    Sex,
    Clinic,
    Agg,
    Not,
    Neg,
    And,
    Or,
    Cmp(CmpOp),
    Arith(ArithOp),
    IsNull(bool),
    If,
    Coalesce,
    Abs,
    Round,
    Least,
    Greatest,
}

impl Op {
    fn key(&self) -> OpKey {
        use OpTag as T;
        let o = |t, a, b, c| OpKey::Other(t, a, b, c);
        match *self {
            Op::Num(x) => OpKey::Num(x.to_bits()),
            Op::Str(s) => o(T::Str, s, 0, 0),
            Op::Bool(b) => o(T::Bool, b as u32, 0, 0),
            Op::Null => o(T::Null, 0, 0, 0),
            Op::Age => o(T::Age, 0, 0, 0),
            Op::Sex => o(T::Sex, 0, 0, 0),
            Op::Clinic => o(T::Clinic, 0, 0, 0),
            Op::Agg(a) => o(T::Agg, a, 0, 0),
            Op::Not(a) => o(T::Not, a, 0, 0),
            Op::Neg(a) => o(T::Neg, a, 0, 0),
            Op::And(a, b) => o(T::And, a, b, 0),
            Op::Or(a, b) => o(T::Or, a, b, 0),
            Op::Cmp(c, a, b) => o(T::Cmp(c), a, b, 0),
            Op::Arith(c, a, b) => o(T::Arith(c), a, b, 0),
            Op::IsNull { arg, negated } => o(T::IsNull(negated), arg, 0, 0),
            Op::If(a, b, c) => o(T::If, a, b, c),
            Op::Coalesce(r) => o(T::Coalesce, r.start, r.len, 0),
            Op::Abs(a) => o(T::Abs, a, 0, 0),
            Op::Round(a) => o(T::Round, a, 0, 0),
            Op::Least(r) => o(T::Least, r.start, r.len, 0),
            Op::Greatest(r) => o(T::Greatest, r.start, r.len, 0),
        }
    }
}

/// A value set as the evaluator needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanValueSet {
    pub name: String,
    pub kind: EventKind,
    /// Declared unit, trimmed and lower-cased (the comparison form).
    pub unit: Option<String>,
    /// Per upper-cased code system, its patterns.
    pub systems: Vec<(String, Vec<Pattern>)>,
}

/// One criterion as roots into the program.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanCriterion {
    pub id: String,
    pub priority: u8,
    pub population: NodeId,
    pub gap: NodeId,
    pub exclude: Option<NodeId>,
    /// The aggregates the criterion reads (population, gap, exclude, through its
    /// definitions too), in first-read order: the evidence of a firing.
    pub evidence: Vec<AggId>,
    /// Whether the criterion reads `age` (also shown in evidence).
    pub reads_age: bool,
}

/// The storage type of a feature column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureType {
    Num,
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanFeature {
    pub name: String,
    pub ty: FeatureType,
    pub root: NodeId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanDefinition {
    pub name: String,
    pub root: NodeId,
}

/// A compiled library (see module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub value_sets: Vec<PlanValueSet>,
    pub aggregates: Vec<Aggregate>,
    /// Per aggregate: how many criteria and features read it.
    pub aggregate_uses: Vec<u32>,
    /// Per value set, the aggregates over it.
    pub aggregates_of_value_set: Vec<Vec<AggId>>,
    pub nodes: Vec<Op>,
    /// Operands of variadic nodes.
    pub args: Vec<NodeId>,
    /// Interned string literals.
    pub strings: Vec<String>,
    pub definitions: Vec<PlanDefinition>,
    pub criteria: Vec<PlanCriterion>,
    pub features: Vec<PlanFeature>,
    /// The library hash.
    pub library_hash: String,
}

/// Compiles a checked library into a plan. The library is already checked, so
/// this cannot fail.
pub fn compile(library: &Library) -> Plan {
    let mut b = Builder {
        nodes: Vec::new(),
        args: Vec::new(),
        strings: Vec::new(),
        string_ids: HashMap::new(),
        node_ids: HashMap::new(),
        aggregates: Vec::new(),
        agg_ids: HashMap::new(),
        def_roots: Vec::new(),
    };
    let mut definitions = Vec::with_capacity(library.definitions.len());
    for def in &library.definitions {
        let root = b.expr(&def.expr);
        b.def_roots.push(root);
        definitions.push(PlanDefinition {
            name: def.name.clone(),
            root,
        });
    }
    let mut criteria = Vec::with_capacity(library.criteria.len());
    for c in &library.criteria {
        let population = b.expr(&c.population);
        let gap = b.expr(&c.gap);
        let exclude = c.exclude.as_ref().map(|e| b.expr(e));
        let mut roots = vec![population, gap];
        roots.extend(exclude);
        let (evidence, reads_age) = b.reads(&roots);
        criteria.push(PlanCriterion {
            id: c.id.clone(),
            priority: c.priority,
            population,
            gap,
            exclude,
            evidence,
            reads_age,
        });
    }
    let mut features = Vec::with_capacity(library.features.len());
    for f in &library.features {
        let root = b.expr(&f.expr);
        let ty = if f.expr.ty == Type::Bool {
            FeatureType::Bool
        } else {
            FeatureType::Num
        };
        features.push(PlanFeature {
            name: f.name.clone(),
            ty,
            root,
        });
    }
    let mut aggregate_uses = vec![0u32; b.aggregates.len()];
    for c in &criteria {
        for &a in &c.evidence {
            aggregate_uses[a as usize] += 1;
        }
    }
    for f in &features {
        for a in b.reads(&[f.root]).0 {
            aggregate_uses[a as usize] += 1;
        }
    }
    let mut aggregates_of_value_set = vec![Vec::new(); library.value_sets.len()];
    for (i, a) in b.aggregates.iter().enumerate() {
        aggregates_of_value_set[a.value_set].push(i as AggId);
    }
    let value_sets = library
        .value_sets
        .iter()
        .map(|vs| PlanValueSet {
            name: vs.name.clone(),
            kind: vs.kind,
            unit: vs.unit.as_deref().map(unit_key),
            systems: vs.systems.clone(),
        })
        .collect();
    Plan {
        value_sets,
        aggregates: b.aggregates,
        aggregate_uses,
        aggregates_of_value_set,
        nodes: b.nodes,
        args: b.args,
        strings: b.strings,
        definitions,
        criteria,
        features,
        library_hash: library.hash.clone(),
    }
}

/// The comparison form of a unit: surrounding spaces removed, lower-cased.
pub fn unit_key(unit: &str) -> String {
    unit.trim().to_lowercase()
}

impl Plan {
    /// The operands of a variadic node.
    pub fn args_of(&self, r: ArgRange) -> &[NodeId] {
        &self.args[r.start as usize..(r.start + r.len) as usize]
    }

    /// For every code entry of a population, the value sets it belongs to
    /// (kind equal, system one of the value set's systems, code matching one of
    /// that system's patterns), ascending.
    pub fn resolve_codes(&self, codes: &[CodeEntry]) -> Vec<Vec<ValueSetId>> {
        codes
            .iter()
            .map(|entry| {
                self.value_sets
                    .iter()
                    .enumerate()
                    .filter(|(_, vs)| vs.matches(entry))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    }

    /// Per value set with a declared unit, per unit string of the population
    /// (`units[0]` is the null unit), whether a measurement in that unit is used.
    /// `None` for value sets that take every unit.
    pub fn unit_accepts(&self, units: &[String]) -> Vec<Option<Vec<bool>>> {
        let keys: Vec<String> = units.iter().map(|u| unit_key(u)).collect();
        self.value_sets
            .iter()
            .map(|vs| {
                vs.unit.as_ref().map(|declared| {
                    keys.iter()
                        .enumerate()
                        // Null (index 0) is taken to be in the declared unit; an empty or
                        // blank unit is present and matches no declared unit.
                        .map(|(i, k)| i == 0 || (!k.is_empty() && k == declared))
                        .collect()
                })
            })
            .collect()
    }

    /// The text of an aggregate as written in the language, e.g. `last(lab.sbp, 12mo)`.
    pub fn aggregate_text(&self, agg: AggId) -> String {
        let a = &self.aggregates[agg as usize];
        let name = a.func.name();
        let vs = &self.value_sets[a.value_set].name;
        match a.window {
            None => format!("{name}({vs})"),
            Some(w) => format!("{name}({vs}, {})", window_text(w)),
        }
    }
}

/// A window as written: `30d`, `12mo` (years are stored as months).
pub fn window_text(w: Window) -> String {
    match w {
        Window::Days(d) => format!("{d}d"),
        Window::Months(m) => format!("{m}mo"),
    }
}

impl PlanValueSet {
    /// Whether a code entry belongs to this value set (units aside).
    pub fn matches(&self, entry: &CodeEntry) -> bool {
        entry.kind == self.kind
            && self.systems.iter().any(|(system, patterns)| {
                *system == entry.system && patterns.iter().any(|p| p.matches(&entry.code))
            })
    }
}

struct Builder {
    nodes: Vec<Op>,
    args: Vec<NodeId>,
    strings: Vec<String>,
    string_ids: HashMap<String, StrId>,
    node_ids: HashMap<OpKey, NodeId>,
    aggregates: Vec<Aggregate>,
    agg_ids: HashMap<Aggregate, AggId>,
    def_roots: Vec<NodeId>,
}

impl Builder {
    fn push(&mut self, op: Op) -> NodeId {
        let key = op.key();
        if let Some(&id) = self.node_ids.get(&key) {
            return id;
        }
        let id = self.nodes.len() as NodeId;
        self.nodes.push(op);
        self.node_ids.insert(key, id);
        id
    }

    fn variadic(&mut self, items: &[Expr]) -> ArgRange {
        let ids: Vec<NodeId> = items.iter().map(|e| self.expr(e)).collect();
        // Reuse an identical operand list already stored, so hash-consing sees it.
        let len = ids.len() as u32;
        if let Some(start) = self
            .args
            .windows(ids.len().max(1))
            .position(|w| w == ids.as_slice())
            .filter(|_| !ids.is_empty())
        {
            return ArgRange {
                start: start as u32,
                len,
            };
        }
        let start = self.args.len() as u32;
        self.args.extend(ids);
        ArgRange { start, len }
    }

    fn expr(&mut self, e: &Expr) -> NodeId {
        let op = match &e.kind {
            ExprKind::Lit(Literal::Num(x)) => Op::Num(*x),
            ExprKind::Lit(Literal::Bool(b)) => Op::Bool(*b),
            ExprKind::Lit(Literal::Null) => Op::Null,
            ExprKind::Lit(Literal::Str(s)) => {
                let next = self.strings.len() as StrId;
                let id = *self.string_ids.entry(s.clone()).or_insert(next);
                if id == next {
                    self.strings.push(s.clone());
                }
                Op::Str(id)
            }
            ExprKind::Age => Op::Age,
            ExprKind::Sex => Op::Sex,
            ExprKind::Clinic => Op::Clinic,
            ExprKind::Def(d) => return self.def_roots[*d],
            ExprKind::Agg(a) => {
                let next = self.aggregates.len() as AggId;
                let id = *self.agg_ids.entry(*a).or_insert(next);
                if id == next {
                    self.aggregates.push(*a);
                }
                Op::Agg(id)
            }
            ExprKind::Not(a) => Op::Not(self.expr(a)),
            ExprKind::Neg(a) => Op::Neg(self.expr(a)),
            ExprKind::And(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                Op::And(a, b)
            }
            ExprKind::Or(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                Op::Or(a, b)
            }
            ExprKind::Cmp(c, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                Op::Cmp(*c, a, b)
            }
            ExprKind::Arith(o, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                Op::Arith(*o, a, b)
            }
            ExprKind::Between(x, lo, hi) => {
                let (x, lo, hi) = (self.expr(x), self.expr(lo), self.expr(hi));
                let ge = self.push(Op::Cmp(CmpOp::Ge, x, lo));
                let le = self.push(Op::Cmp(CmpOp::Le, x, hi));
                Op::And(ge, le)
            }
            ExprKind::In(x, items) => {
                let x = self.expr(x);
                let mut acc: Option<NodeId> = None;
                for item in items {
                    let item = self.expr(item);
                    let eq = self.push(Op::Cmp(CmpOp::Eq, x, item));
                    acc = Some(match acc {
                        None => eq,
                        Some(prev) => self.push(Op::Or(prev, eq)),
                    });
                }
                // The checker refuses an empty list; should one slip through,
                // `x in ()` is false (no item equals).
                return acc.unwrap_or_else(|| self.push(Op::Bool(false)));
            }
            ExprKind::IsNull { expr, negated } => Op::IsNull {
                arg: self.expr(expr),
                negated: *negated,
            },
            ExprKind::If(c, a, b) => {
                let (c, a, b) = (self.expr(c), self.expr(a), self.expr(b));
                Op::If(c, a, b)
            }
            ExprKind::Coalesce(items) => Op::Coalesce(self.variadic(items)),
            ExprKind::Abs(a) => Op::Abs(self.expr(a)),
            ExprKind::Round(a) => Op::Round(self.expr(a)),
            ExprKind::Least(items) => Op::Least(self.variadic(items)),
            ExprKind::Greatest(items) => Op::Greatest(self.variadic(items)),
        };
        self.push(op)
    }

    /// The aggregates reachable from `roots` in first-read order, and whether
    /// `age` is read.
    fn reads(&self, roots: &[NodeId]) -> (Vec<AggId>, bool) {
        let mut seen = vec![false; self.nodes.len()];
        let mut aggs = Vec::new();
        let mut age = false;
        let mut stack: Vec<NodeId> = roots.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n as usize], true) {
                continue;
            }
            let op = self.nodes[n as usize];
            let mut kids: Vec<NodeId> = Vec::new();
            match op {
                Op::Agg(a) => aggs.push(a),
                Op::Age => age = true,
                Op::Num(_) | Op::Str(_) | Op::Bool(_) | Op::Null | Op::Sex | Op::Clinic => {}
                Op::Not(a) | Op::Neg(a) | Op::Abs(a) | Op::Round(a) => kids.push(a),
                Op::IsNull { arg, .. } => kids.push(arg),
                Op::And(a, b) | Op::Or(a, b) | Op::Cmp(_, a, b) | Op::Arith(_, a, b) => {
                    kids.extend([a, b])
                }
                Op::If(a, b, c) => kids.extend([a, b, c]),
                Op::Coalesce(r) | Op::Least(r) | Op::Greatest(r) => {
                    kids.extend_from_slice(&self.args[r.start as usize..(r.start + r.len) as usize])
                }
            }
            stack.extend(kids.into_iter().rev());
        }
        (aggs, age)
    }
}
